//! The IPVS reconciler, sans-IO: the wanted services against the LIVE
//! kernel table give the fewest operations that make them equal. A service
//! or destination whose settings differ is edited in place (SET_SERVICE,
//! SET_DEST), never deleted and re-added, so its connections survive.
//!
//! What pharos answers for: the services of the config, and those it put
//! in earlier and the config has since dropped (`owned`). Other services
//! are left alone unless the table is pharos's alone (`exclusive`). Inside
//! a service of pharos's, every destination is pharos's.
//!
//! Linear in the table: one pass over the wanted services and one over the
//! live ones, with maps by key.

use std::borrow::Borrow;
use std::collections::BTreeSet;

// Keyed by services and real servers from the config and the kernel: foldhash,
// not SipHash (a pass over 10,000 services and 100,000 real servers).
use foldhash::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::codec::{self, Request};
use super::desired::Wanted;
use super::model::{
    DestLive, DestSpec, Forward, ServiceKey, ServiceLive, ServiceSpec, Stats, Table,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(ServiceSpec),
    EditService(ServiceSpec),
    DelService(ServiceKey),
    AddDest(ServiceKey, DestSpec),
    EditDest(ServiceKey, DestSpec),
    DelDest(ServiceKey, DestSpec),
}

impl Op {
    pub fn request(&self) -> Request {
        match self {
            Op::AddService(s) => codec::new_service(s),
            Op::EditService(s) => codec::set_service(s),
            Op::DelService(k) => codec::del_service(k),
            Op::AddDest(k, d) => codec::new_dest(k, d),
            Op::EditDest(k, d) => codec::set_dest(k, d),
            Op::DelDest(k, d) => codec::del_dest(k, d),
        }
    }

    pub fn service(&self) -> &ServiceKey {
        match self {
            Op::AddService(s) | Op::EditService(s) => &s.key,
            Op::DelService(k) | Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => k,
        }
    }

    /// For events and logs: what was done, to what.
    pub fn describe(&self) -> String {
        self.text(true)
    }

    /// What was being tried, for a refusal.
    pub fn attempt(&self) -> String {
        self.text(false)
    }

    fn text(&self, done: bool) -> String {
        let rs = DestSpec::endpoint;
        let v = |past: &'static str, ing: &'static str| if done { past } else { ing };
        match self {
            Op::AddService(s) => format!(
                "{} service {} ({})",
                v("added", "adding"),
                s.key,
                s.scheduler
            ),
            Op::EditService(s) => format!(
                "{} service {} ({})",
                v("changed", "changing"),
                s.key,
                s.scheduler
            ),
            Op::DelService(k) => format!("{} service {k}", v("removed", "removing")),
            Op::AddDest(k, d) => format!(
                "{} real server {} to {k} (weight {})",
                v("added", "adding"),
                rs(d),
                d.weight
            ),
            Op::EditDest(k, d) => format!(
                "{} real server {} of {k} to weight {}",
                v("set", "setting"),
                rs(d),
                d.weight
            ),
            Op::DelDest(k, d) => format!(
                "{} real server {} from {k}",
                v("removed", "removing"),
                rs(d)
            ),
        }
    }
}

/// What the reconciler remembers between steps.
#[derive(Debug, Default)]
pub struct Reconciler {
    /// Services pharos has put in (or adopted) for the config.
    owned: BTreeSet<ServiceKey>,
    /// Destinations being drained: at weight 0 until the deadline.
    draining: HashMap<(ServiceKey, IpAddr, u16), Instant>,
}

/// One step's outcome.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub ops: Vec<Op>,
    /// When a drain ends: step again then.
    pub wake: Option<Instant>,
}

fn same_dest(a: &DestSpec, b: &DestSpec) -> bool {
    let tunnel_same = a.forward != Forward::Tunnel
        || (a.tun_type == b.tun_type && a.tun_port == b.tun_port && a.tun_flags == b.tun_flags);
    a.forward == b.forward
        && a.weight == b.weight
        && a.u_threshold == b.u_threshold
        && a.l_threshold == b.l_threshold
        && tunnel_same
}

