//! The remote logs' section of `pharos status` (`subsystems.syslog`),
//! built when asked for, rendered as a table by the CLI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SyslogStatus {
    pub collectors: Vec<Collector>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Collector {
    /// `udp://10.0.0.5:514`, `tcp://…`, `tls://…`.
    pub collector: String,
    pub facility: String,
    /// `sending` (UDP, or a TCP/TLS connection up), `connecting` (down:
    /// lines wait in the queue, and are dropped once it is full).
    pub state: String,
    /// Lines handed to the network.
    pub sent: u64,
    /// Lines lost: the queue full, or a send that failed.
    pub dropped: u64,
    /// The last failure (cleared when a connection is made).
    pub last_error: Option<String>,
}

impl SyslogStatus {
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nSYSLOG COLLECTOR                   FACILITY STATE       SENT      DROPPED\n",
        );
        for c in &self.collectors {
            out.push_str(&format!(
                "{:<34} {:<8} {:<10} {:>9} {:>9}\n",
                c.collector, c.facility, c.state, c.sent, c.dropped
            ));
            if let Some(e) = &c.last_error {
                out.push_str(&format!("  last error: {e}\n"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_each_collector_with_its_counts_and_last_error() {
        let s = SyslogStatus {
            collectors: vec![Collector {
                collector: "tcp://10.0.0.6:514".into(),
                facility: "daemon".into(),
                state: "connecting".into(),
                sent: 12,
                dropped: 3,
                last_error: Some("connecting to tcp://10.0.0.6:514: connection refused".into()),
            }],
        };
        let t = s.table();
        assert!(t.contains("tcp://10.0.0.6:514"), "{t}");
        assert!(t.contains("connecting"), "{t}");
        assert!(t.contains("       12         3"), "{t}");
        assert!(
            t.contains("last error: connecting to tcp://10.0.0.6:514: connection refused"),
            "{t}"
        );
    }
}
