//! Importers: an existing LVS setup, converted to pharos TOML.
//!
//! Owns the translation from other tools' files (`ipvsadm-save` rules,
//! keepalived.conf) into a config a person would have written by hand.
//! Talks to nobody: each importer is a pure function of the input text, so
//! it resolves no names and reads no kernel state. `pharos import` prints
//! the result.
//!
//! Nothing is dropped silently: whatever cannot be mapped to the pharos
//! model comes back twice, as a `# line N: ...` comment at its place in the
//! TOML and as a [`Warning`] with the input line.

mod emit;
pub mod ipvsadm;
pub mod keepalived;
mod naming;

/// The outcome of an import: a config text and what did not carry over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// The pharos config, laid out like the files in `configs/`.
    pub toml: String,
    /// One per thing not imported (or changed on the way), in line order.
    pub warnings: Vec<Warning>,
    /// Why `toml` is not to be used at all: the input is not the kind of
    /// file the importer reads, or is cut off. Line 0 is the whole file.
    /// Empty for an import that can be used, warnings or not.
    pub errors: Vec<Warning>,
}

/// Something in the input that the output does not say as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file the line is in, when it is not the one input named on the
    /// command line (keepalived: includes, and both files of a pair).
    pub file: Option<String>,
    /// 1-based line of the input (the first line of a continued line).
    pub line: usize,
    pub message: String,
}

/// Splits a line into words as `sh` would, without expansions: white space
/// separates, `'...'` is literal, `"..."` takes `\"`, `\\`, `\$` and `` \` ``,
/// and a backslash outside quotes escapes the next character. With
/// `hash_comments`, `#` at the start of a word comments out the rest (an
/// ipvsadm script line); without, it is an ordinary character (a command
/// keepalived has already read as one string). `Err` when a quote is not
/// closed. Shared by the ipvsadm and keepalived importers.
pub(crate) fn shell_words(s: &str, hash_comments: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '#' if hash_comments && !in_word => break,
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a quote (`'`) is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a quote (`\"`) is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a quote (`\"`) is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}