impl Reconciler {
    pub fn new() -> Reconciler {
        Reconciler::default()
    }

    /// Services pharos answers for now.
    pub fn owned(&self) -> &BTreeSet<ServiceKey> {
        &self.owned
    }

    /// The operations from `live` to `want` at `now`: the whole table.
    /// `want` may be the services themselves or shared ones (`Arc`).
    pub fn step<W: Borrow<Wanted>>(
        &mut self,
        now: Instant,
        want: &[W],
        live: &Table,
        exclusive: bool,
    ) -> Plan {
        let mut plan = Plan::default();
        let live_by_key: HashMap<&ServiceKey, &ServiceLive> =
            live.services.iter().map(|s| (&s.spec.key, s)).collect();
        let wanted_keys: BTreeSet<ServiceKey> = want.iter().map(|w| w.borrow().spec.key).collect();
        let mut still_draining = HashMap::default();
        for w in want {
            let w = w.borrow();
            let l = live_by_key.get(&w.spec.key).copied();
            self.service_ops(now, w, l, &mut plan.ops, &mut still_draining);
        }
        for l in &live.services {
            let k = l.spec.key;
            if !wanted_keys.contains(&k) && (exclusive || self.owned.contains(&k)) {
                plan.ops.push(Op::DelService(k));
            }
        }
        self.draining = still_draining;
        self.owned = wanted_keys;
        plan.wake = self.next_wake();
        plan
    }

    /// The operations for some services only: `want` (changed or new) and
    /// `gone` (no longer in the config), against `live`, the kernel's
    /// current state of just those services. The others are neither read
    /// nor touched: what a reload or a health change needs, without a
    /// read of the whole table.
    pub fn step_some<W: Borrow<Wanted>>(
        &mut self,
        now: Instant,
        want: &[W],
        gone: &[ServiceKey],
        live: &Table,
        exclusive: bool,
    ) -> Plan {
        let mut plan = Plan::default();
        let live_by_key: HashMap<&ServiceKey, &ServiceLive> =
            live.services.iter().map(|s| (&s.spec.key, s)).collect();
        let mut still_draining = HashMap::default();
        for w in want {
            let w = w.borrow();
            let l = live_by_key.get(&w.spec.key).copied();
            self.service_ops(now, w, l, &mut plan.ops, &mut still_draining);
        }
        for k in gone {
            if live_by_key.contains_key(k) && (exclusive || self.owned.contains(k)) {
                plan.ops.push(Op::DelService(*k));
            }
            self.owned.remove(k);
        }
        let touched: BTreeSet<&ServiceKey> = want
            .iter()
            .map(|w| &w.borrow().spec.key)
            .chain(gone)
            .collect();
        self.draining.retain(|(k, _, _), _| !touched.contains(k));
        self.draining.extend(still_draining);
        self.owned.extend(want.iter().map(|w| w.borrow().spec.key));
        plan.wake = self.next_wake();
        plan
    }

    /// The services with a real server draining: a pass at a drain's end
    /// reconciles them whether or not their wanted state changed.
    pub fn draining(&self) -> BTreeSet<ServiceKey> {
        self.draining.keys().map(|(k, _, _)| *k).collect()
    }

    /// When the first drain ends.
    fn next_wake(&self) -> Option<Instant> {
        self.draining.values().min().copied()
    }

