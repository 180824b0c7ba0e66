//! What the box remembers of an upgrade across its reboots: one file,
//! `upgrade.json` in the state directory (the config partition, which both
//! slots share), written atomically (`runtime::store::write_atomic`), and
//! what a boot makes of it ([`at_boot`], sans-IO: the record and how this
//! boot came up in, the record to keep and what to do out).
//!
//! The phases, each written before the step it names starts, so a reset
//! at any moment leaves a record that says how far it got:
//!
//! ```text
//! Writing ──slot written, read back, grubenv pharos_try set──▶ Trying
//! Trying ──(the new slot, on trial) health gate passed──────▶ Committed
//! Trying ──(the old slot booted: gate failed, panic, hang)──▶ RolledBack
//! Writing ──(any boot: power cut or reset during the write)─▶ RolledBack
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::slots::{Boot, Slot};

/// The record's file in the state directory.
pub const FILE: &str = "upgrade.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The other slot is being written.
    Writing,
    /// Written; the next boot tries it once.
    Trying,
    /// The new slot passed its health gate and is the one GRUB boots.
    Committed,
    /// The box is back on the slot it came from.
    RolledBack,
}

/// One upgrade: from where to where, who asked, how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upgrade {
    /// The bundle's version.
    pub to_version: String,
    pub to_slot: Slot,
    pub from_version: String,
    pub from_slot: Slot,
    /// The client certificate's name, or `root (control socket)`.
    pub by: String,
    pub started_at: String,
    /// How long the new slot has to pass its health gate, in seconds.
    pub deadline_s: u64,
    /// The checks that were up when the upgrade began: up again is part of
    /// the gate.
    pub checks_up: Vec<String>,
    /// The box ran its last known good config (the file was invalid) when
    /// the upgrade began: the new slot doing the same is no failure.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub on_last_good: bool,
    pub phase: Phase,
    /// Why it was rolled back (the trial writes its gate's reason here
    /// before it reboots), or what the commit found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
}

/// The whole file: what each slot holds, and the last upgrade.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Per slot: the version written to it (`incomplete` after an
    /// interrupted write). A slot not listed holds what the image was
    /// built with (A) or nothing (B).
    #[serde(default)]
    pub slots: BTreeMap<Slot, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Upgrade>,
}

impl Record {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE)
    }

    /// The record, or an empty one when there is none. A file that does not
    /// parse (written by a later version, or damaged) is reported and read
    /// as empty: it must not stop the box.
    pub fn load(state_dir: &Path) -> (Record, Option<String>) {
        let path = Record::path(state_dir);
        match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Record::default(), None),
            Err(e) => (
                Record::default(),
                Some(format!(
                    "reading {}: {e}; upgrade history lost",
                    path.display()
                )),
            ),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(r) => (r, None),
                Err(e) => (
                    Record::default(),
                    Some(format!(
                        "{} does not parse ({e}); upgrade history ignored",
                        path.display()
                    )),
                ),
            },
        }
    }

    pub fn save(&self, state_dir: &Path) -> Result<(), String> {
        let text = serde_json::to_string_pretty(self).expect("the record serializes");
        crate::runtime::store::write_atomic(&Record::path(state_dir), text.as_bytes())
    }
}

/// What this boot does about the last upgrade.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AtBoot {
    /// Nothing pending.
    Nothing,
    /// This boot is the new slot on trial: run the health gate.
    Gate,
    /// The upgrade ended while the box was down; say so (an error when it
    /// was rolled back).
    Ended { message: String, failed: bool },
}

