//! One VRRP instance's state machine (RFC 5798 §6.4, RFC 3768 §6.4), sans IO.
//!
//! [`Instance::handle`] takes `(now, input)` and returns the [`Action`]s the
//! IO shell (`task.rs`) carries out, in order; [`Instance::deadline`] says
//! when to call it next with [`Input::Tick`]. No sockets and no clock here,
//! so every timing rule is a unit test with virtual time (bottom of file).
//!
//! Beyond the RFC, and matching what keepalived peers do (interop.md):
//! a Fault state for tracked failures (entered from any state, VIPs
//! released with a priority-0 advert when leaving Master, so the peer takes
//! over in its skew time); a preempt delay after start; a master that hears
//! a lower priority answers at once and repeats its gratuitous ARPs, which
//! heals a split brain as soon as the link is back.

use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::config::model::VrrpVersion;

/// RFC 5798 §6.4 states, plus Fault (a tracked object is down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Init => "init",
            State::Backup => "backup",
            State::Master => "master",
            State::Fault => "fault",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a transition happened: goes to the event stream, the log and the
/// notify hooks' environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    /// Priority 255: the address owner takes over at once (RFC 5798 §6.4.1).
    Owner,
    /// Started as a backup.
    Startup,
    /// No advert for Master_Down_Interval (RFC 5798 §6.4.2).
    MasterDown(Duration),
    /// The master sent priority 0 and we waited only the skew time.
    MasterLeft(IpAddr),
    /// A higher priority (or an equal one from a higher address) was heard.
    Preempted { by: IpAddr, priority: u8 },
    /// A tracked object went down with weight 0, or the interface did.
    Fault(String),
    /// The fault cleared.
    FaultCleared,
    /// Another member of the sync group changed state.
    Group { group: String, member: String },
    /// pharos is stopping.
    Shutdown,
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::Owner => f.write_str("priority 255: owner of the addresses"),
            Why::Startup => f.write_str("started"),
            Why::MasterDown(d) => write!(
                f,
                "no advertisement for {} ms (master down interval)",
                d.as_millis()
            ),
            Why::MasterLeft(ip) => write!(f, "master {ip} is leaving (priority 0)"),
            Why::Preempted { by, priority } => {
                write!(f, "{by} advertises priority {priority}")
            }
            Why::Fault(what) => write!(f, "fault: {what}"),
            Why::FaultCleared => f.write_str("fault cleared"),
            Why::Group { group, member } => {
                write!(f, "sync group {group}: member {member} changed state")
            }
            Why::Shutdown => f.write_str("shutting down"),
        }
    }
}

/// What the IO shell is asked to do, in this order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send an advertisement with this priority (0 when leaving).
    Send { priority: u8 },
    /// Add the VIPs.
    AddVips,
    /// Remove the VIPs.
    RemoveVips,
    /// A burst of gratuitous ARPs / unsolicited NAs for every VIP.
    Announce,
    /// The state changed: events, notify hooks, the sync daemon's role.
    Became { from: State, to: State, why: Why },
    /// A master answered a lower priority (possible split brain), logged.
    Answered { to: IpAddr, priority: u8 },
}

/// An advert that passed decoding and the instance's receive checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heard {
    pub src: IpAddr,
    pub priority: u8,
    /// The sender's advertisement interval (v3 backups adopt it).
    pub interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The Startup event (RFC 5798 §6.4.1).
    Start,
    /// A timer may have expired; see [`Instance::deadline`].
    Tick,
    Advert(Heard),
    /// The effective priority (base plus tracking weights) changed.
    Priority(u8),
    /// A fault appeared (`Some(what)`) or cleared (`None`).
    Fault(Option<String>),
    /// A sync-group peer changed state: follow it (see [`Group`]).
    Follow {
        to: State,
        why: Why,
    },
    /// The Shutdown event: a master sends priority 0 and lets go.
    Shutdown,
}

/// The settings the state machine needs, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub version: VrrpVersion,
    /// Configured priority, 1–255.
    pub priority: u8,
    pub interval: Duration,
    pub preempt: bool,
    pub preempt_delay: Duration,
    /// This router's primary address on the interface: breaks priority ties.
    pub primary: IpAddr,
    /// Second GARP burst this long after becoming master (zero: none).
    pub garp_delay: Duration,
    /// Repeat the GARP burst this often while master.
    pub garp_refresh: Option<Duration>,
}

/// One instance.
#[derive(Debug, Clone)]
pub struct Instance {
    p: Params,
    state: State,
    /// Effective priority: configured plus tracking weights.
    priority: u8,
    /// Our own fault, if any (tracked object or interface).
    fault: Option<String>,
    /// Fault imposed by the sync group.
    group_fault: bool,
    /// Master_Adver_Interval: ours, or (v3 backup) the master's.
    master_interval: Duration,
    /// Who is master now, as far as we know.
    master: Option<IpAddr>,
    started: Option<Instant>,
    adver_at: Option<Instant>,
    down_at: Option<Instant>,
    garp_at: Option<Instant>,
    /// Set once the delayed second GARP burst went out.
    garp_second_done: bool,
}