    /// One service's operations from `live` (None: not in the kernel) to `w`.
    fn service_ops(
        &self,
        now: Instant,
        w: &Wanted,
        live: Option<&ServiceLive>,
        ops: &mut Vec<Op>,
        still_draining: &mut HashMap<(ServiceKey, IpAddr, u16), Instant>,
    ) {
        let key = w.spec.key;
        let mut dests: Vec<&DestSpec> = w.dests.iter().collect();
        // The sorry server stands in while no real server can take
        // traffic (none configured, or all at weight 0).
        if let Some(s) = &w.sorry
            && !w.dests.iter().any(|d| d.weight > 0)
        {
            dests.push(s);
        }
        let Some(l) = live else {
            ops.push(Op::AddService(w.spec.clone()));
            ops.extend(dests.iter().map(|d| Op::AddDest(key, (*d).clone())));
            return;
        };
        if !w.spec.same_settings(&l.spec) {
            ops.push(Op::EditService(w.spec.clone()));
        }
        let live_dests: HashMap<(IpAddr, u16), &DestLive> =
            l.dests.iter().map(|d| (d.spec.key(), d)).collect();
        let wanted_dests: BTreeSet<(IpAddr, u16)> = dests.iter().map(|d| d.key()).collect();
        // mh (Maglev) fills its lookup table walking the real servers in
        // the kernel's list order, so directors that share a VIP behind
        // ECMP send a flow to the same real server only if their lists are
        // in the same order. The kernel puts each added real server at the
        // head of the list (`list_add_rcu` in `__ip_vs_update_dest`), and
        // lists them so: the live order is the adding order reversed. The
        // order every director converges on is the one a fresh service
        // gets, the config's order added one by one: the real servers
        // added in the config's order since the first that is out of place
        // are deleted and added again after it (a deleted real server's
        // connections go on; adding it back takes it from the kernel's
        // trash).
        let first_out = if w.spec.scheduler == "mh" {
            l.dests
                .iter()
                .rev()
                .filter(|d| wanted_dests.contains(&d.spec.key()))
                .zip(&dests)
                .take_while(|(l, d)| l.spec.key() == d.key())
                .count()
        } else {
            dests.len()
        };
        if first_out < dests.len() {
            let redo: BTreeSet<(IpAddr, u16)> =
                dests[first_out..].iter().map(|d| d.key()).collect();
            for ld in l.dests.iter().filter(|d| redo.contains(&d.spec.key())) {
                ops.push(Op::DelDest(key, ld.spec.clone()));
            }
        }
        for (i, d) in dests.iter().enumerate() {
            match live_dests.get(&d.key()) {
                Some(_) if i >= first_out => ops.push(Op::AddDest(key, (*d).clone())),
                None => ops.push(Op::AddDest(key, (*d).clone())),
                Some(ld) if !same_dest(d, &ld.spec) => {
                    ops.push(Op::EditDest(key, (*d).clone()));
                }
                Some(_) => {}
            }
        }
        for ld in &l.dests {
            let (addr, port) = ld.spec.key();
            if wanted_dests.contains(&(addr, port)) {
                continue;
            }
            let is_sorry = w.sorry.as_ref().is_some_and(|s| s.key() == (addr, port));
            match w.drain.filter(|_| !is_sorry) {
                None => ops.push(Op::DelDest(key, ld.spec.clone())),
                Some(grace) => {
                    let id = (key, addr, port);
                    let until = *self.draining.get(&id).unwrap_or(&(now + grace));
                    if now >= until {
                        ops.push(Op::DelDest(key, ld.spec.clone()));
                    } else {
                        if ld.spec.weight != 0 {
                            ops.push(Op::EditDest(
                                key,
                                DestSpec {
                                    weight: 0,
                                    ..ld.spec.clone()
                                },
                            ));
                        }
                        still_draining.insert(id, until);
                    }
                }
            }
        }
    }

    /// Forgets a service pharos no longer answers for (after a refused delete).
    pub fn disown(&mut self, key: &ServiceKey) {
        self.owned.remove(key);
    }

    /// Adds to `owned` services pharos answered for before a restart (from
    /// the last config it applied), so that dropping them while it was
    /// down still removes them.
    pub fn adopt(&mut self, keys: impl IntoIterator<Item = ServiceKey>) {
        self.owned.extend(keys);
    }
}

