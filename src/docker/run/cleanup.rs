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

/// The first pause between two removals of the run's container; each next one is twice as
/// long, up to [`REMOVE_PAUSE_MAX`].
const REMOVE_PAUSE: Duration = Duration::from_millis(200);

/// The longest pause between two removals of the run's container.
const REMOVE_PAUSE_MAX: Duration = Duration::from_secs(2);

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
    /// How the removal went, once it was tried.
    removed: Mutex<Removal>,
    /// How long the removal keeps trying ([`REMOVE_WINDOW`](super::REMOVE_WINDOW)).
    window: Duration,
}

/// How the removal of the run's container went.
enum Removal {
    NotTried,
    Removed,
    /// The container is left; the error says why, until the run takes it.
    Failed(Option<Error>),
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
            removed: Mutex::new(Removal::NotTried),
            window: super::REMOVE_WINDOW,
        }
    }

    /// The same with another window for the removal's retries.
    #[cfg(test)]
    pub(super) fn with_window(mut self, window: Duration) -> Container {
        self.window = window;
        self
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
    /// runs: a forced removal kills it first. A removal that fails in transit, or that the
    /// daemon cannot carry out now (a 5xx, a conflict once forced), is tried again after a
    /// pause (200 ms, doubling up to 2 s) until the window ([`REMOVE_WINDOW`](super::REMOVE_WINDOW))
    /// has passed; a 404 means the container is gone. A container that is still there then is
    /// logged at error level, and [`take_removal_error`](Container::take_removal_error) says
    /// why.
    pub(super) fn remove(&self) -> bool {
        let mut removed = lock(&self.removed);
        match *removed {
            Removal::NotTried => {}
            Removal::Removed => return true,
            Removal::Failed(_) => return false,
        }
        self.kill();
        let (kill_failed, kill_error) = {
            let mut kill = lock(&self.kill);
            (kill.failed, kill.error.take())
        };
        *removed = match self.remove_within_window(kill_failed) {
            Ok(()) => Removal::Removed,
            Err(e) => {
                if let Some(k) = kill_error {
                    log::warn!("Failed to kill container \"{}\": {k}", self.id);
                }
                let e = e.context(format_args!(
                    "container \"{}\" is left behind: removing it failed",
                    self.id
                ));
                log::error!("{e}");
                Removal::Failed(Some(e))
            }
        };
        matches!(*removed, Removal::Removed)
    }

    /// Why the container could not be removed, once: `None` if it was removed (or not tried).
    pub(super) fn take_removal_error(&self) -> Option<Error> {
        match &mut *lock(&self.removed) {
            Removal::Failed(e) => e.take(),
            _ => None,
        }
    }

    /// Sends the removal until it succeeds, the daemon refuses it for good, or the window has
    /// passed (a removal in flight then is not cut short: its own time limit applies).
    fn remove_within_window(&self, force: bool) -> Result<(), Error> {
        let mut opts = ContainerRemoveOptions {
            remove_volumes: true,
            force,
        };
        let until = Instant::now().checked_add(self.window);
        let mut pause = REMOVE_PAUSE;
        loop {
            let e = match self.cleanup.container_remove(&self.id, &opts) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_not_found() => {
                    log::debug!("Container \"{}\" is gone already: {e}", self.id);
                    return Ok(());
                }
                Err(e) => e,
            };
            if !opts.force && e.is_conflict() {
                // Still running although it was killed (a daemon slow to reap it, a kill still
                // on its way from a cancelling thread): make the daemon do both.
                opts.force = true;
                continue;
            }
            let now = Instant::now();
            let left = until.map_or(pause, |until| until.saturating_duration_since(now));
            if !worth_retrying(&e) || left.is_zero() {
                return Err(e);
            }
            log::debug!(
                "Failed to remove container \"{}\", trying again in {pause:?}: {e}",
                self.id
            );
            thread::sleep(pause.min(left));
            pause = (pause * 2).min(REMOVE_PAUSE_MAX);
        }
    }
}

