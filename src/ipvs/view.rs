//! What pharos last knew of the kernel's IPVS table, for `pharos status`
//! and the metrics: the IPVS task keeps it (from a full read, or patched
//! with the changes it made and the services it read back), and both are
//! built from it only when someone asks. A table of 10,000 services is
//! not turned into JSON or label sets on every pass.
//!
//! Talks to: the IPVS task (updates), the supervisor's status sections
//! and the metrics registry (readers).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabel, EncodeLabelSet, EncodeLabelValue, EncodeMetric,
    LabelSetEncoder, LabelValueEncoder,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::desired::{IpvsPart, Wanted};
use super::model::{Forward, ServiceKey, ServiceLive, Stats, Table};
use super::status::{self, IpvsStatus};
use crate::config::types::Endpoint;

/// The part the table was reconciled against and the table as last known.
#[derive(Debug, Default)]
pub struct Known {
    pub part: Arc<IpvsPart>,
    pub table: Table,
    /// Why the table could not be read, if so.
    pub error: Option<String>,
}

impl Known {
    /// Each of the config's services, in name order, with the kernel's
    /// state of it if the kernel has it.
    fn services(&self) -> Vec<(&Wanted, Option<&ServiceLive>)> {
        let by_key: HashMap<&ServiceKey, &ServiceLive> = self
            .table
            .services
            .iter()
            .map(|s| (&s.spec.key, s))
            .collect();
        self.part
            .services
            .values()
            .map(|w| (&**w, by_key.get(&w.spec.key).copied()))
            .collect()
    }
}

