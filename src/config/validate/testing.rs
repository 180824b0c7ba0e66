//! Helpers for the rule files' unit tests: the snippet every VRRP case
//! starts from, and the check that a snippet yields exactly one error.
//!
//! Talks to: `config::check_text` (the whole pipeline, as users run it).

use crate::config::{Selection, check_text};

pub(super) const VRRP: &str = "[interfaces.eth0]\n[vrrp.V]\ninterface = \"eth0\"\nvrid = 1\n";

/// Each snippet yields exactly one error, whose message contains the text.
pub(super) fn one_error_each(cases: &[(&str, &str)]) {
    for (text, want) in cases {
        let c = check_text(text, &Selection::All);
        let errors: Vec<&str> = c
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.message.as_str())
            .collect();
        assert_eq!(errors.len(), 1, "{text}\n=> {errors:?}");
        assert!(
            errors[0].contains(want),
            "{text}\n=> {errors:?}, wanted {want:?}"
        );
    }
}
