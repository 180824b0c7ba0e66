//! Upgrades: what a box needs to replace its own image safely.
//!
//! - [`bundle`]: the update bundle — its format, its Ed25519 signature, and
//!   the streaming check a box runs before it writes anything.
//! - [`keys`]: the bundle signing key pair, in the PEM files OpenSSL uses.
//! - [`grubenv`]: GRUB's environment block, where the box tells GRUB which
//!   slot to boot (`pharos_slot`) and which to try once (`pharos_try`).
//!
//! The slot writer and the health gate that commits or rolls back an
//! upgrade are to live here too. Nothing here touches a disk or a socket:
//! callers bring the bytes.

pub mod bundle;
pub mod grubenv;
pub mod keys;
