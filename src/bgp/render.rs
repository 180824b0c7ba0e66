//! BIRD's config for a [`Speaker`] (sans IO: the passwords are read by
//! the task and passed in). Each VIP is a `static` protocol of its own, so
//! a VIP going down or up is an `enable`/`disable` over the control
//! socket, never a reconfiguration. Each is rendered `disabled` unless the
//! task announces it now: BIRD 2.0.12 restarts a protocol whose
//! configured `disabled` differs from its state at a `configure` (a
//! protocol enabled over the socket and rendered `disabled` went down at
//! every reload, measured), so the file always says what is announced.
//!
//! BIRD 2 user's guide: "Protocols" (static, bgp, bfd), "Filters" (the
//! route attributes bgp_med, bgp_community, bgp_large_community,
//! bgp_path).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;

use super::desired::{Speaker, Vip};
use crate::config::types::Community;

/// The whole config file, with the VIPs in `announced` (those mapped to
/// `true`) enabled. An error says which neighbour's password BIRD could
/// not hold.
pub fn render(
    s: &Speaker,
    passwords: &BTreeMap<String, String>,
    announced: &BTreeMap<IpAddr, bool>,
) -> Result<String, String> {
    let mut out = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(
        out,
        "# BIRD's config, written by pharos from its [bgp] on every start and\n\
         # reload: change pharos's config, not this file.\n\
         router id {};\n\
         log stderr all;\n\
         # A VIP's MED rides on its static route in this attribute: BIRD sends\n\
         # an eBGP neighbour only a MED set by the export filter, which copies it.\n\
         attribute int pharos_med;\n\
         # The interfaces, so that a directly connected neighbour is reachable.\n\
         protocol device {{}}\n",
        s.router_id
    );
    if s.neighbors.values().any(|n| n.bfd) {
        let _ = writeln!(out, "protocol bfd {{}}\n");
    }
    for (ip, vip) in &s.vips {
        let up = announced.get(ip).copied().unwrap_or(false);
        render_vip(&mut out, *ip, vip, s.local_as, up);
    }
    for (name, n) in &s.neighbors {
        let _ = writeln!(out, "protocol bgp {} {{", neighbor_protocol(name));
        let _ = writeln!(out, "  local as {};", s.local_as);
        let _ = writeln!(out, "  neighbor {} as {};", n.address, n.remote_as);
        if n.bfd {
            let _ = writeln!(out, "  bfd on;");
        }
        if let Some(p) = passwords.get(name) {
            // BIRD's strings have no escapes: a quote or a line break
            // would end the string (or the file) early.
            if p.is_empty() || p.contains(['"', '\n', '\r', '\0']) {
                return Err(format!(
                    "the password of BGP neighbour `{name}` is empty or holds a double quote or a \
                     line break, which BIRD's config cannot hold; choose another password"
                ));
            }
            let _ = writeln!(out, "  password \"{p}\";");
        }
        let family = if n.address.is_ipv6() { "ipv6" } else { "ipv4" };
        // Only the VIPs' routes leave; nothing learnt is taken in (the
        // director routes by its own config, not by what it hears).
        let _ = writeln!(
            out,
            "  {family} {{\n    import none;\n    export filter {{\n      if source != RTS_STATIC then reject;\n      if defined(pharos_med) then bgp_med = pharos_med;\n      accept;\n    }};\n    next hop self;\n  }};\n}}\n"
        );
    }
    Ok(out)
}

/// BIRD's name for a neighbour's `bgp` protocol.
pub fn neighbor_protocol(name: &str) -> String {
    let mut p = String::from("peer_");
    p.extend(
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
    );
    p
}

