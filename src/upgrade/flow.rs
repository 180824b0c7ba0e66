//! The upgrade's IO shell: the `upgrade` admin verb (a signed bundle in,
//! the other slot written, a reboot into it once) and, at each boot, what
//! becomes of the last upgrade (`record::at_boot`), with the health gate
//! (`gate.rs`) run once a second while a new slot is on trial.
//!
//! ```text
//! client ──bundle──▶ Verifier (signature before any byte is kept, then hash)
//!                      │ verified
//!                      ▼
//!   record: Writing ─▶ write_slot (sync, read back) ─▶ grubenv pharos_try=B
//!   record: Trying  ─▶ reboot (VIPs handed over, as any reboot)
//! GRUB boots B once (pharos_try cleared first) ─▶ gate ─┬▶ pharos_slot=B, Committed
//!                                                       └▶ why saved, reboot ─▶ A
//! ```
//!
//! Talks to: the runtime loop (a reboot is an `Admin::Power`), the status
//! (what the gate reads, the `upgrade` section), the state directory (the
//! record) and the disk (`slots.rs`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

use super::bundle::Verifier;
use super::gate::{Gate, Verdict};
use super::record::{AtBoot, Phase, Record, Upgrade, at_boot};
use super::slots::{Boot, Disk, Slot};
use super::status::UpgradeStatus;
use crate::runtime::Stop;
use crate::runtime::admin::{Admin, Reply, Who, current_status};
use crate::runtime::status::{Event, now_rfc3339};
use crate::runtime::supervisor::Shared;

/// The bundle-signing public key built into the image (`make keys`).
pub const KEY: &str = "/etc/pharos/bundle-signing.pub";
/// The deadline of the health gate when the client gives none.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(300);
/// How long the client may pause while sending the bundle.
const IDLE: Duration = Duration::from_secs(30);
/// How often the gate looks.
const GATE_EVERY: Duration = Duration::from_secs(1);

/// A line of progress before the final [`Reply`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    pub progress: String,
}

pub struct Upgrades {
    state_dir: PathBuf,
    boot: Boot,
    disk: Disk,
    key: PathBuf,
    status: Arc<Mutex<UpgradeStatus>>,
    busy: tokio::sync::Mutex<()>,
}

impl Upgrades {
    /// The box's slots, when it was booted from the image's A/B disk by
    /// its GRUB; why not, otherwise (the upgrade verb says it).
    pub fn detect(state_dir: &Path) -> Result<Upgrades, String> {
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        let boot = super::slots::boot_from_cmdline(&cmdline).ok_or(
            "this box was not booted from the pharos image's A/B slots (no pharos.slot= on the \
             kernel command line): upgrade it the way it was installed",
        )?;
        let disk = Disk::find()?;
        let (rec, err) = Record::load(state_dir);
        let mut error = err;
        let committed = match super::slots::read_env(&disk) {
            Ok(env) => env.get("pharos_slot").and_then(Slot::parse),
            Err(e) => {
                error = Some(e);
                None
            }
        };
        let mut slots = rec.slots.clone();
        // A slot's version is its bundle's, as written; the image's own slot
        // (never written by an upgrade) is this pharos's.
        slots
            .entry(boot.slot)
            .or_insert_with(|| env!("CARGO_PKG_VERSION").to_string());
        slots
            .entry(boot.slot.other())
            .or_insert_with(|| "empty".into());
        Ok(Upgrades {
            state_dir: state_dir.to_path_buf(),
            boot,
            disk,
            key: PathBuf::from(KEY),
            status: Arc::new(Mutex::new(UpgradeStatus {
                slot: boot.slot,
                trial: boot.trial,
                committed,
                slots,
                gate: None,
                last: rec.last,
                error,
            })),
            busy: tokio::sync::Mutex::new(()),
        })
    }

