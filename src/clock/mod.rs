//! The box's clock (`[system] ntp`): an SNTPv4 client (RFC 4330, RFC 5905
//! §14). Certificates, log timestamps and events need a right clock, and
//! an appliance may boot with its RTC years off.
//!
//! ```text
//!   task.rs ── every poll ──► sntp.rs (one exchange: sntpc's packet and its
//!      │                        reply checks, RFC 5905 §A.5.1.1 / RFC 4330 §5)
//!      │  offset
//!      ▼
//!   discipline.rs (sans IO: step or slew, when to ask next, which server)
//!      │  Step / Slew
//!      ▼
//!   adjust.rs (clock_settime(2) to step; adjtime(3) to slew: the one call
//!              without a safe wrapper, with its SAFETY line)
//! ```
//!
//! Talks to: the runtime (status section `clock`, an event on each step).

pub mod adjust;
pub mod discipline;
pub mod sntp;
pub mod status;
pub mod task;
