//! The test-only fault switch: built only with the cargo feature
//! `fault-switch`, which the debug image's binary has and the production
//! build does not (the Makefile builds the two). `pharos fault TASK` asks
//! the control socket to arm it; the task's future then panics the next
//! time it is polled, from inside the task, so the supervisor's real
//! restart path (backoff, events, status, metrics) is what runs. The fault
//! matrix (tests/vm_faults.rs) uses it to show that a task panic moves no
//! VIP and fails no request.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

use super::supervisor::TaskFuture;

static ARMED: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

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
