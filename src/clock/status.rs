//! The clock's section of `pharos status`: typed, published by the clock
//! task after each exchange (as JSON under `subsystems.clock`), rendered as
//! a table by the CLI and as a row of the status page.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ClockStatus {
    /// The servers of `[system] ntp`, in the order they are asked.
    pub servers: Vec<String>,
    /// The server that answered last.
    pub server: Option<String>,
    /// When the last good answer came (RFC 3339, by the clock as set then).
    pub last_sync: Option<String>,
    /// The last answer's offset (server minus this box), seconds.
    pub offset_seconds: Option<f64>,
    /// The last answer's round trip, seconds.
    pub delay_seconds: Option<f64>,
    /// The answering server's stratum.
    pub stratum: Option<u8>,
    /// What was done with the last offset: `stepped`, `slewed` or `held`
    /// (past the step threshold once: stepped if the next answer agrees).
    pub action: Option<String>,
    pub steps: u64,
    pub slews: u64,
    /// Why the last exchange gave no offset (cleared by a good answer).
    pub last_error: Option<String>,
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

impl ClockStatus {
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nNTP SERVER             STRATUM OFFSET        DELAY      LAST SYNC                  ACTION   STEPS SLEWS\n",
        );
        out.push_str(&format!(
            "{:<22} {:<7} {:<13} {:<10} {:<26} {:<8} {:>5} {:>5}\n",
            self.server.as_deref().unwrap_or("-"),
            opt(self.stratum),
            opt(self.offset_seconds.map(|o| format!("{o:+.6} s"))),
            opt(self.delay_seconds.map(|d| format!("{:.1} ms", d * 1e3))),
            self.last_sync.as_deref().unwrap_or("never"),
            self.action.as_deref().unwrap_or("-"),
            self.steps,
            self.slews,
        ));
        out.push_str(&format!("  servers: {}\n", self.servers.join(", ")));
        if let Some(e) = &self.last_error {
            out.push_str(&format!("  last error: {e}\n"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_the_offset_the_action_and_the_last_error() {
        let s = ClockStatus {
            servers: vec!["10.0.0.1:123".into(), "10.0.0.2:123".into()],
            server: Some("10.0.0.1:123".into()),
            last_sync: Some("2026-12-06T12:00:00.000Z".into()),
            offset_seconds: Some(788_918_400.25),
            delay_seconds: Some(0.0021),
            stratum: Some(3),
            action: Some("stepped".into()),
            steps: 1,
            slews: 0,
            last_error: Some("NTP server 10.0.0.2:123 did not answer".into()),
        };
        let t = s.table();
        assert!(t.contains("10.0.0.1:123"), "{t}");
        assert!(t.contains("+788918400.250000 s"), "{t}");
        assert!(t.contains("2.1 ms"), "{t}");
        assert!(t.contains("stepped"), "{t}");
        assert!(
            t.contains("last error: NTP server 10.0.0.2:123 did not answer"),
            "{t}"
        );
    }
}
