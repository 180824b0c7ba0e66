//! Loads kernel modules with finit_module(2), dependencies first, from
//! `/lib/modules/$(uname -r)` and its `modules.dep` (made by depmod at image
//! build time, or by the distribution). No kmod userland needed. Used by PID
//! 1 for the boot modules and by the network plane for what a config uses.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex};

use nix::kmod::{ModuleInitFlags, finit_module};

pub struct ModuleTree {
    root: PathBuf,
    /// module name → (path relative to root, dependencies by name)
    deps: HashMap<String, (String, Vec<String>)>,
    /// What became of each module asked for so far; several threads load
    /// at once (see [`load_all`]).
    state: Mutex<HashMap<String, Loading>>,
    settled: Condvar,
}

#[derive(Clone)]
enum Loading {
    /// A thread is loading it; the others wait for its result rather than
    /// read and verify the same file a second time.
    Under,
    Done(Result<(), String>),
}

/// `kernel/net/ipv4/ip_gre.ko` → `ip_gre`; the kernel treats `-` as `_`.
fn name_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    file.split(".ko").next().unwrap_or(file).replace('-', "_")
}

impl ModuleTree {
    pub fn open() -> Result<Self, String> {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_err(|e| format!("reading the kernel release: {e}"))?;
        let root = PathBuf::from("/lib/modules").join(release.trim());
        let dep = std::fs::read_to_string(root.join("modules.dep"))
            .map_err(|e| format!("reading {}/modules.dep: {e}", root.display()))?;
        Ok(ModuleTree {
            deps: parse_modules_dep(&dep),
            root,
            state: Mutex::new(HashMap::new()),
            settled: Condvar::new(),
        })
    }

    /// Loads `name` and what it needs. A module already in the kernel (or
    /// built in) is fine. Safe to call from several threads at once: a
    /// module another thread is loading is waited for, not loaded twice.
    pub fn load(&self, name: &str) -> Result<(), String> {
        let name = name.replace('-', "_");
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                match state.get(&name) {
                    Some(Loading::Done(r)) => return r.clone(),
                    Some(Loading::Under) => {
                        state = self.settled.wait(state).unwrap_or_else(|p| p.into_inner());
                    }
                    None => {
                        state.insert(name.clone(), Loading::Under);
                        break;
                    }
                }
            }
        }
        let r = self.load_now(&name);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.insert(name, Loading::Done(r.clone()));
        self.settled.notify_all();
        r
    }

    fn load_now(&self, name: &str) -> Result<(), String> {
        if is_loaded(name) {
            return Ok(());
        }
        let (path, deps) = self
            .deps
            .get(name)
            .ok_or_else(|| format!("module {name} is not in the image"))?;
        for d in deps {
            self.load(d)?;
        }
        let file = std::fs::File::open(self.root.join(path))
            .map_err(|e| format!("opening module {name}: {e}"))?;
        match finit_module(&file, params(name), ModuleInitFlags::empty()) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
            // No such device: a driver for hardware this box lacks.
            Err(nix::errno::Errno::ENODEV) => Ok(()),
            Err(e) => Err(format!("loading module {name}: {e}")),
        }
    }
}

/// Module parameters pharos loads with. `bonding` and `dummy` make a
/// `bond0` / `dummy0` of their own by default, in their default mode; with
/// these, every such link is one the config names, created as it says.
fn params(name: &str) -> &'static std::ffi::CStr {
    match name {
        "bonding" => c"max_bonds=0",
        "dummy" => c"numdummies=0",
        _ => c"",
    }
}

pub fn parse_modules_dep(text: &str) -> HashMap<String, (String, Vec<String>)> {
    text.lines()
        .filter_map(|l| {
            let (path, deps) = l.split_once(':')?;
            let deps = deps.split_whitespace().map(name_of).collect();
            Some((name_of(path), (path.to_string(), deps)))
        })
        .collect()
}

/// Whether a module is in the running kernel (loaded or built in).
pub fn is_loaded(name: &str) -> bool {
    std::path::Path::new("/sys/module")
        .join(name.replace('-', "_"))
        .exists()
}

/// Whether a module could be in the running kernel, for `pharos plan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presence {
    /// Loaded now.
    Loaded,
    /// Compiled into the kernel (`modules.builtin`).
    Builtin,
    /// Not loaded, but its file is under `/lib/modules/RELEASE` (`modules.dep`).
    Available,
    /// Nowhere: loading it would fail. Says where it was looked for.
    Missing(String),
}

