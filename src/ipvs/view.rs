//! What pharos last knew of the kernel's IPVS table, for `pharos status`
//! and the metrics: the IPVS task keeps it (from a full read, or patched
//! with the changes it made and the services it read back), and both are
//! built from it only when someone asks. A table of 10,000 services is
//! not turned into JSON or label sets on every pass.
//!
//! Talks to: the IPVS task (updates), the supervisor's status sections
//! and the metrics registry (readers).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

use super::desired::{IpvsPart, Wanted};
use super::model::{Forward, ServiceKey, ServiceLive, Table};
use super::status::{self, IpvsStatus};

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

/// The IPVS metric families, encoded from the view at each scrape.
#[derive(Debug)]
pub struct Metrics(pub View);

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

type ServiceFigure = fn(&ServiceLive) -> i64;
type ServerFigure = fn(&super::model::DestLive) -> i64;

const SERVICE_FAMILIES: [(&str, &str, ServiceFigure); 3] = [
    (
        "ipvs_service_connections",
        "Connections scheduled by an IPVS service since it was added (kernel counter)",
        |s| gauge(s.stats.conns),
    ),
    (
        "ipvs_service_in_bytes",
        "Bytes in through an IPVS service (kernel counter)",
        |s| gauge(s.stats.inbytes),
    ),
    (
        "ipvs_service_out_bytes",
        "Bytes out through an IPVS service (kernel counter)",
        |s| gauge(s.stats.outbytes),
    ),
];

const SERVER_FAMILIES: [(&str, &str, ServerFigure); 3] = [
    (
        "ipvs_real_server_weight",
        "Weight of a real server in the kernel",
        |d| i64::from(d.spec.weight),
    ),
    (
        "ipvs_real_server_active_connections",
        "Active connections of a real server",
        |d| i64::from(d.active_conns),
    ),
    (
        "ipvs_real_server_inactive_connections",
        "Inactive connections of a real server",
        |d| i64::from(d.inact_conns),
    ),
];

impl Collector for Metrics {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let k = self.0.lock();
        // The config's services the kernel has, by their config names.
        let named: Vec<(&str, &ServiceLive)> = k
            .services()
            .into_iter()
            .filter_map(|(w, live)| Some((w.name.as_str(), live?)))
            .collect();
        let kind = prometheus_client::metrics::MetricType::Gauge;
        for (name, help, figure) in SERVICE_FAMILIES {
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for (service, l) in &named {
                let labels = [("service", *service)];
                ConstGauge::new(figure(l)).encode(family.encode_family(&labels)?)?;
            }
        }
        for (name, help, figure) in SERVER_FAMILIES {
            let mut family = encoder.encode_descriptor(name, help, None, kind)?;
            for (service, l) in &named {
                for d in &l.dests {
                    let server = d.spec.endpoint();
                    let labels = [("service", *service), ("server", server.as_str())];
                    ConstGauge::new(figure(d)).encode(family.encode_family(&labels)?)?;
                }
            }
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

    #[test]
    fn the_metrics_are_encoded_from_the_view_at_scrape_time() {
        let v = view();
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Metrics(v.clone())));
        let scrape = |r: &prometheus_client::registry::Registry| {
            let mut out = String::new();
            prometheus_client::encoding::text::encode(&mut out, r).unwrap();
            out
        };
        let text = scrape(&registry);
        assert!(
            text.contains("ipvs_service_connections{service=\"web\"} 42"),
            "{text}"
        );
        assert!(
            text.contains(
                "ipvs_real_server_active_connections{service=\"web\",server=\"10.0.0.2:80\"} 5"
            ),
            "{text}"
        );
        assert!(!text.contains("service=\"gone\""), "{text}");
        // A change to the view shows at the next scrape.
        v.lock().table.services[0].dests[0].spec.weight = 0;
        assert!(
            scrape(&registry)
                .contains("ipvs_real_server_weight{service=\"web\",server=\"10.0.0.2:80\"} 0"),
        );
    }
}
