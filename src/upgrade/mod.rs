//! Upgrades of the appliance: a signed update bundle written to the disk's
//! other boot slot, booted once by GRUB, and committed only when the
//! director is healthy at its job (README "Upgrades").
//!
//! - [`bundle`]: the update bundle — its format, its Ed25519 signature, and
//!   the streaming check a box runs before it writes anything.
//! - [`keys`]: the bundle signing key pair, in the PEM files OpenSSL uses.
//! - [`grubenv`]: GRUB's environment block, where the box tells GRUB which
//!   slot to boot (`pharos_slot`) and which to try once (`pharos_try`).
//! - [`slots`]: the A/B slots on the disk, this boot's slot, the slot
//!   writer and the grubenv file on the boot partition.
//! - [`record`]: what the box remembers of an upgrade across its reboots,
//!   and what a boot makes of it (sans IO).
//! - [`gate`]: the health gate of a slot on trial (sans IO).
//! - [`flow`]: the IO shell: the `upgrade` admin verb, the gate's task.
//! - [`status`]: the `upgrade` section of `pharos status`.
//!
//! `bundle`, `keys`, `grubenv`, `record` and `gate` touch no disk or
//! socket: callers bring the bytes and the clock.

pub mod bundle;
pub mod flow;
pub mod gate;
pub mod grubenv;
pub mod keys;
pub mod record;
pub mod slots;
pub mod status;