/// The table as it is after `ops` were done (those the kernel accepted),
/// without reading it again: what status shows until the next full read
/// brings fresh counters. Sans-IO.
pub fn patch<'a>(table: &mut Table, ops: impl IntoIterator<Item = &'a Op>) {
    let mut at: HashMap<ServiceKey, usize> = table
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.spec.key, i))
        .collect();
    let mut gone = BTreeSet::new();
    for op in ops {
        let i = at.get(op.service()).copied();
        match (op, i) {
            (Op::AddService(s), None) => {
                at.insert(s.key, table.services.len());
                // The kernel marks every service it holds HASHED.
                table.services.push(ServiceLive {
                    spec: ServiceSpec {
                        flags: s.flags | super::model::flags::HASHED,
                        ..s.clone()
                    },
                    stats: Stats::default(),
                    dests: Vec::new(),
                });
            }
            (Op::AddService(s) | Op::EditService(s), Some(i)) => {
                table.services[i].spec = ServiceSpec {
                    flags: s.flags | super::model::flags::HASHED,
                    ..s.clone()
                };
            }
            (Op::DelService(k), Some(i)) => {
                gone.insert(i);
                at.remove(k);
            }
            (Op::AddDest(_, d) | Op::EditDest(_, d), Some(i)) => {
                let dests = &mut table.services[i].dests;
                match dests.iter_mut().find(|l| l.spec.key() == d.key()) {
                    Some(l) => l.spec = d.clone(),
                    // At the head, where the kernel puts it (see service_ops).
                    None => dests.insert(
                        0,
                        DestLive {
                            spec: d.clone(),
                            active_conns: 0,
                            inact_conns: 0,
                            persist_conns: 0,
                            stats: Stats::default(),
                        },
                    ),
                }
            }
            (Op::DelDest(_, d), Some(i)) => {
                table.services[i].dests.retain(|l| l.spec.key() != d.key());
            }
            _ => {}
        }
    }
    if !gone.is_empty() {
        let mut i = 0;
        table.services.retain(|_| {
            i += 1;
            !gone.contains(&(i - 1))
        });
    }
}

