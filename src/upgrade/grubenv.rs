//! GRUB's environment block: the 1024-byte file (`grubenv`) that GRUB's
//! `load_env` and `save_env` read and write at boot, and `grub-editenv`
//! from Linux. The box sets `pharos_slot` (the slot to boot) and
//! `pharos_try` (a slot to boot once, or empty); grub.cfg reads them.
//!
//! ```text
//!   # GRUB Environment Block\n      the signature (GRUB_ENVBLK_SIGNATURE)
//!   name=value\n                    one line per variable
//!   ...
//!   ######...#                      '#' up to byte 1024 (GRUB_ENVBLK_DEFCFG)
//! ```
//!
//! Read and written as `grub-core/lib/envblk.c` does: a value's `\` and
//! newline are written with a `\` before them (`grub_envblk_set`), a `\`
//! makes the byte after it part of the value whatever it is, and a line
//! starting with `#` is skipped up to its unescaped newline
//! (`grub_envblk_iterate`, `find_next_line`). Where GRUB's reader merely
//! stops at something broken (a line without `=`, a value with no newline
//! to end it), [`parse`] refuses it: a block GRUB reads only in part is one
//! the box must not trust.

/// The length of the block: `GRUB_ENVBLK_DEFCFG`'s size in
/// `include/grub/lib/envblk.h`, what `grub-editenv create` writes.
pub const BLOCK_LEN: usize = 1024;
/// `GRUB_ENVBLK_SIGNATURE` (`include/grub/lib/envblk.h`).
pub const SIGNATURE: &[u8] = b"# GRUB Environment Block\n";

/// The variables of an environment block, in the block's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GrubEnv {
    vars: Vec<(String, String)>,
}

impl GrubEnv {
    /// An empty block (what `grub-editenv FILE create` writes).
    pub fn new() -> Self {
        Self::default()
    }

    /// The variables as the block lists them.
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }

    /// A variable's value. If the block names it twice, the last wins, as
    /// with GRUB's `load_env` (it sets each in turn).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a variable: in its place if the block has it (any later
    /// duplicates go), at the end if not.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.vars.iter().position(|(n, _)| n == name) {
            Some(at) => {
                self.vars[at].1 = value.to_string();
                let mut seen = 0;
                self.vars.retain(|(n, _)| {
                    if n != name {
                        return true;
                    }
                    seen += 1;
                    seen == 1
                });
            }
            None => self.vars.push((name.to_string(), value.to_string())),
        }
    }

    /// Removes a variable (every line of it).
    pub fn unset(&mut self, name: &str) {
        self.vars.retain(|(n, _)| n != name);
    }

    /// The block: the signature, a line per variable, `#` to the end.
    /// Refuses a name GRUB could not read back, a value with a NUL (GRUB's
    /// strings end there), or variables that do not fit in 1024 bytes.
    pub fn encode(&self) -> Result<[u8; BLOCK_LEN], String> {
        let mut out = Vec::with_capacity(BLOCK_LEN);
        out.extend_from_slice(SIGNATURE);
        for (name, value) in &self.vars {
            check_name(name.as_bytes())?;
            if value.contains('\0') {
                return Err(format!(
                    "the value of {name} has a NUL byte: GRUB would cut it there"
                ));
            }
            out.extend_from_slice(name.as_bytes());
            out.push(b'=');
            // grub_envblk_set: a backslash before '\' and newline.
            for &b in value.as_bytes() {
                if b == b'\\' || b == b'\n' {
                    out.push(b'\\');
                }
                out.push(b);
            }
            out.push(b'\n');
        }
        if out.len() > BLOCK_LEN {
            return Err(format!(
                "the variables take {} bytes, a GRUB environment block holds {}: \
                 set fewer or shorter ones",
                out.len() - SIGNATURE.len(),
                BLOCK_LEN - SIGNATURE.len()
            ));
        }
        let mut block = [b'#'; BLOCK_LEN];
        block[..out.len()].copy_from_slice(&out);
        Ok(block)
    }
}

/// A name GRUB writes and reads back as the same name.
fn check_name(name: &[u8]) -> Result<(), String> {
    let shown = String::from_utf8_lossy(name);
    if name.is_empty() {
        return Err("a variable with an empty name".to_string());
    }
    if name[0] == b'#' {
        return Err(format!(
            "the variable name {shown:?} starts with '#': GRUB would skip its line as a comment"
        ));
    }
    if let Some(&b) = name
        .iter()
        .find(|&&b| matches!(b, b'=' | b'\n' | b'\\' | b'\0'))
    {
        return Err(format!(
            "the variable name {shown:?} has a {:?}: GRUB would not read it back as written",
            char::from(b)
        ));
    }
    Ok(())
}

