//! Health checks of the real servers (keepalived's TCP_CHECK, HTTP_GET,
//! SSL_GET, UDP_CHECK, DNS_CHECK and MISC_CHECK) and of stand-alone
//! `[checks]` for VRRP tracking, as one async engine.
//!
//! - [`probe`]: one attempt of each kind against one target (IO).
//! - [`connects`]: the tcp checks' connects, all in flight on one epoll
//!   set of the check thread's own (IO), as keepalived's checker does.
//! - [`health`]: each target's rise/fall and each service's quorum with
//!   hysteresis, `(now, result) -> transitions` (sans-IO).
//! - [`desired`]: the task's part of the desired state (typed, worked out
//!   once per config load).
//! - [`task`]: the supervisor's `check` task: schedules the probes, spread
//!   over the interval, and publishes the [`board`] that the IPVS task
//!   (weights, sorry server) and the VRRP task (tracking) follow.
//! - [`status`]: the typed section of `pharos status`.
//!
//! Which real servers are checked, and on which port, comes from
//! `config::resolve`, as for the IPVS task.

pub mod board;
mod connects;
pub mod desired;
pub mod health;
pub mod probe;
pub mod status;
pub mod task;
