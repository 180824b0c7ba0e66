//! VRRP (RFC 3768 v2, RFC 5798 v3): failover of the virtual addresses
//! between directors, interoperable on the wire with keepalived 2.2.
//!
//! - [`packet`]: the advertisement codec and the receive checks (sans-IO).
//! - [`fsm`]: one instance's state machine, `(now, input) -> actions` (sans-IO).
//! - [`garp`]: gratuitous ARP and unsolicited neighbour advertisement frames
//!   and the AF_PACKET socket that sends them.
//! - [`notify`]: notify hooks, run in order, without a shell, with a timeout.
//! - [`socket`]: raw IP sockets for protocol 112.
//! - [`task`]: the supervisor's VRRP task, the IO shell that wires them up:
//!   it adds and removes VIPs with the network plane's rtnetlink code, tells
//!   the IPVS task its sync-daemon role (`Shared::vrrp_roles`), and reports
//!   to status, events and metrics.

pub mod fsm;
pub mod garp;
pub mod notify;
pub mod packet;
pub mod socket;
pub mod task;
