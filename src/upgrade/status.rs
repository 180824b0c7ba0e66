//! The `upgrade` section of `pharos status`: the slot this boot runs,
//! whether it is on trial, what each slot holds, and how the last upgrade
//! went.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{Phase, Upgrade};
use super::slots::Slot;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeStatus {
    /// The slot this boot came from.
    pub slot: Slot,
    /// Booted once to be tried; not committed yet.
    pub trial: bool,
    /// The slot GRUB boots (grubenv `pharos_slot`), when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<Slot>,
    /// What each slot holds: a version, `empty`, or `incomplete`.
    pub slots: BTreeMap<Slot, String>,
    /// While on trial: what the health gate waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last: Option<Upgrade>,
    /// What could not be read (the boot partition, the record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl UpgradeStatus {
    /// This boot is a trial not committed yet (a committed trial slot is
    /// simply the running one).
    pub fn on_trial(&self) -> bool {
        self.trial && self.committed != Some(self.slot)
    }

    /// `pharos status`'s lines for it.
    pub fn table(&self) -> String {
        let mut out = String::from("\nSLOT  VERSION              STATE\n");
        for s in [Slot::A, Slot::B] {
            let mut state = Vec::new();
            if s == self.slot {
                state.push(if self.on_trial() {
                    "running, ON TRIAL"
                } else {
                    "running"
                });
            }
            if Some(s) == self.committed {
                state.push("committed (GRUB boots it)");
            }
            out.push_str(&format!(
                "{:<5} {:<20} {}\n",
                s.to_string(),
                self.slots.get(&s).map_or("-", String::as_str),
                if state.is_empty() {
                    "-".to_string()
                } else {
                    state.join(", ")
                }
            ));
        }
        if let Some(g) = &self.gate {
            out.push_str(&format!("  health gate: {g}\n"));
        }
        if let Some(u) = &self.last {
            out.push_str(&format!("  {}\n", last_line(u)));
        }
        if let Some(e) = &self.error {
            out.push_str(&format!("  error: {e}\n"));
        }
        out
    }
}

/// One line on the last upgrade, as status and the CLI say it.
pub fn last_line(u: &Upgrade) -> String {
    let head = format!(
        "last upgrade: pharos {} → {} (slot {} → {}) by {} at {}",
        u.from_version, u.to_version, u.from_slot, u.to_slot, u.by, u.started_at
    );
    match u.phase {
        Phase::Writing => format!("{head}: writing slot {}", u.to_slot),
        Phase::Trying => format!("{head}: on trial, commits when healthy"),
        Phase::Committed => format!("{head}: committed"),
        Phase::RolledBack => format!(
            "{head}: FAILED: {}",
            u.why.as_deref().unwrap_or("rolled back")
        ),
    }
}

/// For the tests of what shows it: a box running slot B (0.2.0) on trial,
/// A (0.1.0) committed, the gate waiting on a VRRP instance.
#[cfg(test)]
impl UpgradeStatus {
    pub(crate) fn example_on_trial() -> UpgradeStatus {
        UpgradeStatus {
            slot: Slot::B,
            trial: true,
            committed: Some(Slot::A),
            slots: [
                (Slot::A, "0.1.0".to_string()),
                (Slot::B, "0.2.0".to_string()),
            ]
            .into(),
            gate: Some("VRRP instance VI_1 is init".into()),
            last: None,
            error: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_the_running_and_committed_slots_and_the_last_upgrade() {
        let s = UpgradeStatus::example_on_trial();
        let t = s.table();
        assert!(
            t.contains("A     0.1.0                committed (GRUB boots it)"),
            "{t}"
        );
        assert!(
            t.contains("B     0.2.0                running, ON TRIAL"),
            "{t}"
        );
        assert!(t.contains("health gate: VRRP instance VI_1 is init"), "{t}");
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(serde_json::from_value::<UpgradeStatus>(v).unwrap(), s);
    }
}
