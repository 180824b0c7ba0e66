//! Rows of the fault matrix made inside a director (tests/vm_faults.rs):
//! lvs1 boots the debug image ([`Setup::debug_lvs1`]), whose shell the lab
//! drives through box.sh's `sh` verb, while the client's load goes on.
//! Tampering behind pharos's back, a panic injected into a task (the fault
//! switch, absent from the production build), the wall clock stepped, and
//! the config partition read-only or full, also in the middle of a write.

use std::time::Duration;

use super::{LVS1, LVS1_SYSCTL, LVS2, Lab, RS1, RS2, Request, SLACK, VIP, say};

/// Temporary files on the config partition, counted.
const TEMPORARIES: &str = "ls -a /config /config/revisions 2>/dev/null | grep -c '\\.tmp$'";
/// Revisions kept on the config partition, counted.
const REVISIONS: &str = "ls /config/revisions 2>/dev/null | grep -c json";
/// `pharos status` lines that say NOT SAVED, counted.
const NOT_SAVED: &str = "pharos status | grep -c 'NOT SAVED'";

/// A count as the narration shows it.
fn shown(n: Option<u64>) -> String {
    n.map_or_else(|| "?".into(), |n| n.to_string())
}

/// What the real servers' weights and the VIP must be after each row.
const SERVERS: [&str; 2] = ["192.168.199.11:80", "192.168.199.12:80"];

impl Lab {
    /// VRRP transitions of director `i` from line `from` on.
    pub(super) fn transitions(&self, i: usize, from: usize) -> Vec<String> {
        self.vm(i)
            .lines()
            .iter()
            .skip(from)
            .filter_map(|(_, l)| super::vrrp_transition(l).map(|(_, text)| text))
            .collect()
    }

    /// IPVS changes lvs1 made from line `from` on.
    fn ipvs_changes(&self, from: usize) -> usize {
        self.vm(LVS1)
            .lines()
            .iter()
            .skip(from)
            .filter(|(_, l)| super::ipvs_change(l).is_some())
            .count()
    }

    /// lvs1's kernel as the config says: the VIP on eth0, one service with
    /// both real servers at weight 1 (ipvsadm's own view).
    pub(super) fn lvs1_kernel_right(&mut self) -> (bool, String) {
        let (_, table) = self.sh(LVS1, "ipvsadm -Ln");
        let (_, addrs) = self.sh(LVS1, &format!("ip -o addr show dev eth0 to {VIP}"));
        // A server line: `  -> 192.168.199.11:80  Route  1  0  0`.
        let at_weight_1 = SERVERS
            .iter()
            .filter(|rs| {
                table.iter().any(|l| {
                    l.contains(&format!("-> {rs}")) && l.split_whitespace().nth(3) == Some("1")
                })
            })
            .count();
        let services = table.iter().filter(|l| l.starts_with("TCP")).count();
        let ok = at_weight_1 == SERVERS.len() && services == 1 && addrs.len() == 1;
        (
            ok,
            format!(
                "{services} service, {at_weight_1} of 2 servers at weight 1, VIP {}",
                if addrs.len() == 1 {
                    "on eth0"
                } else {
                    "missing"
                }
            ),
        )
    }

    /// The number a counting command (`grep -c`) prints on director `i`.
    fn sh_count(&mut self, i: usize, cmd: &str) -> Option<u64> {
        let (_, out) = self.sh(i, cmd);
        out.last()?.trim().parse().ok()
    }

    /// Once lvs1 says it holds a write half way (`pharos fault save`,
    /// armed after its console line `from`), the kernel's emergency
    /// remount makes every block device's file system read-only under it.
    /// Whether the write was held, and whether /config is now read-only.
    fn read_only_under_held_write(&mut self, from: usize) -> (bool, bool) {
        let held = self.wait_text(LVS1, "held half way", Duration::from_secs(20), from);
        let ro = self.sh_count(
            LVS1,
            "echo u > /proc/sysrq-trigger; sleep 1; grep -c ' /config [a-z]* ro,' /proc/mounts",
        );
        (held.is_some(), ro == Some(1))
    }

