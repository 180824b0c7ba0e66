//! pharos: a Linux Virtual Server director in one binary, driven by one
//! typed TOML file.
//!
//! Layers, each using only those below it:
//!
//! ```text
//!   cli, init          the command line; PID 1 in the appliance image
//!   director           the desired state of a config (each subsystem's
//!                      typed part, worked out once per load), and the
//!                      subsystems wired into the runtime
//!   vrrp, ipvs         VIP failover; the IPVS table
//!   check, net, clock  health checks; links, addresses, routes, sysctls;
//!                      the box's clock (SNTP)
//!   runtime            the supervisor: start-up, reload, shutdown, status,
//!                      events, metrics, the control socket
//!   kernel             rtnetlink, netlink attributes, kernel modules
//!   import, config,    keepalived/ipvsadm conversion; the typed file;
//!   diag               rustc-style diagnostics
//! ```
//!
//! - [`config`]: the file — parsing, node overlays, typing, validation.
//! - [`diag`]: how problems are reported (rustc-style text, JSON).
//! - [`net`], [`check`], [`vrrp`], [`ipvs`], [`clock`]: the subsystems,
//!   each a sans-IO core with a thin task around it.
//! - [`kernel`]: the kernel adapters every subsystem uses and none owns.
//! - [`runtime`]: `pharos run`, the supervisor the subsystems plug into.
//! - [`director`]: the desired state (`Desired`: the typed part of each
//!   subsystem), which subsystems run, and how they are wired to each other.
//! - [`init`]: pharos as PID 1 in the image.
//! - [`cli`]: the command line, the contract other tools rely on.
//! - [`import`]: existing setups (keepalived.conf, ipvsadm rules) converted
//!   to pharos TOML.
//! - [`upgrade`]: signed update bundles and GRUB's environment block (the
//!   A/B slot switch).

pub mod bgp;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod diag;
pub mod director;
pub mod import;
pub mod init;
pub mod ipvs;
pub mod kernel;
pub mod net;
pub mod runtime;
pub mod upgrade;
pub mod vrrp;
