//! Rules of health checks, stand-alone (`[checks]`) or on a service or real
//! server: keys that apply to the check's type, non-zero timings and counts,
//! digests, HTTP paths, TLS verification, DNS queries, exec commands, and
//! where a probe connects.
//!
//! Talks to: `ctx` (reporting), `command` (exec argv lists). Used by
//! `services`.

use super::command::argv_check;
use super::ctx::Ctx;
use crate::config::model::{Check, CheckType, TlsVerify};
use crate::config::tree::Path;

/// tcp and udp have no well-known port to fall back on (http, https and
/// dns default to 80, 443 and 53; see `Check::default_port`).
pub(super) fn needs_port(t: CheckType) -> bool {
    matches!(t, CheckType::Tcp | CheckType::Udp)
}

/// A key that only some check types take.
struct SpecificKey {
    name: &'static str,
    /// Whether a check has it set. From the typed value, not the tree: a
    /// tree lookup per key per check would make big files quadratic.
    set: fn(&Check) -> bool,
    types: &'static [CheckType],
}

const PROBES: &[CheckType] = &[
    CheckType::Tcp,
    CheckType::Http,
    CheckType::Https,
    CheckType::Udp,
    CheckType::Dns,
];
const HTTP: &[CheckType] = &[CheckType::Http, CheckType::Https];
const HTTPS: &[CheckType] = &[CheckType::Https];
const UDP: &[CheckType] = &[CheckType::Udp];
const DNS: &[CheckType] = &[CheckType::Dns];
const EXEC: &[CheckType] = &[CheckType::Exec];

/// Every type-specific check key, once: what is allowed where and what is
/// set both come from here.
const SPECIFIC_KEYS: &[SpecificKey] = &[
    SpecificKey {
        name: "port",
        set: |c| c.port.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "address",
        set: |c| c.address.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "bind_to",
        set: |c| c.bind_to.is_some(),
        types: PROBES,
    },
    SpecificKey {
        name: "path",
        set: |c| c.path.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "host",
        set: |c| c.host.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "status",
        set: |c| c.status.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "md5",
        set: |c| c.md5.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "sha256",
        set: |c| c.sha256.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "body_contains",
        set: |c| c.body_contains.is_some(),
        types: HTTP,
    },
    SpecificKey {
        name: "verify",
        set: |c| c.verify.is_some(),
        types: HTTPS,
    },
    SpecificKey {
        name: "ca_file",
        set: |c| c.ca_file.is_some(),
        types: HTTPS,
    },
    SpecificKey {
        name: "payload",
        set: |c| c.payload.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "expect",
        set: |c| c.expect.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "expect_reply",
        set: |c| c.expect_reply.is_some(),
        types: UDP,
    },
    SpecificKey {
        name: "query_name",
        set: |c| c.query_name.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "query_type",
        set: |c| c.query_type.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "rcode",
        set: |c| c.rcode.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "answer",
        set: |c| c.answer.is_some(),
        types: DNS,
    },
    SpecificKey {
        name: "command",
        set: |c| c.command.is_some(),
        types: EXEC,
    },
];

