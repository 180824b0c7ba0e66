//! Tests of what crosses rule families: the metrics rule run by `validate`
//! itself, warnings from several families in one config, and defaults.

use super::testing::one_error_each;
use crate::config::{Selection, check_text};

/// Each snippet yields exactly one error, whose message contains the text.
#[test]
fn each_metrics_rule_reports_its_own_error() {
    one_error_each(&[("[metrics]\nlisten = \"127.0.0.1\"\n", "needs a port")]);
}

#[test]
fn undeclared_interfaces_and_useless_settings_are_warnings() {
    let text = "[vrrp.V]\ninterface = \"eth9\"\nvrid = 1\nvirtual_addresses = [\"10.0.0.1\"]\npreempt = false\npreempt_delay = \"5s\"\n";
    let c = check_text(text, &Selection::All);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let w: Vec<&str> = c.diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert_eq!(
        w,
        vec![
            "interface `eth9` is not declared under `[interfaces]`",
            "`preempt_delay` has no effect with `preempt = false`"
        ]
    );
    let text = "[interfaces.eth0]\n[routes.r]\nto = \"10.0.0.0/8\"\ndev = \"eth1\"\n[realserver.dr]\nvips = [\"10.0.0.1\"]\narp_interfaces = [\"eht0\"]\n";
    let c = check_text(text, &Selection::All);
    let w: Vec<(&str, Option<&str>)> = c
        .diagnostics
        .iter()
        .map(|d| (d.message.as_str(), d.help.as_deref()))
        .collect();
    assert_eq!(w.len(), 2, "{w:?}");
    assert_eq!(
        w[1],
        (
            "interface `eht0` is not declared under `[interfaces]`",
            Some("did you mean `eth0`? Otherwise it must exist on the box when pharos starts")
        )
    );
}

#[test]
fn defaults_hold_when_tables_are_left_out() {
    let c = check_text(
        "[checks.c]\ntype = \"exec\"\ncommand = [\"/bin/true\"]\ninterval = \"1s\"\n[vrrp.V]\ninterface = \"lo\"\nvrid = 1\nvirtual_addresses = [\"10.0.0.1\"]\n",
        &Selection::All,
    );
    let cfg = &c.configs[0].1;
    assert_eq!(
        cfg.vrrp["V"].notify.timeout,
        crate::config::types::Duration::from_secs(10)
    );
    assert_eq!(
        cfg.checks["c"].timeout(),
        crate::config::types::Duration::from_secs(1)
    );
    assert_eq!(cfg.vrrp["V"].garp.count, 5);
}