/// Reads the whole table from the kernel into the view in place: a
/// service the view has gets its destinations replaced as they are read,
/// so the table is never held twice (110,000 entries at 10,000 services ×
/// 10 are about 20 MiB; a second copy beside the view was most of the
/// director's steady memory above its config). The view's services are
/// the kernel's at the end, in its order. `false`: `stop` was set between
/// two services, and the view has the destinations read so far (fresher,
/// not wrong); the caller reads again later.
pub fn read_whole_into(
    ipvs: &super::genl::Ipvs,
    view: &View,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<bool, String> {
    let mut fresh = ipvs.service_list()?;
    // Only the IPVS task changes the view's table, and it is here: the
    // positions stay as they are until the end.
    let at: HashMap<ServiceKey, usize> = view
        .lock()
        .table
        .services
        .iter()
        .enumerate()
        .map(|(i, s)| (s.spec.key, i))
        .collect();
    let mut in_view = vec![false; fresh.len()];
    for (s, moved) in fresh.iter_mut().zip(&mut in_view) {
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        let dests = ipvs.dests(&s.spec.key)?;
        match at.get(&s.spec.key) {
            Some(&i) => {
                view.lock().table.services[i].dests = dests;
                *moved = true;
            }
            None => s.dests = dests,
        }
    }
    let mut v = view.lock();
    let mut read: HashMap<ServiceKey, Vec<super::model::DestLive>> =
        std::mem::take(&mut v.table.services)
            .into_iter()
            .map(|s| (s.spec.key, s.dests))
            .collect();
    for (s, moved) in fresh.iter_mut().zip(in_view) {
        if moved {
            s.dests = read.remove(&s.spec.key).unwrap_or_default();
        }
    }
    v.table.services = fresh;
    Ok(true)
}

/// Shared between the IPVS task and its readers.
#[derive(Debug, Clone, Default)]
pub struct View(Arc<Mutex<Known>>);

impl View {
    pub fn lock(&self) -> MutexGuard<'_, Known> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The `ipvs` section of `pharos status`.
    pub fn status(&self) -> IpvsStatus {
        let k = self.lock();
        let services = k
            .services()
            .into_iter()
            .map(|(w, live)| {
                let servers = live
                    .map(|l| {
                        l.dests
                            .iter()
                            .map(|d| status::Server {
                                server: d.spec.endpoint(),
                                forward: fwd_name(d.spec.forward).to_string(),
                                weight: d.spec.weight,
                                active: d.active_conns,
                                inactive: d.inact_conns,
                                cps: d.stats.cps,
                                in_bps: d.stats.inbps,
                                out_bps: d.stats.outbps,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                status::Service {
                    name: w.name.clone(),
                    service: w.spec.key.to_string(),
                    scheduler: w.spec.scheduler.clone(),
                    state: if live.is_some() { "ok" } else { "missing" }.to_string(),
                    connections: live.map(|l| l.stats.conns),
                    servers,
                }
            })
            .collect();
        IpvsStatus {
            services,
            error: k.error.clone(),
        }
    }
}

fn fwd_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "masq",
        Forward::Local => "local",
        Forward::Tunnel => "tunnel",
        Forward::Route => "route",
        Forward::Bypass => "bypass",
    }
}

/// The IPVS metric families, encoded from the view at each scrape, a
/// batch of figures copied out of it at a time (see [`Plan`]): per
/// service and per real server (`backend`, as node_exporter's ipvs
/// collector calls it), the kernel's traffic counters, its rate estimates
/// and the real servers' connections and weights; and the kernel's totals
/// over every service (`/proc/net/ip_vs_stats`, as node_exporter reads
/// them). Where node_exporter has the same figure, the name is its name
/// with `pharos_` for `node_`, and the labels are its labels with the same
/// values, so queries written for one work on the other; `service` (the
/// config's name) and `server` (`IP:PORT`) are pharos's own.
#[derive(Debug)]
pub struct Metrics(pub View);

/// A traffic figure of a service or real server (IPVS_STATS_ATTR_*).
type Figure = fn(&Stats) -> u64;

/// The kernel's counters: typed counters, `_total` in the exposition.
const COUNTERS: [(&str, &str, Figure); 5] = [
    ("connections", "Connections scheduled", |s| s.conns),
    ("incoming_packets", "Packets received", |s| s.inpkts),
    ("outgoing_packets", "Packets sent", |s| s.outpkts),
    ("incoming_bytes", "Bytes received", |s| s.inbytes),
    ("outgoing_bytes", "Bytes sent", |s| s.outbytes),
];

/// The kernel's rate estimates (ip_vs_est.c, smoothed and updated every
/// 2 s): gauges.
const RATES: [(&str, &str, Figure); 5] = [
    (
        "connections_per_second",
        "Connections scheduled per second",
        |s| s.cps,
    ),
    (
        "incoming_packets_per_second",
        "Packets received per second",
        |s| s.inpps,
    ),
    (
        "outgoing_packets_per_second",
        "Packets sent per second",
        |s| s.outpps,
    ),
    (
        "incoming_bytes_per_second",
        "Bytes received per second",
        |s| s.inbps,
    ),
    ("outgoing_bytes_per_second", "Bytes sent per second", |s| {
        s.outbps
    }),
];

/// A real server's figure that is not traffic.
type BackendFigure = fn(&DestFigures) -> u64;

/// A real server's figures that are not traffic: gauges, node_exporter's
/// `backend_*` names.
const BACKEND_GAUGES: [(&str, &str, BackendFigure); 3] = [
    (
        "ipvs_backend_connections_active",
        "Active connections of an IPVS real server (the kernel's count).",
        |d| u64::from(d.active),
    ),
    (
        "ipvs_backend_connections_inactive",
        "Inactive connections of an IPVS real server (the kernel's count).",
        |d| u64::from(d.inactive),
    ),
    (
        "ipvs_backend_weight",
        "Weight of an IPVS real server in the kernel (0: quiesced, e.g. by a failed check).",
        |d| u64::from(d.weight),
    ),
];

/// node_exporter's totals (`node_ipvs_*_total`), from the same file.
const TOTALS: [(&str, &str); 5] = [
    (
        "ipvs_connections",
        "Connections scheduled by every IPVS service of this network namespace since IPVS was loaded (/proc/net/ip_vs_stats).",
    ),
    (
        "ipvs_incoming_packets",
        "Packets received by every IPVS service of this network namespace since IPVS was loaded (/proc/net/ip_vs_stats).",
    ),
    (
        "ipvs_outgoing_packets",
        "Packets sent by every IPVS service of this network namespace since IPVS was loaded (/proc/net/ip_vs_stats).",
    ),
    (
        "ipvs_incoming_bytes",
        "Bytes received by every IPVS service of this network namespace since IPVS was loaded (/proc/net/ip_vs_stats).",
    ),
    (
        "ipvs_outgoing_bytes",
        "Bytes sent by every IPVS service of this network namespace since IPVS was loaded (/proc/net/ip_vs_stats).",
    ),
];

/// The five totals of `/proc/net/ip_vs_stats` (connections, packets in
/// and out, bytes in and out): its third line, in hex, as
/// `ip_vs_stats_show` writes them. `None` when the text is not that.
fn totals(proc_stats: &str) -> Option<[u64; 5]> {
    let line = proc_stats.lines().nth(2)?;
    let mut out = [0; 5];
    let mut fields = line.split_whitespace();
    for v in &mut out {
        *v = u64::from_str_radix(fields.next()?, 16).ok()?;
    }
    fields.next().is_none().then_some(out)
}

/// A label value written with its `Display`.
struct Shown<T>(T);

impl<T: std::fmt::Display> EncodeLabelValue for Shown<T> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        write!(encoder, "{}", self.0)
    }
}

/// The labels of a service's sample, and of a real server's when `dest`
/// is set. node_exporter's, valued as it values them from
/// `/proc/net/ip_vs`: `proto` TCP, UDP, SCTP or FWM; `local_address` and
/// `local_port` the VIP and port (empty and 0 for a firewall-mark
/// service); `local_mark` the mark in 8 hex digits as the kernel writes
/// it (empty for an address service); `remote_address`, `remote_port`
/// the real server's. Beside them `service`, the config's name, and
/// `server`, the real server as `IP:PORT` (as the check families name
/// it; the IP alone in a service of all ports).
struct Labels<'a> {
    service: &'a str,
    key: &'a ServiceKey,
    /// The real server's address and port.
    dest: Option<(IpAddr, u16)>,
}