/// Reads a block as GRUB does (see the module's doc). It must be exactly
/// 1024 bytes and start with the signature.
pub fn parse(block: &[u8]) -> Result<GrubEnv, String> {
    if block.len() != BLOCK_LEN {
        return Err(format!(
            "a GRUB environment block is {BLOCK_LEN} bytes, this is {}: \
             not a grubenv file, or damaged; make one with `grub-editenv FILE create`",
            block.len()
        ));
    }
    if !block.starts_with(SIGNATURE) {
        return Err(
            "no \"# GRUB Environment Block\" line at the start: not a grubenv file, or damaged; \
             make one with `grub-editenv FILE create`"
                .to_string(),
        );
    }
    let end = block.len();
    let mut env = GrubEnv::new();
    let mut p = SIGNATURE.len();
    while p < end {
        if block[p] == b'#' {
            p = next_line(block, p);
            continue;
        }
        let name_start = p;
        while p < end && block[p] != b'=' && block[p] != b'\n' {
            p += 1;
        }
        if p == end || block[p] != b'=' {
            return Err(format!(
                "byte {name_start}: a line with no '=' in the GRUB environment block; \
                 GRUB stops reading there (recreate it with `grub-editenv FILE create`)"
            ));
        }
        let name = &block[name_start..p];
        check_name(name)?;
        p += 1;
        let mut value = Vec::new();
        loop {
            match block.get(p) {
                None => {
                    return Err(format!(
                        "byte {name_start}: the value of {} runs to the end of the block \
                         with no newline; GRUB drops it (the block is damaged)",
                        String::from_utf8_lossy(name)
                    ));
                }
                Some(b'\n') => break,
                // grub_envblk_iterate: the byte after '\' is taken as is.
                Some(b'\\') if p + 1 < end => {
                    value.push(block[p + 1]);
                    p += 2;
                }
                Some(b'\\') => p += 1,
                Some(&b) => {
                    value.push(b);
                    p += 1;
                }
            }
        }
        p += 1;
        if value.contains(&0) {
            return Err(format!(
                "the value of {} has a NUL byte: GRUB would cut it there",
                String::from_utf8_lossy(name)
            ));
        }
        let (Ok(name), Ok(value)) = (String::from_utf8(name.to_vec()), String::from_utf8(value))
        else {
            return Err(format!(
                "byte {name_start}: a variable that is not UTF-8 in the GRUB environment block"
            ));
        };
        env.vars.push((name, value));
    }
    Ok(env)
}

