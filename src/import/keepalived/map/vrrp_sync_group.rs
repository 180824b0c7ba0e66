//! `vrrp_sync_group` to the instances' `group`, with the group's notify
//! scripts and tracking. Part of the mapper (`map.rs`); reads what
//! `vrrp_instance.rs` recorded.

use super::*;

impl Mapper {
    // ------------------------------------------------------------ vrrp_sync_group

    pub(super) fn sync_group(&mut self, s: &Stmt) {
        let mut notes: Notes = Vec::new();
        let Some(name) = s.arg(0).map(str::to_string) else {
            self.bad(s, &mut notes, "", "a vrrp_sync_group needs a name");
            self.top
                .extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            return;
        };
        let mut members: Vec<String> = Vec::new();
        let mut notify: [Option<Vec<String>>; 5] = Default::default();
        let mut stack: Vec<Cow<'_, Stmt>> = s.children().iter().rev().map(Cow::Borrowed).collect();
        while let Some(c) = stack.pop() {
            match c.keyword() {
                "group" => {
                    for m in c.children() {
                        for w in &m.words {
                            if !self.instances.contains_key(w) {
                                push(
                                    &mut notes,
                                    "members",
                                    Note::new(
                                        m.loc,
                                        format!(
                                            "member `{w}` not imported: there is no imported vrrp_instance `{w}`"
                                        ),
                                    ),
                                );
                            } else if let Some(other) = self.grouped.get(w) {
                                push(
                                    &mut notes,
                                    "members",
                                    Note::new(
                                        m.loc,
                                        format!(
                                            "member `{w}` not imported: it is in sync group `{other}` already"
                                        ),
                                    ),
                                );
                            } else if !members.contains(w) {
                                members.push(w.clone());
                            }
                        }
                    }
                }
                k @ ("notify_master" | "notify_backup" | "notify_fault" | "notify_stop"
                | "notify") => {
                    let slot = notify_slot(k);
                    match command_words(&c)
                        .ok()
                        .and_then(|(w, a, _)| pharos_argv(&w, a))
                    {
                        Some((argv, why)) => {
                            if let Some(why) = why {
                                push(&mut notes, "notify", Note::new(c.loc, why));
                            }
                            if k == "notify" {
                                push(
                                    &mut notes,
                                    "notify",
                                    Note::new(
                                        c.loc,
                                        "keepalived appends `GROUP NAME STATE` to the `notify` command's arguments; pharos passes them in the environment instead (PHAROS_GROUP, PHAROS_STATE)",
                                    ),
                                );
                            }
                            notify[slot] = Some(argv);
                        }
                        None => self.bad(
                            &c,
                            &mut notes,
                            "",
                            "the command is empty or has an open quote",
                        ),
                    }
                }
                k if GROUP_KW.contains(&k) => self.unsupported(&c, &mut notes),
                _ => {
                    if let Some(fixed) = self.unknown(Cx::Group, &c, &mut notes) {
                        stack.push(Cow::Owned(fixed));
                    }
                }
            }
        }
        let anchor = format!("sync_groups.{name}");
        if members.is_empty()
            || self
                .group_sections
                .iter()
                .any(|g| g.path.get(1) == Some(&name))
        {
            let why = if members.is_empty() {
                "none of its members is an imported vrrp_instance"
            } else {
                "a sync group of that name comes before it"
            };
            let mut all = vec![Comment::Note(Note::new(
                s.loc,
                format!("vrrp_sync_group `{name}` not imported: {why}"),
            ))];
            all.extend(notes.into_iter().map(|(_, n)| Comment::Note(n)));
            self.group_sections.push(Section::loose(&anchor, all));
            self.anchors
                .push((s.loc, s.end_line(), vec!["#".into(), anchor]));
            return;
        }
        for m in &members {
            self.grouped.insert(m.clone(), name.clone());
        }
        let mut sec = Section::new(&["sync_groups", name.as_str()]);
        sec.line(
            "members",
            array(&members.iter().map(|m| string(m)).collect::<Vec<_>>()),
        );
        let pairs: Vec<(String, String)> = notify
            .iter()
            .enumerate()
            .filter_map(|(i, a)| {
                a.as_ref()
                    .map(|a| (NOTIFY_KEYS[i].to_string(), argv_value(a)))
            })
            .collect();
        for (k, v) in pairs {
            sec.line(format!("notify.{k}"), v);
        }
        sec.place(notes);
        self.anchors.push((s.loc, s.end_line(), sec.path.clone()));
        self.group_sections.push(sec);
    }
}