impl EncodeLabelSet for Labels<'_> {
    fn encode(&self, e: &mut LabelSetEncoder<'_>) -> std::fmt::Result {
        ("service", self.service).encode(e.encode_label())?;
        if let Some((addr, port)) = self.dest {
            let server = Endpoint {
                ip: addr,
                port: (port != 0).then_some(port),
            };
            ("server", Shown(server)).encode(e.encode_label())?;
        }
        match *self.key {
            ServiceKey::Addr { proto, addr, port } => {
                ("local_address", Shown(addr)).encode(e.encode_label())?;
                ("local_port", port).encode(e.encode_label())?;
                ("local_mark", "").encode(e.encode_label())?;
                ("proto", proto.upper()).encode(e.encode_label())?;
            }
            ServiceKey::Fwmark { mark, .. } => {
                ("local_address", "").encode(e.encode_label())?;
                ("local_port", 0_u16).encode(e.encode_label())?;
                ("local_mark", Shown(format_args!("{mark:08X}"))).encode(e.encode_label())?;
                ("proto", "FWM").encode(e.encode_label())?;
            }
        }
        if let Some((addr, port)) = self.dest {
            ("remote_address", Shown(addr)).encode(e.encode_label())?;
            ("remote_port", port).encode(e.encode_label())?;
        }
        Ok(())
    }
}

/// How many services, or real servers, one hold of the view's lock copies
/// the figures of: the IPVS task waits for at most that much copying, and
/// a scrape holds that many figures at a time (about 64 KiB), not the
/// table.
const BATCH: usize = 512;

/// A service's figures, copied out of the view.
struct ServiceFigures {
    /// Its place in the [`Plan`].
    at: usize,
    stats: Stats,
}

/// A real server's figures, copied out of the view.
struct DestFigures {
    /// Its service's place in the [`Plan`].
    at: usize,
    addr: IpAddr,
    port: u16,
    active: u32,
    inactive: u32,
    weight: u32,
    stats: Stats,
}

/// The figures a family is written from, a batch at a time.
#[derive(Default)]
struct Batch {
    services: Vec<ServiceFigures>,
    dests: Vec<DestFigures>,
}

/// What a scrape writes, in order: the config's services (by name, as
/// `pharos status` lists them) that the kernel had when the scrape began,
/// each with where the view's table held it when last looked. The table
/// changes between batches (the IPVS task reads and patches it), so each
/// place is checked against the service's key before it is read, and all
/// are looked up again when one is stale; a service gone from the kernel
/// since is left out from then on.
struct Plan<'a> {
    services: Vec<(&'a Wanted, Option<usize>)>,
}

