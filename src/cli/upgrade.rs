//! `pharos remote HOST upgrade BUNDLE` and `pharos upgrade-pair A B
//! BUNDLE`: the client side of `crate::upgrade`. The bundle is streamed to
//! the box, which verifies it before it writes anything; then the client
//! waits through the reboot(s) until the box says how it ended: committed
//! on the new slot (exit 0) or back on the old one (exit 1, with why).

use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use super::control::{Link, block_on, fail};
use super::out::{errln, outln};
use crate::runtime::admin::{Reply, Request, read_answer};
use crate::runtime::status::Status;
use crate::upgrade::bundle::{MAGIC, Manifest};
use crate::upgrade::flow::Progress;
use crate::upgrade::record::Phase;
use crate::upgrade::status::{UpgradeStatus, last_line};

/// How long a box may take to come back, beyond the gate's deadline: two
/// boots (the trial and, if it fails, the old slot) under emulation.
const BOOTS: Duration = Duration::from_secs(180);

/// The manifest of a bundle file, unverified (the box verifies it): for
/// what the client prints and waits for.
fn manifest(path: &Path) -> Result<(Manifest, u64), String> {
    use std::io::Read;
    let what = |e: std::io::Error| format!("reading the bundle {}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(what)?;
    let size = f.metadata().map_err(what)?.len();
    let mut head = [0u8; 20];
    f.read_exact(&mut head).map_err(what)?;
    if &head[..16] != MAGIC {
        return Err(format!(
            "{} is not a pharos update bundle (`make image` writes them as image/out/pharos-VERSION.bundle)",
            path.display()
        ));
    }
    let len = u32::from_be_bytes(head[16..20].try_into().expect("4 bytes")) as usize;
    if len > 64 << 10 {
        return Err(format!(
            "{}: its manifest is too long to be a bundle's",
            path.display()
        ));
    }
    let mut m = vec![0u8; len];
    f.read_exact(&mut m).map_err(what)?;
    let m = serde_json::from_slice(&m)
        .map_err(|e| format!("{}: its manifest does not parse: {e}", path.display()))?;
    Ok((m, size))
}

fn status(link: &Link) -> Result<Status, String> {
    let line = block_on(link.one(&Request::new("status")))?;
    serde_json::from_str(&line).map_err(|e| format!("the box answered something unexpected: {e}"))
}

fn upgrade_section(s: &Status) -> Option<UpgradeStatus> {
    serde_json::from_value(s.subsystems.get("upgrade")?.clone()).ok()
}

/// Uploads and, with `wait`, follows the upgrade to its end.
pub fn upgrade(
    link: &Link,
    name: &str,
    bundle: &Path,
    deadline: Option<String>,
    wait: bool,
) -> ExitCode {
    let (m, size) = match manifest(bundle) {
        Ok(x) => x,
        Err(e) => {
            errln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let before = match status(link) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    outln!(
        "{name}: upgrading pharos {} to {} ({}, kernel {})",
        before.pharos_version,
        m.version,
        m.variant,
        m.kernel
    );
    let req = Request {
        size: Some(size),
        deadline: deadline.clone(),
        ..Request::new("upgrade")
    };
    let sent = block_on(async {
        let file = tokio::fs::File::open(bundle)
            .await
            .map_err(|e| format!("opening {}: {e}", bundle.display()))?;
        let mut conn = link.ask_with_body(&req, Some(file)).await?;
        loop {
            let line = read_answer(&mut conn).await?;
            if let Ok(p) = serde_json::from_str::<Progress>(&line) {
                outln!("{name}:   {}", p.progress);
                continue;
            }
            return serde_json::from_str::<Reply>(&line).map_err(|e| {
                format!(
                    "the box answered something unexpected ({e}): {}",
                    line.trim()
                )
            });
        }
    });
    match sent {
        Err(e) => return fail(&e),
        Ok(Reply { error: Some(e), .. }) => {
            errln!("error: {name}: {e}");
            return ExitCode::from(1);
        }
        Ok(Reply { ok, .. }) => outln!("{name}: {}", ok.unwrap_or_default()),
    }
    if !wait {
        return ExitCode::SUCCESS;
    }
    let limit = deadline
        .as_deref()
        .and_then(|d| humantime::parse_duration(d).ok())
        .unwrap_or(crate::upgrade::flow::DEFAULT_DEADLINE)
        + BOOTS;
    follow(link, name, &before.started_at, limit)
}

/// Polls the box's status through its reboots until its last upgrade has
/// ended in a boot other than the one it started from.
fn follow(link: &Link, name: &str, started_at: &str, limit: Duration) -> ExitCode {
    let t0 = Instant::now();
    let mut said = String::new();
    while t0.elapsed() < limit {
        std::thread::sleep(Duration::from_secs(2));
        let Ok(s) = status(link) else {
            if said != "down" {
                outln!("{name}: rebooting …");
                said = "down".into();
            }
            continue;
        };
        if s.started_at == started_at {
            continue;
        }
        let Some(u) = upgrade_section(&s) else {
            errln!("error: {name} came back without an upgrade section in its status");
            return ExitCode::from(1);
        };
        let Some(last) = &u.last else { continue };
        match last.phase {
            Phase::Committed => {
                outln!("{name}: {}", last_line(last));
                outln!(
                    "{name}: now running pharos {} from slot {}",
                    s.pharos_version,
                    u.slot
                );
                return ExitCode::SUCCESS;
            }
            Phase::RolledBack => {
                errln!("{name}: {}", last_line(last));
                return ExitCode::from(1);
            }
            Phase::Writing | Phase::Trying => {
                let now = format!(
                    "up on slot {}{}: {}",
                    u.slot,
                    if u.trial { " (on trial)" } else { "" },
                    u.gate.as_deref().unwrap_or("health gate starting")
                );
                if now != said {
                    outln!("{name}: {now}");
                    said = now;
                }
            }
        }
    }
    errln!(
        "error: {name} did not report the upgrade's end within {} s; see `pharos remote {name} status`",
        limit.as_secs()
    );
    ExitCode::from(1)
}

/// Upgrades two directors of a pair one at a time: the one holding no
/// VRRP master first, then, once it has committed, the other (whose
/// reboot hands its VIPs to the one already upgraded).
pub fn pair(links: [(String, Link); 2], bundle: &Path, deadline: Option<String>) -> ExitCode {
    let mut masters = Vec::new();
    for (name, link) in &links {
        let s = match status(link) {
            Ok(s) => s,
            Err(e) => return fail(&format!("{name}: {e}")),
        };
        let vrrp: crate::vrrp::status::VrrpStatus = s
            .subsystems
            .get("vrrp")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        masters.push(
            vrrp.instances
                .values()
                .filter(|i| i.state == "master")
                .count(),
        );
    }
    let order: [usize; 2] = if masters[0] > masters[1] {
        [1, 0]
    } else {
        [0, 1]
    };
    outln!(
        "upgrading {} first (VRRP master of {} instances), then {} (master of {})",
        links[order[0]].0,
        masters[order[0]],
        links[order[1]].0,
        masters[order[1]]
    );
    for i in order {
        let (name, link) = &links[i];
        let code = upgrade(link, name, bundle, deadline.clone(), true);
        if code != ExitCode::SUCCESS {
            errln!("error: {name}'s upgrade did not commit; the other director is left as it is");
            return code;
        }
    }
    outln!("both directors upgraded");
    ExitCode::SUCCESS
}