fn render_vip(out: &mut String, ip: IpAddr, vip: &Vip, local_as: u32, up: bool) {
    let (family, len) = match ip {
        IpAddr::V4(_) => ("ipv4", 32),
        IpAddr::V6(_) => ("ipv6", 128),
    };
    let _ = writeln!(out, "protocol static {} {{", Vip::protocol(&ip));
    let _ = writeln!(
        out,
        "  disabled {};\n  {family};",
        if up { "no" } else { "yes" }
    );
    let _ = write!(out, "  route {ip}/{len} blackhole");
    let mut attrs = String::new();
    if let Some(m) = vip.med {
        let _ = write!(attrs, " pharos_med = {m};");
    }
    for c in &vip.communities {
        let _ = match c {
            Community::Standard(a, v) => write!(attrs, " bgp_community.add(({a},{v}));"),
            Community::Large(a, b, c) => write!(attrs, " bgp_large_community.add(({a},{b},{c}));"),
        };
    }
    for _ in 0..vip.prepend {
        let _ = write!(attrs, " bgp_path.prepend({local_as});");
    }
    if !attrs.is_empty() {
        let _ = write!(out, " {{{attrs} }}");
    }
    let _ = writeln!(out, ";\n}}\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bgp::desired::BgpPart;

    fn speaker(text: &str) -> Speaker {
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let (_, cfg) = c.configs.first().expect("valid");
        BgpPart::of(cfg).0.expect("a [bgp]")
    }

    const TEXT: &str = r#"
[bgp]
local_as = 65001
router_id = "10.0.0.11"
[bgp.neighbors.up-1]
address = "10.0.0.1"
as = 65000
bfd = true
[bgp.neighbors.six]
address = "2001:db8::ff"
as = 65000
[services.web]
address = "10.99.0.1:80"
forwarding = "dr"
announce = { med = 10, communities = ["65000:80", "1:2:3"], prepend = 2 }
[services.web.real_servers]
"10.1.0.2:80" = {}
[services.tls]
address = "10.99.0.1:443"
forwarding = "dr"
announce = { med = 10, communities = ["65000:80", "1:2:3"], prepend = 2 }
[services.tls.real_servers]
"10.1.0.2:443" = {}
[services.v6]
address = "[2001:db8::1]:80"
forwarding = "dr"
announce = {}
[services.v6.real_servers]
"[2001:db8:1::2]:80" = {}
"#;

    #[test]
    fn each_vip_is_a_static_protocol_with_its_attributes_enabled_while_announced() {
        let s = speaker(TEXT);
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let text = render(&s, &BTreeMap::new(), &BTreeMap::from([(v6, true)])).unwrap();
        assert!(text.contains(
            "protocol static vip_10_99_0_1 {\n  disabled yes;\n  ipv4;\n  route 10.99.0.1/32 blackhole { pharos_med = 10; bgp_community.add((65000,80)); bgp_large_community.add((1,2,3)); bgp_path.prepend(65001); bgp_path.prepend(65001); };\n}"
        ), "{text}");
        assert!(text.contains(
            "protocol static vip6_2001_db8__1 {\n  disabled no;\n  ipv6;\n  route 2001:db8::1/128 blackhole;\n}"
        ), "{text}");
        // One VIP, two services: one protocol, up only while both are.
        let vip = &s.vips[&"10.99.0.1".parse::<IpAddr>().unwrap()];
        assert_eq!(vip.services, ["tls", "web"]);
        let q = |tls, web| BTreeMap::from([("tls".to_string(), tls), ("web".to_string(), web)]);
        assert!(vip.wanted(&q(true, true)));
        assert!(!vip.wanted(&q(true, false)));
        assert!(!vip.wanted(&BTreeMap::new()));
    }

    #[test]
    fn each_neighbour_is_a_session_of_its_family_exporting_only_the_vips() {
        let s = speaker(TEXT);
        let text = render(
            &s,
            &BTreeMap::from([("up-1".into(), "s3cret!".into())]),
            &BTreeMap::new(),
        )
        .unwrap();
        assert!(text.contains("protocol bfd {}"), "{text}");
        assert!(text.contains(
            "protocol bgp peer_up_1 {\n  local as 65001;\n  neighbor 10.0.0.1 as 65000;\n  bfd on;\n  password \"s3cret!\";\n  ipv4 {\n    import none;\n    export filter {\n      if source != RTS_STATIC then reject;\n      if defined(pharos_med) then bgp_med = pharos_med;\n      accept;\n    };\n    next hop self;\n  };\n}"
        ), "{text}");
        assert!(text.contains("protocol bgp peer_six {\n  local as 65001;\n  neighbor 2001:db8::ff as 65000;\n  ipv6 {"), "{text}");
    }

    #[test]
    fn a_password_bird_cannot_hold_is_refused_by_name() {
        let s = speaker(TEXT);
        for bad in ["a\"b", "a\nb", ""] {
            let e = render(
                &s,
                &BTreeMap::from([("up-1".into(), bad.into())]),
                &BTreeMap::new(),
            )
            .unwrap_err();
            assert!(e.contains("`up-1`"), "{e}");
        }
    }
}
