//! The order ipvsadm prints services and destinations in: its libipvs.c
//! comparators, wrapping int arithmetic and all, run by glibc's merge sort.
//!
//! Talks to: `ipvs::model`. Used by `list` and `save`.

use std::net::IpAddr;

use crate::ipvs::model::{DestLive, DestSpec, ServiceKey, ServiceLive, Table};

// Without --nosort, ipvsadm qsort()s the services with ipvs_cmp_services()
// and each service's destinations with ipvs_cmp_dests() (libipvs.c). Both
// compare by subtracting unsigned values into an int, so differences of 2^31
// or more wrap (10.0.0.1 sorts after 192.168.0.1). That is not a total
// order, so the result depends on the sort algorithm and on the input (the
// kernel's dump order): we run glibc's qsort, a top-down merge sort, with
// the same comparisons.

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

/// The fields of ipvs_service_entry / ipvs_dest_entry the comparators read.
/// `words` are the address in host order (IPv4 in the first).
#[derive(Clone, Copy)]
struct SortKey {
    fwmark: u32,
    af: u16,
    protocol: u16,
    words: [u32; 4],
    port: u16,
}

fn addr_words(addr: IpAddr) -> (u16, [u32; 4]) {
    match addr {
        IpAddr::V4(a) => (AF_INET, [u32::from(a), 0, 0, 0]),
        IpAddr::V6(a) => {
            let o = a.octets();
            let w = |i: usize| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]]);
            (AF_INET6, [w(0), w(4), w(8), w(12)])
        }
    }
}

fn service_sort_key(key: &ServiceKey) -> SortKey {
    match *key {
        ServiceKey::Addr { proto, addr, port } => {
            let (af, words) = addr_words(addr);
            SortKey {
                fwmark: 0,
                af,
                protocol: proto.number(),
                words,
                port,
            }
        }
        // The kernel sends no protocol, address or port with a fwmark.
        ServiceKey::Fwmark { mark, v6 } => SortKey {
            fwmark: mark,
            af: if v6 { AF_INET6 } else { AF_INET },
            protocol: 0,
            words: [0; 4],
            port: 0,
        },
    }
}

fn dest_sort_key(d: &DestSpec) -> SortKey {
    let (af, words) = addr_words(d.addr);
    SortKey {
        fwmark: 0,
        af,
        protocol: 0,
        words,
        port: d.port,
    }
}

/// The address part shared by both comparators; the family is the left
/// operand's, as in the C.
fn cmp_addr(a: &SortKey, b: &SortKey) -> i32 {
    if a.af == AF_INET6 {
        for i in 0..4 {
            let r = a.words[i].wrapping_sub(b.words[i]) as i32;
            if r != 0 {
                return r;
            }
        }
        0
    } else {
        a.words[0].wrapping_sub(b.words[0]) as i32
    }
}

/// ipvs_cmp_services(): fwmark, family, protocol, address, port.
fn cmp_services(a: &SortKey, b: &SortKey) -> i32 {
    let r = a.fwmark.wrapping_sub(b.fwmark) as i32;
    if r != 0 {
        return r;
    }
    let r = i32::from(a.af) - i32::from(b.af);
    if r != 0 {
        return r;
    }
    let r = i32::from(a.protocol) - i32::from(b.protocol);
    if r != 0 {
        return r;
    }
    let r = cmp_addr(a, b);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// ipvs_cmp_dests(): address, port.
fn cmp_dests(a: &SortKey, b: &SortKey) -> i32 {
    let r = cmp_addr(a, b);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc msort_with_tmp(): split at n/2, sort both halves, merge taking the
/// left element while cmp(left, right) <= 0.
fn glibc_msort<T: Copy>(v: &mut [(SortKey, T)], cmp: fn(&SortKey, &SortKey) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_msort(&mut v[..n1], cmp);
    glibc_msort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(&v[i].0, &v[j].0) <= 0 {
            merged.push(v[i]);
            i += 1;
        } else {
            merged.push(v[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    merged.extend_from_slice(&v[j..]);
    v.copy_from_slice(&merged);
}

/// The services in the order ipvsadm prints them.
pub(super) fn sorted_services(table: &Table) -> Vec<&ServiceLive> {
    let mut v: Vec<_> = table
        .services
        .iter()
        .map(|s| (service_sort_key(&s.spec.key), s))
        .collect();
    glibc_msort(&mut v, cmp_services);
    v.into_iter().map(|(_, s)| s).collect()
}

/// A service's destinations in the order ipvsadm prints them.
pub(super) fn sorted_dests(svc: &ServiceLive) -> Vec<&DestLive> {
    let mut v: Vec<_> = svc
        .dests
        .iter()
        .map(|d| (dest_sort_key(&d.spec), d))
        .collect();
    glibc_msort(&mut v, cmp_dests);
    v.into_iter().map(|(_, d)| d).collect()
}
