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
//! over in its skew time: an instance that cannot serve is shut down, as
//! keepalived does); a preempt delay after start; a master that hears
//! a lower priority, or a priority 0 (the other side of a split brain
//! stepping down), answers at once and repeats its gratuitous ARPs, which
//! heals a split brain as soon as the link is back; a restarted task that
//! finds its VIPs in place resumes as master.

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
    /// The task restarted (after a panic, say) and found the instance's
    /// virtual addresses, marked as pharos's, still in place: it was master
    /// a moment ago and goes on as master, so the VIP does not move.
    Resumed,
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
            Why::Resumed => {
                f.write_str("the vrrp task restarted with the virtual addresses in place")
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
    /// The Startup event of a task that restarted and found this
    /// instance's virtual addresses still on the interface: it resumes as
    /// master at once (see [`Why::Resumed`]). Waiting as a backup would
    /// take the VIP away for Master_Down_Interval and hand it to the peer;
    /// a peer that outranks us still wins by the usual rules (§6.4.3).
    Resume,
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
    /// The master that sent priority 0 (it is leaving), while a backup
    /// waits only its skew for it: the reason it says when it takes over.
    left: Option<IpAddr>,
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
            left: None,
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
            Input::Resume => self.resume(now, &mut out),
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

    fn resume(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        if self.fault.is_some() || self.group_fault {
            // In Fault the addresses must go: nothing else takes them away.
            out.push(Action::RemoveVips);
            self.start(now, out);
            return;
        }
        self.started = Some(now);
        self.become_master(now, Why::Resumed, out);
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
                    let why = match self.left.take() {
                        Some(ip) => Why::MasterLeft(ip),
                        None => Why::MasterDown(self.master_down_interval()),
                    };
                    self.become_master(now, why, out);
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
                    self.left = Some(h.src);
                    return;
                }
                self.left = None;
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
                    // Beyond the RFC: it was master until now, so hosts and
                    // switches may send it the VIP's traffic (a split brain
                    // healing: it heard us first and stepped down); our
                    // gratuitous ARPs take them back at once rather than
                    // when their ARP entries go stale (found by the fault
                    // matrix's split brain, tests/vm_faults.rs).
                    out.push(Action::Send {
                        priority: self.priority,
                    });
                    out.push(Action::Announce);
                    self.adver_at = Some(now + self.p.interval);
                    return;
                }
                let higher = h.priority > self.priority
                    || (h.priority == self.priority && h.src > self.p.primary);
                if higher {
                    if self.p.version == VrrpVersion::V3 {
                        self.master_interval = h.interval;
                    }
                    // No priority 0 here: §6.4.3 sends it only on Shutdown,
                    // and it would make every other backup of a larger
                    // group cut its timer to the skew time for nothing.
                    // Beyond the RFC: one last advert at our own priority.
                    // After a split brain the new master may never have
                    // heard us (its advert reached us first); hearing a
                    // lower priority while master, it answers and repeats
                    // its gratuitous ARPs, taking back the hosts that
                    // followed ours (the fault matrix's split brain,
                    // tests/vm_faults.rs). A backup of a larger group that
                    // hears it only restarts its Master_Down_Timer.
                    out.push(Action::Send {
                        priority: self.priority,
                    });
                    self.leave_master(false, out);
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
                    // An instance that cannot serve shuts down (the peer
                    // takes over in its skew time), as keepalived does.
                    self.leave_master(true, out);
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
                // Not a shutdown (§6.4.3): the group's master went elsewhere,
                // as keepalived 2.2 does it (no priority 0 for Backup).
                self.leave_master(false, out);
                self.state_to(now, State::Backup, why, out);
            }
            _ => {}
        }
    }

    fn shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Master {
            self.leave_master(true, out);
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

    /// A master letting go of its VIPs. On Shutdown (`goodbye`) first a
    /// priority-0 advert, so the backup waits only its skew (RFC 5798
    /// §6.4.3 "If a Shutdown event is received"); on any other step down,
    /// none.
    fn leave_master(&mut self, goodbye: bool, out: &mut Vec<Action>) {
        if goodbye {
            out.push(Action::Send { priority: 0 });
        }
        out.push(Action::RemoveVips);
        self.adver_at = None;
        self.garp_at = None;
        self.master = None;
    }

    fn state_to(&mut self, now: Instant, to: State, why: Why, out: &mut Vec<Action>) {
        self.left = None;
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
mod tests;
