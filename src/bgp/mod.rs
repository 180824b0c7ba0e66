//! Route health injection over BGP (`[bgp]`): each VIP is announced to
//! the upstream routers only while every service that announces it has
//! its quorum on this director, so several active directors can share the
//! VIPs behind the routers' ECMP. pharos does not speak BGP itself: BIRD 2
//! (Debian's `bird2`) does, as a child process pharos starts, configures
//! and watches.
//!
//! ```text
//!   desired.rs  BgpPart: the typed part (local AS, neighbours, which VIP
//!               each announcing service puts up, with its MED, communities
//!               and prepends), worked out once per load
//!   render.rs   (sans IO) BIRD's config text for a BgpPart: one `static`
//!               protocol per VIP, so a VIP goes up or down with
//!               `enable`/`disable`, never a reconfiguration
//!   birdc.rs    BIRD's control socket: its reply codes, the commands
//!               pharos sends (enable, disable, configure, show protocols)
//!   task.rs     the `bgp` task: starts `bird`, follows the health board,
//!               reconfigures on reload, publishes sessions and prefixes
//! ```
//!
//! Talks to: the check task (the health board's service quorums), BIRD
//! (a child process and its control socket), the runtime (status section
//! `bgp`, events).

pub mod birdc;
pub mod desired;
pub mod render;
pub mod status;
pub mod task;