/// How the last upgrade stands now that the box booted as `boot`; the
/// record to save when it changed. `now`: RFC 3339.
pub fn at_boot(mut rec: Record, boot: Boot, now: &str) -> (Record, AtBoot, bool) {
    let Some(up) = rec.last.as_mut() else {
        return (rec, AtBoot::Nothing, false);
    };
    let (msg, failed) = match up.phase {
        Phase::Committed | Phase::RolledBack => return (rec, AtBoot::Nothing, false),
        Phase::Writing => {
            rec.slots.insert(up.to_slot, "incomplete".into());
            (
                format!(
                    "the write of slot {} (pharos {}) was interrupted by a reset or power cut; \
                     the box is on slot {} as before; upload the bundle again",
                    up.to_slot, up.to_version, boot.slot
                ),
                true,
            )
        }
        Phase::Trying if boot.slot == up.to_slot && boot.trial => {
            return (rec, AtBoot::Gate, false);
        }
        Phase::Trying if boot.slot == up.to_slot => {
            // GRUB's committed slot is already the new one: the commit's
            // grubenv write landed, the record's did not.
            up.phase = Phase::Committed;
            up.finished_at = Some(now.to_string());
            let msg = format!(
                "upgrade to pharos {} on slot {} committed (found at boot)",
                up.to_version, up.to_slot
            );
            return (
                rec.clone(),
                AtBoot::Ended {
                    message: msg,
                    failed: false,
                },
                true,
            );
        }
        Phase::Trying => {
            let why = up.why.clone().unwrap_or_else(|| {
                format!(
                    "slot {} never reported: its kernel or pharos did not come up \
                     (panic, hang or reset before pharos's health gate ran)",
                    up.to_slot
                )
            });
            (
                format!(
                    "upgrade to pharos {} rolled back: {why}; the box is on slot {} (pharos {})",
                    up.to_version, boot.slot, up.from_version
                ),
                true,
            )
        }
    };
    up.phase = Phase::RolledBack;
    up.why = Some(msg.clone());
    up.finished_at = Some(now.to_string());
    (
        rec,
        AtBoot::Ended {
            message: msg,
            failed,
        },
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trying() -> Record {
        Record {
            slots: [(Slot::B, "0.2.0".to_string())].into(),
            last: Some(Upgrade {
                to_version: "0.2.0".into(),
                to_slot: Slot::B,
                from_version: "0.1.0".into(),
                from_slot: Slot::A,
                by: "ops".into(),
                started_at: "2026-12-06T17:00:00Z".into(),
                deadline_s: 300,
                checks_up: vec!["web/10.0.0.1:80".into()],
                on_last_good: false,
                phase: Phase::Trying,
                why: None,
                finished_at: None,
            }),
        }
    }

    const NOW: &str = "2026-12-06T17:05:00Z";

    #[test]
    fn the_new_slot_on_trial_runs_the_gate() {
        let (rec, what, changed) = at_boot(
            trying(),
            Boot {
                slot: Slot::B,
                trial: true,
            },
            NOW,
        );
        assert_eq!(what, AtBoot::Gate);
        assert!(!changed);
        assert_eq!(rec.last.unwrap().phase, Phase::Trying);
    }

    #[test]
    fn the_old_slot_after_a_trial_is_a_rollback_with_the_gates_reason_or_none() {
        let mut r = trying();
        r.last.as_mut().unwrap().why = Some("VRRP not settled within 5m".into());
        let (rec, what, changed) = at_boot(
            r,
            Boot {
                slot: Slot::A,
                trial: false,
            },
            NOW,
        );
        assert!(changed);
        let AtBoot::Ended { message, failed } = what else {
            panic!("{what:?}")
        };
        assert!(failed);
        assert!(message.contains("VRRP not settled within 5m"), "{message}");
        assert!(message.contains("on slot A"), "{message}");
        let up = rec.last.unwrap();
        assert_eq!(up.phase, Phase::RolledBack);
        assert_eq!(up.finished_at.as_deref(), Some(NOW));

        // No reason written: the new slot never reached pharos.
        let (_, what, _) = at_boot(
            trying(),
            Boot {
                slot: Slot::A,
                trial: false,
            },
            NOW,
        );
        let AtBoot::Ended { message, .. } = what else {
            panic!()
        };
        assert!(message.contains("never reported"), "{message}");
    }

    #[test]
    fn an_interrupted_write_is_reported_and_the_slot_marked_incomplete() {
        let mut r = trying();
        r.last.as_mut().unwrap().phase = Phase::Writing;
        let (rec, what, changed) = at_boot(
            r,
            Boot {
                slot: Slot::A,
                trial: false,
            },
            NOW,
        );
        assert!(changed);
        assert!(matches!(what, AtBoot::Ended { failed: true, .. }));
        assert_eq!(rec.slots[&Slot::B], "incomplete");
        assert_eq!(rec.last.unwrap().phase, Phase::RolledBack);
    }

    #[test]
    fn a_commit_whose_record_was_not_saved_is_found_at_boot() {
        let (rec, what, changed) = at_boot(
            trying(),
            Boot {
                slot: Slot::B,
                trial: false,
            },
            NOW,
        );
        assert!(changed);
        assert!(matches!(what, AtBoot::Ended { failed: false, .. }));
        assert_eq!(rec.last.unwrap().phase, Phase::Committed);
    }

    #[test]
    fn finished_upgrades_and_no_record_change_nothing() {
        let mut r = trying();
        r.last.as_mut().unwrap().phase = Phase::Committed;
        let (_, what, changed) = at_boot(
            r,
            Boot {
                slot: Slot::A,
                trial: true,
            },
            NOW,
        );
        assert_eq!(what, AtBoot::Nothing);
        assert!(!changed);
        let (_, what, _) = at_boot(
            Record::default(),
            Boot {
                slot: Slot::A,
                trial: false,
            },
            NOW,
        );
        assert_eq!(what, AtBoot::Nothing);
    }

    #[test]
    fn the_record_round_trips_as_json() {
        let r = trying();
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"phase\":\"trying\""), "{text}");
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), r);
    }
}
