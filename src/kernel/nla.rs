//! Netlink attributes (struct nlattr) as bytes: building nested payloads
//! neli has no types for (link info, IPVS) and walking the ones it returns;
//! and neli's errors as sentences. Sans-IO.

/// NLA_F_NESTED: set on attributes that hold attributes.
pub const NESTED: u16 = 0x8000;

/// One attribute: length, type, payload, padded to 4 bytes.
pub fn nla(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(payload.len() + 7);
    put_nla(&mut b, ty, payload);
    b
}

/// [`nla`] appended to `out` (which must end 4-byte aligned).
pub fn put_nla(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = u16::try_from(4 + payload.len()).expect("small attribute");
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len().next_multiple_of(4), 0);
}

/// Netlink attributes in `b` as (type, payload), nested flag masked off.
pub fn nlas(mut b: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([b[0], b[1]]));
        let ty = u16::from_ne_bytes([b[2], b[3]]) & 0x3fff;
        if len < 4 || len > b.len() {
            break;
        }
        out.push((ty, &b[4..len]));
        // The last attribute's padding may be missing.
        b = b.get((len + 3) & !3..).unwrap_or_default();
    }
    out
}

/// A neli router error as a sentence. neli's own text of a kernel refusal
/// is a debug dump of the request (`Nlmsgerr { error: -2, ... }`); this is
/// the errno's description instead.
pub fn router_error<T, P>(e: &neli::err::RouterError<T, P>) -> String
where
    T: std::fmt::Debug,
    P: std::fmt::Debug,
{
    match e {
        neli::err::RouterError::Nlmsgerr(m) => refusal(-*m.error()),
        neli::err::RouterError::BadSeqOrPid(_) => {
            "a netlink reply came that answers no request of ours".into()
        }
        other => other.to_string(),
    }
}

/// The errno (positive) of a kernel refusal, as a sentence.
pub fn refusal(errno: i32) -> String {
    format!(
        "the kernel refused: {} (errno {errno})",
        nix::errno::Errno::from_raw(errno).desc()
    )
}

/// The errno (positive) of a router error that is a kernel refusal.
pub fn refused_errno<T, P>(e: &neli::err::RouterError<T, P>) -> Option<i32> {
    match e {
        neli::err::RouterError::Nlmsgerr(m) => Some(-*m.error()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_round_trip_with_padding_and_nesting() {
        let mut b = nla(1, b"bond\0");
        b.extend(nla(2 | NESTED, &nla(3, &200u32.to_ne_bytes())));
        let got = nlas(&b);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], (1, &b"bond\0"[..]));
        assert_eq!(got[1].0, 2);
        assert_eq!(nlas(got[1].1), vec![(3, &200u32.to_ne_bytes()[..])]);
        // Truncated input ends the walk instead of panicking.
        assert_eq!(nlas(&b[..3]), vec![]);
        assert_eq!(nlas(&b[..10]).len(), 1, "the first one is whole");
    }
}