/// How long until `wake`, for a task's timer.
pub fn until(now: Instant, wake: Option<Instant>) -> Option<Duration> {
    wake.map(|w| w.saturating_duration_since(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::model::{Proto, TunType};

    fn key(port: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: "10.0.0.1".parse().unwrap(),
            port,
        }
    }

    fn spec(port: u16) -> ServiceSpec {
        ServiceSpec {
            key: key(port),
            scheduler: "wlc".into(),
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        }
    }

    fn dest(last: u8, weight: u32) -> DestSpec {
        DestSpec {
            addr: IpAddr::from([10, 0, 1, last]),
            port: 80,
            forward: Forward::Route,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            tun_type: TunType::Ipip,
            tun_port: 0,
            tun_flags: 0,
        }
    }

    fn want(port: u16, dests: Vec<DestSpec>) -> Wanted {
        Wanted {
            name: format!("s{port}"),
            spec: spec(port),
            checked: vec![None; dests.len()],
            dests,
            sorry: None,
            drain: None,
            on_failure: Default::default(),
        }
    }

    /// The kernel's table after applying `w`.
    fn live(ws: &[Wanted]) -> Table {
        super::super::desired::applied(ws)
    }

    #[test]
    fn adds_what_is_missing_and_adopts_what_matches_without_touching_it() {
        let now = Instant::now();
        let w = vec![want(80, vec![dest(2, 1), dest(3, 1)])];
        let mut r = Reconciler::new();
        let p = r.step(now, &w, &Table::default(), false);
        assert_eq!(
            p.ops,
            vec![
                Op::AddService(spec(80)),
                Op::AddDest(key(80), dest(2, 1)),
                Op::AddDest(key(80), dest(3, 1))
            ]
        );
        // A fresh reconciler (a restart) finds it all there: nothing to do.
        let mut r = Reconciler::new();
        assert_eq!(r.step(now, &w, &live(&w), false), Plan::default());
    }

    #[test]
    fn edits_in_place_and_deletes_only_what_it_owns() {
        let now = Instant::now();
        let mut r = Reconciler::new();
        let before = vec![want(80, vec![dest(2, 1), dest(3, 1)]), want(443, vec![])];
        let _ = r.step(now, &before, &live(&before), false);
        // An operator's own service, never in the config.
        let mut kernel = live(&before);
        kernel
            .services
            .extend(live(&[want(8080, vec![dest(9, 1)])]).services);
        let mut after = vec![want(80, vec![dest(2, 5)])];
        after[0].spec.scheduler = "rr".into();
        let p = r.step(now, &after, &kernel, false);
        let mut rr = spec(80);
        rr.scheduler = "rr".into();
        assert_eq!(
            p.ops,
            vec![
                Op::EditService(rr),
                Op::EditDest(key(80), dest(2, 5)),
                Op::DelDest(key(80), dest(3, 1)),
                Op::DelService(key(443)),
            ],
            "8080 is not pharos's: left alone"
        );
        // With the table pharos's alone, 8080 goes too.
        let p = r.step(now, &after, &kernel, true);
        assert!(p.ops.contains(&Op::DelService(key(8080))));
    }

    #[test]
    fn a_dropped_real_server_drains_at_weight_zero_before_it_goes() {
        let t0 = Instant::now();
        let mut r = Reconciler::new();
        let mut w = vec![want(80, vec![dest(2, 1), dest(3, 4)])];
        w[0].drain = Some(Duration::from_secs(30));
        let kernel = live(&w);
        w[0].dests.pop();
        let p = r.step(t0, &w, &kernel, false);
        assert_eq!(p.ops, vec![Op::EditDest(key(80), dest(3, 0))]);
        assert_eq!(p.wake, Some(t0 + Duration::from_secs(30)));
        // Still draining ten seconds on (the kernel has it at 0 now).
        let mut drained = kernel.clone();
        drained.services[0].dests[1].spec.weight = 0;
        let p = r.step(t0 + Duration::from_secs(10), &w, &drained, false);
        assert_eq!(p.ops, vec![]);
        assert_eq!(p.wake, Some(t0 + Duration::from_secs(30)));
        let p = r.step(t0 + Duration::from_secs(30), &w, &drained, false);
        assert_eq!(p.ops, vec![Op::DelDest(key(80), dest(3, 0))]);
        assert_eq!(p.wake, None);
    }

    #[test]
    fn the_sorry_server_stands_in_while_no_real_server_can_take_traffic() {
        let now = Instant::now();
        let mut r = Reconciler::new();
        let mut w = vec![want(80, vec![dest(2, 1)])];
        w[0].sorry = Some(dest(99, 1));
        let kernel = live(&w);
        assert_eq!(r.step(now, &w, &kernel, false).ops, vec![]);
        w[0].dests[0].weight = 0;
        let p = r.step(now, &w, &kernel, false);
        assert_eq!(
            p.ops,
            vec![
                Op::EditDest(key(80), dest(2, 0)),
                Op::AddDest(key(80), dest(99, 1))
            ]
        );
        // Back up: the sorry server goes at once, not drained.
        w[0].dests[0].weight = 1;
        w[0].drain = Some(Duration::from_secs(30));
        let mut with_sorry = live(&w);
        with_sorry.services[0].dests.push(DestLive {
            spec: dest(99, 1),
            active_conns: 0,
            inact_conns: 0,
            persist_conns: 0,
            stats: Stats::default(),
        });
        let p = r.step(now, &w, &with_sorry, false);
        assert_eq!(p.ops, vec![Op::DelDest(key(80), dest(99, 1))]);
    }

    #[test]
    fn a_targeted_step_touches_only_the_services_it_is_given() {
        let now = Instant::now();
        let mut r = Reconciler::new();
        let before = vec![
            want(80, vec![dest(2, 1)]),
            want(443, vec![dest(3, 1)]),
            want(8080, vec![dest(4, 1)]),
        ];
        let _ = r.step(now, &before, &Table::default(), false);
        // 80 changed its weight, 8080 left the config; 443 is not given
        // and not in the table read: nothing is said about it.
        let changed = vec![want(80, vec![dest(2, 5)])];
        let read = live(&[before[0].clone(), before[2].clone()]);
        let p = r.step_some(now, &changed, &[key(8080)], &read, false);
        assert_eq!(
            p.ops,
            vec![Op::EditDest(key(80), dest(2, 5)), Op::DelService(key(8080))]
        );
        assert!(r.owned().contains(&key(443)), "443 still pharos's");
        assert!(!r.owned().contains(&key(8080)));
        // A service gone from the config that the kernel no longer has:
        // nothing to send.
        let p = r.step_some::<Wanted>(now, &[], &[key(8080)], &Table::default(), false);
        assert_eq!(p.ops, vec![]);
        // A new service the kernel lacks is added.
        let p = r.step_some(
            now,
            &[want(53, vec![dest(5, 1)])],
            &[],
            &Table::default(),
            false,
        );
        assert_eq!(
            p.ops,
            vec![Op::AddService(spec(53)), Op::AddDest(key(53), dest(5, 1))]
        );
        assert!(r.owned().contains(&key(53)));
    }

    #[test]
    fn a_drain_started_by_a_targeted_step_survives_the_next_one() {
        let t0 = Instant::now();
        let mut r = Reconciler::new();
        let mut a = want(80, vec![dest(2, 1), dest(3, 1)]);
        a.drain = Some(Duration::from_secs(30));
        let b = want(443, vec![dest(4, 1)]);
        let _ = r.step(t0, &[a.clone(), b.clone()], &Table::default(), false);
        let kernel = live(&[a.clone()]);
        a.dests.pop();
        let p = r.step_some(t0, std::slice::from_ref(&a), &[], &kernel, false);
        assert_eq!(p.ops, vec![Op::EditDest(key(80), dest(3, 0))]);
        assert_eq!(p.wake, Some(t0 + Duration::from_secs(30)));
        // Another service's change keeps 80's drain and its deadline.
        let mut b2 = b.clone();
        b2.dests[0].weight = 2;
        let p = r.step_some(
            t0 + Duration::from_secs(5),
            &[b2.clone()],
            &[],
            &live(&[b]),
            false,
        );
        assert_eq!(p.ops, vec![Op::EditDest(key(443), dest(4, 2))]);
        assert_eq!(p.wake, Some(t0 + Duration::from_secs(30)));
    }

    #[test]
    fn a_table_patched_with_the_changes_equals_the_kernels() {
        let now = Instant::now();
        let before = vec![
            want(80, vec![dest(2, 1), dest(3, 1)]),
            want(443, vec![dest(4, 1)]),
        ];
        let mut after = vec![
            want(80, vec![dest(2, 7), dest(5, 1)]),
            want(53, vec![dest(6, 1)]),
        ];
        after[0].spec.scheduler = "rr".into();
        let mut table = live(&before);
        let mut r = Reconciler::new();
        let _ = r.step(now, &before, &table, false);
        let p = r.step(now, &after, &table, false);
        patch(&mut table, &p.ops);
        let mut want_table = live(&after);
        for t in [&mut table, &mut want_table] {
            t.services.sort_by_key(|s| s.spec.key);
            for s in &mut t.services {
                s.dests.sort_by_key(|d| d.spec.key());
            }
        }
        assert_eq!(table, want_table);
        // A service removed and added again in one plan is there once.
        let again = vec![Op::DelService(key(53)), Op::AddService(spec(53))];
        patch(&mut table, &again);
        assert_eq!(
            table
                .services
                .iter()
                .filter(|s| s.spec.key == key(53))
                .count(),
            1
        );
    }

    #[test]
    fn an_mh_service_ends_with_its_real_servers_in_the_order_a_fresh_one_gets() {
        let now = Instant::now();
        let mut all = want(80, vec![dest(2, 1), dest(3, 1), dest(4, 1)]);
        all.spec.scheduler = "mh".into();
        let mut fewer = all.clone();
        fewer.dests.remove(1);
        fewer.checked.remove(1);
        let order = |t: &Table| -> Vec<String> {
            t.services[0]
                .dests
                .iter()
                .map(|d| d.spec.addr.to_string())
                .collect()
        };
        // Director A added the service with all three (patch keeps the
        // kernel's order: newest first).
        let mut a = Table::default();
        let p = Reconciler::new().step(now, std::slice::from_ref(&all), &a, false);
        patch(&mut a, &p.ops);
        assert_eq!(order(&a), ["10.0.1.4", "10.0.1.3", "10.0.1.2"]);
        // Director B had two, and 10.0.1.3 came in later: 10.0.1.4, added
        // after where it goes, is taken out and put back after it.
        let mut b = Table::default();
        let mut r = Reconciler::new();
        let p = r.step(now, std::slice::from_ref(&fewer), &b, false);
        patch(&mut b, &p.ops);
        let p = r.step(now, std::slice::from_ref(&all), &b, false);
        assert_eq!(
            p.ops,
            vec![
                Op::DelDest(key(80), dest(4, 1)),
                Op::AddDest(key(80), dest(3, 1)),
                Op::AddDest(key(80), dest(4, 1)),
            ]
        );
        patch(&mut b, &p.ops);
        assert_eq!(order(&b), order(&a));
        // In order, nothing is done; a weight change is an edit in place.
        assert!(
            r.step(now, std::slice::from_ref(&all), &b, false)
                .ops
                .is_empty()
        );
        let mut heavier = all.clone();
        heavier.dests[0].weight = 5;
        assert_eq!(
            r.step(now, std::slice::from_ref(&heavier), &b, false).ops,
            vec![Op::EditDest(key(80), dest(2, 5))]
        );
        // Another scheduler does not care about the order: only the add.
        let (mut wlc_fewer, mut wlc_all) = (fewer.clone(), all.clone());
        wlc_fewer.spec.scheduler = "wlc".into();
        wlc_all.spec.scheduler = "wlc".into();
        let mut c = Table::default();
        let mut r = Reconciler::new();
        let p = r.step(now, std::slice::from_ref(&wlc_fewer), &c, false);
        patch(&mut c, &p.ops);
        assert_eq!(
            r.step(now, std::slice::from_ref(&wlc_all), &c, false).ops,
            vec![Op::AddDest(key(80), dest(3, 1))]
        );
    }

    #[test]
    fn a_big_table_is_planned_in_linear_time() {
        // 10,000 services of 10 real servers: one step against an empty
        // kernel and one against a 1% change. Quadratic work would take
        // minutes here; this is a correctness check, the times are the
        // benchmark's.
        let ws: Vec<Wanted> = (0..10_000u32)
            .map(|i| {
                let mut w = want(0, (0..10).map(|d| dest(d, 1)).collect());
                w.spec.key = ServiceKey::Addr {
                    proto: Proto::Tcp,
                    addr: IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)),
                    port: 80,
                };
                w
            })
            .collect();
        let mut r = Reconciler::new();
        let p = r.step(Instant::now(), &ws, &Table::default(), false);
        assert_eq!(p.ops.len(), 110_000);
        let kernel = live(&ws);
        let mut changed = ws.clone();
        for w in changed.iter_mut().step_by(100) {
            w.dests[0].weight = 7;
        }
        let p = r.step(Instant::now(), &changed, &kernel, false);
        assert_eq!(p.ops.len(), 100);
    }
}