    /// Tampering on the master behind pharos's back: `ipvsadm -C`, the VIP
    /// deleted, a sysctl pharos sets changed. Each is put back within its
    /// reconcile period, said on the console; only requests inside the
    /// fault's window fail.
    pub fn fault_tamper(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. tampering on lvs1 behind pharos's back: ipvsadm -C, ip addr del of the VIP, a sysctl"
        ));
        let began = self.now();
        let (key, value) = LVS1_SYSCTL;
        // (what, the fault, the line that says it was put back, the bound)
        let cases: [(&str, String, String, f64, &str); 3] = [
            (
                "ipvsadm -C: the table is back",
                "ipvsadm -C".into(),
                "added real server 192.168.199.12:80".into(),
                IPVS_RECONCILE + SLACK,
                "≤ the IPVS reconcile period, 2 s",
            ),
            (
                "ip addr del of the VIP: it is back",
                format!("ip addr del {VIP}/24 dev eth0"),
                "was removed behind pharos's back; put back".into(),
                1.0 + SLACK,
                "≤ 1 s (rtnetlink tells at once)",
            ),
            (
                "a sysctl changed: it is set back",
                format!("sysctl -w {key}=0"),
                format!("set {key} = {value} (was 0)"),
                NET_RECHECK + SLACK,
                "≤ the network re-check period, 30 s",
            ),
        ];
        let mut windows = Vec::new();
        for (what, cmd, line, bound, said) in cases {
            let from = self.vm(LVS1).line_count();
            let at = self.now();
            let (rc, out) = self.sh(LVS1, &cmd);
            let back = self.wait_text(LVS1, &line, Duration::from_secs(40), from);
            say(&format!(
                "   `{cmd}` (exit {rc}{}): {}",
                if out.is_empty() {
                    String::new()
                } else {
                    format!(", {}", out.join(" "))
                },
                back.map_or("never put back".into(), |t| format!(
                    "put back {:.2} s later",
                    t - at
                ))
            ));
            self.report.add(
                row,
                what,
                back.map_or("never".into(), |t| format!("{:.2} s", t - at)),
                said,
                rc == 0 && back.is_some_and(|t| t - at <= bound),
            );
            windows.push((at, back.unwrap_or(at + bound) + SLACK));
            std::thread::sleep(Duration::from_secs(2));
        }
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= began).collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let stray = failed
            .iter()
            .filter(|r| !windows.iter().any(|(a, b)| r.overlaps(*a, *b)))
            .count();
        let (ok, state) = self.lvs1_kernel_right();
        say(&format!(
            "   {} of {} requests failed, {stray} outside the faults' windows; lvs1 now: {state}",
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "failed requests around the tampering",
            format!("{} of {}, {stray} outside", failed.len(), step.len()),
            "only while a fault was in place",
            stray == 0,
        );
        self.report.add(
            row,
            "lvs1's kernel after the tampering",
            state,
            "as the config says",
            ok,
        );
    }

    /// A panic injected into each of lvs1's vrrp, check and ipvs tasks (the
    /// fault switch): each restarts with backoff, the VIP stays on lvs1
    /// (lvs2 never leaves backup), and no request fails.
    pub fn fault_task_panics(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. a panic injected into lvs1's vrrp, check and ipvs tasks (pharos fault TASK, debug build only)"
        ));
        // The check task runs on a thread of its own, holding a socket per
        // attempt: PID 1 raised its open-file limit before anything ran.
        let (_, limits) = self.sh(LVS1, "grep 'Max open files' /proc/1/limits");
        let limit = limits.join(" ");
        let raised = limit.split_whitespace().nth(3) == Some("65536");
        self.report.add(
            row,
            "lvs1's open-file limit (PID 1)",
            limit
                .split_whitespace()
                .skip(3)
                .take(2)
                .collect::<Vec<_>>()
                .join(" / "),
            "65536 / 65536",
            raised,
        );
        for task in ["vrrp", "check", "ipvs"] {
            let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
            let at = self.now();
            let (rc, _) = self.sh(LVS1, &format!("pharos fault {task}"));
            let failed = self.wait_text(
                LVS1,
                &format!("task {task} failed (panicked"),
                Duration::from_secs(15),
                from[0],
            );
            // Longer than Master_Down_Interval: had lvs2 stopped hearing
            // lvs1, it would have taken over by then.
            std::thread::sleep(Duration::from_secs_f64(self.cfg.master_down() + 2.0));
            let (_, tasks) = self.sh(LVS1, "pharos status");
            let line = tasks
                .iter()
                .find(|l| l.split_whitespace().next() == Some(task))
                .cloned()
                .unwrap_or_default();
            let running = line.split_whitespace().nth(1) == Some("running")
                && line.split_whitespace().nth(2) == Some("1");
            let lvs2_moves = self.transitions(LVS2, from[1]);
            let lvs1_moves: Vec<String> = self
                .transitions(LVS1, from[0])
                .into_iter()
                .filter(|t| !t.contains("init → master"))
                .collect();
            let (bad, all) = self.failed_since(at - 0.5);
            // A restarted check task must not take servers out and put
            // them back (it did, before it resumed the board's states).
            let weights = self.ipvs_changes(from[0]);
            say(&format!(
                "   {task}: panicked {}; status `{}`; lvs2 transitions {}, lvs1 {}; {weights} IPVS changes; {bad} of {all} requests failed",
                failed.map_or("never".into(), |t| format!(
                    "{:.2} s after the switch",
                    t - at
                )),
                line.split_whitespace().collect::<Vec<_>>().join(" "),
                lvs2_moves.len(),
                lvs1_moves.len(),
            ));
            self.report.add(
                row,
                &format!("task {task} panicked and restarted: VIP stays, requests"),
                format!(
                    "{}restarted, {} VIP moves, {weights} IPVS changes, {bad} of {all} failed",
                    if running { "" } else { "NOT " },
                    lvs2_moves.len() + lvs1_moves.len()
                ),
                "restarted once, 0 moves, 0 changes, 0 failed",
                rc == 0
                    && failed.is_some()
                    && running
                    && lvs2_moves.is_empty()
                    && lvs1_moves.is_empty()
                    && weights == 0
                    && bad == 0
                    && all > 0,
            );
        }
        let (ok, state) = self.lvs1_kernel_right();
        self.report.add(
            row,
            "lvs1's kernel after the panics",
            state,
            "as the config says",
            ok,
        );
    }

    /// The wall clock stepped an hour forward, then back: pharos's timers
    /// are monotonic, so nothing fails over, no check flaps, no request
    /// fails.
    pub fn fault_clock_steps(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. lvs1's wall clock stepped an hour forward, then an hour back"
        ));
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let at = self.now();
        let (rc1, fwd) = self.sh(LVS1, "date -u -s @$(( $(date +%s) + 3600 ))");
        std::thread::sleep(Duration::from_secs(8));
        let (rc2, back) = self.sh(LVS1, "date -u -s @$(( $(date +%s) - 3600 ))");
        std::thread::sleep(Duration::from_secs(8));
        let moves = self.transitions(LVS1, from[0]).len() + self.transitions(LVS2, from[1]).len();
        let changes = self.ipvs_changes(from[0]);
        let (bad, all) = self.failed_since(at);
        say(&format!(
            "   date -s: {} / {}; {moves} VRRP transitions, {changes} IPVS changes, {bad} of {all} requests failed",
            fwd.join(" "),
            back.join(" ")
        ));
        self.report.add(
            row,
            "clock stepped +1 h and −1 h",
            format!("{moves} transitions, {changes} weight changes, {bad} of {all} failed"),
            "0, 0, 0 (monotonic timers)",
            rc1 == 0 && rc2 == 0 && moves == 0 && changes == 0 && bad == 0 && all > 0,
        );
    }

    /// lvs1's config partition read-only, then full, then nearly full so a
    /// write fails half way: an apply is refused with what could not be
    /// saved, a reload runs but says (console and status) that the last
    /// good copy was not saved, the files on the partition stay whole, and
    /// no request fails. Writable again, the next save works and says so.
    pub fn fault_config_partition(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. lvs1's config partition read-only, then full, then full in the middle of a write"
        ));
        let began = self.now();
        let sums =
            "sha256sum /config/pharos.toml /config/last-good.toml /config/revisions/* 2>/dev/null";
        let (_, before) = self.sh(LVS1, sums);
        let lvs1_text = self.setup.director_text("lvs1");
        // A valid change: 16 KiB of comment, more than the space left in
        // the last case.
        let padding: String = (0..256)
            .map(|i| {
                format!("# padding line {i:03}: a config that does not fit in the space left\n")
            })
            .collect();
        let big = format!("{lvs1_text}\n{padding}");
        let pad_in_vm = "i=0; while [ $i -lt 256 ]; do \
             echo \"# padding line $i: a config that does not fit in the space left\"; \
             i=$((i + 1)); done >> /config/pharos.toml";
        let file = self.mgmt.dir.path().join("partition.toml");
        std::fs::write(&file, &big).unwrap();
        let file = file.to_str().unwrap().to_string();

        // Read-only, then full: apply is refused, saying why.
        let cases = [
            (
                "read-only",
                "mount -o remount,ro /config",
                "Read-only file system",
            ),
            (
                "full",
                "mount -o remount,rw /config && { dd if=/dev/zero of=/config/fill bs=4k 2>/dev/null; sync; \
                 df -k /config | awk 'NR==2 {print $4 \" KiB free\"}'; }",
                "No space left on device",
            ),
        ];
        for (what, make, why) in cases {
            let from = self.vm(LVS1).line_count();
            let (rc, out) = self.sh(LVS1, make);
            let applied = self.mgmt.remote(LVS1, &["apply", &file, "-m", what]);
            let err = String::from_utf8_lossy(&applied.stderr).to_string();
            let status = self.mgmt.remote(LVS1, &["status"]);
            let status = String::from_utf8_lossy(&status.stdout).to_string();
            let said = self.wait_text(
                LVS1,
                "could not save the new config",
                Duration::from_secs(5),
                from,
            );
            let refused = applied.status.code() == Some(1) && err.contains(why);
            let shown = status.contains("NOT SAVED:") && status.contains(why);
            say(&format!(
                "   {what} ({make}: exit {rc} {}): apply {}; status {}; console {}",
                out.join(" "),
                if refused {
                    "refused, saying so"
                } else {
                    "NOT refused as it should be"
                },
                if shown { "shows NOT SAVED" } else { "silent" },
                if said.is_some() { "says so" } else { "silent" },
            ));
            if !refused || !shown {
                say(&format!("   apply said: {err}\n   status said: {status}"));
            }
            self.report.add(
                row,
                &format!("config partition {what}: an apply"),
                format!(
                    "{}, {}",
                    if refused {
                        "refused with the reason"
                    } else {
                        "not refused"
                    },
                    if shown && said.is_some() {
                        "said in status and on the console"
                    } else {
                        "not said"
                    }
                ),
                "refused, said in status and on the console",
                refused && shown && said.is_some(),
            );
        }
        self.sh(LVS1, "rm -f /config/fill; mount -o remount,rw /config");

        // Nearly full: the config file takes the big text (pharos does not
        // write it: the admin did, before the partition filled up), then
        // all but 2 KiB is taken, and `pharos reload` runs it: saving the
        // last good copy fails half way through.
        let from = self.vm(LVS1).line_count();
        let (rc_pad, _) = self.sh(
            LVS1,
            &format!("cp /config/pharos.toml /tmp/pharos.toml && {pad_in_vm}"),
        );
        let (rc_fill, fill) = self.sh(
            LVS1,
            "free=$(df -k /config | awk 'NR==2 {print $4}'); \
             dd if=/dev/zero of=/config/fill bs=1k count=$((free - 2)) 2>/dev/null; sync; \
             df -k /config | awk 'NR==2 {print $4 \" KiB free\"}'",
        );
        let (rc_reload, reload) = self.sh(LVS1, "pharos reload");
        let said = self.wait_text(
            LVS1,
            "could not save the last good config",
            Duration::from_secs(5),
            from,
        );
        let leftovers = self.sh_count(LVS1, TEMPORARIES);
        let not_saved = self.sh_count(LVS1, NOT_SAVED).is_some_and(|n| n > 0);
        say(&format!(
            "   nearly full ({}): pharos reload exit {rc_reload} ({}); console {}; status {}; temporary files left: {}",
            fill.join(" "),
            reload.join(" "),
            if said.is_some() {
                "says the last good copy was not saved"
            } else {
                "silent"
            },
            if not_saved {
                "shows NOT SAVED"
            } else {
                "silent"
            },
            shown(leftovers)
        ));
        self.report.add(
            row,
            "partition full mid-write of last-good: reload",
            format!(
                "runs (exit {rc_reload}), {}, {} temporaries left",
                if said.is_some() && not_saved {
                    "said"
                } else {
                    "not said"
                },
                shown(leftovers)
            ),
            "runs; said on the console and in status; none left",
            rc_pad == 0
                && rc_fill == 0
                && rc_reload == 0
                && said.is_some()
                && not_saved
                && leftovers == Some(0),
        );

        // The files pharos keeps are as they were, byte for byte.
        let (_, after) = self.sh(LVS1, &sums.replace("/config/pharos.toml ", ""));
        let kept: Vec<&String> = before
            .iter()
            .filter(|l| !l.contains("pharos.toml"))
            .collect();
        let whole = kept.iter().all(|l| after.contains(l)) && !kept.is_empty();
        say(&format!(
            "   last-good and revisions after the faults: {}",
            if whole {
                "unchanged, byte for byte"
            } else {
                "CHANGED"
            }
        ));
        if !whole {
            say(&format!("   before: {before:?}\n   after: {after:?}"));
        }
        self.report.add(
            row,
            "last-good and the revisions after the faults",
            if whole { "unchanged" } else { "changed" }.into(),
            "whole, as before",
            whole,
        );

        // Space again: the next save works, and status says so.
        let from = self.vm(LVS1).line_count();
        self.sh(
            LVS1,
            "rm -f /config/fill; cp /tmp/pharos.toml /config/pharos.toml",
        );
        let (rc, _) = self.sh(LVS1, "pharos reload");
        let again = self.wait_text(
            LVS1,
            "the config partition takes writes again",
            Duration::from_secs(5),
            from,
        );
        let st = self.sh_count(LVS1, NOT_SAVED);
        let (bad, all) = self.failed_since(began);
        say(&format!(
            "   space again: reload exit {rc}, {}; {bad} of {all} requests failed during the row",
            if again.is_some() {
                "the console says writes work again"
            } else {
                "silent"
            }
        ));
        self.report.add(
            row,
            "partition writable again: the next save works, status clears",
            format!(
                "{}, {bad} of {all} requests failed",
                if again.is_some() && st == Some(0) {
                    "cleared"
                } else {
                    "not cleared"
                }
            ),
            "cleared, 0 failed",
            rc == 0 && again.is_some() && st == Some(0) && bad == 0,
        );
    }

    /// lvs1's config partition goes read-only in the middle of a write, as
    /// the kernel makes it after an I/O error: the fault switch holds the
    /// write half way (`pharos fault save`: half the bytes on disk), and
    /// the kernel's emergency remount (sysrq `u`, which forces every block
    /// device's file system read-only, files open or not) happens under
    /// it. First an apply over the management API, held in its revision's
    /// write; then `pharos reload` of an admin's edit, held in the write of
    /// the last good copy. The apply is refused with the reason; the
    /// reload runs and says what it could not save; the files pharos keeps
    /// stay whole; the held write stalls no other task (no VRRP transition,
    /// no failed request). Writable again, the next apply and reload save,
    /// the status clears, and no temporary file is left.
    pub fn fault_read_only_mid_write(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. lvs1's config partition goes read-only in the middle of a write (sysrq u under a held write)"
        ));
        let began = self.now();
        let lvs1_from = self.vm(LVS1).line_count();
        let lvs2_from = self.vm(LVS2).line_count();
        let sums =
            "sha256sum /config/pharos.toml /config/last-good.toml /config/revisions/r* 2>/dev/null";
        let (_, before) = self.sh(LVS1, sums);
        let revisions_before = self.sh_count(LVS1, REVISIONS);
        let lvs1_text = self.setup.director_text("lvs1");
        let file = self.mgmt.dir.path().join("held.toml");
        std::fs::write(
            &file,
            format!("{lvs1_text}\n# applied while the partition goes read-only\n"),
        )
        .unwrap();
        let file = file.to_str().unwrap().to_string();

        // The apply, held in its first write (a revision).
        let from = self.vm(LVS1).line_count();
        let (rc_arm, _) = self.sh(LVS1, "pharos fault save");
        let apply = self
            .mgmt
            .remote_spawn(LVS1, &["apply", &file, "-m", "read-only mid-write"]);
        let (held, ro) = self.read_only_under_held_write(from);
        let applied = apply.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&applied.stderr).to_string();
        let refused = applied.status.code() == Some(1) && err.contains("Read-only file system");
        let (_, after_apply) = self.sh(LVS1, sums);
        let whole_apply = after_apply == before && !before.is_empty();
        say(&format!(
            "   apply: write held {}, partition read-only: {}; apply {}; pharos.toml, last-good and revisions {}",
            if held { "half way" } else { "NOT" },
            ro,
            if refused {
                "refused, saying the partition is read-only"
            } else {
                "NOT refused as it should be"
            },
            if whole_apply {
                "unchanged, byte for byte"
            } else {
                "CHANGED"
            }
        ));
        if !refused || !whole_apply {
            say(&format!(
                "   apply said: {err}\n   before: {before:?}\n   after: {after_apply:?}"
            ));
        }
        self.report.add(
            row,
            "read-only mid-write of a revision: an apply",
            format!(
                "{}, files {}",
                if refused {
                    "refused with the reason"
                } else {
                    "not refused"
                },
                if whole_apply { "whole" } else { "changed" }
            ),
            "refused; the old files whole",
            rc_arm == 0 && held && ro && refused && whole_apply,
        );
        self.sh(LVS1, "mount -o remount,rw /config");

        // The reload of an admin's edit, held in the last good copy's write.
        let from = self.vm(LVS1).line_count();
        let (rc_edit, _) = self.sh(
            LVS1,
            "cp /config/pharos.toml /tmp/before-ro.toml && \
             echo '# edited by the admin' >> /config/pharos.toml && \
             pharos fault save && \
             { (pharos reload; echo \"reload exit $?\") > /tmp/reload.out 2>&1 & }",
        );
        let (held, ro) = self.read_only_under_held_write(from);
        let said = self.wait_text(
            LVS1,
            "could not save the last good config",
            Duration::from_secs(20),
            from,
        );
        std::thread::sleep(Duration::from_secs(1));
        let (_, reload) = self.sh(LVS1, "cat /tmp/reload.out");
        let st = self.sh_count(LVS1, NOT_SAVED);
        let (_, after_reload) = self.sh(LVS1, &sums.replace("/config/pharos.toml ", ""));
        let kept: Vec<&String> = before
            .iter()
            .filter(|l| !l.contains("pharos.toml"))
            .collect();
        let whole_reload = !kept.is_empty() && kept.iter().all(|l| after_reload.contains(l));
        let ran = reload.iter().any(|l| l == "reload exit 0");
        say(&format!(
            "   reload: write held {}, partition read-only: {}; {}; console {}; status {}; last-good and revisions {}",
            if held { "half way" } else { "NOT" },
            ro,
            reload.join(" "),
            if said.is_some() {
                "says the last good copy was not saved"
            } else {
                "silent"
            },
            if st == Some(1) {
                "shows NOT SAVED"
            } else {
                "silent"
            },
            if whole_reload {
                "unchanged, byte for byte"
            } else {
                "CHANGED"
            }
        ));
        self.report.add(
            row,
            "read-only mid-write of last-good: a reload",
            format!(
                "{}, {}, files {}",
                if ran { "runs" } else { "did not run" },
                if said.is_some() { "said" } else { "not said" },
                if whole_reload { "whole" } else { "changed" }
            ),
            "runs; said; the old files whole",
            rc_edit == 0 && held && ro && ran && said.is_some() && st == Some(1) && whole_reload,
        );

        // Writable again: the config as it was, applied over the API (a
        // revision: it also takes the temporaries the read-only partition
        // kept), then reloaded; status clears.
        let from = self.vm(LVS1).line_count();
        self.sh(LVS1, "mount -o remount,rw /config");
        let leftovers_ro = self.sh_count(LVS1, TEMPORARIES);
        let original = self.mgmt.dir.path().join("original.toml");
        std::fs::write(&original, &lvs1_text).unwrap();
        let again = self.mgmt.remote(
            LVS1,
            &["apply", original.to_str().unwrap(), "-m", "writable again"],
        );
        let cleared = self.wait_text(
            LVS1,
            "the config partition takes writes again",
            Duration::from_secs(10),
            from,
        );
        let st = self.sh_count(LVS1, NOT_SAVED);
        let leftovers = self.sh_count(LVS1, TEMPORARIES);
        let revisions_after = self.sh_count(LVS1, REVISIONS);
        let added = match (revisions_before, revisions_after) {
            (Some(b), Some(a)) => a as i64 - b as i64,
            _ => -1,
        };
        let moves =
            self.transitions(LVS1, lvs1_from).len() + self.transitions(LVS2, lvs2_from).len();
        let (bad, all) = self.failed_since(began);
        let (ok, state) = self.lvs1_kernel_right();
        say(&format!(
            "   writable again: apply exit {:?}, {}; temporaries {} while read-only, {} now; revisions added by the row: {added}; VRRP transitions {moves}; {bad} of {all} requests failed; lvs1 now: {state}",
            again.status.code(),
            if cleared.is_some() && st == Some(0) {
                "status clears"
            } else {
                "status NOT cleared"
            },
            shown(leftovers_ro),
            shown(leftovers),
        ));
        // The first apply of the lab stores the config before it as well.
        let expected_added = if revisions_before == Some(0) { 2 } else { 1 };
        self.report.add(
            row,
            "writable again: the next save works, nothing left over",
            format!(
                "{}, {} temporaries, {added} revision(s) added",
                if cleared.is_some() {
                    "cleared"
                } else {
                    "not cleared"
                },
                shown(leftovers)
            ),
            &format!(
                "cleared, 0 temporaries, {expected_added} revision(s): {}",
                if expected_added == 2 {
                    "the config from before the first apply, and the apply that ran"
                } else {
                    "the apply that ran"
                }
            ),
            again.status.success()
                && cleared.is_some()
                && st == Some(0)
                && leftovers == Some(0)
                && added == expected_added,
        );
        self.report.add(
            row,
            "the held writes and the read-only partition: service",
            format!("{moves} VRRP transitions, {bad} of {all} requests failed"),
            "0 transitions, 0 failed, lvs1 as the config says",
            moves == 0 && bad == 0 && ok,
        );
    }

    /// Every real server down: the sorry server stands in. As keepalived
    /// users set it, `sorry_server = "127.0.0.1:80"`: the director's own
    /// web server (here busybox httpd on lvs1, which the debug image has),
    /// applied to both directors over the management API. Both real
    /// servers' web servers stop: once the checks take the last one out,
    /// the sorry page answers; they start again, and the sorry server goes.
    pub fn fault_sorry_server(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. every real server down: the sorry server (127.0.0.1:80 on the director) answers"
        ));
        let with_sorry = |t: &str| {
            t.replace(
                "scheduler = \"rr\"",
                "scheduler = \"rr\"\nsorry_server = \"127.0.0.1:80\"       # the director's own page",
            )
        };
        let dir = self.mgmt.dir.path().to_path_buf();
        let (f1, f2) = (dir.join("sorry-lvs1.toml"), dir.join("sorry-lvs2.toml"));
        std::fs::write(&f1, with_sorry(&self.setup.director_text("lvs1"))).unwrap();
        std::fs::write(&f2, with_sorry(&self.setup.director_text("lvs2"))).unwrap();
        self.sh(
            LVS1,
            "mkdir -p /tmp/sorry && echo sorry > /tmp/sorry/index.html && httpd -p 80 -h /tmp/sorry",
        );
        let applied = [(LVS2, &f2), (LVS1, &f1)]
            .iter()
            .filter(|(i, f)| {
                self.mgmt
                    .remote(*i, &["apply", f.to_str().unwrap(), "-m", "sorry server"])
                    .status
                    .success()
            })
            .count();
        std::thread::sleep(Duration::from_secs(2));
        let from = self.vm(LVS1).line_count();
        let down = self.now();
        self.type_to(RS1, "web stop");
        self.type_to(RS2, "web stop");
        let window = self.cfg.fall_window();
        let sorry_in = self.wait_text(
            LVS1,
            "added real server 127.0.0.1:80",
            Duration::from_secs(30),
            from,
        );
        let answered = self.wait_requests(Duration::from_secs(10), |r| {
            r.iter()
                .any(|r| r.start >= down && r.answer.as_deref() == Some("sorry"))
        });
        let first_sorry = self
            .requests()
            .iter()
            .filter(|r| r.start >= down && r.answer.as_deref() == Some("sorry"))
            .map(|r| r.end)
            .fold(f64::INFINITY, f64::min);
        say(&format!(
            "   applied on {applied} of 2; both web servers stopped: sorry server in {}, the sorry page answers {}",
            sorry_in.map_or("never".into(), |t| format!("{:.2} s later", t - down)),
            if answered {
                format!("{:.2} s later", first_sorry - down)
            } else {
                "never".into()
            }
        ));
        self.report.add(
            row,
            "all real servers down: the sorry page answers",
            if answered {
                format!("{:.2} s", first_sorry - down)
            } else {
                "never".into()
            },
            &format!("≤ the checks' fall window + 1 s, {:.0} s", window + 1.0),
            applied == 2 && answered && first_sorry - down <= window + 1.0 + SLACK,
        );
        std::thread::sleep(Duration::from_secs(3));
        let from = self.vm(LVS1).line_count();
        let up = self.now();
        self.type_to(RS1, "web start");
        self.type_to(RS2, "web start");
        let gone = self.wait_text(
            LVS1,
            "removed real server 127.0.0.1:80",
            Duration::from_secs(30),
            from,
        );
        let back = self.wait_requests(Duration::from_secs(10), |r| {
            r.iter().any(|r| {
                r.start >= gone.unwrap_or(up) && matches!(r.answer.as_deref(), Some("rs1" | "rs2"))
            })
        });
        std::thread::sleep(Duration::from_secs(2));
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= down - 1.0).collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let until = sorry_in.unwrap_or(down + window).max(first_sorry) + SLACK;
        let stray = failed.iter().filter(|r| !r.overlaps(down, until)).count();
        let (ok, state) = self.lvs1_kernel_right();
        say(&format!(
            "   web servers started: sorry server out {}; {} of {} requests failed, {stray} after the sorry page took over; lvs1 now: {state}",
            gone.map_or("never".into(), |t| format!("{:.2} s later", t - up)),
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "real servers back: the sorry server goes",
            gone.map_or("never".into(), |t| format!("{:.2} s", t - up)),
            "within the checks' rise window",
            gone.is_some() && back,
        );
        self.report.add(
            row,
            "failed requests while every real server was down",
            format!("{} of {}, {stray} outside", failed.len(), step.len()),
            "only before the sorry server stood in",
            stray == 0,
        );
        self.report.add(
            row,
            "lvs1's kernel after the real servers came back",
            state,
            "as the config says",
            ok,
        );
    }
}

/// The IPVS task's reconcile period (src/ipvs/task.rs `RECONCILE`).
const IPVS_RECONCILE: f64 = 2.0;
/// The network task's re-check period (src/net/task.rs `RECHECK`).
const NET_RECHECK: f64 = 30.0;
