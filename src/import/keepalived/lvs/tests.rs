use super::read::hex_text;
use super::service::netmask_prefix;
use super::*;

#[test]
fn netmasks_become_prefix_lengths() {
    assert_eq!(netmask_prefix("255.255.255.0", Family::Ipv4), Some(24));
    assert_eq!(netmask_prefix("255.0.255.0", Family::Ipv4), None);
    assert_eq!(netmask_prefix("64", Family::Ipv6), Some(64));
    assert_eq!(netmask_prefix("129", Family::Ipv6), None);
}

#[test]
fn group_ranges_expand() {
    let s = |raw: &str| Stmt {
        loc: Loc { file: 0, line: 1 },
        words: super::super::parse::split_words(raw),
        raw: raw.into(),
        block: None,
    };
    assert_eq!(group_entry(&s("10.0.0.1-3 80")).unwrap().len(), 3);
    assert_eq!(group_entry(&s("2001:db8::a-c 80")).unwrap().len(), 3);
    assert_eq!(group_entry(&s("fwmark 7")).unwrap(), vec![SvcKey::Mark(7)]);
    assert!(group_entry(&s("10.0.0.9-3 80")).is_err());
    assert!(group_entry(&s("2001:db8::0-ffff 80")).is_err());
}

#[test]
fn hex_payloads_are_read_as_text_when_they_are() {
    assert_eq!(hex_text("68656c6c6f").as_deref(), Some("hello"));
    assert_eq!(hex_text("00ff"), None);
    assert_eq!(hex_text("abc"), None);
}