/// The start of the next line: past the next newline that no `\` escapes
/// (`find_next_line` in grub-core/lib/envblk.c).
fn next_line(block: &[u8], mut p: usize) -> usize {
    while p < block.len() {
        match block[p] {
            b'\\' => p += 2,
            b'\n' => break,
            _ => p += 1,
        }
    }
    p + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as grub-editenv lays it out: the signature, the lines, '#'.
    fn block(lines: &[u8]) -> Vec<u8> {
        let mut b = SIGNATURE.to_vec();
        b.extend_from_slice(lines);
        b.resize(BLOCK_LEN, b'#');
        b
    }

    fn vars(env: &GrubEnv) -> Vec<(&str, &str)> {
        env.vars()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn an_empty_block_is_the_signature_and_hashes() {
        let empty = GrubEnv::new().encode().unwrap();
        assert_eq!(empty.to_vec(), block(b""));
        assert!(parse(&empty).unwrap().vars().is_empty());
    }

    #[test]
    fn the_slot_variables_round_trip_in_grub_editenvs_layout() {
        let mut env = GrubEnv::new();
        env.set("pharos_slot", "B");
        env.set("pharos_try", "A");
        let encoded = env.encode().unwrap();
        assert_eq!(encoded.to_vec(), block(b"pharos_slot=B\npharos_try=A\n"));
        let back = parse(&encoded).unwrap();
        assert_eq!(back, env);
        assert_eq!(back.get("pharos_slot"), Some("B"));
        assert_eq!(back.get("pharos_try"), Some("A"));
        assert_eq!(back.get("pharos"), None);
    }

    #[test]
    fn an_empty_value_is_a_variable_set_to_nothing() {
        let mut env = GrubEnv::new();
        env.set("pharos_try", "");
        let encoded = env.encode().unwrap();
        assert_eq!(encoded.to_vec(), block(b"pharos_try=\n"));
        assert_eq!(parse(&encoded).unwrap().get("pharos_try"), Some(""));
    }

    #[test]
    fn backslashes_and_newlines_are_escaped_as_grub_does() {
        let mut env = GrubEnv::new();
        env.set("v", "a\\b\nc");
        let encoded = env.encode().unwrap();
        assert_eq!(encoded.to_vec(), block(b"v=a\\\\b\\\nc\n"));
        assert_eq!(parse(&encoded).unwrap().get("v"), Some("a\\b\nc"));
        // Any other escaped byte reads as itself (grub_envblk_iterate).
        let read = parse(&block(b"v=\\x\\#y\n")).unwrap();
        assert_eq!(read.get("v"), Some("x#y"));
    }

    #[test]
    fn comment_lines_are_skipped_as_grub_skips_them() {
        let b = block(b"# a note \\\n still the note\na=1\n#\nb=2\n");
        let env = parse(&b).unwrap();
        assert_eq!(vars(&env), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn set_replaces_in_place_and_unset_removes() {
        let mut env = parse(&block(b"a=1\nb=2\na=3\n")).unwrap();
        // A duplicate: the last wins, as load_env would leave it.
        assert_eq!(env.get("a"), Some("3"));
        env.set("a", "9");
        assert_eq!(vars(&env), [("a", "9"), ("b", "2")]);
        env.set("c", "4");
        env.unset("b");
        assert_eq!(vars(&env), [("a", "9"), ("c", "4")]);
        env.unset("nothing");
        assert_eq!(env.vars().len(), 2);
    }

    #[test]
    fn a_block_of_the_wrong_size_or_without_the_signature_is_refused() {
        let good = block(b"a=1\n");
        let err = parse(&good[..1023]).unwrap_err();
        assert!(err.contains("1023"), "{err}");
        let mut longer = good.clone();
        longer.push(b'#');
        assert!(parse(&longer).is_err());
        let mut unsigned = good.clone();
        unsigned[2] = b'g';
        let err = parse(&unsigned).unwrap_err();
        assert!(err.contains("GRUB Environment Block"), "{err}");
        assert!(parse(&[0; BLOCK_LEN]).is_err());
    }

    #[test]
    fn lines_grub_would_stop_at_are_refused() {
        for (what, lines) in [
            ("no '='", &b"a=1\njunk\nb=2\n"[..]),
            ("zeros", b"a=1\n\0\0\0"),
            ("empty name", b"=1\n"),
            ("NUL in the value", b"a=1\0\n"),
            ("not UTF-8", b"a=\xff\n"),
            ("backslash in the name", b"a\\b=1\n"),
        ] {
            assert!(parse(&block(lines)).is_err(), "{what}");
        }
        // A value that the end of the block cuts: no '#' after it.
        let mut cut = SIGNATURE.to_vec();
        cut.extend_from_slice(b"a=");
        cut.resize(BLOCK_LEN, b'x');
        let err = parse(&cut).unwrap_err();
        assert!(err.contains("no newline"), "{err}");
        let mut escaped_end = cut.clone();
        escaped_end[BLOCK_LEN - 1] = b'\\';
        assert!(parse(&escaped_end).is_err());
    }

    #[test]
    fn names_grub_could_not_read_back_are_not_encoded() {
        for name in ["", "#a", "a=b", "a\nb", "a\\b", "a\0"] {
            let mut env = GrubEnv::new();
            env.set(name, "1");
            assert!(env.encode().is_err(), "{name:?}");
        }
        let mut env = GrubEnv::new();
        env.set("a", "x\0y");
        assert!(env.encode().is_err());
    }

    #[test]
    fn the_block_holds_999_bytes_of_variables_and_no_more() {
        let room = BLOCK_LEN - SIGNATURE.len();
        let mut env = GrubEnv::new();
        // "v=" + value + "\n" fills it exactly: no '#' is left.
        env.set("v", &"x".repeat(room - 3));
        let full = env.encode().unwrap();
        assert_eq!(full[BLOCK_LEN - 1], b'\n');
        assert_eq!(parse(&full).unwrap(), env);
        env.set("v", &"x".repeat(room - 2));
        let err = env.encode().unwrap_err();
        assert!(err.contains("1000 bytes") && err.contains("999"), "{err}");
        // Escapes count: 500 backslashes are 1000 bytes written.
        env.set("v", &"\\".repeat(499));
        assert!(env.encode().is_err());
    }
}
