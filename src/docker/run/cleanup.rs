//! What removes the run's container on every path, and what stops a run that ends early.
//!
//! [`Container`] is the created container, shared by the run and its cancel action: it is
//! killed at most once and removed once, whoever asks first. [`RemoveOnDrop`] removes it on
//! every way out of `run_container` once it exists: an error at any step, a cancel, a panic.
//! [`stop`] ends what a run that ends early is waiting for (and [`StopOnUnwind`] calls it when
//! a panic unwinds through the streaming scope), so that the removal is never stuck behind a
//! stream the daemon keeps open. [`remove_after_lost_create`] covers the container a create
//! may have made although its reply was lost.
//!
//! Uses the [`Client`] trait, the Engine API's option types, and of the run only [`Link`]
//! and `lock`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::Error;
use crate::ops::container::{ContainerRemoveOptions, Signal};

use super::link::Link;
use super::lock;

/// After a create whose reply came too late, how many times its own time limit the run keeps
/// looking for the container the daemon may still create.
const LOST_CREATE_PATIENCE: u32 = 3;

/// The run's container, shared with its cancel action: killed at most once, removed once.
pub(super) struct Container {
    /// The run's client, for the wait.
    pub(super) client: Arc<dyn Client>,
    /// What kills and removes the container: the run's client without its cancel (see
    /// [`Client::uncancelled`]), so that a cancelled client still cleans up.
    cleanup: Arc<dyn Client>,
    pub(super) id: String,
    /// The wait reported its exit: there is nothing to kill.
    pub(super) exited: AtomicBool,
    /// Held while the kill is sent, so that a second caller learns how the first one went.
    kill: Mutex<Kill>,
    /// Whether the removal succeeded, once it was tried.
    removed: Mutex<Option<bool>>,
}

#[derive(Default)]
struct Kill {
    sent: bool,
    failed: bool,
    /// Why it failed, until the removal takes it (to log it if the removal fails too).
    error: Option<Error>,
}

impl Container {
    pub(super) fn new(client: Arc<dyn Client>, id: String) -> Container {
        Container {
            cleanup: cleanup_client(&client),
            client,
            id,
            exited: AtomicBool::new(false),
            kill: Mutex::new(Kill::default()),
            removed: Mutex::new(None),
        }
    }

    /// Kills the container now, so that its streams end and waits return, unless it exited or
    /// was killed already; a kill in flight on another thread is waited for. A failure is kept
    /// for the removal (and logged only if that fails too: the container may have exited in
    /// between).
    pub(super) fn kill(&self) {
        if self.exited.load(Ordering::SeqCst) {
            return;
        }
        let mut kill = lock(&self.kill);
        if kill.sent {
            return;
        }
        kill.sent = true;
        if let Err(e) = self.cleanup.container_kill(&self.id, Signal::Kill) {
            log::debug!("Failed to kill container \"{}\": {e}", self.id);
            kill.failed = true;
            kill.error = Some(e);
        }
    }

    pub(super) fn kill_failed(&self) -> bool {
        lock(&self.kill).failed
    }

    /// Kills (see [`kill`](Container::kill)) and removes the container with its volumes, the
    /// first time it is called; whether the container is gone.
    ///
    /// The removal is forced when the kill failed, or when the daemon says the container still
    /// runs: a forced removal kills it first. Failures are logged, never returned (they do not
    /// change the run's result).
    pub(super) fn remove(&self) -> bool {
        let mut removed = lock(&self.removed);
        if let Some(done) = *removed {
            return done;
        }
        self.kill();
        let (kill_failed, kill_error) = {
            let mut kill = lock(&self.kill);
            (kill.failed, kill.error.take())
        };
        let mut opts = ContainerRemoveOptions {
            remove_volumes: true,
            force: kill_failed,
        };
        let mut result = self.cleanup.container_remove(&self.id, &opts);
        if !opts.force && result.as_ref().is_err_and(Error::is_conflict) {
            // Still running although it was killed (a daemon slow to reap it, a kill still on
            // its way from a cancelling thread): make the daemon do both.
            opts.force = true;
            result = self.cleanup.container_remove(&self.id, &opts);
        }
        let done = match result {
            Ok(()) => true,
            Err(e) => {
                if let Some(k) = kill_error {
                    log::warn!("Failed to kill container \"{}\": {k}", self.id);
                }
                log::warn!("Failed to remove container \"{}\": {e}", self.id);
                false
            }
        };
        *removed = Some(done);
        done
    }
}

