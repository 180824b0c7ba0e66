//! Static routes and default gateways: what the config wants and a sans-IO
//! diff against the kernel's routing tables. Routes pharos adds carry
//! rtm_protocol = [`PROTO`], so it removes only its own; a route someone
//! else made at the same place is reported, not replaced.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::config::Config;
use crate::config::types::{Cidr, RouteTarget};
pub use crate::kernel::objects::{MAIN, PROTO, RouteLive, RouteWant};

pub fn wanted(cfg: &Config) -> Vec<RouteWant> {
    cfg.routes
        .iter()
        .map(|(name, r)| {
            let dst = match r.to {
                RouteTarget::Prefix(c) => Cidr {
                    addr: c.addr,
                    prefix: c.prefix,
                },
                // A default route takes the gateway's family.
                RouteTarget::Default => match r.via.map(|v| v.0) {
                    Some(IpAddr::V6(_)) => Cidr {
                        addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                        prefix: 0,
                    },
                    _ => Cidr {
                        addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        prefix: 0,
                    },
                },
            };
            RouteWant {
                dst: network(dst),
                via: r.via.map(|v| v.0),
                dev: r.dev.as_ref().map(|d| d.to_string()),
                src: r.src.map(|s| s.0),
                metric: r.metric.unwrap_or(0),
                table: r.table.unwrap_or(MAIN),
                origin: format!("routes.{name}"),
            }
        })
        .collect()
}

/// The prefix's network address: the kernel keys routes by it.
fn network(c: Cidr) -> Cidr {
    let addr = match c.addr {
        IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(
            u32::from(a) & u32::MAX.checked_shl(32 - u32::from(c.prefix)).unwrap_or(0),
        )),
        IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(
            u128::from(a)
                & u128::MAX
                    .checked_shl(128 - u32::from(c.prefix))
                    .unwrap_or(0),
        )),
    };
    Cidr {
        addr,
        prefix: c.prefix,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteStep {
    Matches(RouteWant),
    Add(RouteWant),
    /// pharos's own route at that place, pointing elsewhere: replaced.
    Replace(RouteWant),
    /// Someone else's route is at that place: left alone, and said so.
    Conflict(RouteWant),
    /// A route pharos added that the config no longer has.
    Del(RouteLive),
}

/// Sans-IO: `oif` resolves a wanted `dev` to an interface index.
pub fn diff(
    wants: &[RouteWant],
    live: &[RouteLive],
    oif: impl Fn(&str) -> Option<u32>,
) -> Vec<RouteStep> {
    let mut steps = Vec::new();
    let same_place =
        |w: &RouteWant, l: &RouteLive| l.table == w.table && l.dst == w.dst && l.metric == w.metric;
    for l in live {
        if l.protocol == PROTO && !wants.iter().any(|w| same_place(w, l)) {
            steps.push(RouteStep::Del(l.clone()));
        }
    }
    for w in wants {
        let want_oif = w.dev.as_deref().and_then(&oif);
        match live.iter().find(|l| same_place(w, l)) {
            None => steps.push(RouteStep::Add(w.clone())),
            Some(l) if l.via == w.via && (w.dev.is_none() || l.oif == want_oif) => {
                steps.push(RouteStep::Matches(w.clone()))
            }
            Some(l) if l.protocol == PROTO => steps.push(RouteStep::Replace(w.clone())),
            Some(_) => steps.push(RouteStep::Conflict(w.clone())),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(dst: &str, via: &str) -> RouteWant {
        RouteWant {
            dst: dst.parse().unwrap(),
            via: Some(via.parse().unwrap()),
            dev: None,
            src: None,
            metric: 0,
            table: MAIN,
            origin: "routes.x".into(),
        }
    }

    fn live(dst: &str, via: &str, protocol: u8) -> RouteLive {
        RouteLive {
            dst: dst.parse().unwrap(),
            via: Some(via.parse().unwrap()),
            oif: Some(2),
            metric: 0,
            table: MAIN,
            protocol,
        }
    }

    #[test]
    fn routes_are_added_kept_replaced_only_if_ours_and_removed_only_if_ours() {
        let wants = vec![
            want("0.0.0.0/0", "10.0.0.254"),
            want("10.9.0.0/16", "10.0.0.253"),
            want("10.8.0.0/16", "10.0.0.253"),
            want("10.7.0.0/16", "10.0.0.1"),
        ];
        let lives = vec![
            live("0.0.0.0/0", "10.0.0.254", 4), // there already (boot): adopted
            live("10.8.0.0/16", "10.0.0.1", PROTO), // ours, pointing elsewhere
            live("10.7.0.0/16", "10.0.0.2", 4), // someone else's
            live("10.6.0.0/16", "10.0.0.1", PROTO), // ours, no longer wanted
            live("10.5.0.0/16", "10.0.0.1", 4), // someone else's, not ours to remove
        ];
        let steps = diff(&wants, &lives, |_| Some(2));
        let kinds: Vec<String> = steps
            .iter()
            .map(|s| match s {
                RouteStep::Matches(w) => format!("= {}", w.dst),
                RouteStep::Add(w) => format!("+ {}", w.dst),
                RouteStep::Replace(w) => format!("~ {}", w.dst),
                RouteStep::Conflict(w) => format!("! {}", w.dst),
                RouteStep::Del(l) => format!("- {}", l.dst),
            })
            .collect();
        assert_eq!(
            kinds,
            vec![
                "- 10.6.0.0/16",
                "= 0.0.0.0/0",
                "+ 10.9.0.0/16",
                "~ 10.8.0.0/16",
                "! 10.7.0.0/16"
            ]
        );
    }

    #[test]
    fn a_default_route_takes_its_gateways_family_and_prefixes_are_normalised() {
        let c = crate::config::check_text(
            "[routes.v6]\nto = \"default\"\nvia = \"2001:db8::1\"\n[routes.net]\nto = \"10.9.3.4/16\"\nvia = \"10.0.0.1\"\n",
            &crate::config::Selection::All,
        );
        let w = wanted(&c.configs[0].1);
        assert_eq!(w[0].dst.to_string(), "10.9.0.0/16");
        assert_eq!(w[1].dst.to_string(), "::/0");
    }
}
