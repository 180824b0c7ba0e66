//! What pharos keeps on disk about its config, written so that a power cut
//! at any moment leaves either the old or the new file, never a torn one
//! (write to a temporary file, fsync, rename, fsync the directory; on the
//! image's FAT partition the rename replaces the directory entry at once):
//!
//! - [`Revisions`]: the last [`KEEP`] configs applied through the control
//!   socket or the management API, each with when, by whom, a message and
//!   its SHA-256 (`revisions/rNNNNNN.toml` and `.json`);
//! - [`Trial`]: the marker of an apply on trial (`trial.json`): the revision
//!   to go back to and by when. A box that boots with the marker still there
//!   was reset during the trial and comes up on the previous revision.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// How many revisions are kept.
pub const KEEP: usize = 20;

/// Writes `bytes` to `path` so that a crash leaves the old file or the new
/// one: a temporary file beside it, fsynced, renamed over it, and the
/// directory fsynced so the rename itself is on disk.
///
/// The disk may stall (a failing card, a full write cache): inside tokio's
/// multi-thread runtime the calling worker first hands its other tasks
/// (VRRP's adverts among them) to another thread, so a slow write delays
/// only the change that asked for it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), String> {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| write_atomic_here(path, bytes))
        }
        _ => write_atomic_here(path, bytes),
    }
}

fn write_atomic_here(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let what = |e: std::io::Error| format!("writing {}: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(what)?;
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{name}.tmp"));
    // A partition that fills up or goes read-only mid-write fails here,
    // before the rename: the old file is whole. The part written goes, so
    // it does not hold the space a later write needs.
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        // The test-only fault switch can hold a write half way, on disk,
        // while the fault matrix makes the partition read-only under it.
        #[cfg(feature = "fault-switch")]
        let bytes = {
            let (first, rest) = bytes.split_at(bytes.len() / 2);
            f.write_all(first)?;
            f.sync_all()?;
            super::fault::mid_write(path);
            rest
        };
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(what(e));
    }
    // The file again, under its new name: FAT's rename makes a new directory
    // entry with the size and first cluster still to be written, and only
    // writing the file's inode puts them there (a power cut after the
    // rename alone leaves an empty file; found by tests/vm_manage.rs).
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(what)?;
    // Then the directory, where the file system can (FAT's fsync of a
    // directory writes its entries; some cannot open one for it).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// One stored revision's facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub revision: u64,
    /// RFC 3339, UTC.
    pub time: String,
    /// Who applied it: `root (control socket)`, a client certificate's name,
    /// or `pharos` for a rollback at a trial's deadline.
    pub client: String,
    pub message: String,
    /// SHA-256 of the text, hex.
    pub sha256: String,
}

/// The revisions directory.
pub struct Revisions {
    dir: PathBuf,
}

pub fn sha256_hex(text: &str) -> String {
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Revisions {
    pub fn in_dir(state_dir: &Path) -> Self {
        Revisions {
            dir: state_dir.join("revisions"),
        }
    }

    fn toml(&self, n: u64) -> PathBuf {
        self.dir.join(format!("r{n:06}.toml"))
    }

    fn json(&self, n: u64) -> PathBuf {
        self.dir.join(format!("r{n:06}.json"))
    }

    /// Every revision whose text and facts are both there and agree, oldest
    /// first. A half-written one (a power cut between the two files) is
    /// not listed.
    pub fn list(&self) -> Vec<Meta> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut out: Vec<Meta> = rd
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n: u64 = name
                    .strip_prefix('r')?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                let meta: Meta =
                    serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
                let text = std::fs::read_to_string(self.toml(n)).ok()?;
                (meta.revision == n && sha256_hex(&text) == meta.sha256).then_some(meta)
            })
            .collect();
        out.sort_by_key(|m| m.revision);
        out
    }

    pub fn latest(&self) -> Option<Meta> {
        self.list().pop()
    }

    /// The text of revision `n`, if it is kept and whole (its facts there,
    /// its text matching their hash): read directly, not by listing all.
    pub fn text(&self, n: u64) -> Option<String> {
        let meta: Meta = serde_json::from_str(&std::fs::read_to_string(self.json(n)).ok()?).ok()?;
        let text = std::fs::read_to_string(self.toml(n)).ok()?;
        (meta.revision == n && sha256_hex(&text) == meta.sha256).then_some(text)
    }

    /// Takes revision `n` back (facts first, so it is no longer listed
    /// even if its text cannot be removed): for an apply that stored it
    /// and then could not write the config file.
    pub fn remove(&self, n: u64) -> Result<(), String> {
        for p in [self.json(n), self.toml(n)] {
            match std::fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("removing {}: {e}", p.display())),
            }
        }
        Ok(())
    }

    /// Stores `text` as the next revision and drops the oldest beyond
    /// [`KEEP`]. The text goes first and the facts last, so a revision is
    /// listed only once both are on disk.
    pub fn add(&self, text: &str, client: &str, message: &str) -> Result<Meta, String> {
        // Temporaries a failed write could not remove (the partition went
        // read-only under it) go now, so they do not hold the space.
        if let Ok(rd) = std::fs::read_dir(&self.dir) {
            for e in rd.flatten() {
                let name = e.file_name();
                let name = name.to_string_lossy();
                if name.starts_with('.') && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(e.path());
                }
            }
        }
        let revision = self.latest().map_or(1, |m| m.revision + 1);
        let meta = Meta {
            revision,
            time: super::status::now_rfc3339(),
            client: client.to_string(),
            message: message.to_string(),
            sha256: sha256_hex(text),
        };
        write_atomic(&self.toml(revision), text.as_bytes())?;
        let json = serde_json::to_vec_pretty(&meta).expect("meta serializes");
        write_atomic(&self.json(revision), &json)?;
        let all = self.list();
        for old in all.iter().take(all.len().saturating_sub(KEEP)) {
            let _ = std::fs::remove_file(self.json(old.revision));
            let _ = std::fs::remove_file(self.toml(old.revision));
        }
        Ok(meta)
    }
}

