//! The network plane's part of the desired state, worked out once per
//! config load: the kernel modules, links, addresses, routes and sysctls
//! the config wants, each by its name in the kernel.

use std::collections::{BTreeMap, BTreeSet};

use super::link::{self, AddrWant, LinkWant};
use super::route::{self, RouteWant};
use super::sysctl::{self, Key, Want};
use crate::config::Config;
use crate::config::types::Cidr;
use crate::runtime::changes::{Changes, Part};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct NetPart {
    /// Modules to load (`config::validate::required_modules`).
    pub modules: BTreeSet<String>,
    pub links: BTreeMap<String, LinkWant>,
    /// By interface and address.
    pub addrs: BTreeMap<(String, Cidr), AddrWant>,
    /// By table, destination and metric (what the kernel keys a route by).
    pub routes: BTreeMap<(u32, Cidr, u32), RouteWant>,
    pub sysctls: BTreeMap<Key, Want>,
}

impl NetPart {
    /// From a config that needs the kernel modules `modules`.
    pub fn of(cfg: &Config, modules: &[String]) -> Self {
        let (links, addrs) = link::wanted(cfg);
        NetPart {
            modules: modules.iter().cloned().collect(),
            links: links.into_iter().map(|l| (l.name.clone(), l)).collect(),
            addrs: addrs
                .into_iter()
                .map(|a| ((a.iface.clone(), a.cidr), a))
                .collect(),
            routes: route::wanted(cfg)
                .into_iter()
                .map(|r| ((r.table, r.dst, r.metric), r))
                .collect(),
            sysctls: sysctl::wanted(cfg)
                .into_iter()
                .map(|w| (w.key.clone(), w))
                .collect(),
        }
    }

    /// What of `self` is new or different from `old`: the modules to load
    /// and the sysctls to set on a reload (links, addresses and routes are
    /// always compared whole against the kernel). Sysctls dropped from the
    /// config keep their value: pharos does not know what they were before.
    pub fn news(&self, old: &NetPart) -> (Vec<&str>, Vec<&Want>) {
        let modules = self
            .modules
            .iter()
            .filter(|m| !old.modules.contains(*m))
            .map(String::as_str)
            .collect();
        let sysctls = self
            .sysctls
            .iter()
            .filter(|(k, w)| old.sysctls.get(*k) != Some(*w))
            .map(|(_, w)| w)
            .collect();
        (modules, sysctls)
    }
}

impl Part for NetPart {
    fn changes(&self, old: &Self) -> Changes {
        let modules = |p: &NetPart| -> BTreeMap<String, ()> {
            p.modules.iter().map(|m| (m.clone(), ())).collect()
        };
        Changes::between(&modules(old), &modules(self))
            + Changes::between(&old.links, &self.links)
            + Changes::between(&old.addrs, &self.addrs)
            + Changes::between(&old.routes, &self.routes)
            + Changes::between(&old.sysctls, &self.sysctls)
    }
}
