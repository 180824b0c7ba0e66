//! `vrrp_script` to `[checks.NAME]`: the command as an argv, its
//! interval, timeout, rise and fall, and the weight instances track it by.
//! Part of the mapper (`map.rs`).

use super::*;

impl Mapper {
    // ------------------------------------------------------------ vrrp_script

    pub(super) fn vrrp_script(&mut self, s: &Stmt) {
        let mut notes = Vec::new();
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.bad(s, &mut notes, "", "a vrrp_script needs a name");
            self.top
                .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            return;
        };
        let mut sec =
            Section::new(&["checks", name.as_str()]).with_comment("keepalived's vrrp_script");
        let mut cmd: Option<Vec<String>> = None;
        let mut interval = None;
        let mut timeout = None;
        let mut weight = 0i64;
        let mut rise = None;
        let mut fall = None;
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "script" => match command_words(&c) {
                    Ok((written, argv, _)) => match pharos_argv(&written, argv) {
                        Some((argv, why)) => {
                            if let Some(why) = why {
                                push(&mut notes, "command", Note::new(c.loc, why));
                            }
                            cmd = Some(argv);
                        }
                        None => self.bad(&c, &mut notes, "", "the script is empty"),
                    },
                    Err(e) => self.bad(&c, &mut notes, "", e),
                },
                "interval" => {
                    if let Some(d) = self.parsed(&c, &mut notes, "interval", nonzero_secs, SECONDS)
                    {
                        interval = Some(d);
                    }
                }
                "timeout" => {
                    if let Some(d) = self.parsed(&c, &mut notes, "timeout", nonzero_secs, SECONDS) {
                        timeout = Some(d);
                    }
                }
                "weight" => {
                    let why = "a weight is -254 to 254";
                    if let Some(w) = self.parsed(&c, &mut notes, "", |w| int(w, -254, 254), why) {
                        weight = w;
                    }
                    if c.arg(1) == Some("reverse") {
                        push(
                            &mut notes,
                            "",
                            Note::new(
                                c.loc,
                                format!(
                                    "`reverse` not imported: {}",
                                    unsupported_reason("reverse")
                                ),
                            ),
                        );
                    }
                }
                "rise" => {
                    if let Some(v) = self.parsed(&c, &mut notes, "rise", count, COUNT) {
                        rise = Some(v);
                    }
                }
                "fall" => {
                    if let Some(v) = self.parsed(&c, &mut notes, "fall", count, COUNT) {
                        fall = Some(v);
                    }
                }
                "init_fail" => push(
                    &mut notes,
                    "",
                    Note::new(
                        c.loc,
                        "`init_fail` not imported: pharos takes a check as down until it first passes",
                    ),
                ),
                k if SCRIPT_KW.contains(&k) => self.unsupported(&c, &mut notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Script, &c, &mut notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        let why = if self.scripts.contains_key(&name) {
            Some("a vrrp_script of that name comes before it")
        } else if cmd.is_none() {
            Some("it has no `script`")
        } else {
            None
        };
        let (Some(argv), None) = (cmd, why) else {
            let mut all = vec![Comment::Note(Note::new(
                s.loc,
                format!("vrrp_script `{name}` not imported: {}", why.unwrap_or("")),
            ))];
            all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            self.check_sections
                .push(Section::loose(&format!("checks.{name}"), all));
            self.anchors.push((
                s.loc,
                s.end_line(),
                vec!["#".into(), format!("checks.{name}")],
            ));
            return;
        };
        sec.line("type", string("exec"));
        sec.line_c("command", argv_value(&argv), "exit 0 = pass; no shell");
        match interval {
            Some(d) => sec.line("interval", dur(d)),
            None => sec.line_c(
                "interval",
                dur(Duration::from_secs(1)),
                "keepalived's default",
            ),
        }
        if let Some(t) = timeout {
            sec.line("timeout", dur(t));
        }
        sec.line_c("retries", "0", "rise/fall do the counting");
        if let Some(r) = rise {
            sec.line("rise", r.to_string());
        }
        if let Some(f) = fall {
            sec.line("fall", f.to_string());
        }
        if weight != 0 {
            sec.tail.push(Comment::Text(format!(
                "`weight {weight}` goes to each instance that tracks it"
            )));
        }
        sec.place(notes);
        self.anchors.push((s.loc, s.end_line(), sec.path.clone()));
        self.check_sections.push(sec);
        self.scripts.insert(name, ScriptInfo { weight });
    }
}