/// The client that cleans up after a run of `client`: one that no cancel of it aborts.
pub(super) fn cleanup_client(client: &Arc<dyn Client>) -> Arc<dyn Client> {
    client.uncancelled().unwrap_or_else(|| client.clone())
}

/// Removes the container when dropped, on the paths that leave `run_container` early
/// (including a panic).
pub(super) struct RemoveOnDrop<'a>(pub(super) &'a Container);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// Stops what the run is waiting for, whatever the container does: the attach connection is
/// shut down (its threads' reads and writes return) and the container killed.
///
/// A container the kill could not stop is removed at once (forced), before the run waits for
/// its threads: a stream reader may itself wait for the container to stop (Podman's attach
/// output completes a cut stream from the container's logs once it stopped). So is one whose
/// connection cannot be shut down, which only the daemon can end.
pub(super) fn stop(container: &Container, link: &Link) {
    let shut = link.shutdown();
    container.kill();
    if !shut || container.kill_failed() {
        container.remove();
    }
}

/// Stops the run if it unwinds from a panic inside the streaming scope, so the scope's threads
/// can end and the panic can propagate.
pub(super) struct StopOnUnwind<'a>(pub(super) &'a Container, pub(super) &'a Link);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            stop(self.0, self.1);
        }
    }
}

