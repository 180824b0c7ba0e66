//! `pharos ipvs list|save`: the kernel's IPVS table read over generic
//! netlink and printed in ipvsadm's layouts (`-Ln`, `--stats`, `--rate`,
//! `-Sn`), so scripts and eyes used to ipvsadm keep working. `--json` gives
//! the same table as data. Exit 0, or 1 when the kernel cannot be read.

use std::process::ExitCode;

use super::out::{errln, out, outln};
use crate::ipvs::genl::Ipvs;
use crate::ipvs::render::{self, ListMode};

fn open() -> Result<Ipvs, ExitCode> {
    Ipvs::connect().map_err(|e| {
        errln!("pharos: {e}");
        ExitCode::from(1)
    })
}

pub fn list(stats: bool, rate: bool, json: bool) -> ExitCode {
    let ipvs = match open() {
        Ok(i) => i,
        Err(c) => return c,
    };
    let table = match ipvs.table() {
        Ok(t) => t,
        Err(e) => {
            errln!("pharos: {e}");
            return ExitCode::from(1);
        }
    };
    if json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&table).expect("a table serializes")
        );
        return ExitCode::SUCCESS;
    }
    let info = match ipvs.info() {
        Ok(i) => i,
        Err(e) => {
            errln!("pharos: {e}");
            return ExitCode::from(1);
        }
    };
    let mode = if rate {
        ListMode::Rate
    } else if stats {
        ListMode::Stats
    } else {
        ListMode::Plain
    };
    out!("{}", render::list(&table, &info, mode));
    ExitCode::SUCCESS
}

pub fn save() -> ExitCode {
    let ipvs = match open() {
        Ok(i) => i,
        Err(c) => return c,
    };
    match ipvs.table() {
        Ok(t) => {
            out!("{}", render::save(&t));
            ExitCode::SUCCESS
        }
        Err(e) => {
            errln!("pharos: {e}");
            ExitCode::from(1)
        }
    }
}

/// Hidden: the raw attribute bytes of the kernel's replies as hex, one
/// reply per line, for the codec's test vectors.
pub fn capture() -> ExitCode {
    let ipvs = match open() {
        Ok(i) => i,
        Err(c) => return c,
    };
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let dump = |what: &str, r: &crate::ipvs::codec::Request| match ipvs.call(r) {
        Ok(Ok(replies)) => {
            for attrs in replies {
                for (t, p) in attrs {
                    outln!("{what} {t} {}", hex(&p));
                }
            }
        }
        Ok(Err(e)) => errln!("pharos: {what}: {e}"),
        Err(e) => errln!("pharos: {what}: {e}"),
    };
    dump("service", &crate::ipvs::codec::get_services());
    if let Ok(t) = ipvs.table() {
        for s in &t.services {
            dump(
                &format!("dest {}", s.spec.key),
                &crate::ipvs::codec::get_dests(&s.spec.key),
            );
        }
    }
    dump("info", &crate::ipvs::codec::get_info());
    ExitCode::SUCCESS
}