impl Instance {
    pub fn new(p: Params) -> Instance {
        Instance {
            priority: p.priority,
            master_interval: p.interval,
            p,
            state: State::Init,
            fault: None,
            group_fault: false,
            master: None,
            started: None,
            adver_at: None,
            down_at: None,
            garp_at: None,
            garp_second_done: false,
        }
    }

    pub fn state(&self) -> State {
        self.state
    }
    /// The priority this router advertises and compares with.
    pub fn priority(&self) -> u8 {
        self.priority
    }
    pub fn master(&self) -> Option<IpAddr> {
        self.master
    }
    pub fn master_interval(&self) -> Duration {
        self.master_interval
    }
    pub fn params(&self) -> &Params {
        &self.p
    }
    pub fn fault(&self) -> Option<&str> {
        self.fault.as_deref()
    }

    /// New settings from a reload (or the resolved primary address),
    /// without a state change. The effective priority follows through
    /// [`Input::Priority`].
    pub fn set_params(&mut self, p: Params) {
        if self.state == State::Master || self.p.version == VrrpVersion::V2 {
            self.master_interval = p.interval;
        }
        if self.state == State::Init {
            self.priority = p.priority;
        }
        self.p = p;
    }

    /// Skew_Time: RFC 3768 §6.1 (v2: (256 − Priority)/256 s) and RFC 5798
    /// §6.1 (v3: (256 − Priority) × Master_Adver_Interval / 256).
    pub fn skew(&self) -> Duration {
        let weight = 256 - u32::from(self.priority);
        match self.p.version {
            VrrpVersion::V2 => Duration::from_secs(1) * weight / 256,
            VrrpVersion::V3 => self.master_interval * weight / 256,
        }
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_interval * 3 + self.skew()
    }

    /// When to call [`handle`](Self::handle) with [`Input::Tick`] next.
    pub fn deadline(&self) -> Option<Instant> {
        [self.adver_at, self.down_at, self.garp_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        let mut out = Vec::new();
        match input {
            Input::Start => self.start(now, &mut out),
            Input::Tick => self.tick(now, &mut out),
            Input::Advert(h) => self.advert(now, h, &mut out),
            Input::Priority(p) => self.set_priority(now, p, &mut out),
            Input::Fault(f) => {
                self.fault = f;
                self.refault(now, None, &mut out);
            }
            Input::Follow { to, why } => self.follow(now, to, why, &mut out),
            Input::Shutdown => self.shutdown(&mut out),
        }
        out
    }

    fn start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        self.started = Some(now);
        if let Some(what) = self.fault.clone() {
            self.go(State::Fault, Why::Fault(what), out);
        } else if self.group_fault {
            self.go(State::Fault, Why::Fault("sync group".into()), out);
        } else if self.priority == 255 {
            self.become_master(now, Why::Owner, out);
        } else {
            self.become_backup(now, Why::Startup, out);
        }
    }

