//! Rows of the fault matrix on the pair lab (tests/vm_faults.rs), under the
//! client's load: each records the outage against its bound, that failed
//! requests lie only inside the fault's window, and the state after
//! recovery.

use std::time::Duration;

use super::{BOOT_TIMEOUT, LVS1, LVS2, Lab, REQUEST_TIMEOUT, RS1, Request, SLACK, say};

impl Lab {
    /// The master's power cut (QMP quit) and its return, as the pair
    /// test's steps 3 and 5: lvs2 takes over within the protocol's time,
    /// lvs1 boots and takes the VIP back; then lvs1's kernel is as the
    /// config says.
    pub fn fault_master_power_cut(&mut self, row: u8) {
        self.step3_power_cut(row);
        self.step5_return(row);
        let (ok, state) = self.lvs1_kernel_right();
        say(&format!("   lvs1 after its return: {state}"));
        self.report.add(
            row,
            "lvs1's kernel after its return",
            state,
            "as the config says",
            ok,
        );
    }

    /// The master's LAN link goes down (QMP `set_link`, a pulled cable) and
    /// comes back: lvs2 takes over within the protocol's time; once the
    /// link is back and lvs1's checks pass again, lvs1 takes the VIP back.
    pub fn fault_link_down(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. lvs1's LAN link is pulled (QMP set_link lan off), then put back"
        ));
        let lvs2_from = self.vm(LVS2).line_count();
        let lvs1_from = self.vm(LVS1).line_count();
        let down = self.now();
        self.vm(LVS1).set_link("lan", false);
        let mdi = self.cfg.master_down();
        let took = self.wait_state(LVS2, "master", Duration::from_secs(20), lvs2_from);
        let faulted = self.wait_state(LVS1, "fault", Duration::from_secs(10), lvs1_from);
        let resumed = self.wait_requests(Duration::from_secs(20), |r| {
            r.iter()
                .any(|r| r.answer.is_some() && r.start >= down + 0.5)
        });
        let reqs = self.requests();
        let first_after = reqs
            .iter()
            .filter(|r| r.answer.is_some() && r.start >= down)
            .map(|r| r.end)
            .fold(f64::INFINITY, f64::min);
        let bound = mdi + self.cfg.advert;
        say(&format!(
            "   lvs1 in fault {}, lvs2 master {}; service back {:.2} s after the pull",
            faulted.map_or("never".into(), |t| format!("{:+.2} s", t - down)),
            took.map_or("never".into(), |t| format!("{:+.2} s", t - down)),
            first_after - down
        ));
        self.report.add(
            row,
            "service back after the link pull",
            format!("{:.2} s", first_after - down),
            &format!("≤ Master_Down_Interval + 1 s = {bound:.2} s"),
            resumed && took.is_some() && first_after - down <= bound,
        );
        std::thread::sleep(Duration::from_secs(3));
        let up = self.now();
        let lvs1_from = self.vm(LVS1).line_count();
        let lvs2_from = self.vm(LVS2).line_count();
        self.vm(LVS1).set_link("lan", true);
        let back = self.wait_state(LVS1, "master", Duration::from_secs(40), lvs1_from);
        let yielded = self.wait_state(LVS2, "backup", Duration::from_secs(20), lvs2_from);
        say(&format!(
            "   link back: lvs1 master {}, lvs2 backup {}",
            back.map_or("never".into(), |t| format!("{:.1} s later", t - up)),
            yielded.map_or("never".into(), |t| format!("{:.1} s later", t - up)),
        ));
        self.report.add(
            row,
            "lvs1 master again, lvs2 backup: the VIP on one node",
            format!(
                "{} / {}",
                back.map_or("never".into(), |t| format!("{:.1} s", t - up)),
                yielded.map_or("never".into(), |t| format!("{:.1} s", t - up))
            ),
            "both, within 40 s (lvs1's checks pass first)",
            back.is_some() && yielded.is_some(),
        );
        std::thread::sleep(Duration::from_secs(3));
        let end = self.now();
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= down - 1.0).collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        // Allowed: in flight while lvs2 took over, or while lvs1 took back.
        let moves = [
            (down, first_after),
            (
                back.unwrap_or(end).min(yielded.unwrap_or(end)) - super::SLACK,
                back.unwrap_or(end).max(yielded.unwrap_or(end)) + super::SLACK,
            ),
        ];
        let stray = failed
            .iter()
            .filter(|r| !moves.iter().any(|(a, b)| r.overlaps(*a, *b)))
            .count();
        say(&format!(
            "   {} of {} requests failed, {stray} outside the two moves of the VIP",
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "failed requests around the link pull",
            format!("{} of {}, {stray} outside", failed.len(), step.len()),
            "only requests in flight while the VIP moved",
            stray == 0,
        );
    }

    /// The dedicated VRRP link between the directors ([`super::Setup::vrrp_link`])
    /// is cut while the clients still reach both: each stops hearing the
    /// other, and lvs2 becomes master too (split brain). Healed: lvs2
    /// hears lvs1's higher priority and yields within one advert; lvs1 was
    /// master all along, and holds the VIP alone.
    pub fn fault_split_brain(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. the dedicated VRRP link between the directors is cut, then healed"
        ));
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let cut = self.now();
        // The wire, not the NIC: both keep their carrier (Vm::boot_director).
        self.vm(LVS1).set_link("vrrp-wire", false);
        let split = self.wait_state(LVS2, "master", Duration::from_secs(20), from[1]);
        say(&format!(
            "   link cut: lvs2 master too {} (split brain: both hold the VIP)",
            split.map_or("never".into(), |t| format!("{:.2} s later", t - cut))
        ));
        self.report.add(
            row,
            "VRRP link cut: lvs2 master too (split brain)",
            split.map_or("never".into(), |t| format!("{:.2} s", t - cut)),
            &format!(
                "≤ Master_Down_Interval + 1 s = {:.2} s",
                self.cfg.master_down() + 1.0
            ),
            split.is_some_and(|t| t - cut <= self.cfg.master_down() + 1.0 + SLACK),
        );
        std::thread::sleep(Duration::from_secs(4));
        let heal_from = self.vm(LVS2).line_count();
        let healed = self.now();
        self.vm(LVS1).set_link("vrrp-wire", true);
        let yielded = self.wait_state(LVS2, "backup", Duration::from_secs(20), heal_from);
        std::thread::sleep(Duration::from_secs(3));
        let lvs1_moves = self
            .vm(LVS1)
            .lines()
            .iter()
            .skip(from[0])
            .filter(|(_, l)| super::vrrp_transition(l).is_some())
            .count();
        let lvs2_after = self
            .vm(LVS2)
            .lines()
            .iter()
            .skip(heal_from)
            .filter_map(|(_, l)| super::vrrp_transition(l).map(|(s, _)| s))
            .collect::<Vec<_>>();
        say(&format!(
            "   link healed: lvs2 backup {}; lvs1 transitions all along: {lvs1_moves}; lvs2 since: {lvs2_after:?}",
            yielded.map_or("never".into(), |t| format!("{:.2} s later", t - healed)),
        ));
        self.report.add(
            row,
            "healed: one master within one advert",
            yielded.map_or("never".into(), |t| format!("{:.2} s", t - healed)),
            &format!("≤ one advert interval, {:.0} s", self.cfg.advert),
            yielded.is_some_and(|t| t - healed <= self.cfg.advert + SLACK),
        );
        self.report.add(
            row,
            "after healing: the VIP on lvs1 alone",
            format!("lvs1 {lvs1_moves} transitions, lvs2 {lvs2_after:?}"),
            "lvs1 master throughout, lvs2 backup",
            lvs1_moves == 0 && lvs2_after == ["backup"],
        );
        let end = yielded.unwrap_or(healed) + SLACK + REQUEST_TIMEOUT;
        let reqs = self.requests();
        let step: Vec<&Request> = reqs.iter().filter(|r| r.start >= cut - 1.0).collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let stray = failed.iter().filter(|r| !r.overlaps(cut, end)).count();
        say(&format!(
            "   {} of {} requests failed, {stray} outside the split",
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "failed requests around the split brain",
            format!("{} of {}, {stray} outside", failed.len(), step.len()),
            "only while split",
            stray == 0,
        );
    }

    /// How many directors print a line containing `text` within 15 s,
    /// lvs1 from its console line `from[0]` on, lvs2 from `from[1]`.
    fn directors_saying(&self, text: &str, from: [usize; 2]) -> usize {
        [LVS1, LVS2]
            .into_iter()
            .zip(from)
            .filter(|&(i, f)| {
                self.wait_text(i, text, Duration::from_secs(15), f)
                    .is_some()
            })
            .count()
    }

    /// Reloads under load, over the management API: an invalid config is
    /// refused by both directors with no change to their kernels; a valid
    /// one that adds a service leaves the running one alone (no request
    /// fails), and so does the one that takes it away again.
    pub fn fault_reloads(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. reloads under load: an invalid config, then one that adds a service, then back"
        ));
        // Each director's own config (as the lab set it up), changed.
        let dir = self.mgmt.dir.path().to_path_buf();
        let files = |name: &str| {
            let text = self.setup.director_text(name);
            let bad = text.replace("vrid = 51", "vrid = 300");
            let added = text.replace(
                "[metrics]",
                "[services.api]\naddress = \"192.168.199.100:8080\"\nvrrp = \"VI_1\"\nforwarding = \"dr\"\n\n\
                 [services.api.real_servers]\n\"192.168.199.11:8080\" = {}\n\n[metrics]",
            );
            let (b, a) = (
                dir.join(format!("bad-{name}.toml")),
                dir.join(format!("added-{name}.toml")),
            );
            std::fs::write(&b, &bad).unwrap();
            std::fs::write(&a, &added).unwrap();
            (
                b.to_str().unwrap().to_string(),
                a.to_str().unwrap().to_string(),
            )
        };
        let files = [files("lvs1"), files("lvs2")];
        let began = self.now();
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let mut refused = 0;
        for i in [LVS2, LVS1] {
            let out = self.mgmt.remote(i, &["apply", &files[i].0]);
            refused += usize::from(
                out.status.code() == Some(1)
                    && String::from_utf8_lossy(&out.stderr).contains("VRID 300"),
            );
        }
        std::thread::sleep(Duration::from_secs(3));
        let changes: usize = [LVS1, LVS2]
            .iter()
            .zip(from)
            .map(|(&i, f)| {
                self.vm(i)
                    .lines()
                    .iter()
                    .skip(f)
                    .filter(|(_, l)| super::ipvs_change(l).is_some() || l.contains("kind=net"))
                    .count()
            })
            .sum();
        say(&format!(
            "   the invalid config: refused by {refused} of 2 directors, {changes} kernel changes"
        ));
        self.report.add(
            row,
            "an invalid reload under load",
            format!("refused by {refused} of 2, {changes} kernel changes"),
            "refused by both, 0 changes",
            refused == 2 && changes == 0,
        );
        let mut applied = 0;
        for i in [LVS2, LVS1] {
            let out = self.mgmt.remote(i, &["apply", &files[i].1, "-m", "api"]);
            applied += usize::from(out.status.success());
        }
        let seen = self.directors_saying("added service TCP 192.168.199.100:8080", [0, 0]);
        std::thread::sleep(Duration::from_secs(2));
        let (failed, all) = self.failed_since(began);
        say(&format!(
            "   the new service: applied on {applied} of 2, in {seen} IPVS tables; {failed} of {all} requests to the running one failed"
        ));
        self.report.add(
            row,
            "a reload that adds a service, under load",
            format!("in {seen} of 2 tables, {failed} failed requests"),
            "both, 0 failed",
            applied == 2 && seen == 2 && failed == 0 && all > 0,
        );
        // And back to each director's own config, so the rows after this
        // one find the pair as the lab set it up.
        let from = [self.vm(LVS1).line_count(), self.vm(LVS2).line_count()];
        let back = self.now();
        let mut restored = 0;
        for i in [LVS2, LVS1] {
            let text = self.setup.director_text(self.nodes[i].spec.name);
            let file = dir.join(format!("own-{}.toml", self.nodes[i].spec.name));
            std::fs::write(&file, text).unwrap();
            let out = self
                .mgmt
                .remote(i, &["apply", file.to_str().unwrap(), "-m", "back"]);
            restored += usize::from(out.status.success());
        }
        let gone = self.directors_saying("removed service TCP 192.168.199.100:8080", from);
        std::thread::sleep(Duration::from_secs(2));
        let (failed, all) = self.failed_since(back);
        say(&format!(
            "   back to the lab's configs: applied on {restored} of 2, the service gone from {gone} tables; {failed} of {all} requests failed"
        ));
        self.report.add(
            row,
            "a reload that removes that service, under load",
            format!("gone from {gone} of 2 tables, {failed} failed requests"),
            "both, 0 failed",
            restored == 2 && gone == 2 && failed == 0 && all > 0,
        );
    }

    /// A real server loses power (QMP `quit`): no RST, no FIN, its
    /// connections just stop. The checks time out and take it out within
    /// their fall window; only requests sent to it before that fail. It
    /// boots again and comes back in.
    pub fn fault_rs_power_cut(&mut self, row: u8) {
        say(&format!(
            "\n== {row}. rs1 loses power (QMP quit: no RST, the timeout path), then boots again"
        ));
        let from = self.vm(LVS1).line_count();
        let cut_at = self.vm_mut(RS1).power_cut();
        let cut = self.t(cut_at);
        let window = self.cfg.fall_window();
        let out = self.wait_weight(LVS1, "192.168.199.11:80", 0, Duration::from_secs(30), from);
        say(&format!(
            "   lvs1 set rs1's weight to 0 {}",
            out.map_or("never".into(), |t| format!(
                "{:.2} s after the cut",
                t - cut
            ))
        ));
        self.report.add(
            row,
            "rs1 out of rotation after its power cut",
            out.map_or("never".into(), |t| format!("{:.2} s", t - cut)),
            &format!("≤ the checks' fall window, {window:.0} s"),
            out.is_some_and(|t| t - cut <= window + SLACK),
        );
        std::thread::sleep(Duration::from_secs(3));
        let reqs = self.requests();
        let step: Vec<&Request> = reqs
            .iter()
            .filter(|r| r.start >= cut - REQUEST_TIMEOUT)
            .collect();
        let failed: Vec<&&Request> = step.iter().filter(|r| r.answer.is_none()).collect();
        let until = out.unwrap_or(cut + window) + SLACK;
        let stray = failed.iter().filter(|r| !r.overlaps(cut, until)).count();
        say(&format!(
            "   {} of {} requests failed, {stray} after rs1 was out",
            failed.len(),
            step.len()
        ));
        self.report.add(
            row,
            "failed requests while rs1 went out",
            format!(
                "{} of {}, {stray} after it was out",
                failed.len(),
                step.len()
            ),
            "only requests sent to it before it was out",
            stray == 0,
        );
        let booted = self.now();
        let from = self.vm(LVS1).line_count();
        self.start(RS1);
        self.vm(RS1).wait_for("LAB READY", BOOT_TIMEOUT);
        let back = self.wait_weight(LVS1, "192.168.199.11:80", 1, Duration::from_secs(60), from);
        say(&format!(
            "   rs1 booted again; back in rotation {}",
            back.map_or("never".into(), |t| format!(
                "{:.1} s after power-on",
                t - booted
            ))
        ));
        self.report.add(
            row,
            "rs1 back in rotation after it boots",
            back.map_or("never".into(), |t| format!("{:.1} s", t - booted)),
            "within 60 s of power-on",
            back.is_some(),
        );
    }
}
