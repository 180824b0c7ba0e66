//! The test-only fault switch: built only with the cargo feature
//! `fault-switch`, which the debug image's binary has and the production
//! build does not (the Makefile builds the two). `pharos fault TASK` asks
//! the control socket to arm it; the task's future then panics the next
//! time it is polled, from inside the task, so the supervisor's real
//! restart path (backoff, events, status, metrics) is what runs. The fault
//! matrix (tests/vm_faults.rs) uses it to show that a task panic moves no
//! VIP and fails no request.
//!
//! `pharos fault save` holds the next write to the config partition half
//! way (half the bytes on disk) for [`HOLD`], so the fault matrix can make
//! the partition go read-only in the middle of a write and see that the
//! old file stays whole.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use super::supervisor::TaskFuture;

static ARMED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// What `pharos fault` takes besides a task's name.
pub const SAVE: &str = "save";

/// How long a held write waits half way.
pub const HOLD: std::time::Duration = std::time::Duration::from_secs(4);

static HOLD_NEXT_WRITE: AtomicBool = AtomicBool::new(false);

/// Arms a hold in the next write to the config partition.
pub fn arm_write_hold() {
    HOLD_NEXT_WRITE.store(true, Ordering::SeqCst);
}

/// Called by `store::write_atomic` with half of `path`'s new bytes on
/// disk: if armed, says so and waits [`HOLD`] (the caller runs off the
/// runtime's workers, so only that change waits).
pub fn mid_write(path: &std::path::Path) {
    if HOLD_NEXT_WRITE.swap(false, Ordering::SeqCst) {
        tracing::warn!(
            "fault switch: the write of {} held half way for {} s",
            path.display(),
            HOLD.as_secs()
        );
        std::thread::sleep(HOLD);
    }
}

/// Arms a panic in `task`'s next poll.
pub fn arm(task: &str) {
    ARMED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(task.to_string());
}

/// `fut`, with the switch of the task `name` checked at every poll.
pub fn point(name: &'static str, fut: TaskFuture) -> TaskFuture {
    Box::pin(Point { name, fut })
}

struct Point {
    name: &'static str,
    fut: TaskFuture,
}

impl Future for Point {
    type Output = Result<(), String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let armed = ARMED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(self.name);
        assert!(
            !armed,
            "fault switch: a panic injected into task {} (pharos fault)",
            self.name
        );
        self.fut.as_mut().poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_armed_task_panics_at_its_next_poll_once() {
        let run = |name| {
            tokio::spawn(point(
                name,
                Box::pin(async {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    Ok(())
                }),
            ))
        };
        arm("fault-test-a");
        let e = run("fault-test-a").await.unwrap_err();
        assert!(e.is_panic());
        // Disarmed by the panic; another task was never armed.
        assert!(run("fault-test-a").await.is_ok());
        assert!(run("fault-test-b").await.is_ok());
    }
}
