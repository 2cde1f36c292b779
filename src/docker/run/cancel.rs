//! [`RunCancel`], the handle that cancels runs from another thread, and the list of what
//! cancelling does to each run that uses it.
//!
//! The handle knows nothing of containers: each run registers its own action while it has a
//! container (see `arm_cancel` in `run.rs`). Uses the standard library and the run's `lock`.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::lock;

/// Cancels runs of [`Docker::run_container`](crate::Docker::run_container) (and builds of
/// [`Docker::build_image`](crate::Docker::build_image), see
/// [`BuildImageOptions::cancel`](crate::BuildImageOptions::cancel)) from another thread.
///
/// Put a clone in [`RunContainerOptions::cancel`](crate::RunContainerOptions::cancel) and call
/// [`cancel`](RunCancel::cancel) from anywhere. A running run stops at once: its attach stream
/// is shut down (no more input or output is copied), it stops waiting for the container, and it
/// returns [`Error::Cancelled`](crate::Error::Cancelled) after removing the container. The
/// container is also killed from the cancelling thread; when that kill fails, the removal is
/// forced (the daemon kills the container as part of it), so the run never waits for a
/// container that will not stop. A run that has not created its container yet returns
/// [`Error::Cancelled`](crate::Error::Cancelled) before creating it. Once cancelled, a handle
/// stays cancelled; one handle can serve several runs (a whole build).
///
/// The handle does not interrupt the caller's own code: a `stdin` reader that blocks forever or
/// an `on_start` hook that never returns keeps the run waiting (the hooks are always awaited).
/// A cancel that comes after the container exited skips `post_exec` if it has not begun; one
/// that comes while `post_exec` runs lets it finish, and the run returns its result.
///
/// Embedders that want Ctrl-C to cancel a build call `cancel()` from their own signal handling;
/// the library installs none.
///
/// # Example
/// ```
/// use s2i_docker::RunCancel;
///
/// let cancel = RunCancel::new();
/// let for_the_handler = cancel.clone();
/// std::thread::spawn(move || for_the_handler.cancel()).join().unwrap();
/// assert!(cancel.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct RunCancel {
    inner: Arc<CancelInner>,
}

/// What cancelling does to one run.
pub(in crate::docker) type CancelAction = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct CancelInner {
    cancelled: AtomicBool,
    next: AtomicU64,
    actions: Mutex<Vec<(u64, CancelAction)>>,
}

impl CancelInner {
    fn actions(&self) -> MutexGuard<'_, Vec<(u64, CancelAction)>> {
        // An action that panicked leaves nothing half-done in the list; carry on with it.
        lock(&self.actions)
    }
}

impl fmt::Debug for RunCancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunCancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

impl RunCancel {
    /// A handle that has not been cancelled.
    pub fn new() -> RunCancel {
        RunCancel::default()
    }

    /// Cancels every run using this handle: they stop waiting now, and their containers are
    /// killed from this thread (this call returns once the daemon answered the kills).
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let actions = std::mem::take(&mut *self.inner.actions());
        for (_, action) in actions {
            action();
        }
    }

    /// Whether [`cancel`](RunCancel::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Registers what cancelling does to a run until the returned guard is dropped; `None`
    /// when the handle is already cancelled (then nothing is registered).
    pub(in crate::docker) fn arm(&self, action: CancelAction) -> Option<Armed> {
        let mut actions = self.inner.actions();
        // Checked under the lock: `cancel` sets the flag before taking the list, so an action
        // registered here is either taken by it or refused.
        if self.is_cancelled() {
            return None;
        }
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        actions.push((id, action));
        Some(Armed {
            inner: self.inner.clone(),
            id,
        })
    }
}

