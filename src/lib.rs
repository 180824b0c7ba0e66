//! pharos: a Linux Virtual Server director in one binary, driven by one
//! typed TOML file.
//!
//! - [`config`]: the file — parsing, node overlays, typing, validation.
//! - [`diag`]: how problems are reported (rustc-style text, JSON).
//! - [`cli`]: the command line, the contract other tools rely on.
//! - [`import`]: existing setups (ipvsadm rules) converted to pharos TOML.

pub mod check;
pub mod cli;
pub mod config;
pub mod diag;
pub mod import;
pub mod init;
pub mod ipvs;
pub mod net;
pub mod runtime;
pub mod vrrp;
