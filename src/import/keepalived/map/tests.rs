use super::vrrp_instance::advert;
use super::*;

#[test]
fn seconds_read_as_keepalived_reads_them() {
    assert_eq!(secs("6"), Some(Duration::from_secs(6)));
    assert_eq!(secs("0.5"), Some(Duration::from_millis(500)));
    assert_eq!(secs("1.25"), Some(Duration::from_millis(1250)));
    assert_eq!(secs("2."), Some(Duration::from_secs(2)));
    assert_eq!(secs("0.0005"), Some(Duration::from_millis(1)));
    for bad in ["", "-1", "1e3", "a", ".", "1.2.3", "99999999999999999999"] {
        assert_eq!(secs(bad), None, "{bad}");
    }
}

#[test]
fn the_cheap_bound_never_hides_a_suggestion() {
    let words = [
        "no_premmpt",
        "treck_interface",
        "virtual_route_id",
        "authenication",
        "lvs_sync_daemon_inteface",
        "vrrp_sripts",
        "Priority",
        "lb-algo",
        "weigth",
        "x",
        "zzzz",
        "statee",
        "tcp_check",
        "vrrpinstance",
    ];
    for cx in [Cx::Root, Cx::Global, Cx::Instance, Cx::Vs, Cx::Rs, Cx::Http] {
        let known = known(cx);
        for w in words {
            let all = suggest::closest(w, known.iter().copied());
            let near = suggest::closest(w, known.iter().copied().filter(|k| may_be_close(w, k)));
            assert_eq!(all, near, "{w} in {cx:?}");
        }
    }
}

#[test]
fn advert_intervals_fit_the_version() {
    assert_eq!(
        advert(Duration::from_millis(500), 2).0,
        Duration::from_secs(1)
    );
    assert!(advert(Duration::from_millis(500), 2).1.is_some());
    assert_eq!(
        advert(Duration::from_millis(500), 3),
        (Duration::from_millis(500), None)
    );
    assert_eq!(
        advert(Duration::from_secs(1), 2),
        (Duration::from_secs(1), None)
    );
}

#[test]
fn commands_split_and_get_an_absolute_program() {
    let s = |raw: &str| Stmt {
        loc: Loc { file: 0, line: 1 },
        words: parse::split_words(raw),
        raw: raw.into(),
        block: None,
    };
    let (w, argv, extra) = command_words(&s("notify_master \"/x/n.sh master\" root")).unwrap();
    assert_eq!(
        (w.as_str(), argv.len(), extra),
        ("/x/n.sh master", 2, vec!["root".to_string()])
    );
    let (w, argv, _) = command_words(&s("script killall -0 haproxy")).unwrap();
    let (argv, why) = pharos_argv(&w, argv).unwrap();
    assert_eq!(argv, ["/usr/bin/env", "killall", "-0", "haproxy"]);
    assert!(why.unwrap().contains("PATH"));
    let (w, argv, _) = command_words(&s("script \"curl -s x | grep ok\"")).unwrap();
    let (argv, _) = pharos_argv(&w, argv).unwrap();
    assert_eq!(argv, ["/bin/sh", "-c", "curl -s x | grep ok"]);
}