/// What cancelling does to one run (or build), registered until this is dropped.
pub(in crate::docker) struct Armed {
    inner: Arc<CancelInner>,
    id: u64,
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.inner.actions().retain(|(id, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    //! The handle's bookkeeping, and cancels at every step of a run against the fake engine.

    use std::io;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::{Docker, RunContainerOptions};
    use crate::fake::testing::docker::*;

    #[test]
    fn cancel_handle_bookkeeping() {
        let c = RunCancel::new();
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        let armed = c.arm(Box::new(move || {
            h.fetch_add(1, Ordering::SeqCst);
        }));
        assert!(armed.is_some());
        drop(armed);
        c.cancel();
        assert_eq!(
            hits.load(Ordering::SeqCst),
            0,
            "a disarmed action does not run"
        );
        assert!(c.arm(Box::new(|| {})).is_none());
        assert!(format!("{c:?}").contains("true"));
    }

    #[test]
    fn cancel_kills_removes_and_returns_promptly() {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        let cancel = RunCancel::new();
        let (started_tx, started_rx) = mpsc::channel();
        let out = Probe::default();
        let canceller = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                let id: String = started_rx.recv().unwrap();
                cancel.cancel();
                (id, Instant::now())
            })
        };
        let e = d
            .run_container(RunContainerOptions {
                // Endless input: the container never reads it all; the kill ends the copy.
                stdin: Some(Box::new(io::repeat(b'x'))),
                stdout: Some(out.writer()),
                on_start: Some(Box::new(move |id: &str| {
                    started_tx.send(id.to_string()).unwrap();
                    Ok(())
                })),
                cancel: Some(cancel.clone()),
                ..opts("assemble")
            })
            .unwrap_err();
        let returned = Instant::now();
        let (id, cancelled_at) = canceller.join().unwrap();
        assert!(e.is_cancelled(), "{e:?}");
        assert!(returned.duration_since(cancelled_at) < Duration::from_secs(2));
        assert_eq!(id, "fake-container-1");
        assert!(fake.state().killed.contains(&id));
        assert!(
            fake.state().containers.is_empty(),
            "no container may remain"
        );
        assert!(out.is_dropped());
        // A cancelled handle stops the next run before it creates anything.
        let calls = fake.calls().len();
        assert!(d
            .run_container(RunContainerOptions {
                cancel: Some(cancel),
                ..opts("run")
            })
            .unwrap_err()
            .is_cancelled());
        assert_eq!(fake.calls().len(), calls);
    }

    #[test]
    fn a_cancel_at_any_step_removes_what_was_created() {
        // The cancel arrives while the fake answers `step`: before the create, during it,
        // during the attach (the container must then never start), the start and the wait.
        for step in ["inspect_image", "create", "attach", "start", "wait"] {
            let (fake, d) = setup();
            let cancel = RunCancel::new();
            let c = cancel.clone();
            let at = step.to_string();
            fake.state().on_call = Some(Arc::new(move |call: &str| {
                if call == at {
                    c.cancel();
                }
            }));
            let e = d
                .run_container(RunContainerOptions {
                    stdin: stdin(b"tar"),
                    stdout: Some(Box::new(io::sink())),
                    cancel: Some(cancel),
                    ..opts("assemble")
                })
                .unwrap_err();
            assert!(e.is_cancelled(), "{step}: {e:?}");
            let state = fake.state();
            assert!(state.containers.is_empty(), "{step}: {:?}", state.calls);
            if step == "inspect_image" {
                assert!(state.created.is_empty(), "{step}");
            }
            if step == "create" || step == "attach" {
                assert!(state.started.is_empty(), "{step}: {:?}", state.calls);
            }
        }
    }

    #[test]
    fn a_cancel_during_post_exec_lets_it_finish() {
        let (fake, d) = setup();
        let cancel = RunCancel::new();
        let c = cancel.clone();
        d.run_container(RunContainerOptions {
            post_exec: Some(Box::new(move |_: &str, _: &str| {
                c.cancel();
                Ok(())
            })),
            cancel: Some(cancel.clone()),
            ..opts("save-artifacts")
        })
        .unwrap();
        assert!(cancel.is_cancelled());
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn a_cancel_whose_kill_fails_ends_the_run_at_once() {
        let (fake, d) = unkillable();
        let cancel = RunCancel::new();
        let c = cancel.clone();
        let f = fake.clone();
        let out = Probe::default();
        let writer = out.writer();
        let runner = std::thread::spawn(move || {
            d.run_container(RunContainerOptions {
                stdin: Some(Box::new(io::repeat(b'x'))),
                stdout: Some(writer),
                cancel: Some(c),
                ..opts("assemble")
            })
        });
        while fake.state().started.is_empty() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let e = within(Duration::from_secs(5), move || {
            cancel.cancel();
            runner.join().unwrap()
        })
        .unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        assert!(out.is_dropped());
        let state = f.state();
        assert!(state.containers.is_empty(), "{:?}", state.calls);
        assert!(state.removed[0].1.force);
    }

    #[test]
    fn a_cancel_without_streams_stops_the_wait() {
        let (fake, d) = unkillable();
        let cancel = RunCancel::new();
        let c = cancel.clone();
        let f = fake.clone();
        let runner = std::thread::spawn(move || {
            d.run_container(RunContainerOptions {
                cancel: Some(c),
                ..opts("run")
            })
        });
        while !fake.calls().contains(&"wait".to_string()) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let e = within(Duration::from_secs(5), move || {
            cancel.cancel();
            runner.join().unwrap()
        })
        .unwrap_err();
        assert!(e.is_cancelled(), "{e:?}");
        assert!(f.state().containers.is_empty());
    }
}
