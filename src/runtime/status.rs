//! What `pharos status` and `pharos events` show: the supervisor's view of
//! the config and the tasks, plus a section per subsystem that the
//! subsystem fills in itself.

use std::collections::BTreeMap;
use std::time::SystemTime;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Status {
    pub pharos_version: String,
    pub pid: u32,
    pub started_at: String,
    /// True once every task has finished its first full apply (READY=1).
    pub ready: bool,
    pub config: ConfigStatus,
    pub tasks: Vec<TaskStatus>,
    /// Per-subsystem sections (`vrrp`, `services`, `checks`, ...), as each
    /// subsystem reports itself.
    pub subsystems: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct ConfigStatus {
    /// The file pharos was told to run.
    pub file: String,
    /// Where the running config came from.
    pub source: ConfigSource,
    /// The node overlay applied, if any.
    pub node: Option<String>,
    /// Counts successful loads: 1 at start, +1 per applied reload.
    pub revision: u64,
    pub loaded_at: String,
    pub age_seconds: u64,
    /// Problems with the file as it is on disk now (when the running config
    /// is the last known good one, or a reload was refused).
    pub errors: Vec<String>,
    /// The revision on trial, if one is: until when, and what comes back
    /// unless it is confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial: Option<String>,
    /// What pharos last failed to write to the config partition (full,
    /// read-only, broken), and when; the box runs on as it was. Cleared by
    /// the next write that works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsaved: Option<String>,
    /// Why nothing saved outlives a reboot: the config partition could not
    /// be mounted at boot (the embedded default config runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volatile: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ConfigSource {
    /// The config file as given.
    File,
    /// The file was invalid; the last config that ran well is running.
    LastGood,
    /// Nothing valid to run: up, reachable, holding no VIPs.
    Maintenance,
    /// The file is valid but none of its `[nodes.*]` matches this box
    /// (`system.unmatched = "maintenance"`): up, holding no VIPs.
    Unmatched,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct TaskStatus {
    pub name: String,
    pub state: TaskState,
    pub restarts: u64,
    pub last_error: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum TaskState {
    Running,
    /// Stopped by a failure; starts again after its backoff delay.
    Restarting,
    /// Failed too many times in a row; left stopped. The rest runs on.
    Failed,
    Stopped,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::Restarting => "restarting",
            TaskState::Failed => "failed",
            TaskState::Stopped => "stopped",
        }
    }
}

/// One transition, as `pharos events` prints it (a JSON line each). The
/// supervisor also logs each event once, at its level (see `Shared::emit`):
/// a task does not log what it emits.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
pub struct Event {
    pub time: String,
    /// `task`, `config`, `shutdown`, or a subsystem's name.
    pub kind: String,
    /// What it is about: a task, an instance, a real server.
    pub subject: String,
    pub message: String,
    /// `info`, or `warn` / `error` for something that went wrong.
    #[serde(default)]
    pub level: Level,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Info,
    Warn,
    Error,
}

impl Event {
    pub fn new(kind: &str, subject: &str, message: impl Into<String>) -> Self {
        Event {
            time: now_rfc3339(),
            kind: kind.to_string(),
            subject: subject.to_string(),
            message: message.into(),
            level: Level::Info,
        }
    }

    /// The same event, logged as a warning.
    #[must_use]
    pub fn warn(mut self) -> Self {
        self.level = Level::Warn;
        self
    }

    /// The same event, logged as an error.
    #[must_use]
    pub fn error(mut self) -> Self {
        self.level = Level::Error;
        self
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}