impl<'a> Plan<'a> {
    fn new(part: &'a IpvsPart, k: &Known) -> Self {
        let mut plan = Plan {
            services: part.services.values().map(|w| (&**w, Some(0))).collect(),
        };
        plan.locate(k);
        plan
    }

    /// Where each service is in the table now (`None` for good when it
    /// is not there).
    fn locate(&mut self, k: &Known) {
        let at: HashMap<&ServiceKey, usize> = k
            .table
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| (&s.spec.key, i))
            .collect();
        for (w, place) in &mut self.services {
            *place = place.and(at.get(&w.spec.key).copied());
        }
    }

    /// Copies into `batch` the figures of the services from the `from`th
    /// on, until it holds [`BATCH`] services or real servers (those of
    /// the real servers only `with_dests`); returns where the next batch
    /// begins, `self.services.len()` at the end.
    fn copy(&mut self, k: &Known, from: usize, with_dests: bool, batch: &mut Batch) -> usize {
        batch.services.clear();
        batch.dests.clear();
        let mut at = from;
        while at < self.services.len() && batch.services.len() < BATCH && batch.dests.len() < BATCH
        {
            let (w, place) = self.services[at];
            let Some(i) = place else {
                at += 1;
                continue;
            };
            let live = match k.table.services.get(i) {
                Some(live) if live.spec.key == w.spec.key => live,
                // Moved: every place is found again, then this one is
                // read (or skipped, gone) on the next round.
                _ => {
                    self.locate(k);
                    continue;
                }
            };
            batch.services.push(ServiceFigures {
                at,
                stats: live.stats,
            });
            if with_dests {
                batch.dests.extend(live.dests.iter().map(|d| DestFigures {
                    at,
                    addr: d.spec.addr,
                    port: d.spec.port,
                    active: d.active_conns,
                    inactive: d.inact_conns,
                    weight: d.spec.weight,
                    stats: d.stats,
                }));
            }
            at += 1;
        }
        at
    }
}

