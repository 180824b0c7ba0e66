//! The BGP section of `pharos status`: typed, published by the `bgp` task
//! (as JSON under `subsystems.bgp`), rendered as a table by the CLI.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BgpStatus {
    /// BIRD's version, once its control socket answered.
    pub bird: Option<String>,
    /// One row per `[bgp.neighbors]` entry.
    pub sessions: Vec<Session>,
    /// One row per announced VIP.
    pub prefixes: Vec<Prefix>,
    /// Why BIRD is not doing its job, if it is not (cleared once it does).
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Session {
    /// The neighbour's name in `[bgp.neighbors]`.
    pub name: String,
    pub address: String,
    #[serde(rename = "as")]
    pub remote_as: u32,
    /// BIRD's protocol state: `up` once established, `start` while it
    /// tries, `down` when disabled.
    pub state: String,
    /// BIRD's detail: `Established`, `Active   Socket: Connection
    /// refused`, `Idle`...
    pub info: String,
    /// When the state last changed (BIRD's clock, as it shows it).
    pub since: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Prefix {
    /// `10.0.0.1/32`.
    pub prefix: String,
    /// The services that announce it; it is up while all have quorum.
    pub services: Vec<String>,
    /// Whether this director announces it now.
    pub announced: bool,
    /// Why (or why not).
    pub why: String,
}

impl BgpStatus {
    pub fn table(&self) -> String {
        let mut out = String::from(
            "\nBGP NEIGHBOUR      ADDRESS                 AS          STATE  SINCE         INFO\n",
        );
        for s in &self.sessions {
            out.push_str(&format!(
                "{:<18} {:<23} {:<11} {:<6} {:<13} {}\n",
                s.name, s.address, s.remote_as, s.state, s.since, s.info
            ));
        }
        out.push_str("\nANNOUNCED PREFIX        UP   SERVICES            WHY\n");
        for p in &self.prefixes {
            out.push_str(&format!(
                "{:<23} {:<4} {:<19} {}\n",
                p.prefix,
                if p.announced { "yes" } else { "no" },
                p.services.join(","),
                p.why
            ));
        }
        if let Some(v) = &self.bird {
            out.push_str(&format!("  speaker: {v}\n"));
        }
        if let Some(e) = &self.last_error {
            out.push_str(&format!("  last error: {e}\n"));
        }
        out
    }
}
