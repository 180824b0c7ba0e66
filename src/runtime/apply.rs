//! Changing the running config through the admin verbs (`apply`,
//! `confirm`, `rollback`, a trial's deadline), done by the runtime loop one
//! at a time: the text is validated on the box first (invalid: refused with
//! every diagnostic, nothing written, nothing changed), kept as a revision,
//! written over the config file atomically, then loaded as a reload loads
//! it. A trial leaves a marker (`store::Trial`) naming the revision to go
//! back to; at its deadline, or at the next start if the box was reset
//! during it, that revision comes back. Every change is an event naming who
//! asked.

use std::time::Duration;

use tokio::sync::mpsc;

use super::admin::{ReloadOutcome, Reply, Who};
use super::last_good::LastGood;
use super::status::Event;
use super::store::{Revisions, Trial, unix_now, write_atomic};
use super::supervisor::{Command, Shared};
use super::{Load, RunOptions};
use crate::diag::{self, Source};

/// What the runtime loop lends to a change.
pub(super) struct Env<'a, X> {
    pub opts: &'a RunOptions<X>,
    pub shared: &'a Shared,
    pub cmd_tx: &'a mpsc::Sender<Command<Load<X>>>,
    pub lkg: &'a LastGood,
    pub revision: &'a mut u64,
    /// The running load and its file's memo, for the next.
    pub last: &'a mut super::Last<X>,
}

fn rfc3339(unix: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_secs(unix)).to_string()
}

impl<X: Send + Sync + 'static> Env<'_, X> {
    pub async fn reload(&mut self) -> ReloadOutcome {
        super::reload(
            self.opts,
            self.shared,
            self.cmd_tx,
            self.lkg,
            self.revision,
            self.last,
        )
        .await
    }

    /// A write to the config partition failed: nothing was applied, the
    /// running config stays; status and the console say what could not be
    /// saved.
    fn unsaved(&self, error: String) -> ReloadOutcome {
        let msg = format!(
            "could not save the new config ({error}); nothing applied, r{} runs on unchanged",
            *self.revision
        );
        super::saved(self.shared, Err(msg.clone()));
        self.refused(msg)
    }

    fn refused(&self, error: String) -> ReloadOutcome {
        ReloadOutcome {
            applied: false,
            revision: *self.revision,
            error: Some(error),
            ..ReloadOutcome::default()
        }
    }

    /// `apply`: `text` validated, kept, written and loaded; on trial for
    /// `trial` if given (a trial during a trial keeps the revision from
    /// before the first, the last confirmed one).
    pub async fn apply(
        &mut self,
        text: &str,
        name: Option<&str>,
        trial: Option<Duration>,
        message: &str,
        who: &Who,
    ) -> ReloadOutcome {
        let opts = self.opts;
        let shown = name.map_or_else(|| opts.config.display().to_string(), str::to_string);
        if let Err(diags) = crate::config::load_for_box(text, &super::facts(opts.node.clone())) {
            let src = Source::new(&shown, text);
            self.shared.emit(
                Event::new(
                    "config",
                    "apply",
                    format!(
                        "apply by {} refused: {} errors; nothing changed",
                        who.0,
                        diags.iter().filter(|d| d.is_error()).count()
                    ),
                )
                .warn(),
            );
            return ReloadOutcome {
                applied: false,
                revision: *self.revision,
                rendered: diag::render(&src, &diags, false),
                diagnostics: serde_json::to_value(diag::to_json(&src, &diags))
                    .expect("diagnostics serialize"),
                ..ReloadOutcome::default()
            };
        }
        let store = Revisions::in_dir(&opts.state_dir);
        if store.latest().is_none()
            && let Ok(before) = std::fs::read_to_string(&opts.config)
            && let Err(e) = store.add(
                &before,
                "pharos",
                "the config as it was before the first apply",
            )
        {
            return self.unsaved(e);
        }
        let running = Trial::load(&opts.state_dir);
        let previous = running
            .as_ref()
            .map(|t| t.previous)
            .or_else(|| store.latest().map(|m| m.revision));
        let meta = match store.add(text, &who.0, message) {
            Ok(m) => m,
            Err(e) => return self.unsaved(e),
        };
        let mut until = None;
        let marker = match (trial, previous) {
            (Some(d), Some(previous)) => {
                let deadline = unix_now() + d.as_secs();
                until = Some(rfc3339(deadline));
                Trial {
                    revision: meta.revision,
                    previous,
                    deadline,
                    client: who.0.clone(),
                }
                .save(&opts.state_dir)
            }
            (Some(_), None) => {
                return self.refused(
                    "there is no earlier revision to roll back to; apply without a trial first"
                        .into(),
                );
            }
            (None, _) => Trial::clear(&opts.state_dir),
        };
        if let Err(e) = marker.and_then(|()| write_atomic(&opts.config, text.as_bytes())) {
            // Not applied, so not a revision either: the list shows only
            // configs that ran. The trial marker goes back to what it was,
            // or the next start would "recover" from a trial that never
            // began (or forget one still running).
            let kept = store.remove(meta.revision).err();
            let _ = match &running {
                Some(t) => t.save(&opts.state_dir),
                None => Trial::clear(&opts.state_dir),
            };
            return self.unsaved(match kept {
                None => e,
                Some(k) => format!("{e}; r{} stays listed: {k}", meta.revision),
            });
        }
        let mut out = self.reload().await;
        out.stored = Some(meta.revision);
        out.trial_until.clone_from(&until);
        let said = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        let trial_note = until
            .map(|u| format!("; on trial until {u}: confirm it, or it is rolled back"))
            .unwrap_or_default();
        self.shared.emit(Event::new(
            "config",
            "apply",
            format!("r{} applied by {}{said}{trial_note}", meta.revision, who.0),
        ));
        out
    }