/// One sample of a traffic figure: the kernel's counter, or its rate
/// estimate as a gauge.
fn traffic_sample(
    sample: prometheus_client::encoding::MetricEncoder<'_>,
    v: u64,
    counter: bool,
) -> Result<(), std::fmt::Error> {
    if counter {
        ConstCounter::new(v).encode(sample)
    } else {
        ConstGauge::new(v).encode(sample)
    }
}

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType::{Counter, Gauge};
        // Read before the view is locked: the IPVS task waits on it.
        let totals = std::fs::read_to_string("/proc/net/ip_vs_stats")
            .ok()
            .and_then(|t| totals(&t));
        for (i, (name, help)) in TOTALS.iter().enumerate() {
            let family = encoder.encode_descriptor(name, help, None, Counter)?;
            if let Some(t) = totals {
                ConstCounter::new(t[i]).encode(family)?;
            }
        }
        // The names are the config's as the scrape began: a reload during
        // it keeps the part it replaced until the scrape ends.
        let part = self.0.lock().part.clone();
        let mut plan = Plan::new(&part, &self.0.lock());
        let mut batch = Batch::default();
        // Each family is written from the view a batch at a time, its
        // lock held only to copy the batch's figures: the writer may wait
        // on a slow scraper, and the IPVS task must not.
        let mut each_batch = |with_dests: bool,
                              write: &mut dyn FnMut(&Plan<'_>, &Batch) -> std::fmt::Result|
         -> std::fmt::Result {
            let mut from = 0;
            while from < plan.services.len() {
                from = plan.copy(&self.0.lock(), from, with_dests, &mut batch);
                write(&plan, &batch)?;
            }
            Ok(())
        };
        let service = |name: &'static str, help: &str, counter: bool| {
            let reset = if counter {
                " (the kernel's counter: from 0 again when the service is deleted and added again)"
            } else {
                " (the kernel's estimate, updated every 2 s)"
            };
            (
                format!("ipvs_service_{name}"),
                format!("{help} by an IPVS service{reset}."),
            )
        };
        let backend = |name: &'static str, help: &str, counter: bool| {
            let reset = if counter {
                " (the kernel's counter: from 0 again when the real server or its service is deleted and added again)"
            } else {
                " (the kernel's estimate, updated every 2 s)"
            };
            (
                format!("ipvs_backend_{name}"),
                format!("{help} by an IPVS real server{reset}."),
            )
        };
        let traffic = COUNTERS
            .iter()
            .map(|f| (f, true))
            .chain(RATES.iter().map(|f| (f, false)));
        for ((name, help, figure), counter) in traffic.clone() {
            let (name, help) = service(name, help, counter);
            let kind = if counter { Counter } else { Gauge };
            let mut family = encoder.encode_descriptor(&name, &help, None, kind)?;
            each_batch(false, &mut |plan, batch| {
                for s in &batch.services {
                    let w = plan.services[s.at].0;
                    let labels = Labels {
                        service: &w.name,
                        key: &w.spec.key,
                        dest: None,
                    };
                    traffic_sample(family.encode_family(&labels)?, figure(&s.stats), counter)?;
                }
                Ok(())
            })?;
        }
        for (name, help, figure) in BACKEND_GAUGES {
            let mut family = encoder.encode_descriptor(name, help, None, Gauge)?;
            each_batch(true, &mut |plan, batch| {
                for d in &batch.dests {
                    let w = plan.services[d.at].0;
                    let labels = Labels {
                        service: &w.name,
                        key: &w.spec.key,
                        dest: Some((d.addr, d.port)),
                    };
                    ConstGauge::new(figure(d)).encode(family.encode_family(&labels)?)?;
                }
                Ok(())
            })?;
        }
        for ((name, help, figure), counter) in traffic {
            let (name, help) = backend(name, help, counter);
            let kind = if counter { Counter } else { Gauge };
            let mut family = encoder.encode_descriptor(&name, &help, None, kind)?;
            each_batch(true, &mut |plan, batch| {
                for d in &batch.dests {
                    let w = plan.services[d.at].0;
                    let labels = Labels {
                        service: &w.name,
                        key: &w.spec.key,
                        dest: Some((d.addr, d.port)),
                    };
                    traffic_sample(family.encode_family(&labels)?, figure(&d.stats), counter)?;
                }
                Ok(())
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view of one service of the config, `web`, with one real server in
    /// the kernel, and one service the kernel lacks.
    fn view() -> View {
        let text = "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.web.real_servers.\"10.0.0.2\"]\nweight = 3\n[services.gone]\naddress = \"10.0.0.9:80\"\nforwarding = \"dr\"\nsorry_server = \"10.0.0.8:80\"\n";
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        let cfg = &c.configs[0].1;
        let servers: Vec<_> = crate::config::resolve::all(cfg).collect();
        let part = IpvsPart::of(cfg, &servers, &[]);
        let web = part.services["web"].clone();
        let mut table = super::super::desired::applied(std::slice::from_ref(&web));
        table.services[0].stats.conns = 42;
        table.services[0].dests[0].active_conns = 5;
        let v = View::default();
        *v.lock() = Known {
            part: Arc::new(part),
            table,
            error: None,
        };
        v
    }

    #[test]
    fn status_names_the_configs_services_as_the_kernel_has_them() {
        let s = view().status();
        let names: Vec<(&str, &str)> = s
            .services
            .iter()
            .map(|s| (s.name.as_str(), s.state.as_str()))
            .collect();
        assert_eq!(names, vec![("gone", "missing"), ("web", "ok")]);
        let web = &s.services[1];
        assert_eq!(web.service, "TCP 10.0.0.1:80");
        assert_eq!(web.connections, Some(42));
        assert_eq!(
            (
                web.servers[0].server.as_str(),
                web.servers[0].weight,
                web.servers[0].active
            ),
            ("10.0.0.2:80", 3, 5)
        );
    }

    /// Three services of every kind, each real server with traffic.
    fn traffic_view() -> View {
        let text = r#"
[services.web]
address = "10.0.0.1:80"
forwarding = "dr"
[services.web.real_servers]
"10.0.0.2:80" = { weight = 3 }
"10.0.0.3" = {}
[services.marked]
fwmark = 258
family = "ipv4"
forwarding = "dr"
persistence = "300s"
[services.marked.real_servers]
"10.0.0.4" = {}
[services.six]
address = "[2001:db8::1]:443"
forwarding = "dr"
[services.six.real_servers]
"[2001:db8::2]:443" = {}
"#;
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        let cfg = &c.configs[0].1;
        let servers: Vec<_> = crate::config::resolve::all(cfg).collect();
        let part = IpvsPart::of(cfg, &servers, &[]);
        let wanted: Vec<Wanted> = part.services.values().map(|w| (**w).clone()).collect();
        let mut table = super::super::desired::applied(&wanted);
        let stats = |n: u64| Stats {
            conns: n,
            inpkts: n * 10,
            outpkts: n * 9,
            inbytes: n * 1000,
            outbytes: n * 9000,
            cps: n + 1,
            inpps: n + 2,
            outpps: n + 3,
            inbps: n + 4,
            outbps: n + 5,
        };
        for (i, s) in table.services.iter_mut().enumerate() {
            s.stats = stats(100 * (i as u64 + 1));
            for (j, d) in s.dests.iter_mut().enumerate() {
                d.stats = stats(10 * (i as u64 + 1) + j as u64);
                d.active_conns = 5 + j as u32;
                d.inact_conns = 7;
            }
        }
        let v = View::default();
        *v.lock() = Known {
            part: Arc::new(part),
            table,
            error: None,
        };
        v
    }

    /// The exposition of a registry holding only the IPVS families, as
    /// the runtime's (prefix `pharos`): OpenMetrics, then the 0.0.4 text.
    fn expose(v: &View) -> (String, String) {
        let mut registry = prometheus_client::registry::Registry::with_prefix("pharos");
        registry.register_collector(Box::new(Metrics(v.clone())));
        let mut om = String::new();
        prometheus_client::encoding::text::encode(&mut om, &registry).unwrap();
        let text = crate::runtime::exposition::to_text(&om);
        (om, text)
    }

    #[test]
    fn the_ipvs_families_are_clean_to_promtool_and_the_openmetrics_parser() {
        use crate::runtime::exposition::tools;
        let (om, text) = expose(&traffic_view());
        tools::promtool(&text);
        let families = tools::openmetrics(&om);
        // Counters are counters, rates and connection counts gauges.
        for want in [
            "pharos_ipvs_service_connections counter 3",
            "pharos_ipvs_service_outgoing_bytes counter 3",
            "pharos_ipvs_service_incoming_packets_per_second gauge 3",
            "pharos_ipvs_backend_connections_active gauge 4",
            "pharos_ipvs_backend_weight gauge 4",
            "pharos_ipvs_backend_incoming_bytes counter 4",
            "pharos_ipvs_backend_outgoing_bytes_per_second gauge 4",
        ] {
            assert!(families.lines().any(|l| l == want), "{want}:\n{families}");
        }
        // node_exporter's labels, valued as it values them; pharos's
        // service and server as the config names them.
        for want in [
            r#"pharos_ipvs_service_connections_total{service="web",local_address="10.0.0.1",local_port="80",local_mark="",proto="TCP"} "#,
            r#"pharos_ipvs_backend_connections_active{service="web",server="10.0.0.3:80",local_address="10.0.0.1",local_port="80",local_mark="",proto="TCP",remote_address="10.0.0.3",remote_port="80"} 6"#,
            r#"pharos_ipvs_backend_connections_inactive{service="marked",server="10.0.0.4",local_address="",local_port="0",local_mark="00000102",proto="FWM",remote_address="10.0.0.4",remote_port="0"} 7"#,
            r#"pharos_ipvs_backend_weight{service="six",server="[2001:db8::2]:443",local_address="2001:db8::1",local_port="443",local_mark="",proto="TCP",remote_address="2001:db8::2",remote_port="443"} 1"#,
            "# TYPE pharos_ipvs_service_connections_total counter\n",
            "# TYPE pharos_ipvs_connections_total counter\n",
        ] {
            assert!(text.contains(want), "{want}\n{text}");
        }
    }

    #[test]
    fn proc_ip_vs_stats_totals_are_its_third_line_in_hex() {
        // As ip_vs_stats_show writes it (net/netfilter/ipvs/ip_vs_ctl.c).
        let proc_stats = "   Total Incoming Outgoing         Incoming         Outgoing\n   Conns  Packets  Packets            Bytes            Bytes\n       2       1F        0              A3C                0\n\n Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n       0        0        0                0                0\n";
        assert_eq!(totals(proc_stats), Some([2, 31, 0, 2620, 0]));
        assert_eq!(totals("garbage"), None);
        assert_eq!(totals("a\nb\n1 2 3\n"), None);
    }

    #[test]
    fn the_metrics_are_encoded_from_the_view_at_scrape_time() {
        let v = view();
        let (_, text) = expose(&v);
        assert!(
            text.contains("pharos_ipvs_service_connections_total{service=\"web\",local_address=\"10.0.0.1\",local_port=\"80\",local_mark=\"\",proto=\"TCP\"} 42\n"),
            "{text}"
        );
        let server = r#"{service="web",server="10.0.0.2:80",local_address="10.0.0.1",local_port="80",local_mark="",proto="TCP",remote_address="10.0.0.2",remote_port="80"}"#;
        assert!(
            text.contains(&format!(
                "pharos_ipvs_backend_connections_active{server} 5\n"
            )),
            "{text}"
        );
        assert!(!text.contains("service=\"gone\""), "{text}");
        // A change to the view shows at the next scrape.
        v.lock().table.services[0].dests[0].spec.weight = 0;
        let (_, text) = expose(&v);
        assert!(
            text.contains(&format!("pharos_ipvs_backend_weight{server} 0\n")),
            "{text}"
        );
    }

    /// A view of `n` services of 10 real servers each, named
    /// `service-00000` on, as a 10,000-service config makes them, each
    /// real server with traffic.
    fn big_view(n: u32) -> View {
        let mut text =
            "[services.web]\naddress = \"10.0.0.1:80\"\nforwarding = \"dr\"\n[services.web.real_servers]\n"
                .to_string();
        for j in 2..12 {
            text += &format!("\"10.0.0.{j}\" = {{}}\n");
        }
        let c = crate::config::check_text(&text, &crate::config::Selection::All);
        assert!(c.diagnostics.is_empty(), "{:?}", c.diagnostics);
        let cfg = &c.configs[0].1;
        let servers: Vec<_> = crate::config::resolve::all(cfg).collect();
        let mut part = IpvsPart::of(cfg, &servers, &[]);
        let web = (*part.services["web"]).clone();
        part.services.clear();
        let mut wanted = Vec::new();
        for i in 0..n {
            let mut w = web.clone();
            w.name = format!("service-{i:05}");
            w.spec.key = ServiceKey::Addr {
                proto: super::super::model::Proto::Tcp,
                addr: IpAddr::from([10, 1, (i >> 8) as u8, i as u8]),
                port: 80,
            };
            part.services.insert(w.name.clone(), Arc::new(w.clone()));
            wanted.push(w);
        }
        let mut table = super::super::desired::applied(&wanted);
        drop(wanted);
        for (i, s) in table.services.iter_mut().enumerate() {
            s.stats.conns = 1_000_000 + i as u64;
            s.stats.inbps = 123_456_789;
            for (j, d) in s.dests.iter_mut().enumerate() {
                d.stats.conns = 100_000 + j as u64;
                d.stats.outbytes = 98_765_432_101;
                d.active_conns = 17;
            }
        }
        let v = View::default();
        *v.lock() = Known {
            part: Arc::new(part),
            table,
            error: None,
        };
        v
    }

    /// The runtime's metrics with the IPVS families of `v` registered, as
    /// the IPVS task registers them.
    fn runtime_metrics(v: &View) -> crate::runtime::metrics::Metrics {
        let m = crate::runtime::metrics::Metrics::new();
        m.registry()
            .register_collector(Box::new(Metrics(v.clone())));
        m
    }

    #[test]
    fn the_streamed_exposition_is_the_one_string_encoding_byte_for_byte() {
        use crate::runtime::exposition::{CHUNK, Format};
        // 300 services of 10: many batches of the view, many chunks.
        let v = big_view(300);
        let (om, text) = expose(&v);
        let m = runtime_metrics(&v);
        for (format, whole) in [(Format::OpenMetrics, om), (Format::Text, text)] {
            let mut chunks = Vec::new();
            m.write(format, |c| {
                chunks.push(c);
                Ok(())
            })
            .unwrap();
            assert!(chunks.len() > 10, "{format:?}: {} chunks", chunks.len());
            for c in &chunks {
                assert!(c.ends_with('\n') && c.len() < CHUNK + 1024, "{format:?}");
            }
            let streamed = chunks.concat();
            // The runtime's own families, then the IPVS families exactly
            // as the one-string encoding of them, then the process's.
            let ipvs = whole.trim_end_matches("# EOF\n");
            assert_eq!(streamed.matches(ipvs).count(), 1, "{format:?}");
        }
    }

    #[test]
    fn a_scrape_follows_services_the_table_moved_or_lost_between_batches() {
        let v = big_view(3);
        let part = v.lock().part.clone();
        let mut plan = Plan::new(&part, &v.lock());
        // The table read again in another order, without service-00001.
        {
            let mut k = v.lock();
            k.table.services.reverse();
            k.table.services.remove(1);
        }
        let mut batch = Batch::default();
        assert_eq!(plan.copy(&v.lock(), 0, true, &mut batch), 3);
        let seen: Vec<(&str, u64)> = batch
            .services
            .iter()
            .map(|s| (plan.services[s.at].0.name.as_str(), s.stats.conns))
            .collect();
        assert_eq!(
            seen,
            vec![("service-00000", 1_000_000), ("service-00002", 1_000_002)]
        );
        assert_eq!(batch.dests.len(), 20);
    }

    /// Peak memory of a scrape of 10,000 services × 10 real servers (about
    /// 280 MB of text in either format), measured in processes of their
    /// own: this test runs itself again as two children at once, one per
    /// format, with `PHAROS_SCRAPE_MEASURE` set to it; each builds the
    /// view, resets its peak resident set (`/proc/self/clear_refs`),
    /// scrapes, and holds the peak above the view's resident set to
    /// 16 MiB. Before the exposition was streamed it was 532 MiB.
    #[test]
    fn a_scrape_of_ten_thousand_services_holds_under_16_mib_beyond_the_view() {
        const NAME: &str = "ipvs::view::tests::a_scrape_of_ten_thousand_services_holds_under_16_mib_beyond_the_view";
        let Some(measure) = std::env::var_os("PHAROS_SCRAPE_MEASURE") else {
            let children: Vec<_> = ["OpenMetrics", "Text"]
                .into_iter()
                .map(|format| {
                    std::process::Command::new(std::env::current_exe().unwrap())
                        .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
                        .env("PHAROS_SCRAPE_MEASURE", format)
                        .stdout(std::process::Stdio::piped())
                        .stderr(std::process::Stdio::piped())
                        .spawn()
                        .unwrap()
                })
                .collect();
            for child in children {
                let out = child.wait_with_output().unwrap();
                let said = String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr);
                println!("{said}");
                assert!(out.status.success(), "the measuring child failed:\n{said}");
                assert!(said.contains("1 passed"), "the child ran no test:\n{said}");
            }
            return;
        };
        use crate::runtime::exposition::Format;
        let kib = |field: &str| -> i64 {
            let s = std::fs::read_to_string("/proc/self/status").unwrap();
            s.lines()
                .find_map(|l| l.strip_prefix(field))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
        };
        let v = big_view(10_000);
        let m = runtime_metrics(&v);
        let format = match measure.to_str() {
            Some("OpenMetrics") => Format::OpenMetrics,
            Some("Text") => Format::Text,
            other => panic!("PHAROS_SCRAPE_MEASURE={other:?}: give OpenMetrics or Text"),
        };
        let view_kib = kib("VmRSS:");
        std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak resident set");
        let started = std::time::Instant::now();
        let (mut bytes, mut largest, mut samples) = (0, 0, 0);
        m.write(format, |c| {
            bytes += c.len();
            largest = largest.max(c.len());
            samples += c.lines().filter(|l| l.starts_with("pharos_ipvs_")).count();
            Ok(())
        })
        .unwrap();
        let peak = kib("VmHWM:") - view_kib;
        println!(
            "{format:?}: {samples} IPVS samples, {} MB in {:.1?}; largest chunk {largest} B; \
             peak {} KiB above the view's {} MiB",
            bytes / 1_000_000,
            started.elapsed(),
            peak,
            view_kib / 1024
        );
        assert_eq!(samples, 10_000 * 10 + 100_000 * 13, "{format:?}");
        assert!(
            peak < 16 * 1024,
            "{format:?}: a scrape peaked at {peak} KiB above the view"
        );
    }
}