/// Where `name` is for the running kernel: loaded (`/sys/module`,
/// `/proc/modules`), built in (`modules.builtin`) or a file `modules.dep`
/// names, under `/lib/modules/$(uname -r)`.
pub fn presence(name: &str) -> Presence {
    let name = name.replace('-', "_");
    let in_proc = std::fs::read_to_string("/proc/modules").is_ok_and(|t| {
        t.lines()
            .any(|l| l.split_whitespace().next() == Some(name.as_str()))
    });
    if is_loaded(&name) || in_proc {
        return Presence::Loaded;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|r| r.trim().to_string())
        .unwrap_or_default();
    let root = PathBuf::from("/lib/modules").join(&release);
    let read = |f: &str| std::fs::read_to_string(root.join(f)).ok();
    presence_in(
        &name,
        &release,
        &root.display().to_string(),
        read("modules.builtin").as_deref(),
        read("modules.dep").as_deref(),
    )
}

/// [`presence`] of a module that is not loaded, from the texts of
/// `modules.builtin` and `modules.dep` (`None`: the file is missing).
pub fn presence_in(
    name: &str,
    release: &str,
    root: &str,
    builtin: Option<&str>,
    dep: Option<&str>,
) -> Presence {
    if builtin.is_some_and(|b| b.lines().any(|l| name_of(l.trim()) == name)) {
        return Presence::Builtin;
    }
    if dep.is_some_and(|d| parse_modules_dep(d).contains_key(name)) {
        return Presence::Available;
    }
    Presence::Missing(match (builtin, dep) {
        (None, None) => format!(
            "the running kernel ({release}) has no module {name}: it is not loaded, and there \
             is no {root}/modules.dep or modules.builtin to find it in; install this kernel's \
             modules, or run on a kernel that has {name}"
        ),
        _ => format!(
            "the running kernel ({release}) has no module {name}: it is not loaded, not built \
             in, and not in {root}/modules.dep; run on a kernel built with {name}"
        ),
    })
}

/// Loads each of `names`; one result per name, in order. Each name is
/// loaded on a thread of its own: a module's init does not return until
/// its driver's probe is done, and a probe that waits on its hardware (an
/// ATA bus reset sleeps) need not hold up the others. Under TCG the
/// probes are mostly CPU, so the gain there is small (the 13 boot modules
/// 720-800 ms at once against 745-1,027 ms one after another). Dependencies
/// shared by two are loaded once.
pub fn load_all<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(String, Result<(), String>)> {
    let names: Vec<&str> = names.into_iter().collect();
    match ModuleTree::open() {
        Ok(tree) => std::thread::scope(|s| {
            let tree = &tree;
            let loading: Vec<_> = names
                .iter()
                .map(|&n| (n, s.spawn(move || tree.load(n))))
                .collect();
            loading
                .into_iter()
                .map(|(n, t)| {
                    let r = t.join().unwrap_or_else(|_| {
                        Err(format!("loading module {n}: its thread panicked"))
                    });
                    (n.to_string(), r)
                })
                .collect()
        }),
        Err(e) => names
            .into_iter()
            .map(|n| {
                let r = if is_loaded(n) { Ok(()) } else { Err(e.clone()) };
                (n.to_string(), r)
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_dep_lines_become_names_and_dependencies() {
        let d = parse_modules_dep(
            "kernel/net/netfilter/ipvs/ip_vs_wrr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko\nkernel/fs/nls/nls_iso8859-1.ko:\n",
        );
        assert_eq!(d["ip_vs_wrr"].1, vec!["ip_vs", "nf_conntrack"]);
        assert_eq!(d["nls_iso8859_1"].0, "kernel/fs/nls/nls_iso8859-1.ko");
    }

    #[test]
    fn a_module_is_built_in_a_file_or_missing() {
        let builtin = "kernel/net/ipv4/ipip.ko\n";
        let dep = "kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko\n";
        let at = |n| presence_in(n, "6.1.0", "/lib/modules/6.1.0", Some(builtin), Some(dep));
        assert_eq!(at("ipip"), Presence::Builtin);
        assert_eq!(at("ip_vs"), Presence::Available);
        assert!(
            matches!(at("ip_vs_wlc"), Presence::Missing(why) if why.contains("no module ip_vs_wlc"))
        );
        let none = presence_in("ip_vs", "6.1.0", "/lib/modules/6.1.0", None, None);
        assert!(
            matches!(&none, Presence::Missing(why) if why.contains("no /lib/modules/6.1.0/modules.dep")),
            "{none:?}"
        );
    }
}
