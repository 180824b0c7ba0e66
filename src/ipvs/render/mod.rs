//! The table as ipvsadm 1.31 prints it, byte for byte: `ipvsadm -Ln`
//! (with `--stats`, `--rate`, `--thresholds`, `--persistent-conn`,
//! `--tun-info`) and `ipvsadm -Sn` (what `ipvsadm-save -n` prints). Pure:
//! no IO, no name lookups (always the numeric forms).
//!
//! Each function names the ipvsadm.c / libipvs.c function it mirrors, so a
//! difference can be checked against the C.
//!
//! - [`list()`]: the `-Ln` listings, one per [`ListMode`] (in `list.rs`).
//! - [`save()`]: the `-Sn` rules (in `save.rs`).
//! - `fields.rs`: what both print alike (addresses, scheduler flags,
//!   persistence mask, tunnel flags).
//! - `order.rs`: the order ipvsadm sorts services and destinations in.
//!
//! Talks to: `ipvs::model` (the table it prints); read by `cli::ipvs`.

mod fields;
mod list;
mod order;
mod save;

#[cfg(test)]
mod tests;

pub use list::{ListMode, list};
pub use save::save;