/// `p` makes the check's path, for a problem to report: a config of
/// 100,000 real servers with a check each would make as many paths only
/// to drop them.
pub(super) fn check(c: &Check, p: &dyn Fn() -> Path, standalone: bool, ctx: &mut Ctx<'_>) {
    if ctx.any_broken() && ctx.is_broken(&p()) {
        return;
    }
    for key in SPECIFIC_KEYS {
        if (key.set)(c) && !key.types.contains(&c.kind) {
            let (name, takers): (&str, Vec<&str>) =
                (key.name, key.types.iter().map(|t| t.name()).collect());
            ctx.error_key(
                &p().k(name),
                format!("`{name}` does not apply to a `{}` check", c.kind.name()),
                format!(
                    "`{name}` is for {} checks; drop it or change `type`",
                    crate::config::suggest::list(&takers)
                ),
            );
        }
    }
    for (key, d) in [("interval", c.interval), ("timeout", c.timeout())] {
        if d.is_zero() {
            ctx.error(
                &p().k(key),
                format!("a check `{key}` of 0s"),
                "give it a length, like `5s`",
            );
        }
    }
    for (key, n) in [("rise", c.rise), ("fall", c.fall)] {
        if n == 0 {
            ctx.error(
                &p().k(key),
                format!("`{key} = 0` can never be reached"),
                format!("`{key}` counts results in a row: use 1 or more"),
            );
        }
    }
    for (key, len) in [("md5", 32), ("sha256", 64)] {
        let v = if key == "md5" { &c.md5 } else { &c.sha256 };
        if let Some(h) = v
            && (h.len() != len || !h.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            ctx.error(
                &p().k(key),
                format!("`{key}` is not {len} hex digits"),
                format!(
                    "write the body's {key} digest in hex, as `{}sum` prints it",
                    key
                ),
            );
        }
    }
    if c.md5.is_some() && c.sha256.is_some() {
        ctx.error_key(
            &p().k("sha256"),
            "both `md5` and `sha256` are set",
            "keep one digest",
        );
    }
    if let Some(path) = &c.path
        && !path.starts_with('/')
    {
        ctx.error(
            &p().k("path"),
            format!("HTTP path `{path}` does not start with `/`"),
            format!("write `/{path}`"),
        );
    }
    match c.kind {
        CheckType::Https => match (c.verify, &c.ca_file) {
            (Some(TlsVerify::Ca), None) => ctx.error(
                &p().k("verify"),
                "`verify = \"ca\"` needs a `ca_file`",
                "add `ca_file = \"/path/to/ca.pem\"`",
            ),
            (v, Some(_)) if v != Some(TlsVerify::Ca) => ctx.error(
                &p().k("ca_file"),
                "`ca_file` is only read with `verify = \"ca\"`",
                "add `verify = \"ca\"`, or drop `ca_file`",
            ),
            _ => {}
        },
        CheckType::Dns if c.query_name.is_none() => {
            ctx.error_key(
                &p(),
                "a dns check needs a `query_name`",
                "add `query_name = \"example.com\"`",
            );
        }
        CheckType::Exec => match &c.command {
            None => ctx.error_key(
                &p(),
                "an exec check needs a `command`",
                "add `command = [\"/usr/local/bin/check\", \"arg\"]`",
            ),
            Some(argv) => argv_check(argv, &p().k("command"), ctx),
        },
        _ => {}
    }
    if standalone && c.address.is_none() && !matches!(c.kind, CheckType::Exec | CheckType::None) {
        ctx.error_key(
            &p(),
            format!("a stand-alone `{}` check needs an `address`", c.kind.name()),
            "there is no real server to probe: add `address = \"127.0.0.1\"` (and `port`)",
        );
    }
    if standalone && c.port.is_none() && needs_port(c.kind) {
        ctx.error_key(
            &p(),
            format!("a stand-alone `{}` check needs a `port`", c.kind.name()),
            "add `port = 80`",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::one_error_each;

    /// Each snippet yields exactly one error, whose message contains the text.
    #[test]
    fn each_check_rule_reports_its_own_error() {
        one_error_each(&[
            (
                "[checks.c]\ntype = \"tcp\"\nport = 80\n",
                "needs an `address`",
            ),
            ("[checks.c]\ntype = \"exec\"\n", "needs a `command`"),
            (
                "[checks.c]\ntype = \"dns\"\naddress = \"127.0.0.1\"\n",
                "needs a `query_name`",
            ),
            (
                "[checks.c]\ntype = \"https\"\naddress = \"127.0.0.1\"\nverify = \"ca\"\n",
                "needs a `ca_file`",
            ),
            (
                "[checks.c]\ntype = \"http\"\naddress = \"127.0.0.1\"\nmd5 = \"abc\"\n",
                "not 32 hex digits",
            ),
            (
                "[checks.c]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\nfall = 0\n",
                "`fall = 0` can never be reached",
            ),
        ]);
    }
}