/// An apply on trial: unless confirmed by `deadline`, `previous` comes back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trial {
    /// The revision on trial.
    pub revision: u64,
    /// The revision to go back to.
    pub previous: u64,
    /// Seconds since the Unix epoch.
    pub deadline: u64,
    pub client: String,
}

impl Trial {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join("trial.json")
    }

    pub fn load(state_dir: &Path) -> Option<Trial> {
        serde_json::from_str(&std::fs::read_to_string(Self::path(state_dir)).ok()?).ok()
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(self).expect("trial serializes");
        write_atomic(&Self::path(state_dir), &json)
    }

    pub fn clear(state_dir: &Path) -> Result<(), String> {
        match std::fs::remove_file(Self::path(state_dir)) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(format!("removing the trial marker: {e}")),
        }
    }

    /// How long from now until the deadline (zero once it has passed).
    pub fn remaining(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.deadline.saturating_sub(unix_now()))
    }
}

/// Seconds since the Unix epoch, as trial deadlines are kept.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_numbered_kept_to_a_limit_and_a_torn_one_is_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let r = Revisions::in_dir(dir.path());
        assert!(r.latest().is_none());
        let a = r.add("a = 1\n", "root", "first").unwrap();
        let b = r.add("a = 2\n", "ops", "second").unwrap();
        assert_eq!((a.revision, b.revision), (1, 2));
        assert_eq!(r.text(1).as_deref(), Some("a = 1\n"));
        assert_eq!(r.latest().unwrap().client, "ops");
        // A power cut after the text of r3 and before its facts: not listed,
        // and the next one takes its number.
        std::fs::write(r.toml(3), "a = 3\n").unwrap();
        assert_eq!(r.list().len(), 2);
        // A text that no longer matches its hash is not offered either.
        std::fs::write(r.toml(2), "a = 22\n").unwrap();
        assert_eq!(r.text(2), None);
        for i in 0..KEEP + 5 {
            r.add(&format!("a = {i}\n"), "root", "").unwrap();
        }
        let all = r.list();
        assert_eq!(all.len(), KEEP);
        assert_eq!(
            all.last().unwrap().revision,
            all[0].revision + KEEP as u64 - 1
        );
        // A temporary left by a write that could not clean up goes with the
        // next revision.
        let left = r.toml(99).with_file_name(".r000099.toml.tmp");
        std::fs::write(&left, "half").unwrap();
        r.add("c = 1\n", "root", "").unwrap();
        assert!(!left.exists());
        let all = r.list();
        // A revision taken back is gone, and its number is the next one's.
        let last = all.last().unwrap().revision;
        r.remove(last).unwrap();
        r.remove(last).unwrap();
        assert_eq!(r.latest().unwrap().revision, last - 1);
        assert_eq!(r.add("b = 1\n", "root", "").unwrap().revision, last);
    }

    #[test]
    fn an_atomic_write_replaces_the_file_whole_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pharos.toml");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("pharos.toml")]);
    }

    #[test]
    fn a_failed_atomic_write_leaves_the_old_state_and_no_temporary() {
        // The rename fails (a directory, not empty, is in the way): what
        // was there stays, and the part written is removed.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("pharos.toml");
        std::fs::create_dir(&p).unwrap();
        std::fs::write(p.join("keep"), "x").unwrap();
        let e = write_atomic(&p, b"new").unwrap_err();
        assert!(e.starts_with(&format!("writing {}: ", p.display())), "{e}");
        assert_eq!(std::fs::read_to_string(p.join("keep")).unwrap(), "x");
        assert!(!dir.path().join(".pharos.toml.tmp").exists());
    }

    #[test]
    fn a_trial_marker_round_trips_and_clearing_twice_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        let t = Trial {
            revision: 5,
            previous: 4,
            deadline: 0,
            client: "ops".into(),
        };
        t.save(dir.path()).unwrap();
        assert_eq!(Trial::load(dir.path()), Some(t.clone()));
        assert_eq!(t.remaining(), std::time::Duration::ZERO);
        Trial::clear(dir.path()).unwrap();
        Trial::clear(dir.path()).unwrap();
        assert_eq!(Trial::load(dir.path()), None);
    }
}
