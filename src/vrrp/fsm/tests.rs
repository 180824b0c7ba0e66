//! The state machine against virtual time: every timing rule of RFC 3768
//! and RFC 5798 the core follows, and the effective-priority rule.

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
    let actions: Vec<Action> = log.into_iter().map(|(_, a)| a).collect();
    assert_eq!(became(&actions), Some(State::Master));
    // It says why: the master left, not a master down interval it did
    // not wait.
    assert!(
        actions.iter().any(|a| matches!(
            a,
            Action::Became { why: Why::MasterLeft(src), .. } if *src == ip(2)
        )),
        "{actions:?}"
    );
}

#[test]
fn master_answers_priority_zero_with_an_advert_and_its_gratuitous_arps() {
    let mut c = Clock::new();
    let mut i = Instance::new(params(VrrpVersion::V2, 255, Duration::from_secs(1)));
    c.feed(&mut i, Duration::ZERO, Input::Start);
    let a = c.feed(&mut i, 300 * MS, heard(2, 0, Duration::from_secs(1)));
    assert_eq!(a, vec![Action::Send { priority: 255 }, Action::Announce]);
    assert_eq!(i.deadline(), Some(c.at(1300 * MS)));
}

#[test]
fn master_steps_down_for_higher_priority_without_priority_zero_and_vips_removed() {
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
    // RFC 5798 §6.4.3: priority 0 only on Shutdown. A preempted master's
    // last word is an advert at its own priority (so a master that never
    // heard it, after a split brain, re-announces), then the VIPs go.
    assert_eq!(
        &a[..2],
        &[Action::Send { priority: 100 }, Action::RemoveVips]
    );
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

#[test]
fn a_restarted_task_resumes_as_master_at_once_and_still_yields_to_a_higher_peer() {
    let mut c = Clock::new();
    let mut i = Instance::new(params(VrrpVersion::V3, 150, Duration::from_secs(1)));
    let a = c.feed(&mut i, Duration::ZERO, Input::Resume);
    // At once, not after Master_Down_Interval: advert, VIPs (already
    // there: re-adding is a no-op), GARPs.
    assert_eq!(
        &a[..3],
        &[
            Action::Send { priority: 150 },
            Action::AddVips,
            Action::Announce
        ]
    );
    assert!(matches!(
        a.last(),
        Some(Action::Became {
            from: State::Init,
            to: State::Master,
            why: Why::Resumed
        })
    ));
    // A peer that took over meanwhile with a higher priority wins (§6.4.3).
    let a = c.feed(
        &mut i,
        Duration::from_millis(300),
        heard(2, 200, Duration::from_secs(1)),
    );
    assert_eq!(became(&a), Some(State::Backup));
    // Resume is only a startup event: a running instance ignores it.
    assert!(
        c.feed(&mut i, Duration::from_secs(1), Input::Resume)
            .is_empty()
    );
}

#[test]
fn a_restarted_task_in_fault_releases_the_addresses_it_found() {
    let mut c = Clock::new();
    let mut i = Instance::new(params(VrrpVersion::V3, 150, Duration::from_secs(1)));
    c.feed(
        &mut i,
        Duration::ZERO,
        Input::Fault(Some("eth0 link down".into())),
    );
    let a = c.feed(&mut i, Duration::ZERO, Input::Resume);
    assert_eq!(a[0], Action::RemoveVips);
    assert_eq!(became(&a), Some(State::Fault));
    assert!(!a.iter().any(|a| matches!(a, Action::Send { .. })));
}

/// RFC 5798 §6.4.3: a priority-0 advert means "Shutdown". Of every way a
/// master leaves (preempted, told by its sync group, a fault, a shutdown),
/// only the last two send one (a fault shuts the instance down, as
/// keepalived's does).
#[test]
fn priority_zero_only_when_the_master_shuts_down() {
    let master = |c: &mut Clock| {
        let mut i = Instance::new(params(VrrpVersion::V3, 255, Duration::from_secs(1)));
        i.p.priority = 150;
        i.priority = 150;
        c.feed(&mut i, Duration::ZERO, Input::Start);
        c.run(&mut i, Duration::from_secs(4));
        assert_eq!(i.state(), State::Master);
        i
    };
    let zero = |a: &[Action]| a.contains(&Action::Send { priority: 0 });
    let t = Duration::from_secs(5);
    let mut c = Clock::new();
    let mut i = master(&mut c);
    let a = c.feed(&mut i, t, heard(2, 200, Duration::from_secs(1)));
    assert!(!zero(&a), "preempted: {a:?}");
    let mut c = Clock::new();
    let mut i = master(&mut c);
    let a = c.feed(
        &mut i,
        t,
        Input::Follow {
            to: State::Backup,
            why: Why::Shutdown,
        },
    );
    assert_eq!(i.state(), State::Backup);
    assert!(!zero(&a), "sync group to backup: {a:?}");
    let mut c = Clock::new();
    let mut i = master(&mut c);
    let a = c.feed(&mut i, t, Input::Fault(Some("eth0 down".into())));
    assert!(zero(&a), "fault: {a:?}");
    let mut c = Clock::new();
    let mut i = master(&mut c);
    let a = c.feed(&mut i, t, Input::Shutdown);
    assert!(zero(&a), "shutdown: {a:?}");
}