    fn tick(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Master => {
                if self.adver_at.is_some_and(|t| t <= now) {
                    out.push(Action::Send {
                        priority: self.priority,
                    });
                    self.adver_at = Some(now + self.p.interval);
                }
                if self.garp_at.is_some_and(|t| t <= now) {
                    out.push(Action::Announce);
                    self.garp_second_done = true;
                    self.garp_at = self.p.garp_refresh.map(|r| now + r);
                }
            }
            State::Backup => {
                if self.down_at.is_some_and(|t| t <= now) {
                    let waited = self.master_down_interval();
                    self.become_master(now, Why::MasterDown(waited), out);
                }
            }
            State::Init | State::Fault => {}
        }
    }

    fn advert(&mut self, now: Instant, h: Heard, out: &mut Vec<Action>) {
        match self.state {
            State::Init | State::Fault => {
                // Not taking part; remember who is master for `status`.
                if h.priority != 0 {
                    self.master = Some(h.src);
                }
            }
            State::Backup => {
                if h.priority == 0 {
                    // RFC 5798 §6.4.2: the master is leaving; wait only the skew.
                    self.down_at = Some(now + self.skew());
                    self.master = None;
                    return;
                }
                let may_preempt =
                    self.p.preempt && self.started.is_none_or(|s| now >= s + self.p.preempt_delay);
                if !may_preempt || h.priority >= self.priority {
                    if self.p.version == VrrpVersion::V3 {
                        self.master_interval = h.interval;
                    }
                    self.master = Some(h.src);
                    self.down_at = Some(now + self.master_down_interval());
                }
                // Else: discard, so Master_Down_Timer fires and we preempt.
            }
            State::Master => {
                if h.priority == 0 {
                    // RFC 5798 §6.4.3: another master left; show we are here.
                    out.push(Action::Send {
                        priority: self.priority,
                    });
                    self.adver_at = Some(now + self.p.interval);
                    return;
                }
                let higher = h.priority > self.priority
                    || (h.priority == self.priority && h.src > self.p.primary);
                if higher {
                    if self.p.version == VrrpVersion::V3 {
                        self.master_interval = h.interval;
                    }
                    self.leave_master(out);
                    self.master = Some(h.src);
                    self.state_to(
                        now,
                        State::Backup,
                        Why::Preempted {
                            by: h.src,
                            priority: h.priority,
                        },
                        out,
                    );
                } else {
                    // Split brain healing (keepalived does the same): the
                    // other side thinks it is master; tell it at once and
                    // win back the switches' tables.
                    out.push(Action::Send {
                        priority: self.priority,
                    });
                    out.push(Action::Announce);
                    out.push(Action::Answered {
                        to: h.src,
                        priority: h.priority,
                    });
                    self.adver_at = Some(now + self.p.interval);
                }
            }
        }
    }

    fn set_priority(&mut self, now: Instant, p: u8, out: &mut Vec<Action>) {
        // The owner's priority is not moved by tracking (it must stay 255).
        let p = if self.p.priority == 255 {
            255
        } else {
            p.clamp(1, 254)
        };
        if p == self.priority {
            return;
        }
        self.priority = p;
        match self.state {
            // The next advert carries it; a peer that now outranks us
            // preempts. Say it at once rather than at the next interval.
            State::Master => {
                out.push(Action::Send { priority: p });
                self.adver_at = Some(now + self.p.interval);
            }
            State::Backup => {
                // The skew depends on our priority (RFC 5798 §6.1).
                if let Some(d) = self.down_at {
                    self.down_at = Some(d.min(now + self.master_down_interval()));
                }
            }
            State::Init | State::Fault => {}
        }
    }

    /// Enters or leaves Fault after our own fault or the group's changed.
    fn refault(&mut self, now: Instant, group_why: Option<Why>, out: &mut Vec<Action>) {
        let faulty = self.fault.is_some() || self.group_fault;
        match (self.state, faulty) {
            (State::Init, _) => {}
            (State::Fault, false) => {
                let why = group_why.unwrap_or(Why::FaultCleared);
                if self.priority == 255 {
                    self.become_master(now, why, out);
                } else {
                    self.become_backup(now, why, out);
                }
            }
            (State::Backup | State::Master, true) => {
                let why = group_why.unwrap_or_else(|| {
                    Why::Fault(self.fault.clone().unwrap_or_else(|| "sync group".into()))
                });
                if self.state == State::Master {
                    self.leave_master(out);
                }
                self.down_at = None;
                self.master = None;
                self.go(State::Fault, why, out);
            }
            _ => {}
        }
    }

    fn follow(&mut self, now: Instant, to: State, why: Why, out: &mut Vec<Action>) {
        match to {
            State::Fault => {
                self.group_fault = true;
                self.refault(now, Some(why), out);
            }
            State::Master | State::Backup if self.group_fault => {
                self.group_fault = false;
                self.refault(now, Some(why.clone()), out);
                if to == State::Master && self.state == State::Backup {
                    self.become_master(now, why, out);
                }
            }
            State::Master if self.state == State::Backup => self.become_master(now, why, out),
            State::Backup if self.state == State::Master => {
                self.leave_master(out);
                self.state_to(now, State::Backup, why, out);
            }
            _ => {}
        }
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.leave_master(out);
        }
        self.adver_at = None;
        self.down_at = None;
        self.garp_at = None;
        if self.state != State::Init {
            self.go(State::Init, Why::Shutdown, out);
        }
    }

    /// RFC 5798 §6.4.1/§6.4.2: advert first, then the VIPs, then GARPs.
    fn become_master(&mut self, now: Instant, why: Why, out: &mut Vec<Action>) {
        out.push(Action::Send {
            priority: self.priority,
        });
        out.push(Action::AddVips);
        out.push(Action::Announce);
        self.adver_at = Some(now + self.p.interval);
        self.down_at = None;
        self.garp_second_done = false;
        self.garp_at = if self.p.garp_delay.is_zero() {
            self.p.garp_refresh.map(|r| now + r)
        } else {
            Some(now + self.p.garp_delay)
        };
        self.master = Some(self.p.primary);
        self.master_interval = self.p.interval;
        self.go(State::Master, why, out);
    }

    fn become_backup(&mut self, now: Instant, why: Why, out: &mut Vec<Action>) {
        self.master_interval = self.p.interval;
        self.state_to(now, State::Backup, why, out);
    }

    /// A master letting go: priority 0 so the backup waits only its skew
    /// (RFC 5798 §6.4.3), then the VIPs.
    fn leave_master(&mut self, out: &mut Vec<Action>) {
        out.push(Action::Send { priority: 0 });
        out.push(Action::RemoveVips);
        self.adver_at = None;
        self.garp_at = None;
        self.master = None;
    }

    fn state_to(&mut self, now: Instant, to: State, why: Why, out: &mut Vec<Action>) {
        if to == State::Backup {
            self.adver_at = None;
            self.garp_at = None;
            self.down_at = Some(now + self.master_down_interval());
        }
        self.go(to, why, out);
    }

    fn go(&mut self, to: State, why: Why, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        out.push(Action::Became { from, to, why });
    }
}