/// Whether a removal that failed so may succeed later: it failed in transit (the engine
/// unreachable, the connection cut, no reply in time), or the daemon could not carry it out
/// now (a 5xx, or a conflict such as a removal already in progress).
fn worth_retrying(e: &Error) -> bool {
    matches!(
        e,
        Error::Connect { .. } | Error::Io(_) | Error::Protocol(_) | Error::Timeout { .. }
    ) || e.status().is_some_and(|s| s == 409 || s >= 500)
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
    fn a_container_left_behind_fails_a_run_that_succeeded() {
        // A refusal that waiting does not change: tried once.
        let (fake, d) = setup();
        fake.state().remove_err = Some(Error::api(400, "bad parameter"));
        let (r, logs) = logs_of(|| d.run_container(opts("assemble")));
        let e = r.unwrap_err();
        assert_eq!(e.status(), Some(400));
        let text = "Error response from daemon: container \"fake-container-1\" is left behind: removing it failed: bad parameter";
        assert_eq!(e.to_string(), text);
        assert_logged(&logs, log::Level::Error, text);
        assert_eq!(fake.calls().iter().filter(|c| *c == "remove").count(), 1);

        // A run that failed keeps its error; the container is logged.
        let (fake, d) = setup();
        fake.state().remove_err = Some(Error::api(400, "bad parameter"));
        fake.state().wait_container_result = 3;
        let (r, logs) = logs_of(|| d.run_container(opts("assemble")));
        assert_eq!(r.unwrap_err().exit_code(), Some(3));
        assert_logged(&logs, log::Level::Error, text);
    }

    #[test]
    fn a_removal_that_fails_in_transit_is_tried_again() {
        let (fake, d) = setup();
        for e in [io_error(), Error::api(500, "device busy")] {
            fake.state().remove_failures.push_back(e);
        }
        let (r, logs) = logs_of(|| d.run_container(opts("assemble")));
        r.unwrap();
        assert_eq!(fake.calls().iter().filter(|c| *c == "remove").count(), 3);
        assert!(fake.state().containers.is_empty());
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");

        // Gone already (a removal that reached the daemon but whose reply was lost).
        let (fake, d) = setup();
        fake.state().remove_failures.push_back(io_error());
        fake.state()
            .remove_failures
            .push_back(Error::api(404, "No such container: fake-container-1"));
        d.run_container(opts("assemble")).unwrap();
        assert_eq!(fake.calls().iter().filter(|c| *c == "remove").count(), 2);
    }

    #[test]
    fn the_removal_gives_up_after_its_window() {
        let fake = Arc::new(FakeClient::new());
        fake.state()
            .containers
            .insert("c1".into(), Default::default());
        fake.state().remove_err = Some(io_error());
        let c = Container::new(fake.clone(), "c1".into()).with_window(Duration::from_millis(700));
        let started = Instant::now();
        let (removed, logs) = logs_of(|| c.remove());
        let took = started.elapsed();
        assert!(!removed);
        assert!(took >= Duration::from_millis(700), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        // At 0, 200 ms, 600 ms and 700 ms.
        assert_eq!(fake.calls().iter().filter(|c| *c == "remove").count(), 4);
        let e = c.take_removal_error().unwrap();
        assert!(e.is_connection_error(), "{e:?}");
        assert!(matches!(e, Error::Io(_)));
        assert!(
            e.to_string().contains("container \"c1\" is left behind"),
            "{e}"
        );
        assert!(
            logs.iter().any(|(l, _)| *l == log::Level::Error),
            "{logs:?}"
        );
        // Once: a second call neither tries again nor returns the error again.
        assert!(!c.remove());
        assert!(c.take_removal_error().is_none());
        assert_eq!(fake.calls().iter().filter(|c| *c == "remove").count(), 4);
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
