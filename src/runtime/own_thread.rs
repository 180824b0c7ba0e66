//! A supervised task on a thread of its own, with a current-thread tokio
//! runtime: for a task that does many small I/O steps of its own (the
//! health checks: 10,000 connects a second at scale) and talks to the rest
//! only through channels.
//!
//! On the shared multi-thread runtime every probe woken by epoll could be
//! handed to the other worker (a futex wake and a context switch, about
//! one per check, measured with strace) and each finished probe woke the
//! I/O driver through its eventfd. On a thread of its own the probes, their
//! timers and the task that schedules them share one epoll loop, as
//! keepalived's checker does; the supervisor still sees one future that
//! ends with the task's result or its panic, and dropping that future (an
//! abort) stops the thread's work.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::supervisor::TaskFuture;

/// Runs `fut` on a new thread named `pharos-NAME` with a current-thread
/// runtime of its own. The returned future ends with `fut`'s result, panics
/// with its panic, and when dropped first stops `fut` (its runtime, and the
/// tasks `fut` spawned on it, go with the thread).
pub fn on_own_thread<F>(name: &'static str, fut: F) -> TaskFuture
where
    F: Future<Output = Result<(), String>> + Send + 'static,
{
    // The fault switch (debug builds) panics a task at its next poll: here
    // that must be a poll on the thread, as the supervisor's wrapper of the
    // returned future is polled only when the thread is done.
    #[cfg(feature = "fault-switch")]
    let fut = super::fault::point(name, Box::pin(fut));
    Box::pin(async move {
        let (tx, rx) = oneshot::channel();
        let stop = CancellationToken::new();
        let _stop_on_drop = stop.clone().drop_guard();
        let spawned = std::thread::Builder::new()
            .name(format!("pharos-{name}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = tx.send(Ok(Err(format!(
                            "cannot start the {name} task's runtime: {e}"
                        ))));
                        return;
                    }
                };
                let out = catch_unwind(AssertUnwindSafe(|| {
                    rt.block_on(async {
                        tokio::select! {
                            r = fut => r,
                            () = stop.cancelled() => Err("aborted".to_string()),
                        }
                    })
                }));
                // The probes still running end with the runtime, here,
                // before the supervisor hears of the exit.
                drop(rt);
                let _ = tx.send(out);
            });
        if let Err(e) = spawned {
            return Err(format!("cannot start a thread for the {name} task: {e}"));
        }
        match rx.await {
            Ok(Ok(r)) => r,
            Ok(Err(panic)) => resume_unwind(panic),
            Err(_) => Err(format!("the {name} task's thread ended without a word")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn the_result_the_panic_and_an_abort_reach_the_caller() {
        let here = std::thread::current().id();
        let r = on_own_thread("t-ok", async move {
            assert_ne!(
                std::thread::current().id(),
                here,
                "not on the caller's thread"
            );
            assert_eq!(
                tokio::runtime::Handle::current().runtime_flavor(),
                tokio::runtime::RuntimeFlavor::CurrentThread
            );
            // Timers and spawned tasks work on it.
            let j = tokio::spawn(async { 7 });
            tokio::time::sleep(Duration::from_millis(1)).await;
            assert_eq!(j.await.unwrap(), 7);
            Err("done".to_string())
        })
        .await;
        assert_eq!(r, Err("done".to_string()));

        let j = tokio::spawn(on_own_thread("t-panic", async { panic!("boom") }));
        let e = j.await.expect_err("the panic comes through");
        assert!(e.is_panic());
        assert_eq!(*e.into_panic().downcast::<&str>().unwrap(), "boom");

        // Dropping the future stops the work on the thread.
        let stopped = Arc::new(AtomicBool::new(false));
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let flag = Flag(stopped.clone());
        let j = tokio::spawn(on_own_thread("t-abort", async move {
            let _flag = flag;
            std::future::pending::<()>().await;
            Ok(())
        }));
        tokio::time::sleep(Duration::from_millis(20)).await;
        j.abort();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !stopped.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "the thread's future was not dropped"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}