/// A sync group (keepalived's vrrp_sync_group): its members change state
/// together. The rule is applied by the shell after every input: when a
/// member changes state on its own (not because the group told it to),
/// the others are told to [`Input::Follow`]. Fault wins: while any member
/// is in its own Fault, the others stay in Fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    pub members: Vec<String>,
}

impl Group {
    /// The inputs for the other members after `member` made `actions`.
    pub fn follow(&self, member: &str, actions: &[Action]) -> Vec<(String, Input)> {
        let mut out = Vec::new();
        for a in actions {
            let Action::Became { to, why, .. } = a else {
                continue;
            };
            if matches!(why, Why::Group { .. } | Why::Shutdown) || *to == State::Init {
                continue;
            }
            for m in self.members.iter().filter(|m| *m != member) {
                out.push((
                    m.clone(),
                    Input::Follow {
                        to: *to,
                        why: Why::Group {
                            group: self.name.clone(),
                            member: member.to_string(),
                        },
                    },
                ));
            }
        }
        out
    }
}

/// Effective priority and fault from tracked objects (keepalived's
/// track_interface / track_script weights): a positive weight is added while
/// the object is up, a negative one applied while it is down, weight 0 puts
/// the instance in Fault while the object is down. The owner (255) is never
/// moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedState {
    pub what: String,
    pub weight: i16,
    pub up: bool,
}

pub fn effective(base: u8, tracked: &[TrackedState]) -> (u8, Option<String>) {
    let mut fault = Vec::new();
    let mut p = i32::from(base);
    for t in tracked {
        match (t.weight, t.up) {
            (0, false) => fault.push(format!("{} is down", t.what)),
            (w, true) if w > 0 => p += i32::from(w),
            (w, false) if w < 0 => p += i32::from(w),
            _ => {}
        }
    }
    let p = if base == 255 {
        255
    } else {
        u8::try_from(p.clamp(1, 254)).unwrap_or(1)
    };
    let fault = if fault.is_empty() {
        None
    } else {
        Some(fault.join(", "))
    };
    (p, fault)
}

/// What the task gathers about one instance: the facts the effective
/// priority and the Fault follow from.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// The configured priority.
    pub base: u8,
    /// Why it cannot run at all: its interface or source address is missing.
    pub blocked: Option<&'a str>,
    /// Why its own interface is not usable (down, no carrier): Fault, as
    /// keepalived does.
    pub link_down: Option<&'a str>,
    /// The interfaces, checks and services it tracks.
    pub tracked: &'a [TrackedState],
}

/// The effective priority, the Fault (its reason) and what moves the
/// priority (see [`priority_terms`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Effective {
    pub priority: u8,
    pub fault: Option<String>,
    pub terms: String,
}

/// The effective-priority rule: tracking weights move the priority
/// ([`effective`]); a missing interface or address, a down link, or a
/// tracked object of weight 0 that is down put the instance in Fault, the
/// first of them being the reason given.
pub fn decide(f: &Facts<'_>) -> Effective {
    let (priority, tracked_fault) = effective(f.base, f.tracked);
    let fault = f
        .blocked
        .or(f.link_down)
        .map(str::to_string)
        .or(tracked_fault);
    Effective {
        priority,
        fault,
        terms: priority_terms(f.tracked),
    }
}