    /// `confirm`: the revision on trial stays.
    pub fn confirm(&mut self, who: &Who) -> Reply {
        let Some(t) = Trial::load(&self.opts.state_dir) else {
            return Reply::error("nothing is on trial");
        };
        if let Err(e) = Trial::clear(&self.opts.state_dir) {
            return Reply::error(e);
        }
        let msg = format!("r{} confirmed by {}", t.revision, who.0);
        self.shared
            .emit(Event::new("config", "confirm", msg.clone()));
        Reply::ok(msg)
    }

    /// `rollback [REV]`: that revision applied again, as a new one. Without
    /// REV: the revision a trial would go back to, else the one before the
    /// latest.
    pub async fn rollback(&mut self, revision: Option<u64>, who: &Who) -> ReloadOutcome {
        let store = Revisions::in_dir(&self.opts.state_dir);
        let target = revision
            .or_else(|| Trial::load(&self.opts.state_dir).map(|t| t.previous))
            .or_else(|| {
                let all = store.list();
                all.len().checked_sub(2).map(|i| all[i].revision)
            });
        let Some(target) = target else {
            return self.refused("there is no earlier revision to roll back to".into());
        };
        let Some(text) = store.text(target) else {
            return self.refused(format!("revision {target} is not kept; see `revisions`"));
        };
        self.apply(&text, None, None, &format!("rollback to r{target}"), who)
            .await
    }

    /// A trial's deadline passed unconfirmed: back to the revision before.
    pub async fn trial_expired(&mut self) {
        let Some(t) = Trial::load(&self.opts.state_dir) else {
            return;
        };
        let store = Revisions::in_dir(&self.opts.state_dir);
        let Some(text) = store.text(t.previous) else {
            let _ = Trial::clear(&self.opts.state_dir);
            self.shared.emit(
                Event::new(
                    "config",
                    "trial",
                    format!(
                        "the trial of r{} was not confirmed, but r{} to go back to is not kept; r{} stays",
                        t.revision, t.previous, t.revision
                    ),
                )
                .error(),
            );
            return;
        };
        let who = Who("pharos (trial deadline)".into());
        let msg = format!(
            "the trial of r{} by {} was not confirmed in time: back to r{}",
            t.revision, t.client, t.previous
        );
        let out = self.apply(&text, None, None, &msg, &who).await;
        let event = Event::new("config", "trial", msg);
        self.shared.emit(if out.applied {
            event.warn()
        } else {
            event.error()
        });
    }
}

/// At start: a trial marker still there means the box (or pharos) was
/// reset during a trial. The revision before it is written back over the
/// config file, so the box comes up as it was before the trial. Returns
/// what to say.
pub(super) fn recover_interrupted_trial<X>(opts: &RunOptions<X>) -> Option<String> {
    let t = Trial::load(&opts.state_dir)?;
    let store = Revisions::in_dir(&opts.state_dir);
    let msg = match store.text(t.previous) {
        Some(text) => {
            let why = format!(
                "restarted during the trial of r{} by {}: back to r{}",
                t.revision, t.client, t.previous
            );
            match store
                .add(&text, "pharos (restart during a trial)", &why)
                .and_then(|_| write_atomic(&opts.config, text.as_bytes()))
            {
                Ok(()) => why,
                Err(e) => format!("{why}, but that failed: {e}"),
            }
        }
        None => format!(
            "restarted during the trial of r{}, but r{} to go back to is not kept; r{} stays",
            t.revision, t.previous, t.revision
        ),
    };
    if let Err(e) = Trial::clear(&opts.state_dir) {
        return Some(format!("{msg} ({e})"));
    }
    Some(msg)
}
