//! Rules of `[logging] remote`: a TLS collector has the CA to check it by
//! and a name its certificate can carry, the TLS settings are not given to
//! a collector that cannot use them, and no collector is listed twice (it
//! would get every line twice), with or without its default port.
//!
//! Talks to: `ctx` (reporting) only.

use super::ctx::Ctx;
use crate::config::model::{Config, SyslogTransport};
use crate::path;

pub(super) fn remote(cfg: &Config, ctx: &mut Ctx<'_>) {
    for (i, r) in cfg.logging.remote.iter().enumerate() {
        let p = path!["logging", "remote"].i(i);
        if ctx.is_broken(&p) {
            continue;
        }
        let tls = r.transport == SyslogTransport::Tls;
        if tls && r.ca_file.is_none() {
            ctx.error(
                &p,
                format!("the TLS syslog collector {} has no `ca_file`", r.address),
                "add `ca_file = \"/config/syslog-ca.pem\"`, the PEM file of the CA that signed the collector's certificate",
            );
        }
        for (key, set) in [
            ("ca_file", r.ca_file.is_some()),
            ("server_name", r.server_name.is_some()),
        ] {
            if set && !tls {
                ctx.error(
                    &p.k(key),
                    format!(
                        "`{key}` is for a TLS collector, and {} is sent {}",
                        r.address,
                        r.transport.as_str()
                    ),
                    format!("add `transport = \"tls\"`, or remove `{key}`"),
                );
            }
        }
        if let Some(name) = &r.server_name
            && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            ctx.error(
                &p.k("server_name"),
                format!("`{name}` is not a name a TLS certificate can carry"),
                "write the DNS name or IP address in the collector's certificate, like `syslog.example.net`",
            );
        }
        // With the transport's port when none is given (514, or 6514 for
        // tls): "10.0.0.5" and "10.0.0.5:514" are one UDP collector.
        let port = |x: &crate::config::model::RemoteLog| {
            x.address.port.unwrap_or(match x.transport {
                SyslogTransport::Tls => 6514,
                _ => 514,
            })
        };
        if cfg.logging.remote[..i].iter().any(|o| {
            o.address.ip == r.address.ip && port(o) == port(r) && o.transport == r.transport
        }) {
            ctx.error(
                &p.k("address"),
                format!(
                    "the syslog collector {} ({}) is listed twice",
                    r.address,
                    r.transport.as_str()
                ),
                "list each collector once: it would get every line twice",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::one_error_each;

    #[test]
    fn each_logging_rule_reports_its_own_error() {
        one_error_each(&[
            (
                "[logging]\nremote = [{ address = \"10.0.0.5\", transport = \"tls\" }]\n",
                "has no `ca_file`",
            ),
            (
                "[logging]\nremote = [{ address = \"10.0.0.5\", ca_file = \"/ca.pem\" }]\n",
                "`ca_file` is for a TLS collector",
            ),
            (
                "[logging]\nremote = [{ address = \"10.0.0.5\" }, { address = \"10.0.0.5:514\" }]\n",
                "listed twice",
            ),
            (
                "[logging]\nremote = [{ address = \"10.0.0.5\", transport = \"tls\", ca_file = \"/ca.pem\", server_name = \"not a name\" }]\n",
                "not a name a TLS certificate can carry",
            ),
            (
                "[logging]\nremote = [{ address = \"syslog.example:514\" }]\n",
                "syslog.example",
            ),
            (
                "[logging]\nremote = [{ address = \"10.0.0.5\", transport = \"relp\" }]\n",
                "relp",
            ),
        ]);
    }

    #[test]
    fn a_remote_error_points_at_its_line_and_column() {
        let text = "[logging]\nlevel = \"info\"\nremote = [\n  { address = \"10.0.0.5:514\" },\n  { address = \"10.0.0.6\", transport = \"tls\" },\n]\n";
        let c = crate::config::check_text(text, &crate::config::Selection::All);
        let e = c
            .diagnostics
            .iter()
            .find(|d| d.is_error())
            .expect("an error");
        let src = crate::diag::Source::new("pharos.toml", text);
        let json = serde_json::to_value(crate::diag::to_json(&src, &c.diagnostics)).unwrap();
        assert!(e.message.contains("has no `ca_file`"), "{}", e.message);
        assert_eq!(json[0]["line"], 5, "{json}");
        assert_eq!(json[0]["column"], 3, "{json}");
    }
}