/// Removes the container that a create which failed in transit may have made anyway.
///
/// When the connection broke during the create, or its reply did not parse or came too late,
/// the daemon may have created the container: the run never learned its ID, but it knows the
/// name it asked for, which the Engine accepts where IDs go. A daemon's error reply means
/// nothing was created (a 409 says that *another* container has the name, which is not the
/// run's to remove), and a request that was never sent created nothing either.
///
/// A reply that came too late may belong to a create the daemon has not carried out yet: the
/// run keeps looking for the container for [`LOST_CREATE_PATIENCE`] times the create's time
/// limit (unless cancelled), and says so if it never shows up.
pub(super) fn remove_after_lost_create(
    client: &dyn Client,
    name: &str,
    error: &Error,
    cancelled: &dyn Fn() -> bool,
) {
    let patience = match error {
        Error::Api { .. }
        | Error::Connect { .. }
        | Error::InvalidInput(_)
        | Error::Unsupported(_) => return,
        Error::Timeout { after, .. } => after.saturating_mul(LOST_CREATE_PATIENCE),
        _ => Duration::ZERO,
    };
    let opts = ContainerRemoveOptions {
        remove_volumes: true,
        force: true,
    };
    // `None`: a patience too long to add to the clock, as good as endless.
    let until = Instant::now().checked_add(patience);
    let pause = (patience / 16).clamp(Duration::from_millis(20), Duration::from_secs(2));
    loop {
        match client.container_remove(name, &opts) {
            Ok(()) => {
                log::debug!(
                    "Removed container \"{name}\", created although its create request failed: {error}"
                );
                return;
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => {
                log::warn!("Failed to remove container \"{name}\": {e}");
                return;
            }
        }
        let now = Instant::now();
        if until.is_some_and(|until| now >= until) {
            if !patience.is_zero() {
                log::warn!(
                    "Container \"{name}\" did not show up within {patience:?} after its create \
                     request timed out; if the daemon still creates it, it stays"
                );
            }
            return;
        }
        // Short naps, so that a cancel is heard at once.
        let next = now + until.map_or(pause, |until| pause.min(until - now));
        while Instant::now() < next {
            if cancelled() {
                log::warn!(
                    "Container \"{name}\" may still be created after its create request timed \
                     out; the run was cancelled before it showed up"
                );
                return;
            }
            thread::sleep(
                next.saturating_duration_since(Instant::now())
                    .min(Duration::from_millis(20)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    //! Removal on every path: failed removals and kills, and creates whose reply was lost.

    use std::io;
    use std::sync::atomic::AtomicU64;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::run::RunCancel;
    use crate::docker::{Docker, DockerClient, RunContainerOptions};
    use crate::fake::testing::docker::*;
    use crate::fake::{stdcopy_frame, FakeClient};

    #[test]
    fn cleanup_failures_are_logged_not_returned() {
        let (fake, d) = setup();
        fake.state().remove_err = Some(Error::api(500, "device busy"));
        let (r, logs) = logs_of(|| d.run_container(opts("assemble")));
        r.unwrap();
        assert_logged(&logs, log::Level::Warn, "Failed to remove container \"fake-container-1\": Error response from daemon: device busy");
    }

    #[test]
    fn a_conflicting_remove_is_forced() {
        let (fake, d) = setup();
        fake.state()
            .remove_failures
            .push_back(Error::api(409, "container is running"));
        d.run_container(opts("run")).unwrap();
        let removed = fake.state().removed.clone();
        assert_eq!(removed.len(), 1);
        assert!(removed[0].1.force && removed[0].1.remove_volumes);
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn stopping_removes_at_once_a_container_the_kill_could_not_stop() {
        // Killed: the removal waits for the end of the run.
        let fake = Arc::new(FakeClient::new());
        fake.state()
            .containers
            .insert("c1".into(), Default::default());
        let c = Container::new(fake.clone(), "c1".into());
        stop(&c, &Link::default());
        assert_eq!(fake.calls(), ["kill"]);
        assert!(c.remove());
        assert_eq!(fake.calls(), ["kill", "remove"]);
        assert!(!fake.state().removed[0].1.force);
        // Not killed: removed (forced) now, once.
        let fake = Arc::new(FakeClient::new());
        fake.state()
            .containers
            .insert("c1".into(), Default::default());
        fake.state().kill_err = Some(Error::api(500, "cannot kill"));
        let c = Container::new(fake.clone(), "c1".into());
        stop(&c, &Link::default());
        assert_eq!(fake.calls(), ["kill", "remove"]);
        assert!(fake.state().removed[0].1.force);
        assert!(c.remove());
        stop(&c, &Link::default());
        assert_eq!(fake.calls(), ["kill", "remove"]);
        // A second kill waits for one in flight and learns how it went.
        let fake = Arc::new(FakeClient::new());
        fake.state()
            .containers
            .insert("c1".into(), Default::default());
        fake.state().kill_err = Some(Error::api(500, "cannot kill"));
        fake.state().on_call = Some(Arc::new(|call: &str| {
            if call == "kill" {
                std::thread::sleep(Duration::from_millis(100));
            }
        }));
        let c = Arc::new(Container::new(fake.clone(), "c1".into()));
        let other = {
            let c = c.clone();
            std::thread::spawn(move || c.kill())
        };
        while fake.calls().is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        c.kill();
        assert!(c.kill_failed());
        other.join().unwrap();
        assert_eq!(fake.calls(), ["kill"]);
    }

    #[test]
    fn unreadable_input_and_a_failed_kill_do_not_hang() {
        let (fake, d) = unkillable();
        let f = fake.clone();
        let e = within(Duration::from_secs(10), move || {
            d.run_container(RunContainerOptions {
                stdin: Some(Box::new(FailingReader)),
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
        })
        .unwrap_err();
        assert!(e.to_string().contains("source vanished"), "{e}");
        let state = f.state();
        assert!(state.killed.is_empty());
        // The failed kill forces the removal (which kills the container).
        assert_eq!(state.removed.len(), 1);
        assert!(state.removed[0].1.force, "{:?}", state.removed);
        assert!(state.containers.is_empty());
    }

    #[test]
    fn a_failed_output_writer_and_a_failed_kill_do_not_hang() {
        let (fake, d) = unkillable();
        fake.state().attach_output = stdcopy_frame(1, b"x");
        let f = fake.clone();
        let e = within(Duration::from_secs(10), move || {
            d.run_container(RunContainerOptions {
                stdout: Some(Box::new(PanickyWriter)),
                ..opts("assemble")
            })
        })
        .unwrap_err();
        assert_eq!(e.to_string(), "output writer panicked: writer");
        assert!(f.state().containers.is_empty());
    }

    /// A fake whose daemon "creates" the container asked for (by its name) when the
    /// `nth` removal arrives: how a create whose reply was lost looks from the outside.
    fn lost_create(create_err: Error, nth: u64) -> (Arc<FakeClient>, DockerClient) {
        let (fake, d) = setup();
        fake.state().create_err = Some(create_err);
        let f = Arc::downgrade(&fake);
        let removals = Arc::new(AtomicU64::new(0));
        fake.state().on_call = Some(Arc::new(move |call: &str| {
            let Some(f) = f.upgrade() else { return };
            if call == "remove" && removals.fetch_add(1, Ordering::SeqCst) + 1 == nth {
                let mut state = f.state();
                let (name, body) = state.created[0].clone();
                state.containers.insert(name, body);
            }
        }));
        (fake, d)
    }

    fn io_error() -> Error {
        Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, "reply cut"))
    }

    #[test]
    fn a_create_cut_in_transit_is_removed_by_name() {
        let (fake, d) = lost_create(io_error(), 1);
        let (r, logs) = logs_of(|| d.run_container(opts("run")));
        assert!(matches!(r, Err(Error::Io(_))), "{r:?}");
        let state = fake.state();
        let name = state.created[0].0.clone();
        assert!(name.starts_with("s2i_builder_"), "{name}");
        assert_eq!(state.calls, ["inspect_image", "create", "remove"]);
        assert_eq!(state.removed.len(), 1);
        let (removed, how) = &state.removed[0];
        assert_eq!(removed, &name);
        assert!(how.force && how.remove_volumes);
        assert!(state.containers.is_empty());
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        drop(state);

        // Nothing was created after all: the 404 is no news, tried once, not logged.
        let (fake, d) = lost_create(io_error(), 0);
        let (r, logs) = logs_of(|| d.run_container(opts("run")));
        assert!(r.is_err());
        assert_eq!(fake.calls(), ["inspect_image", "create", "remove"]);
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
    }

    #[test]
    fn a_create_answered_by_the_daemon_removes_nothing() {
        // 409: another container has the name; 404/500: nothing was created; a connect
        // failure or a refused argument: nothing was sent.
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        for e in [
            Error::api(409, "Conflict. The container name is already in use"),
            Error::api(404, "No such image: builder:latest"),
            Error::api(500, "no space left"),
            Error::Connect {
                host: "unix:///nowhere".into(),
                failure: crate::error::ConnectFailure::NotRunning,
                source: refused,
            },
            Error::InvalidInput("bad name".into()),
        ] {
            let (fake, d) = lost_create(e, 1);
            assert!(d.run_container(opts("run")).is_err());
            assert_eq!(fake.calls(), ["inspect_image", "create"]);
        }
    }

    #[test]
    fn a_create_that_timed_out_is_looked_for_until_it_shows_up() {
        let timed_out = || Error::Timeout {
            what: "POST /containers/create".into(),
            after: Duration::from_millis(100),
        };
        // The daemon creates it late: at the fourth try.
        let (fake, d) = lost_create(timed_out(), 4);
        let (r, logs) = logs_of(|| d.run_container(opts("run")));
        assert!(r.unwrap_err().is_timeout());
        let state = fake.state();
        assert_eq!(state.calls.iter().filter(|c| *c == "remove").count(), 4);
        assert!(state.containers.is_empty());
        assert_eq!(state.removed.len(), 1);
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        drop(state);

        // It never shows up: the run gives up after three times the limit, and says so.
        let (fake, d) = lost_create(timed_out(), 0);
        let started = Instant::now();
        let (r, logs) = logs_of(|| d.run_container(opts("run")));
        let took = started.elapsed();
        assert!(r.unwrap_err().is_timeout());
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(fake.calls().iter().filter(|c| *c == "remove").count() > 2);
        assert!(
            logs.iter().any(|(l, m)| *l == log::Level::Warn
                && m.starts_with("Container \"s2i_builder_")
                && m.contains("did not show up within 300ms")),
            "{logs:?}"
        );

        // A cancel stops the search at once.
        let (fake, d) = lost_create(timed_out(), 0);
        fake.state().create_err = Some(Error::Timeout {
            what: "POST /containers/create".into(),
            after: Duration::from_secs(60),
        });
        let cancel = RunCancel::new();
        let c = cancel.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.cancel();
        });
        let started = Instant::now();
        let r = d.run_container(RunContainerOptions {
            cancel: Some(cancel),
            ..opts("run")
        });
        assert!(r.unwrap_err().is_timeout());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