    /// The running slot's version: its bundle's, or this pharos's.
    fn running_version(&self) -> String {
        let s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.slots
            .get(&self.boot.slot)
            .cloned()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_string())
    }

    fn set_status(&self, f: impl FnOnce(&mut UpgradeStatus)) {
        f(&mut self.status.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// At start: publishes the `upgrade` section, settles the last upgrade
    /// and runs the health gate when this boot is a trial.
    pub fn start(self: &Arc<Self>, shared: &Shared, admin: mpsc::Sender<Admin>) {
        // What this boot makes of the last upgrade goes into the section
        // before the section is published: no one reads the record as it
        // was before the boot settled it.
        let (rec, _) = Record::load(&self.state_dir);
        let (rec, what, changed) = at_boot(rec, self.boot, &now_rfc3339());
        if changed {
            self.set_status(|s| {
                s.last = rec.last.clone();
                s.slots.extend(rec.slots.clone());
            });
        }
        let status = self.status.clone();
        shared.publish_with(
            "upgrade",
            Arc::new(move || {
                serde_json::to_value(&*status.lock().unwrap_or_else(|e| e.into_inner()))
                    .expect("the upgrade status serializes")
            }),
        );
        if changed && let Err(e) = rec.save(&self.state_dir) {
            shared.emit(Event::new("upgrade", "record", e).error());
        }
        match what {
            AtBoot::Nothing => {}
            AtBoot::Ended { message, failed } => {
                let ev = Event::new("upgrade", "slots", message);
                shared.emit(if failed { ev.error() } else { ev });
            }
            AtBoot::Gate => {
                let me = self.clone();
                let shared = shared.clone();
                tokio::spawn(async move { me.gate(rec, shared, admin).await });
            }
        }
    }

    async fn gate(self: Arc<Self>, mut rec: Record, shared: Shared, admin: mpsc::Sender<Admin>) {
        let Some(up) = rec.last.clone() else { return };
        let deadline = Duration::from_secs(up.deadline_s);
        shared.emit(Event::new(
            "upgrade",
            "gate",
            format!(
                "slot {} (pharos {}) on trial: it commits once VRRP, IPVS and the {} checks that \
                 were up are healthy for {} s, within {}",
                up.to_slot,
                up.to_version,
                up.checks_up.len(),
                super::gate::SETTLE.as_secs(),
                humantime::format_duration(deadline)
            ),
        ));
        let mut gate = Gate::new(deadline, up.checks_up.clone()).on_last_good(up.on_last_good);
        let t0 = tokio::time::Instant::now();
        let verdict = loop {
            tokio::time::sleep(GATE_EVERY).await;
            match gate.step(t0.elapsed(), &current_status(&shared)) {
                Verdict::Wait(w) => self.set_status(|s| s.gate = Some(w)),
                done => break done,
            }
        };
        let last = rec.last.as_mut().expect("checked above");
        match verdict {
            Verdict::Commit(what) => {
                let to = up.to_slot;
                let disk = self.disk.clone();
                let wrote = tokio::task::spawn_blocking(move || {
                    super::slots::update_env(&disk, |e| e.set("pharos_slot", &to.to_string()))
                })
                .await
                .unwrap_or_else(|e| Err(format!("the grubenv writer failed: {e}")));
                if let Err(e) = wrote {
                    let why = format!("healthy, but the commit could not be written: {e}");
                    return self.fail(rec, why, &shared, &admin).await;
                }
                last.phase = Phase::Committed;
                last.why = Some(what.clone());
                last.finished_at = Some(now_rfc3339());
                if let Err(e) = rec.save(&self.state_dir) {
                    shared.emit(Event::new("upgrade", "record", e).error());
                }
                self.set_status(|s| {
                    s.gate = None;
                    s.committed = Some(to);
                    s.last = rec.last.clone();
                });
                shared.emit(Event::new(
                    "upgrade",
                    "gate",
                    format!(
                        "upgrade to pharos {} committed: slot {to} is the one GRUB boots; {what}",
                        up.to_version
                    ),
                ));
            }
            Verdict::Fail(why) => self.fail(rec, why, &shared, &admin).await,
            Verdict::Wait(_) => unreachable!("the loop breaks only on a decision"),
        }
    }

    /// The trial failed: the reason goes on the record, and the reboot
    /// brings back the committed slot (GRUB cleared `pharos_try` already).
    async fn fail(
        &self,
        mut rec: Record,
        why: String,
        shared: &Shared,
        admin: &mpsc::Sender<Admin>,
    ) {
        let from = self.boot.slot.other();
        if let Some(last) = rec.last.as_mut() {
            last.why = Some(format!(
                "the health gate failed on slot {}: {why}",
                last.to_slot
            ));
        }
        if let Err(e) = rec.save(&self.state_dir) {
            shared.emit(Event::new("upgrade", "record", e).error());
        }
        self.set_status(|s| s.gate = Some(format!("FAILED: {why}; rebooting into slot {from}")));
        shared.emit(
            Event::new(
                "upgrade",
                "gate",
                format!("the new slot failed its health gate: {why}; rebooting into slot {from}"),
            )
            .error(),
        );
        let (tx, _rx) = oneshot::channel();
        let _ = admin
            .send(Admin::Power {
                stop: Stop::Reboot,
                who: Who("the upgrade's health gate".into()),
                reply: tx,
            })
            .await;
    }

    /// The `upgrade` verb: `size` bytes of bundle follow the request on
    /// `rd`; progress lines, then a [`Reply`], go to `wr`. On success the
    /// box reboots into the new slot.
    #[allow(clippy::too_many_arguments)]
    pub async fn serve<R, W>(
        &self,
        rd: &mut R,
        size: u64,
        deadline: Duration,
        wr: &mut W,
        who: &Who,
        shared: &Shared,
        admin: &mpsc::Sender<Admin>,
    ) -> std::io::Result<()>
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let Ok(_busy) = self.busy.try_lock() else {
            return reply(
                wr,
                Reply::error("an upgrade is already running on this box"),
            )
            .await;
        };
        let (rec, _) = Record::load(&self.state_dir);
        if self.boot.trial && rec.last.as_ref().is_some_and(|u| u.phase == Phase::Trying) {
            return reply(
                wr,
                Reply::error(format!(
                    "this boot is slot {} on trial; wait until it commits or rolls back",
                    self.boot.slot
                )),
            )
            .await;
        }
        let to = self.boot.slot.other();
        let max = match super::slots::partition_size(self.disk.slot(to)) {
            Ok(m) => m,
            Err(e) => return reply(wr, Reply::error(e)).await,
        };
        let key = match super::keys::load_verifying(&self.key) {
            Ok(k) => k,
            Err(e) => return reply(wr, Reply::error(e)).await,
        };
        progress(wr, format!("receiving {} MiB", size.div_ceil(1 << 20))).await?;
        let mut v = Verifier::new(key, std::env::consts::ARCH, max);
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0u64;
        let mut told = false;
        while got < size {
            let want = buf.len().min((size - got) as usize);
            let n = match tokio::time::timeout(IDLE, rd.read(&mut buf[..want])).await {
                Ok(Ok(0)) => {
                    let e =
                        format!("the bundle ended after {got} of {size} bytes; nothing written");
                    return reply(wr, Reply::error(e)).await;
                }
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    let e = format!("no bundle data for {} s; nothing written", IDLE.as_secs());
                    return reply(wr, Reply::error(e)).await;
                }
            };
            if let Err(e) = v.feed(&buf[..n]) {
                return reply(wr, Reply::error(format!("refused: {e}; nothing written"))).await;
            }
            got += n as u64;
            if !told && let Some(m) = v.manifest() {
                told = true;
                let msg = format!(
                    "signature verified: pharos {} ({}, kernel {})",
                    m.version, m.variant, m.kernel
                );
                progress(wr, msg).await?;
            }
        }
        let verified = match v.finish() {
            Ok(x) => x,
            Err(e) => {
                return reply(wr, Reply::error(format!("refused: {e}; nothing written"))).await;
            }
        };
        let m = verified.manifest;
        let from_version = self.running_version();
        let now = current_status(shared);
        let mut rec = rec;
        rec.slots.insert(self.boot.slot, from_version.clone());
        rec.slots.insert(to, "incomplete".into());
        rec.last = Some(Upgrade {
            to_version: m.version.clone(),
            to_slot: to,
            from_version: from_version.clone(),
            from_slot: self.boot.slot,
            by: who.0.clone(),
            started_at: now_rfc3339(),
            deadline_s: deadline.as_secs(),
            checks_up: super::gate::checks_up(&now),
            on_last_good: now.config.source == crate::runtime::status::ConfigSource::LastGood,
            phase: Phase::Writing,
            why: None,
            finished_at: None,
        });
        if let Err(e) = rec.save(&self.state_dir) {
            return reply(wr, Reply::error(format!("{e}; nothing written"))).await;
        }
        self.set_status(|s| {
            s.slots = rec.slots.clone();
            s.last = rec.last.clone();
        });
        shared.emit(Event::new(
            "upgrade",
            "slots",
            format!(
                "upgrade to pharos {} asked by {}: bundle verified, writing slot {to}",
                m.version, who.0
            ),
        ));
        progress(
            wr,
            format!(
                "image hash verified; writing slot {to} ({} MiB)",
                verified.image.len().div_ceil(1 << 20)
            ),
        )
        .await?;
        let dev = self.disk.slot(to).to_path_buf();
        let disk = self.disk.clone();
        let image = verified.image;
        let wrote = tokio::task::spawn_blocking(move || {
            super::slots::write_slot(&dev, &image)?;
            drop(image);
            super::slots::update_env(&disk, |e| e.set("pharos_try", &to.to_string()))
        })
        .await
        .unwrap_or_else(|e| Err(format!("the slot writer failed: {e}")));
        let last = rec.last.as_mut().expect("set above");
        if let Err(e) = wrote {
            last.phase = Phase::RolledBack;
            last.why = Some(format!("writing slot {to}: {e}"));
            last.finished_at = Some(now_rfc3339());
            let _ = rec.save(&self.state_dir);
            self.set_status(|s| s.last = rec.last.clone());
            shared.emit(Event::new("upgrade", "slots", format!("writing slot {to}: {e}")).error());
            return reply(
                wr,
                Reply::error(format!(
                    "writing slot {to}: {e}; the box stays on slot {}",
                    self.boot.slot
                )),
            )
            .await;
        }
        last.phase = Phase::Trying;
        rec.slots.insert(to, m.version.clone());
        if let Err(e) = rec.save(&self.state_dir) {
            // The slot is written and GRUB will try it; without the record
            // the new slot cannot find its gate, so take the try back.
            let disk = self.disk.clone();
            let _ = tokio::task::spawn_blocking(move || {
                super::slots::update_env(&disk, |e| e.unset("pharos_try"))
            })
            .await;
            return reply(
                wr,
                Reply::error(format!("{e}; slot {to} is written but will not be tried")),
            )
            .await;
        }
        self.set_status(|s| {
            s.slots = rec.slots.clone();
            s.last = rec.last.clone();
        });
        let msg = format!(
            "slot {to} holds pharos {} (written and read back); rebooting into it once: it commits \
             itself when healthy within {}, otherwise the box comes back on slot {}",
            m.version,
            humantime::format_duration(deadline),
            self.boot.slot
        );
        shared.emit(Event::new("upgrade", "slots", msg.clone()).warn());
        reply(wr, Reply::ok(msg)).await?;
        let (tx, rx) = oneshot::channel();
        let asked = admin
            .send(Admin::Power {
                stop: Stop::Reboot,
                who: who.clone(),
                reply: tx,
            })
            .await;
        if asked.is_ok() {
            let _ = rx.await;
        }
        Ok(())
    }
}

async fn progress<W: AsyncWrite + Unpin>(wr: &mut W, msg: String) -> std::io::Result<()> {
    send(wr, &Progress { progress: msg }).await
}

async fn reply<W: AsyncWrite + Unpin>(wr: &mut W, r: Reply) -> std::io::Result<()> {
    send(wr, &r).await
}

async fn send<W: AsyncWrite + Unpin, T: Serialize>(wr: &mut W, v: &T) -> std::io::Result<()> {
    let body = serde_json::to_string(v).expect("answers serialize");
    wr.write_all(format!("{body}\n").as_bytes()).await?;
    wr.flush().await
}
