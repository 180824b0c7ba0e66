//! The check section of `pharos status`: typed, kept by the check task and
//! made JSON (under `subsystems.check`) when asked for; rendered as tables
//! by the CLI.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CheckStatus {
    /// How the schedule keeps up, over the last publishing window.
    pub schedule: Schedule,
    /// Every checked real server and stand-alone check, by target.
    pub targets: Vec<Target>,
    /// Each service's quorum.
    pub services: BTreeMap<String, Quorum>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Schedule {
    pub attempts_per_s: f64,
    /// How late attempts started, in milliseconds: median, p99, worst.
    pub late_p50_ms: Option<f64>,
    pub late_p99_ms: Option<f64>,
    pub late_max_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Target {
    /// `rs:SERVICE/IP:PORT` for a real server, `check:NAME` for a stand-alone check.
    pub target: String,
    /// What the check does (`http GET http://10.0.0.2:80/`).
    pub check: String,
    /// `up` or `down`.
    pub state: String,
    /// `pass`, `not checked yet`, or why the last attempt failed.
    pub last: String,
    pub latency_ms: Option<f64>,
    /// Passes and failures in a row, against `rise` and `fall`.
    pub passes: u32,
    pub fails: u32,
    pub rise: u32,
    pub fall: u32,
    /// Checks run since the start.
    pub checks: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Quorum {
    pub quorum_up: bool,
}

impl CheckStatus {
    /// `pharos status`'s tables: one line per target, then the services'
    /// quorum and how the schedule keeps up.
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nCHECK TARGET                     STATE  LAST                            LATENCY  RISE  FALL  CHECKS\n",
        );
        for t in &self.targets {
            let last: String = t.last.chars().take(31).collect();
            // As the config names it: `SERVICE/IP:PORT` for a real
            // server, the check's own name for a stand-alone one; the
            // `rs:` / `check:` prefixes are the runner's keys.
            let name = t
                .target
                .strip_prefix("rs:")
                .or_else(|| t.target.strip_prefix("check:"))
                .unwrap_or(&t.target);
            out.push_str(&format!(
                "{:<32} {:<6} {:<31} {:>7}  {:>2}/{:<2} {:>2}/{:<2} {:>6}\n",
                name,
                t.state,
                last,
                t.latency_ms
                    .map_or("-".to_string(), |ms| format!("{ms:.1}ms")),
                t.passes,
                t.rise,
                t.fails,
                t.fall,
                t.checks
            ));
        }
        if !self.services.is_empty() {
            out.push_str("\nSERVICE          QUORUM\n");
            for (name, q) in &self.services {
                let up = if q.quorum_up {
                    "up"
                } else {
                    "DOWN (sorry server)"
                };
                out.push_str(&format!("{name:<16} {up}\n"));
            }
        }
        let ms = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.1} ms"));
        out.push_str(&format!(
            "\nchecks: {:.0} attempts/s, started late by {} (median), {} (p99), {} (worst)\n",
            self.schedule.attempts_per_s,
            ms(self.schedule.late_p50_ms),
            ms(self.schedule.late_p99_ms),
            ms(self.schedule.late_max_ms)
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_section_renders_as_tables() {
        let s = CheckStatus {
            schedule: Schedule {
                attempts_per_s: 1.0,
                late_p50_ms: Some(0.8),
                late_p99_ms: Some(2.0),
                late_max_ms: None,
            },
            targets: vec![Target {
                // As the runner keys it; shown as the config names it.
                target: "rs:web/10.0.0.2:80".into(),
                check: "http GET http://10.0.0.2:80/".into(),
                state: "down".into(),
                last: "connection refused".into(),
                latency_ms: Some(1.25),
                passes: 0,
                fails: 2,
                rise: 1,
                fall: 2,
                checks: 7,
            }],
            services: BTreeMap::from([("web".into(), Quorum { quorum_up: false })]),
        };
        let t = s.table();
        assert!(
            t.contains(
                "web/10.0.0.2:80                  down   connection refused                1.2ms   0/1   2/2       7"
            ),
            "{t}"
        );
        assert!(!t.contains("rs:"), "{t}");
        assert!(t.contains("web              DOWN (sorry server)"), "{t}");
        assert!(
            t.contains("1 attempts/s, started late by 0.8 ms (median), 2.0 ms (p99), - (worst)"),
            "{t}"
        );
        // The JSON shape `pharos status --json` has always had.
        let v = serde_json::to_value(&s).unwrap();
        assert_eq!(v["services"]["web"]["quorum_up"], false);
        assert_eq!(v["targets"][0]["state"], "down");
    }
}