/// What moves the effective priority away from the configured one, for the
/// event of a change: each tracked item whose weight applies now, e.g.
/// `service web is down (-60)`; empty when none does.
pub fn priority_terms(tracked: &[TrackedState]) -> String {
    let terms: Vec<String> = tracked
        .iter()
        .filter_map(|t| match (t.weight, t.up) {
            (w, true) if w > 0 => Some(format!("{} is up (+{w})", t.what)),
            (w, false) if w < 0 => Some(format!("{} is down ({w})", t.what)),
            _ => None,
        })
        .collect();
    terms.join(", ")
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn params(version: VrrpVersion, priority: u8, interval: Duration) -> Params {
        Params {
            version,
            priority,
            interval,
            preempt: true,
            preempt_delay: Duration::ZERO,
            primary: ip(1),
            garp_delay: Duration::from_secs(5),
            garp_refresh: None,
        }
    }

    /// Virtual time: runs ticks at each deadline up to `until`.
    struct Clock {
        t0: Instant,
        now: Instant,
    }

    impl Clock {
        fn new() -> Clock {
            let t0 = Instant::now();
            Clock { t0, now: t0 }
        }
        fn at(&self, d: Duration) -> Instant {
            self.t0 + d
        }
        /// Advances to `until`, ticking at every deadline on the way.
        fn run(&mut self, i: &mut Instance, until: Duration) -> Vec<(Duration, Action)> {
            let end = self.t0 + until;
            let mut log = Vec::new();
            while let Some(d) = i.deadline().filter(|d| *d <= end) {
                self.now = d.max(self.now);
                for a in i.handle(self.now, Input::Tick) {
                    log.push((self.now - self.t0, a));
                }
            }
            self.now = end;
            log
        }
        fn feed(&mut self, i: &mut Instance, at: Duration, input: Input) -> Vec<Action> {
            self.now = self.t0 + at;
            i.handle(self.now, input)
        }
    }

    fn became(actions: &[Action]) -> Option<State> {
        actions.iter().find_map(|a| match a {
            Action::Became { to, .. } => Some(*to),
            _ => None,
        })
    }

    fn heard(src: u8, priority: u8, interval: Duration) -> Input {
        Input::Advert(Heard {
            src: ip(src),
            priority,
            interval,
        })
    }

    #[test]
    fn timers_follow_rfc_formulas() {
        let v2 = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        // v2: skew (256-100)/256 s = 609.375 ms; down = 3 s + skew.
        assert_eq!(v2.skew(), Duration::from_micros(609_375));
        assert_eq!(v2.master_down_interval(), Duration::from_micros(3_609_375));
        let v3 = Instance::new(params(VrrpVersion::V3, 200, 100 * MS));
        // v3: (256-200) × 10 cs / 256 = 2.1875 cs.
        assert_eq!(v3.skew(), Duration::from_micros(21_875));
        assert_eq!(v3.master_down_interval(), Duration::from_micros(321_875));
    }

    #[test]
    fn backup_becomes_master_after_master_down_interval() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        let a = c.feed(&mut i, Duration::ZERO, Input::Start);
        assert_eq!(became(&a), Some(State::Backup));
        assert!(!a.contains(&Action::AddVips));
        let log = c.run(&mut i, Duration::from_secs(3));
        assert!(log.is_empty(), "nothing before 3.609 s: {log:?}");
        let log = c.run(&mut i, Duration::from_millis(3610));
        let acts: Vec<Action> = log.iter().map(|(_, a)| a.clone()).collect();
        assert_eq!(log[0].0, Duration::from_micros(3_609_375));
        // Advert first, then the VIPs, then GARPs (interop.md).
        assert_eq!(
            &acts[..3],
            &[
                Action::Send { priority: 100 },
                Action::AddVips,
                Action::Announce
            ]
        );
        assert_eq!(became(&acts), Some(State::Master));
        assert_eq!(i.master(), Some(ip(1)));
    }

    #[test]
    fn master_advertises_every_interval_and_sends_second_garp_burst() {
        let mut c = Clock::new();
        let mut p = params(VrrpVersion::V3, 255, 100 * MS);
        p.garp_delay = Duration::from_secs(5);
        p.garp_refresh = Some(Duration::from_secs(60));
        let mut i = Instance::new(p);
        let a = c.feed(&mut i, Duration::ZERO, Input::Start);
        assert_eq!(became(&a), Some(State::Master), "owner starts as master");
        let log = c.run(&mut i, Duration::from_secs(1));
        let sends: Vec<Duration> = log
            .iter()
            .filter(|(_, a)| matches!(a, Action::Send { priority: 255 }))
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(sends.len(), 10);
        assert_eq!(sends[0], 100 * MS);
        let log = c.run(&mut i, Duration::from_secs(70));
        let garps: Vec<Duration> = log
            .iter()
            .filter(|(_, a)| *a == Action::Announce)
            .map(|(t, _)| *t)
            .collect();
        assert_eq!(garps, vec![Duration::from_secs(5), Duration::from_secs(65)]);
    }

    #[test]
    fn backup_resets_timer_on_adverts_and_v3_adopts_master_interval() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V3, 100, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        for s in 1..10 {
            let a = c.feed(&mut i, Duration::from_secs(s), heard(2, 150, 200 * MS));
            assert!(a.is_empty());
            assert!(c.run(&mut i, Duration::from_secs(s) + 500 * MS).is_empty());
        }
        assert_eq!(i.master(), Some(ip(2)));
        assert_eq!(i.master_interval(), 200 * MS);
        // Down interval now 3 × 200 ms + (156 × 200 ms / 256) = 721.875 ms.
        assert_eq!(i.master_down_interval(), Duration::from_micros(721_875));
        let log = c.run(&mut i, Duration::from_secs(10));
        assert_eq!(
            log[0].0,
            Duration::from_secs(9) + Duration::from_micros(721_875)
        );
    }

    #[test]
    fn v2_does_not_adopt_the_masters_interval() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.feed(
            &mut i,
            Duration::from_secs(1),
            heard(2, 150, Duration::from_secs(3)),
        );
        assert_eq!(i.master_interval(), Duration::from_secs(1));
    }

    #[test]
    fn priority_zero_makes_backup_wait_only_skew() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.feed(
            &mut i,
            Duration::from_secs(1),
            heard(2, 150, Duration::from_secs(1)),
        );
        c.feed(
            &mut i,
            Duration::from_secs(2),
            heard(2, 0, Duration::from_secs(1)),
        );
        let log = c.run(&mut i, Duration::from_secs(4));
        assert_eq!(
            log[0].0,
            Duration::from_secs(2) + Duration::from_micros(609_375),
            "skew only"
        );
        assert_eq!(
            became(&log.into_iter().map(|(_, a)| a).collect::<Vec<_>>()),
            Some(State::Master)
        );
    }

    #[test]
    fn master_answers_priority_zero_with_an_advert() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        let a = c.feed(&mut i, 300 * MS, heard(2, 0, Duration::from_secs(1)));
        assert_eq!(a, vec![Action::Send { priority: 255 }]);
        assert_eq!(i.deadline(), Some(c.at(1300 * MS)));
    }

    #[test]
    fn master_steps_down_for_higher_priority_with_priority_zero_and_vips_removed() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        i.p.priority = 100;
        i.priority = 100;
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        assert_eq!(i.state(), State::Master);
        let a = c.feed(
            &mut i,
            Duration::from_secs(5),
            heard(2, 150, Duration::from_secs(1)),
        );
        assert_eq!(&a[..2], &[Action::Send { priority: 0 }, Action::RemoveVips]);
        assert_eq!(became(&a), Some(State::Backup));
        assert_eq!(i.master(), Some(ip(2)));
    }

    #[test]
    fn equal_priority_is_broken_by_the_higher_address() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V3, 100, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        assert_eq!(i.state(), State::Master);
        // Lower address, same priority: we win and say so at once.
        let a = c.feed(
            &mut i,
            Duration::from_secs(5),
            heard(0, 100, Duration::from_secs(1)),
        );
        assert!(a.contains(&Action::Send { priority: 100 }));
        assert!(a.contains(&Action::Announce));
        assert_eq!(i.state(), State::Master);
        // Higher address, same priority: we yield.
        let a = c.feed(
            &mut i,
            Duration::from_secs(6),
            heard(9, 100, Duration::from_secs(1)),
        );
        assert_eq!(became(&a), Some(State::Backup));
    }

    #[test]
    fn master_hearing_lower_priority_answers_and_reannounces() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 200, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        let a = c.feed(
            &mut i,
            Duration::from_secs(5),
            heard(2, 50, Duration::from_secs(1)),
        );
        assert_eq!(
            a,
            vec![
                Action::Send { priority: 200 },
                Action::Announce,
                Action::Answered {
                    to: ip(2),
                    priority: 50
                }
            ]
        );
    }

    #[test]
    fn preempt_takes_over_from_lower_master() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 200, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        // A lower master keeps advertising; with preempt they are discarded.
        for s in 1..4 {
            c.feed(
                &mut i,
                Duration::from_secs(s),
                heard(2, 100, Duration::from_secs(1)),
            );
        }
        let log = c.run(&mut i, Duration::from_secs(4));
        assert_eq!(log[0].0, Duration::from_micros(3_218_750), "3 s + 56/256 s");
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn no_preempt_stays_backup_under_lower_master() {
        let mut c = Clock::new();
        let mut p = params(VrrpVersion::V2, 200, Duration::from_secs(1));
        p.preempt = false;
        let mut i = Instance::new(p);
        c.feed(&mut i, Duration::ZERO, Input::Start);
        for s in 1..30 {
            c.feed(
                &mut i,
                Duration::from_secs(s),
                heard(2, 100, Duration::from_secs(1)),
            );
            assert!(c.run(&mut i, Duration::from_secs(s) + 999 * MS).is_empty());
        }
        assert_eq!(i.state(), State::Backup);
        assert_eq!(i.master(), Some(ip(2)));
    }

    #[test]
    fn preempt_delay_honours_lower_master_until_it_passes() {
        let mut c = Clock::new();
        let mut p = params(VrrpVersion::V2, 200, Duration::from_secs(1));
        p.preempt_delay = Duration::from_secs(10);
        let mut i = Instance::new(p);
        c.feed(&mut i, Duration::ZERO, Input::Start);
        for s in 1..10 {
            c.feed(
                &mut i,
                Duration::from_secs(s),
                heard(2, 100, Duration::from_secs(1)),
            );
            assert!(c.run(&mut i, Duration::from_secs(s) + 999 * MS).is_empty());
        }
        assert_eq!(i.state(), State::Backup);
        // From 10 s on the lower master's adverts are discarded: the timer
        // armed by the one at 9 s fires at 12.22 s.
        c.feed(
            &mut i,
            Duration::from_secs(10),
            heard(2, 100, Duration::from_secs(1)),
        );
        c.feed(
            &mut i,
            Duration::from_secs(11),
            heard(2, 100, Duration::from_secs(1)),
        );
        let log = c.run(&mut i, Duration::from_secs(14));
        assert_eq!(
            log[0].0,
            Duration::from_secs(9) + Duration::from_micros(3_218_750)
        );
        assert_eq!(i.state(), State::Master);
    }

    #[test]
    fn shutdown_of_master_sends_priority_zero_and_removes_vips() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        let a = c.feed(&mut i, Duration::from_secs(1), Input::Shutdown);
        assert_eq!(&a[..2], &[Action::Send { priority: 0 }, Action::RemoveVips]);
        assert_eq!(became(&a), Some(State::Init));
        assert_eq!(i.deadline(), None);
        // Shutdown of a backup sends nothing.
        let mut b = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(&mut b, Duration::ZERO, Input::Start);
        let a = c.feed(&mut b, Duration::from_secs(1), Input::Shutdown);
        assert!(!a.iter().any(|a| matches!(a, Action::Send { .. })));
    }

    #[test]
    fn fault_from_master_releases_and_recovers_as_backup() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        i.p.priority = 150;
        i.priority = 150;
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        assert_eq!(i.state(), State::Master);
        let a = c.feed(
            &mut i,
            Duration::from_secs(5),
            Input::Fault(Some("eth0 link down".into())),
        );
        assert_eq!(&a[..2], &[Action::Send { priority: 0 }, Action::RemoveVips]);
        assert_eq!(became(&a), Some(State::Fault));
        assert_eq!(i.deadline(), None, "a faulty instance runs no timers");
        // Adverts are ignored in Fault.
        assert!(
            c.feed(
                &mut i,
                Duration::from_secs(6),
                heard(2, 50, Duration::from_secs(1))
            )
            .is_empty()
        );
        let a = c.feed(&mut i, Duration::from_secs(7), Input::Fault(None));
        assert_eq!(became(&a), Some(State::Backup));
        let log = c.run(&mut i, Duration::from_secs(12));
        assert_eq!(
            became(&log.into_iter().map(|(_, a)| a).collect::<Vec<_>>()),
            Some(State::Master)
        );
    }

    #[test]
    fn fault_at_start_starts_in_fault() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(
            &mut i,
            Duration::ZERO,
            Input::Fault(Some("check x is down".into())),
        );
        let a = c.feed(&mut i, Duration::ZERO, Input::Start);
        assert_eq!(became(&a), Some(State::Fault));
    }

    #[test]
    fn lowered_priority_is_advertised_at_once_and_lets_a_peer_preempt() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        i.p.priority = 150;
        i.priority = 150;
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        let a = c.feed(&mut i, Duration::from_secs(5), Input::Priority(90));
        assert_eq!(a, vec![Action::Send { priority: 90 }]);
        let a = c.feed(&mut i, 5100 * MS, heard(2, 100, Duration::from_secs(1)));
        assert_eq!(became(&a), Some(State::Backup));
    }

    #[test]
    fn owner_priority_is_not_moved_by_tracking() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
        c.feed(&mut i, Duration::ZERO, Input::Start);
        assert!(
            c.feed(&mut i, Duration::from_secs(1), Input::Priority(10))
                .is_empty()
        );
        assert_eq!(i.priority(), 255);
    }

    #[test]
    fn the_effective_rule_puts_a_missing_address_first_then_the_link_then_tracking() {
        let t = |what: &str, w, up| TrackedState {
            what: what.into(),
            weight: w,
            up,
        };
        let tracked = [t("check db", 0, false), t("service web", -60, false)];
        let f = Facts {
            base: 150,
            blocked: Some("eth0 has no IPv4 address to send adverts from"),
            link_down: Some("interface eth0 is down"),
            tracked: &tracked,
        };
        let e = decide(&f);
        assert_eq!(e.priority, 90);
        assert_eq!(
            e.fault.as_deref(),
            Some("eth0 has no IPv4 address to send adverts from")
        );
        assert_eq!(e.terms, "service web is down (-60)");
        let e = decide(&Facts { blocked: None, ..f });
        assert_eq!(e.fault.as_deref(), Some("interface eth0 is down"));
        let e = decide(&Facts {
            blocked: None,
            link_down: None,
            ..f
        });
        assert_eq!(e.fault.as_deref(), Some("check db is down"));
        let up = [t("service web", -60, true)];
        let e = decide(&Facts {
            base: 150,
            blocked: None,
            link_down: None,
            tracked: &up,
        });
        assert_eq!((e.priority, e.fault, e.terms), (150, None, String::new()));
    }

    #[test]
    fn tracking_weights() {
        let t = |w, up| TrackedState {
            what: "x".into(),
            weight: w,
            up,
        };
        assert_eq!(effective(100, &[t(20, true), t(-30, false)]), (90, None));
        assert_eq!(effective(100, &[t(20, false), t(-30, true)]), (100, None));
        assert_eq!(
            effective(250, &[t(20, true)]),
            (254, None),
            "clamped below 255"
        );
        assert_eq!(effective(10, &[t(-30, false)]), (1, None), "never below 1");
        assert_eq!(effective(255, &[t(-30, false)]), (255, None), "owner stays");
        assert_eq!(
            effective(100, &[t(0, false)]),
            (100, Some("x is down".into()))
        );
        assert_eq!(effective(100, &[t(0, true)]), (100, None));
    }

    #[test]
    fn sync_group_members_follow_master_backup_and_fault() {
        let g = Group {
            name: "G".into(),
            members: vec!["a".into(), "b".into()],
        };
        let mut c = Clock::new();
        let mut a = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        let mut b = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(&mut a, Duration::ZERO, Input::Start);
        c.feed(&mut b, Duration::ZERO, Input::Start);
        // b hears a master, a does not: a's timer fires, b follows a.
        c.feed(
            &mut b,
            3 * Duration::from_secs(1),
            heard(2, 150, Duration::from_secs(1)),
        );
        let log = c.run(&mut a, Duration::from_secs(4));
        let acts: Vec<Action> = log.into_iter().map(|(_, x)| x).collect();
        assert_eq!(a.state(), State::Master);
        let f = g.follow("a", &acts);
        assert_eq!(f.len(), 1);
        let (who, input) = f[0].clone();
        assert_eq!(who, "b");
        let bact = c.feed(&mut b, Duration::from_secs(4), input);
        assert_eq!(b.state(), State::Master);
        assert!(bact.contains(&Action::AddVips));
        assert!(
            g.follow("b", &bact).is_empty(),
            "forced changes do not cascade"
        );
        // a faults: b follows into Fault and back out when a recovers.
        let fa = c.feed(
            &mut a,
            Duration::from_secs(5),
            Input::Fault(Some("link".into())),
        );
        for (_, input) in g.follow("a", &fa) {
            c.feed(&mut b, Duration::from_secs(5), input);
        }
        assert_eq!(b.state(), State::Fault);
        let fa = c.feed(&mut a, Duration::from_secs(6), Input::Fault(None));
        assert_eq!(a.state(), State::Backup);
        for (_, input) in g.follow("a", &fa) {
            c.feed(&mut b, Duration::from_secs(6), input);
        }
        assert_eq!(b.state(), State::Backup);
        // A member's own fault is not cleared by the group.
        let mut x = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        c.feed(&mut x, Duration::ZERO, Input::Fault(Some("own".into())));
        c.feed(&mut x, Duration::ZERO, Input::Start);
        c.feed(
            &mut x,
            Duration::from_secs(1),
            Input::Follow {
                to: State::Fault,
                why: Why::Shutdown,
            },
        );
        c.feed(
            &mut x,
            Duration::from_secs(2),
            Input::Follow {
                to: State::Backup,
                why: Why::Shutdown,
            },
        );
        assert_eq!(x.state(), State::Fault);
    }

    #[test]
    fn init_ignores_everything_but_start() {
        let mut c = Clock::new();
        let mut i = Instance::new(params(VrrpVersion::V2, 100, Duration::from_secs(1)));
        assert!(c.feed(&mut i, Duration::ZERO, Input::Tick).is_empty());
        assert!(
            c.feed(
                &mut i,
                Duration::ZERO,
                heard(2, 150, Duration::from_secs(1))
            )
            .is_empty()
        );
        assert!(
            c.feed(&mut i, Duration::ZERO, Input::Priority(50))
                .is_empty()
        );
        assert_eq!(i.state(), State::Init);
        assert_eq!(i.deadline(), None);
    }

    #[test]
    fn priority_terms_name_what_moves_the_priority() {
        let t = |what: &str, weight, up| TrackedState {
            what: what.into(),
            weight,
            up,
        };
        let tracked = [
            t("service web", -60, false),
            t("check ping", 10, true),
            t("interface eth1", -20, true),
            t("check db", 0, false),
        ];
        assert_eq!(
            priority_terms(&tracked),
            "service web is down (-60), check ping is up (+10)"
        );
        assert_eq!(effective(150, &tracked).0, 100);
        assert_eq!(priority_terms(&[t("service web", -60, true)]), "");
    }
}
