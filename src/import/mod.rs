//! Importers: an existing LVS setup, converted to pharos TOML.
//!
//! Owns the translation from other tools' files (`ipvsadm-save` rules,
//! keepalived.conf) into a config a person would have written by hand.
//! Talks to nobody: each importer is a pure function of the input text, so
//! it resolves no names and reads no kernel state. `pharos import` prints
//! the result.
//!
//! Nothing is dropped silently: whatever cannot be mapped to the pharos
//! model comes back twice, as a `# line N: ...` comment at its place in the
//! TOML and as a [`Warning`] with the input line.

pub mod ipvsadm;
pub mod keepalived;

/// The outcome of an import: a config text and what did not carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The pharos config, laid out like the files in `configs/`.
    pub toml: String,
    /// One per thing not imported (or changed on the way), in line order.
    pub warnings: Vec<Warning>,
}

/// Something in the input that the output does not say as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file the line is in, when it is not the one input named on the
    /// command line (keepalived: includes, and both files of a pair).
    pub file: Option<String>,
    /// 1-based line of the input (the first line of a continued line).
    pub line: usize,
    pub message: String,
}
