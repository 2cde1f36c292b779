//! `run_container`: create, attach, start, stream, wait, and remove on every path.
//!
//! A run uses the caller's thread and up to four more: one copies the caller's stdin into the
//! attach stream, one copies the container's output out of it, one runs `on_start`, and one
//! waits for the container to exit. The caller's thread watches them all (through one channel
//! of [`Event`]s), so that whatever happens first (the container exiting, a stream failing, a
//! cancel) is acted on at once. The first three threads are scoped to the run and always
//! joined; the run makes sure they end by shutting the attach connection down. The wait is not
//! joined when the run stops early: the run must not depend on the daemon answering it, and
//! the removal of the container ends it soon after.

use std::any::Any;
use std::fmt;
use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::{Client, ShutdownHandle, StdinWriter};
use crate::config::Image;
use crate::docker::io::filled;
use crate::docker::{destination_of, image_from_inspect, pull, scripts_url_of};
use crate::docker::{DockerClient, RunContainerOptions};
use crate::error::{Error, Result};
use crate::image_ref::{container_name, get_image_name};
use crate::ops::container::{
    ContainerAttachOptions, ContainerConfig, ContainerCreateBody, ContainerRemoveOptions,
    ContainerWaitResponse, HostConfig,
};
use crate::ops::container::{Signal, WaitCondition};
use crate::ops::stream::demux;

/// `/dev/shm` size of S2I containers: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 67_108_864;

/// The entrypoint that replaces an image's own so that S2I's command runs as given.
pub const DEFAULT_ENTRYPOINT: &[&str] = &["/usr/bin/env"];

/// How long the output stream of an exited container may stay silent before the run closes
/// it (see [`DockerClient::with_output_grace`]).
pub(crate) const DEFAULT_OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// After a create whose reply came too late, how many times its own time limit the run keeps
/// looking for the container the daemon may still create.
const LOST_CREATE_PATIENCE: u32 = 3;

/// How long a run that ended early waits, after removing its container, for the wait thread to
/// hear of the removal and release its connection.
const WAIT_AFTER_REMOVAL: Duration = Duration::from_secs(2);

/// Cancels runs of [`Docker::run_container`](crate::Docker::run_container) from another thread.
///
/// Put a clone in [`RunContainerOptions::cancel`] and call [`cancel`](RunCancel::cancel) from
/// anywhere. A running run stops at once: its attach stream is shut down (no more input or
/// output is copied), it stops waiting for the container, and it returns [`Error::Cancelled`]
/// after removing the container. The container is also killed from the cancelling thread;
/// when that kill fails, the removal is forced (the daemon kills the container as part of it),
/// so the run never waits for a container that will not stop. A run that has not created its
/// container yet returns [`Error::Cancelled`] before creating it. Once cancelled, a handle
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

type CancelAction = Box<dyn FnOnce() + Send>;

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
    fn arm(&self, action: CancelAction) -> Option<Armed> {
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

struct Armed {
    inner: Arc<CancelInner>,
    id: u64,
}

impl Drop for Armed {
    fn drop(&mut self) {
        self.inner.actions().retain(|(id, _)| *id != self.id);
    }
}

/// Locks a mutex whose data stays valid whatever a panicking holder was doing.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The run's container, shared with its cancel action: killed at most once, removed once.
struct Container {
    client: Arc<dyn Client>,
    id: String,
    /// The wait reported its exit: there is nothing to kill.
    exited: AtomicBool,
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
    fn new(client: Arc<dyn Client>, id: String) -> Container {
        Container {
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
    fn kill(&self) {
        if self.exited.load(Ordering::SeqCst) {
            return;
        }
        let mut kill = lock(&self.kill);
        if kill.sent {
            return;
        }
        kill.sent = true;
        if let Err(e) = self.client.container_kill(&self.id, Signal::Kill) {
            log::debug!("Failed to kill container \"{}\": {e}", self.id);
            kill.failed = true;
            kill.error = Some(e);
        }
    }

    fn kill_failed(&self) -> bool {
        lock(&self.kill).failed
    }

    /// Kills (see [`kill`](Container::kill)) and removes the container with its volumes, the
    /// first time it is called; whether the container is gone.
    ///
    /// The removal is forced when the kill failed, or when the daemon says the container still
    /// runs: a forced removal kills it first. Failures are logged, never returned (they do not
    /// change the run's result).
    fn remove(&self) -> bool {
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
        let mut result = self.client.container_remove(&self.id, &opts);
        if !opts.force && result.as_ref().is_err_and(Error::is_conflict) {
            // Still running although it was killed (a daemon slow to reap it, a kill still on
            // its way from a cancelling thread): make the daemon do both.
            opts.force = true;
            result = self.client.container_remove(&self.id, &opts);
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

/// Removes the container when dropped, on the paths that leave `run_container` early
/// (including a panic).
struct RemoveOnDrop<'a>(&'a Container);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        self.0.remove();
    }
}

/// The run's attach connection, as far as ending it from another thread goes.
#[derive(Default)]
struct Link {
    state: Mutex<LinkState>,
}

#[derive(Default)]
enum LinkState {
    /// Not attached (yet).
    #[default]
    Detached,
    /// Attached over a connection that can be shut down.
    Attached(ShutdownHandle),
    /// Attached over a connection that cannot (a [`Client`] whose writer has no handle).
    Unstoppable,
    /// Shut down (or asked to be before there was anything to shut down).
    Shut,
}

impl Link {
    /// Records the attached connection; one asked to shut down before is shut down now.
    fn attached(&self, handle: Option<ShutdownHandle>) {
        let mut state = lock(&self.state);
        match (&*state, handle) {
            (LinkState::Shut, Some(h)) => h.shutdown(),
            (LinkState::Shut, None) => {}
            (_, Some(h)) => *state = LinkState::Attached(h),
            (_, None) => *state = LinkState::Unstoppable,
        }
    }

    /// Shuts the connection down, both ways; `false` when it cannot be (then only the daemon
    /// can end it: the run removes the container for that).
    fn shutdown(&self) -> bool {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, LinkState::Shut) {
            LinkState::Attached(h) => {
                h.shutdown();
                true
            }
            LinkState::Unstoppable => {
                *state = LinkState::Unstoppable;
                false
            }
            LinkState::Detached | LinkState::Shut => true,
        }
    }

    fn is_shut(&self) -> bool {
        matches!(*lock(&self.state), LinkState::Shut)
    }
}

/// Stops what the run is waiting for, whatever the container does: the attach connection is
/// shut down (its threads' reads and writes return) and the container killed.
///
/// A container the kill could not stop is removed at once (forced), before the run waits for
/// its threads: a stream reader may itself wait for the container to stop (Podman's attach
/// output completes a cut stream from the container's logs once it stopped). So is one whose
/// connection cannot be shut down, which only the daemon can end.
fn stop(container: &Container, link: &Link) {
    let shut = link.shutdown();
    container.kill();
    if !shut || container.kill_failed() {
        container.remove();
    }
}

/// Stops the run if it unwinds from a panic inside the streaming scope, so the scope's threads
/// can end and the panic can propagate.
struct StopOnUnwind<'a>(&'a Container, &'a Link);

impl Drop for StopOnUnwind<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            stop(self.0, self.1);
        }
    }
}

/// What the run's threads (and its cancel action) tell the watching thread.
enum Event {
    /// The caller's stdin was copied and the input closed, or one side failed.
    Input(Result<(), Pumped>),
    /// The output stream ended (cleanly or not); the caller's writers are closed.
    Output(Result<()>),
    /// The wait answered.
    Waited(Result<ContainerWaitResponse>),
    /// The run was cancelled.
    Cancelled,
}

/// Runs a caller's hook; a panic in it becomes an error instead of unwinding through the run.
pub(crate) fn catch_hook<T>(hook: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(Error::other(format!(
            "{hook} panicked: {}",
            panic_message(payload.as_ref())
        ))),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
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
fn remove_after_lost_create(
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
    let until = Instant::now() + patience;
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
        if now >= until {
            if !patience.is_zero() {
                log::warn!(
                    "Container \"{name}\" did not show up within {patience:?} after its create \
                     request timed out; if the daemon still creates it, it stays"
                );
            }
            return;
        }
        // Short naps, so that a cancel is heard at once.
        let next = now + pause.min(until - now);
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

/// The reference's `holdHijackedConnection` + wait + hooks; see [`run_container`].
pub(crate) fn run_container(d: &DockerClient, mut opts: RunContainerOptions) -> Result<()> {
    let cancel = opts.cancel.clone();
    let cancelled = || cancel.as_ref().is_some_and(RunCancel::is_cancelled);
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let image = get_image_name(&opts.image);

    // One inspect gives labels, env and entrypoint (the reference made three calls for these).
    let inspected = if opts.pull_image {
        pull::inspect_or_pull(d, &image)
    } else {
        d.client.image_inspect_with_raw(&image).map(|(i, _)| i)
    };
    let inspect = match inspected {
        Ok(i) => i,
        Err(e) => {
            log::error!("Unable to get image metadata for {image}: {e}");
            return Err(e);
        }
    };
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let metadata = image_from_inspect(&inspect);
    let image_entrypoint = inspect
        .config
        .as_ref()
        .and_then(|c| c.entrypoint.as_deref())
        .unwrap_or_default();

    let (cmd, tar_destination) = if opts.target_image {
        (None, String::new())
    } else {
        let (cmd, dest) = command_for(&opts, Some(&metadata))?;
        (Some(cmd), dest)
    };
    let entrypoint = if !opts.entrypoint.is_empty() {
        Some(opts.entrypoint.clone())
    } else if !image_entrypoint.is_empty() && !opts.target_image {
        Some(DEFAULT_ENTRYPOINT.iter().map(|s| s.to_string()).collect())
    } else {
        None
    };
    let body = create_body(&opts, image.clone(), entrypoint, cmd);
    let name = container_name(&opts.image);
    log::debug!(
        "Creating container with options {{Name:{name} Config:{}}}",
        redacted_for_log(&body)
    );
    let created = match d.client.container_create(&body, &name) {
        Ok(created) => created,
        Err(e) => {
            remove_after_lost_create(d.client.as_ref(), &name, &e, &cancelled);
            return Err(e);
        }
    };
    for warning in &created.warnings {
        log::warn!("{warning}");
    }
    let container = Arc::new(Container::new(d.client.clone(), created.id));
    let guard = RemoveOnDrop(&container);
    let link = Arc::new(Link::default());
    let (sender, events) = mpsc::channel();
    let _armed = match &cancel {
        Some(c) => {
            let (container, link, sender) = (container.clone(), link.clone(), sender.clone());
            let action: CancelAction = Box::new(move || {
                // The run stops waiting first, so that it ends whatever the kill does.
                link.shutdown();
                let _ = sender.send(Event::Cancelled);
                container.kill();
            });
            match c.arm(action) {
                Some(armed) => Some(armed),
                None => return Err(Error::Cancelled),
            }
        }
        None => None,
    };
    let run = Run {
        d,
        container: &container,
        link: &link,
        sender: &sender,
        events: &events,
    };
    let mut wait_pending = false;
    let result = attach_start_wait(&run, &image, &mut opts, &cancelled, &mut wait_pending);
    let result = match result {
        Ok(()) if cancelled() => Err(Error::Cancelled),
        Ok(()) => match opts.post_exec.take() {
            Some(post) => {
                log::info!("Invoking PostExecute function");
                catch_hook("post_exec", || {
                    post.post_execute(&container.id, &tar_destination)
                })
            }
            None => Ok(()),
        },
        Err(e) => Err(e),
    };
    drop(_armed);
    if container.remove() && wait_pending {
        // The daemon answers a wait once its container is gone: let the wait thread end (and
        // let go of its connection) before returning, but never for long.
        drop(sender);
        reap_wait(&events, WAIT_AFTER_REMOVAL);
    }
    // The remaining option streams go with `opts`.
    drop(guard);
    result
}

/// Waits at most `limit` for the wait thread's answer.
fn reap_wait(events: &Receiver<Event>, limit: Duration) {
    let until = Instant::now() + limit;
    loop {
        match events.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok(Event::Waited(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// What the watching thread works with.
struct Run<'a> {
    d: &'a DockerClient,
    container: &'a Arc<Container>,
    link: &'a Arc<Link>,
    sender: &'a Sender<Event>,
    events: &'a Receiver<Event>,
}

/// Attach, start, stream stdin in and output out, wait, join `on_start`.
fn attach_start_wait(
    run: &Run<'_>,
    image: &str,
    opts: &mut RunContainerOptions,
    cancelled: &dyn Fn() -> bool,
    wait_pending: &mut bool,
) -> Result<()> {
    let client = run.d.client.as_ref();
    let container: &Container = run.container;
    let link: &Link = run.link;
    let id = container.id.as_str();
    let stdin = opts.stdin.take();
    let stdout = opts.stdout.take();
    let stderr = opts.stderr.take();
    let hijacked = if stdin.is_some() || stdout.is_some() || stderr.is_some() {
        // Attached before the start so that no output is lost; `stream=1` whichever stream is
        // attached, or the daemon answers at once without streaming.
        let attach = ContainerAttachOptions {
            stream: true,
            stdin: stdin.is_some(),
            stdout: stdout.is_some(),
            stderr: stderr.is_some(),
        };
        match client.container_attach(id, &attach) {
            Ok(h) => {
                link.attached(h.writer.shutdown_handle());
                Some(h)
            }
            Err(e) => {
                log::error!("Unable to attach to container \"{id}\": {e}");
                return Err(e);
            }
        }
    } else {
        None
    };
    // Checked on both sides of the start: a cancel that came during the attach finds the
    // container not started yet, and its kill was a no-op, so it must not be started at all.
    if cancelled() {
        return Err(Error::Cancelled);
    }
    client.container_start(id)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let on_start = opts.on_start.take();
    let (reader, writer) = match hijacked {
        Some(h) => (Some(h.reader), Some(h.writer)),
        None => (None, None),
    };
    // When the output thread's current read began; `None` while it is not reading (it is
    // handing output to the caller's writers, which may take their time).
    let reading_since: Mutex<Option<Instant>> = Mutex::new(None);

    thread::scope(|s| {
        let _unwind = StopOnUnwind(container, link);
        // Only stdin is attached: the read half stays open (unread) until the run ends.
        let mut _idle_reader = None;
        let output = match (reader, stdout.is_some() || stderr.is_some()) {
            (Some(reader), true) => {
                let sender = run.sender.clone();
                let reading_since = &reading_since;
                let spawned = spawn(s, "s2i-output", move || {
                    let mut reader = Watched {
                        inner: reader,
                        reading_since,
                    };
                    let mut out = Flushing(stdout);
                    let mut err = Flushing(stderr);
                    let copied =
                        catch_hook("output writer", || demux(&mut reader, &mut out, &mut err));
                    // Closed at the end of the stream, before the run ends, so that readers of
                    // pipes behind them see EOF.
                    drop((out, err));
                    let _ = sender.send(Event::Output(copied));
                });
                if let Err(e) = spawned {
                    stop(container, link);
                    return Err(e);
                }
                true
            }
            (reader, _) => {
                drop((stdout, stderr));
                _idle_reader = reader;
                false
            }
        };
        // Writing stdin fails when the container exits before reading it all (Podman resets
        // the connection at once). The exit code says whether that mattered: `tar -xf -` on a
        // cut stream fails, a script that ignores its input succeeds.
        let mut write_failure: Option<Error> = None;
        let input = match (writer, stdin) {
            (Some(mut w), Some(mut input)) => {
                let sender = run.sender.clone();
                let spawned = spawn(s, "s2i-input", move || {
                    let pumped = panic::catch_unwind(AssertUnwindSafe(|| {
                        pump_stdin(&mut input, w.as_mut()).and_then(|()| {
                            // With `StdinOnce`, this closes the container's stdin: `tar -xf -`
                            // sees EOF.
                            w.close_write().map_err(Pumped::Write)
                        })
                    }))
                    .unwrap_or_else(|_| Err(Pumped::Read(Error::other("stdin writer panicked"))));
                    // The caller's stdin is closed here; the write half stays open until here
                    // so that the daemon does not see an early EOF.
                    drop((input, w));
                    let _ = sender.send(Event::Input(pumped));
                });
                if let Err(e) = spawned {
                    stop(container, link);
                    return Err(e);
                }
                true
            }
            (Some(mut w), None) => {
                if let Err(e) = w.close_write() {
                    write_failure = Some(e.into());
                }
                false
            }
            (None, stdin) => {
                drop(stdin);
                false
            }
        };
        let hook = match on_start {
            Some(f) => match spawn(s, "s2i-on-start", move || catch_hook("on_start", || f(id))) {
                Ok(h) => Some(h),
                Err(e) => {
                    // The scope joins the stream threads before returning: end their streams.
                    stop(container, link);
                    return Err(e);
                }
            },
            None => None,
        };
        if opts.target_image {
            dump_container_info(client, image, id);
        }
        let mut result = match spawn_wait(container, run.sender) {
            Ok(()) => {
                *wait_pending = true;
                let pending = Pending {
                    input,
                    output,
                    write_failure,
                };
                watch(run, pending, &reading_since, wait_pending)
            }
            Err(e) => {
                stop(container, link);
                Err(e)
            }
        };
        if result.is_err() || cancelled() {
            // Whatever `on_start` is doing with the container ends sooner without it.
            container.kill();
        }
        if let Some(h) = hook {
            let hooked = h
                .join()
                .unwrap_or_else(|_| Err(Error::other("on_start panicked")));
            match (&result, hooked) {
                (_, Ok(())) => {}
                (Ok(()), Err(e)) => result = Err(e),
                (Err(_), Err(e)) => log::warn!("on_start hook of container \"{id}\" failed: {e}"),
            }
        }
        if cancelled() {
            return Err(Error::Cancelled);
        }
        result
    })
}

/// Starts a scoped thread; the OS refusing one is an error of the run, not a panic.
fn spawn<'scope, T: Send + 'scope>(
    s: &'scope thread::Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<thread::ScopedJoinHandle<'scope, T>> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(s, f)
        .map_err(|e| Error::other(format!("cannot start the {name} thread: {e}")))
}

/// Starts waiting for the container on a thread of its own, which is not joined (see the
/// module's docs); the answer comes as [`Event::Waited`].
fn spawn_wait(container: &Container, sender: &Sender<Event>) -> Result<()> {
    let client = container.client.clone();
    let id = container.id.clone();
    let sender = sender.clone();
    thread::Builder::new()
        .name("s2i-wait".to_string())
        .spawn(move || {
            let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                client.container_wait(&id, WaitCondition::NotRunning)
            }))
            .unwrap_or_else(|_| Err(Error::other("the wait panicked")));
            // Let go of the client (and any connection it keeps) before the run hears of
            // the answer and returns.
            drop(client);
            let _ = sender.send(Event::Waited(waited));
        })
        .map(drop)
        .map_err(|e| Error::other(format!("cannot start the s2i-wait thread: {e}")))
}

/// The stream threads still running when the watch begins.
struct Pending {
    input: bool,
    output: bool,
    write_failure: Option<Error>,
}

/// Watches the run until the container exited and both streams ended, or until something
/// ends it early: the caller's stdin failing, the output failing, the wait failing, a cancel.
/// Ending early stops the run (see [`stop`]).
///
/// Once the container exited, its output stream has [`DockerClient::with_output_grace`] of
/// silence to end by itself: some daemons keep it open after the exit (S2I issues #934 and
/// #1062 were runs hanging there). The silence counts only while the output thread waits for
/// data, not while the caller's writers take their time, so no output is cut short.
fn watch(
    run: &Run<'_>,
    mut pending: Pending,
    reading_since: &Mutex<Option<Instant>>,
    wait_pending: &mut bool,
) -> Result<()> {
    let container: &Container = run.container;
    let link: &Link = run.link;
    let id = container.id.as_str();
    let grace = run.d.output_grace;
    let mut waited: Option<ContainerWaitResponse> = None;
    let mut exited_at: Option<Instant> = None;
    // The run closed the output stream of the exited container itself.
    let mut closed_after_exit = false;
    let stopped = loop {
        if !pending.input && !pending.output {
            if let Some(w) = waited.take() {
                return finish_wait(run.d.client.as_ref(), container, w, pending.write_failure);
            }
        }
        let next = match exited_at {
            Some(exit) if !closed_after_exit && !link.is_shut() => {
                let silent_since = if pending.output {
                    lock(reading_since).map(|t| t.max(exit))
                } else {
                    Some(exit)
                };
                let now = Instant::now();
                // `None`: the output thread is busy with the caller's writers; look again later.
                let due = silent_since.map_or(now + grace, |t| t + grace);
                if now >= due {
                    log::warn!(
                        "The output stream of container \"{id}\" stayed open {grace:?} after it \
                         exited; closing it"
                    );
                    closed_after_exit = true;
                    if !link.shutdown() {
                        container.remove();
                    }
                    continue;
                }
                run.events.recv_timeout(due - now)
            }
            _ => run
                .events
                .recv()
                .map_err(|_| RecvTimeoutError::Disconnected),
        };
        let event = match next {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            // Cannot happen: the run holds a sender.
            Err(RecvTimeoutError::Disconnected) => {
                break Error::other("the run's threads are gone")
            }
        };
        match event {
            Event::Cancelled => break Error::Cancelled,
            Event::Input(Ok(())) => pending.input = false,
            Event::Input(Err(Pumped::Write(e))) => {
                pending.input = false;
                pending.write_failure.get_or_insert(e.into());
            }
            Event::Input(Err(Pumped::Read(e))) => break e,
            Event::Output(Ok(())) => pending.output = false,
            Event::Output(Err(e)) if closed_after_exit || link.is_shut() => {
                // Cut by the run itself after the exit: everything before was copied.
                log::debug!("Output stream of container \"{id}\" closed: {e}");
                pending.output = false;
            }
            Event::Output(Err(e)) => break e,
            Event::Waited(Ok(w)) => {
                *wait_pending = false;
                container.exited.store(true, Ordering::SeqCst);
                exited_at = Some(Instant::now());
                waited = Some(w);
            }
            Event::Waited(Err(e)) => {
                *wait_pending = false;
                break Error::other(format!("waiting for container \"{id}\" to stop: {e}"));
            }
        }
    };
    stop(container, link);
    Err(stopped)
}

/// Turns the wait's answer into the run's result: a non-zero exit is a `ContainerError`.
fn finish_wait(
    client: &dyn Client,
    container: &Container,
    waited: ContainerWaitResponse,
    write_failure: Option<Error>,
) -> Result<()> {
    let id = container.id.as_str();
    let code = waited.status_code;
    if code != 0 {
        // A fresh call: the reference reused an expired deadline here and lost the state.
        let output = match client.container_inspect(id) {
            Ok(inspect) => inspect
                .state
                .map(|st| {
                    format!(
                        "Status: {}, Error: {}, OOMKilled: {}, Dead: {}",
                        st.status, st.error, st.oom_killed, st.dead
                    )
                })
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        return Err(Error::container(id, code, output));
    }
    if let Some(e) = write_failure {
        log::warn!("Container \"{id}\" exited without reading all of its input: {e}");
    }
    Ok(())
}

/// The attach stream's read half, noting when each read began (for the grace period after the
/// container's exit).
struct Watched<'a> {
    inner: Box<dyn Read + Send>,
    reading_since: &'a Mutex<Option<Instant>>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        *lock(self.reading_since) = Some(Instant::now());
        let read = self.inner.read(buf);
        *lock(self.reading_since) = None;
        read
    }
}

enum Pumped {
    Read(Error),
    Write(io::Error),
}

/// Copies the caller's stdin into the container, telling the two sides' errors apart.
fn pump_stdin(input: &mut Box<dyn Read + Send>, w: &mut dyn StdinWriter) -> Result<(), Pumped> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match catch_hook("stdin reader", || Ok(input.read(&mut buf))) {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => return Err(Pumped::Read(e.into())),
            Err(panicked) => return Err(Pumped::Read(panicked)),
        };
        let chunk = filled(&buf, n).map_err(|e| Pumped::Read(e.into()))?;
        w.write_all(chunk).map_err(Pumped::Write)?;
    }
}

/// A writer that flushes after every write, so the caller sees the output as it arrives.
struct Flushing(Option<Box<dyn Write + Send>>);

impl Write for Flushing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(w) => {
                w.write_all(buf)?;
                w.flush()?;
                Ok(buf.len())
            }
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Logs where a `target_image` container's ports are published (the reference's
/// `dumpContainerInfo`); errors are ignored, this is information only.
fn dump_container_info(client: &dyn Client, image: &str, id: &str) {
    let Ok(inspect) = client.container_inspect(id) else {
        return;
    };
    let mut text = format!(
        "The image {image} has been started in container {id} as a result of the --run=true option. \
         Port Bindings:"
    );
    let mut ports: Vec<_> = inspect
        .network_settings
        .map(|n| n.ports.into_iter().collect())
        .unwrap_or_default();
    ports.sort_by(|a, b| a.0.cmp(&b.0));
    if ports.is_empty() {
        text.push_str(" none");
    }
    for (port, bindings) in ports {
        text.push_str(&format!(
            "\n  Container Port:  {port}\n  Public Host / Port Mappings:"
        ));
        for b in bindings.unwrap_or_default() {
            text.push_str(&format!("\n    IP: {} Port: {}", b.host_ip, b.host_port));
        }
    }
    log::info!("{text}");
}

/// Command construction (the reference's §3.4): the container's `Cmd` and the tar destination.
pub(crate) fn command_for(
    opts: &RunContainerOptions,
    image: Option<&Image>,
) -> Result<(Vec<String>, String)> {
    if !opts.command_explicit.is_empty() {
        return Ok((opts.command_explicit.clone(), String::new()));
    }
    let tar_destination = if opts.destination.is_empty() {
        destination_of(image)
    } else {
        opts.destination.clone()
    };
    let base_dir = if opts.external_scripts {
        path_join(&[&tar_destination, "scripts"])
    } else {
        let url = if opts.scripts_url.is_empty() {
            scripts_url_of(image)
        } else {
            opts.scripts_url.clone()
        };
        match url.strip_prefix("image://") {
            Some(path) => path.to_string(),
            None => url,
        }
    };
    let binary = path_join(&[&base_dir, &opts.command]);
    let with_tar = opts.stdin.is_some() && (opts.command == "assemble" || opts.command == "usage");
    if !with_tar {
        return Ok((vec![binary], tar_destination));
    }
    let mut line = format!("tar -C {tar_destination} -xf - && {binary}");
    if let Some(rewrite) = &opts.command_overrides {
        line = catch_hook("command_overrides", || Ok(rewrite(&line)))?;
    }
    Ok((
        vec!["/bin/sh".to_string(), "-c".to_string(), line],
        tar_destination,
    ))
}

/// Go's `path.Join`: joins the non-empty elements with `/` and cleans the result lexically.
pub(crate) fn path_join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    String::from_utf8_lossy(&crate::archive::clean(joined.as_bytes())).into_owned()
}

/// The create request (the reference's §3.2).
fn create_body(
    opts: &RunContainerOptions,
    image: String,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
) -> ContainerCreateBody {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let limits = opts.cgroup_limits.clone().unwrap_or_default();
    ContainerCreateBody {
        config: ContainerConfig {
            image,
            user: opts.user.clone(),
            env: some(&opts.env),
            entrypoint,
            cmd,
            open_stdin: opts.stdin.is_some(),
            stdin_once: opts.stdin.is_some(),
            attach_stdout: opts.stdout.is_some(),
            ..Default::default()
        },
        host_config: HostConfig {
            cap_drop: some(&opts.cap_drop),
            publish_all_ports: opts.target_image,
            network_mode: opts.network_mode.clone(),
            binds: some(&opts.binds),
            extra_hosts: some(&opts.add_host),
            security_opt: some(&opts.security_opt),
            memory: limits.memory_limit_bytes,
            memory_swap: limits.memory_swap,
            cgroup_parent: limits.parent,
            cpu_shares: limits.cpu_shares,
            cpu_quota: limits.cpu_quota,
            cpu_period: limits.cpu_period,
            shm_size: DEFAULT_SHM_SIZE,
            ..Default::default()
        },
    }
}

/// The create request as JSON for the log, with only the names of the environment variables:
/// their values can hold secrets (tokens, passwords, credentials in proxy URLs).
fn redacted_for_log(body: &ContainerCreateBody) -> String {
    let mut body = body.clone();
    if let Some(env) = &mut body.config.env {
        for e in env.iter_mut() {
            if let Some((name, _)) = e.split_once('=') {
                *e = name.to_string();
            }
        }
    }
    serde_json::to_string(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::atomic::AtomicBool;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::docker::Docker;
    use crate::fake::testing::docker::*;
    use crate::fake::{stdcopy_frame, FakeClient};
    use crate::ops::container::ContainerState;
    use crate::CGroupLimits;

    fn stdin(data: &[u8]) -> Option<Box<dyn Read + Send>> {
        Some(Box::new(Cursor::new(data.to_vec())))
    }

    fn opts(command: &str) -> RunContainerOptions {
        RunContainerOptions {
            image: "builder".into(),
            command: command.into(),
            ..Default::default()
        }
    }

    /// Runs `o` against a fake holding `img` as `builder:latest`; returns the create body.
    fn created_with(
        img: crate::ops::image::ImageInspect,
        o: RunContainerOptions,
    ) -> ContainerCreateBody {
        let fake = Arc::new(FakeClient::new());
        fake.add_image("builder:latest", img);
        let d = DockerClient::new(fake.clone(), auth());
        d.run_container(o).unwrap();
        let created = fake.state().created.clone();
        assert_eq!(created.len(), 1);
        created[0].1.clone()
    }

    fn cmd_of(img: crate::ops::image::ImageInspect, o: RunContainerOptions) -> Vec<String> {
        created_with(img, o).config.cmd.unwrap_or_default()
    }

    fn sh(line: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), line.into()]
    }

    #[test]
    fn call_sequence_with_and_without_streams() {
        let (fake, d) = setup();
        d.run_container(RunContainerOptions {
            stdin: stdin(b"tar"),
            ..opts("assemble")
        })
        .unwrap();
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "attach",
                "start",
                "wait",
                "remove"
            ]
        );
        let (fake, d) = setup();
        d.run_container(opts("run")).unwrap();
        // Nothing to stream: no attach at all.
        assert_eq!(
            fake.calls(),
            ["inspect_image", "create", "start", "wait", "remove"]
        );
        assert!(fake.state().containers.is_empty());
        let (name, _) = fake.state().created[0].clone();
        assert!(name.starts_with("s2i_builder_"), "{name}");
        assert!(fake.state().removed[0].1.remove_volumes);
    }

    // Every case of the command construction (§3.4).

    #[test]
    fn command_from_the_scripts_label() {
        assert_eq!(cmd_of(builder(), opts("run")), ["/usr/libexec/s2i/run"]);
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("assemble")
                }
            ),
            sh("tar -C /tmp -xf - && /usr/libexec/s2i/assemble")
        );
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("usage")
                }
            ),
            sh("tar -C /tmp -xf - && /usr/libexec/s2i/usage")
        );
        // Only assemble and usage get the tar; without stdin no tar either.
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("save-artifacts")
                }
            ),
            ["/usr/libexec/s2i/save-artifacts"]
        );
        assert_eq!(
            cmd_of(builder(), opts("assemble")),
            ["/usr/libexec/s2i/assemble"]
        );
    }

    #[test]
    fn command_explicit_is_verbatim() {
        let post = Arc::new(Mutex::new(None));
        let seen = post.clone();
        let o = RunContainerOptions {
            command_explicit: vec!["/bin/true".into(), "a b".into()],
            stdin: stdin(b""),
            command_overrides: Some(Box::new(|s| format!("never {s}"))),
            post_exec: Some(Box::new(move |_: &str, dest: &str| {
                *seen.lock().unwrap() = Some(dest.to_string());
                Ok(())
            })),
            ..opts("assemble")
        };
        assert_eq!(cmd_of(builder(), o), ["/bin/true", "a b"]);
        // The tar destination stays empty with an explicit command.
        assert_eq!(post.lock().unwrap().as_deref(), Some(""));
    }

    #[test]
    fn command_with_external_scripts() {
        let o = RunContainerOptions {
            external_scripts: true,
            destination: "/opt/app-root/".into(),
            stdin: stdin(b""),
            ..opts("assemble")
        };
        // The destination is not cleaned in the tar command; the script path is.
        assert_eq!(
            cmd_of(builder(), o),
            sh("tar -C /opt/app-root/ -xf - && /opt/app-root/scripts/assemble")
        );
        let o = RunContainerOptions {
            external_scripts: true,
            ..opts("run")
        };
        assert_eq!(cmd_of(builder(), o), ["/tmp/scripts/run"]);
    }

    #[test]
    fn command_with_explicit_and_odd_scripts_urls() {
        let with_url = |url: &str| RunContainerOptions {
            scripts_url: url.into(),
            ..opts("assemble")
        };
        assert_eq!(
            cmd_of(builder(), with_url("image:///s2i/bin/")),
            ["/s2i/bin/assemble"]
        );
        assert_eq!(
            cmd_of(builder(), with_url("image:///a//b")),
            ["/a/b/assemble"]
        );
        // Any other URL is used as a path, literally (the reference's behaviour).
        assert_eq!(
            cmd_of(builder(), with_url("http://x/y")),
            ["http:/x/y/assemble"]
        );
        assert_eq!(
            cmd_of(builder(), with_url("file:///opt/s")),
            ["file:/opt/s/assemble"]
        );
        // Only the exact `image://` prefix is stripped.
        assert_eq!(
            cmd_of(builder(), with_url("IMAGE:///x")),
            ["IMAGE:/x/assemble"]
        );
        // No URL anywhere: a relative command.
        assert_eq!(
            cmd_of(image("id", &[], &[]), opts("assemble")),
            ["assemble"]
        );
    }

    #[test]
    fn command_from_deprecated_scripts_sources() {
        let old = image("id", &[("io.s2i.scripts-url", "image:///old")], &[]);
        assert_eq!(cmd_of(old, opts("run")), ["/old/run"]);
        let env = image("id", &[], &["STI_SCRIPTS_URL=image:///env/ "]);
        assert_eq!(cmd_of(env, opts("run")), ["/env/run"]);
        // The new label wins over both.
        let all = image(
            "id",
            &[
                (crate::docker::labels::SCRIPTS_URL_LABEL, "image:///new"),
                ("io.s2i.scripts-url", "image:///old"),
            ],
            &["STI_SCRIPTS_URL=image:///env"],
        );
        assert_eq!(cmd_of(all, opts("run")), ["/new/run"]);
    }

    #[test]
    fn destination_sources() {
        let url = (crate::docker::labels::SCRIPTS_URL_LABEL, "image:///s");
        let with_stdin = |o: RunContainerOptions| RunContainerOptions {
            stdin: stdin(b""),
            ..o
        };
        let label = image(
            "id",
            &[url, (crate::docker::labels::DESTINATION_LABEL, "/opt/app")],
            &[],
        );
        assert_eq!(
            cmd_of(label.clone(), with_stdin(opts("assemble"))),
            sh("tar -C /opt/app -xf - && /s/assemble")
        );
        let old = image("id", &[url, ("io.s2i.destination", "/old")], &[]);
        let (cmd, logs) = logs_of(|| cmd_of(old, with_stdin(opts("assemble"))));
        assert_eq!(cmd, sh("tar -C /old -xf - && /s/assemble"));
        assert_logged(&logs, log::Level::Warn, "Image id uses deprecated label 'io.s2i.destination', please migrate it to io.openshift.s2i.destination instead!");
        let env = image("id", &[url], &["STI_LOCATION=/env"]);
        let (cmd, logs) = logs_of(|| cmd_of(env, with_stdin(opts("assemble"))));
        assert_eq!(cmd, sh("tar -C /env -xf - && /s/assemble"));
        assert_logged(&logs, log::Level::Warn, "Image id uses deprecated environment variable STI_LOCATION, please migrate it to io.openshift.s2i.destination label instead!");
        // The option beats the label.
        let o = RunContainerOptions {
            destination: "/given".into(),
            ..with_stdin(opts("assemble"))
        };
        assert_eq!(cmd_of(label, o), sh("tar -C /given -xf - && /s/assemble"));
    }

    #[test]
    fn command_overrides_only_rewrite_the_tar_command() {
        let o = |cmd: &str, with_stdin: bool| RunContainerOptions {
            stdin: if with_stdin { stdin(b"") } else { None },
            command_overrides: Some(Box::new(|s: &str| format!("while true; do :; done; {s}"))),
            ..opts(cmd)
        };
        assert_eq!(
            cmd_of(builder(), o("assemble", true)),
            sh("while true; do :; done; tar -C /tmp -xf - && /usr/libexec/s2i/assemble")
        );
        assert_eq!(
            cmd_of(builder(), o("assemble", false)),
            ["/usr/libexec/s2i/assemble"]
        );
        assert_eq!(cmd_of(builder(), o("run", true)), ["/usr/libexec/s2i/run"]);
    }

    #[test]
    fn target_image_runs_the_image_as_it_is() {
        let mut img = builder();
        if let Some(c) = img.config.as_mut() {
            c.entrypoint = Some(vec!["/entry".into()]);
        }
        let fake = Arc::new(FakeClient::new());
        fake.add_image("builder:latest", img);
        let dest = Arc::new(Mutex::new(None));
        let seen = dest.clone();
        fake.state()
            .wait_container_err_inspect_json
            .network_settings = Some(crate::ops::container::NetworkSettings {
            ports: [(
                "8080/tcp".to_string(),
                Some(vec![crate::ops::container::PortBinding {
                    host_ip: "0.0.0.0".into(),
                    host_port: "32768".into(),
                }]),
            )]
            .into(),
        });
        let d = DockerClient::new(fake.clone(), auth());
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                target_image: true,
                post_exec: Some(Box::new(move |_: &str, d: &str| {
                    *seen.lock().unwrap() = Some(d.to_string());
                    Ok(())
                })),
                ..opts("run")
            })
        });
        r.unwrap();
        assert_logged(&logs, log::Level::Info, "The image builder:latest has been started in container fake-container-1 as a result of the --run=true option. Port Bindings:\n  Container Port:  8080/tcp\n  Public Host / Port Mappings:\n    IP: 0.0.0.0 Port: 32768");
        let body = fake.state().created[0].1.clone();
        assert_eq!(body.config.cmd, None);
        assert_eq!(body.config.entrypoint, None);
        assert!(body.host_config.publish_all_ports);
        assert_eq!(dest.lock().unwrap().as_deref(), Some(""));
        // The port dump inspects the container.
        assert!(fake.calls().contains(&"inspect_container".to_string()));
    }

    #[test]
    fn entrypoint_override_decision_1() {
        let mut with_entry = builder();
        if let Some(c) = with_entry.config.as_mut() {
            c.entrypoint = Some(vec!["/docker-entrypoint.sh".into()]);
        }
        let body = created_with(with_entry.clone(), opts("assemble"));
        assert_eq!(
            body.config.entrypoint,
            Some(vec!["/usr/bin/env".to_string()])
        );
        let body = created_with(
            with_entry,
            RunContainerOptions {
                entrypoint: vec!["/mine".into()],
                ..opts("assemble")
            },
        );
        assert_eq!(body.config.entrypoint, Some(vec!["/mine".to_string()]));
        let body = created_with(builder(), opts("assemble"));
        assert_eq!(body.config.entrypoint, None);
    }

    #[test]
    fn create_request_fields() {
        let o = RunContainerOptions {
            user: "1001".into(),
            env: vec!["A=1".into()],
            add_host: vec!["db:10.0.0.2".into()],
            security_opt: vec!["no-new-privileges".into()],
            network_mode: "host".into(),
            cap_drop: vec!["KILL".into(), "MKNOD".into()],
            binds: vec!["/h:/c:ro".into()],
            cgroup_limits: Some(CGroupLimits {
                memory_limit_bytes: 1 << 30,
                cpu_shares: 512,
                cpu_period: 100_000,
                cpu_quota: 50_000,
                memory_swap: -1,
                parent: "/s2i".into(),
            }),
            stdin: stdin(b""),
            stdout: Some(Box::new(std::io::sink())),
            ..opts("assemble")
        };
        let body = created_with(builder(), o);
        let c = &body.config;
        assert_eq!(c.image, "builder:latest");
        assert_eq!(c.user, "1001");
        assert_eq!(c.env, Some(vec!["A=1".to_string()]));
        assert!(c.open_stdin && c.stdin_once && c.attach_stdout);
        assert!(!c.attach_stdin && !c.attach_stderr && !c.tty);
        let h = &body.host_config;
        assert_eq!(h.shm_size, DEFAULT_SHM_SIZE);
        assert_eq!(h.memory, 1 << 30);
        assert_eq!(h.memory_swap, -1);
        assert_eq!(h.cgroup_parent, "/s2i");
        assert_eq!(
            (h.cpu_shares, h.cpu_period, h.cpu_quota),
            (512, 100_000, 50_000)
        );
        assert_eq!(h.extra_hosts, Some(vec!["db:10.0.0.2".to_string()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(h.network_mode, "host");
        assert_eq!(
            h.cap_drop,
            Some(vec!["KILL".to_string(), "MKNOD".to_string()])
        );
        assert_eq!(h.binds, Some(vec!["/h:/c:ro".to_string()]));
        assert!(!h.publish_all_ports);
        // Nothing given: nothing sent.
        let body = created_with(builder(), opts("run"));
        assert_eq!(body.config.env, None);
        assert_eq!(body.host_config.cap_drop, None);
        assert_eq!(body.host_config.memory, 0);
        assert!(!body.config.open_stdin);
    }

    #[test]
    fn pull_image_pulls_a_missing_image_decision_2() {
        let (fake, d) = setup();
        fake.state()
            .registry
            .insert("remote:latest".into(), builder());
        d.run_container(RunContainerOptions {
            image: "remote".into(),
            pull_image: true,
            ..opts("run")
        })
        .unwrap();
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "pull",
                "inspect_image",
                "create",
                "start",
                "wait",
                "remove"
            ]
        );
        // Present: checked once, not pulled.
        let (fake, d) = setup();
        d.run_container(RunContainerOptions {
            pull_image: true,
            ..opts("run")
        })
        .unwrap();
        assert_eq!(fake.calls()[..2], ["inspect_image", "create"]);
        // Without pull_image a missing image fails before anything is created.
        let (fake, d) = setup();
        let (e, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                image: "remote".into(),
                ..opts("run")
            })
            .unwrap_err()
        });
        assert!(e.is_not_found());
        assert_eq!(fake.calls(), ["inspect_image"]);
        assert!(logs.iter().any(|(l, m)| *l == log::Level::Error
            && m.starts_with("Unable to get image metadata for remote:latest: ")));
    }

    #[test]
    fn attach_streams_whenever_a_stream_is_attached_decision_13() {
        for (i, o, e) in [
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            let (fake, d) = setup();
            d.run_container(RunContainerOptions {
                stdin: if i { stdin(b"x") } else { None },
                stdout: if o {
                    Some(Box::new(std::io::sink()))
                } else {
                    None
                },
                stderr: if e {
                    Some(Box::new(std::io::sink()))
                } else {
                    None
                },
                ..opts("assemble")
            })
            .unwrap();
            let a = fake.state().attach_options.unwrap();
            assert!(a.stream);
            assert_eq!((a.stdin, a.stdout, a.stderr), (i, o, e));
        }
    }

    #[test]
    fn streams_in_and_out_and_closed() {
        let (fake, d) = setup();
        fake.state().attach_output = [
            stdcopy_frame(1, b"out 1\n"),
            stdcopy_frame(2, b"err 1\n"),
            stdcopy_frame(1, b"out 2\n"),
        ]
        .concat();
        let (out, err) = (Probe::default(), Probe::default());
        let stdin_dropped = Arc::new(AtomicBool::new(false));
        d.run_container(RunContainerOptions {
            stdin: Some(Box::new(ProbeReader(
                Cursor::new(vec![7u8; 200_000]),
                stdin_dropped.clone(),
            ))),
            stdout: Some(out.writer()),
            stderr: Some(err.writer()),
            ..opts("assemble")
        })
        .unwrap();
        assert_eq!(out.text(), "out 1\nout 2\n");
        assert_eq!(err.text(), "err 1\n");
        assert!(out.is_dropped() && err.is_dropped());
        assert!(stdin_dropped.load(Ordering::SeqCst));
        let state = fake.state();
        assert_eq!(state.attach_stdin.len(), 200_000);
        assert!(
            state.stdin_closed,
            "stdin must be half-closed so tar sees EOF"
        );
    }

    #[test]
    fn streams_are_dropped_on_early_errors() {
        for fail in ["inspect", "create", "attach", "start"] {
            let (fake, d) = setup();
            {
                let mut s = fake.state();
                match fail {
                    "inspect" => s.inspect_image_err = Some(Error::api(500, "x")),
                    "create" => s.create_err = Some(Error::api(500, "x")),
                    "attach" => s.attach_err = Some(Error::api(409, "x")),
                    _ => s.start_err = Some(Error::api(500, "x")),
                }
            }
            let out = Probe::default();
            let in_dropped = Arc::new(AtomicBool::new(false));
            let e = d
                .run_container(RunContainerOptions {
                    stdin: Some(Box::new(ProbeReader(
                        Cursor::new(vec![]),
                        in_dropped.clone(),
                    ))),
                    stdout: Some(out.writer()),
                    ..opts("assemble")
                })
                .unwrap_err();
            assert_eq!(e.to_string(), "Error response from daemon: x", "{fail}");
            assert!(
                out.is_dropped() && in_dropped.load(Ordering::SeqCst),
                "{fail}"
            );
            // A created container is always removed.
            assert!(fake.state().containers.is_empty(), "{fail}");
        }
    }

    #[test]
    fn non_zero_exit_reports_the_state_decision_4() {
        let (fake, d) = setup();
        {
            let mut s = fake.state();
            s.wait_container_result = 3;
            s.wait_container_err_inspect_json.state = Some(ContainerState {
                status: "exited".into(),
                error: "".into(),
                oom_killed: true,
                dead: false,
                exit_code: 3,
                ..Default::default()
            });
        }
        let post_called = Arc::new(AtomicBool::new(false));
        let p = post_called.clone();
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(move |_: &str, _: &str| {
                    p.store(true, Ordering::SeqCst);
                    Ok(())
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(3));
        assert_eq!(
            e.to_string(),
            "non-zero (3) exit code from fake-container-1"
        );
        let Error::Container(c) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            c.output,
            "Status: exited, Error: , OOMKilled: true, Dead: false"
        );
        assert!(!post_called.load(Ordering::SeqCst));
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "start",
                "wait",
                "inspect_container",
                "remove"
            ]
        );
        // An inspect that fails leaves the output empty.
        fake.state().inspect_container_err = Some(Error::api(500, "gone"));
        let e = d.run_container(opts("assemble")).unwrap_err();
        let Error::Container(c) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(c.output, "");
    }

    #[test]
    fn post_exec_gets_the_destination() {
        let (fake, d) = setup();
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        d.run_container(RunContainerOptions {
            destination: "/opt/src".into(),
            post_exec: Some(Box::new(move |id: &str, dest: &str| {
                *g.lock().unwrap() = Some((id.to_string(), dest.to_string()));
                Ok(())
            })),
            ..opts("save-artifacts")
        })
        .unwrap();
        assert_eq!(
            got.lock().unwrap().clone(),
            Some(("fake-container-1".to_string(), "/opt/src".to_string()))
        );
        // Its error is the run's; the container is removed anyway.
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(|_: &str, _: &str| {
                    Err(Error::other("extract failed"))
                })),
                ..opts("save-artifacts")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "extract failed");
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn on_start_is_always_joined_decision_17() {
        // Success: on_start runs with the ID; its error is returned.
        let (fake, d) = setup();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(|id: &str| {
                    Err(Error::other(format!("upload to {id} failed")))
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "upload to fake-container-1 failed");
        // Failure of the container: its error first, but on_start was awaited.
        fake.state().wait_container_result = 2;
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(move |_: &str| {
                    std::thread::sleep(Duration::from_millis(50));
                    f.store(true, Ordering::SeqCst);
                    Err(Error::other("late"))
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(2));
        assert!(finished.load(Ordering::SeqCst), "on_start must be joined");
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn panicking_hooks_become_errors() {
        let (fake, d) = setup();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(|_: &str| panic!("boom"))),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "on_start panicked: boom");
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(|_: &str, _: &str| -> Result<()> {
                    panic!("post {}", 1)
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "post_exec panicked: post 1");
        let e = d
            .run_container(RunContainerOptions {
                stdin: stdin(b""),
                command_overrides: Some(Box::new(|_: &str| panic!("rewrite"))),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "command_overrides panicked: rewrite");
        assert!(fake.state().containers.is_empty());
        assert_eq!(
            fake.state().created.len(),
            2,
            "no container for a failed override"
        );
    }

    struct PanickyWriter;
    impl Write for PanickyWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("writer")
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    struct PanickyReader;
    impl Read for PanickyReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("reader")
        }
    }

    #[test]
    fn panicking_streams_kill_and_remove() {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        fake.state().attach_output = stdcopy_frame(1, b"x");
        let e = d
            .run_container(RunContainerOptions {
                stdout: Some(Box::new(PanickyWriter)),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "output writer panicked: writer");
        assert_eq!(fake.state().killed, ["fake-container-1"]);
        assert!(fake.state().containers.is_empty());
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(PanickyReader)),
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "stdin reader panicked: reader");
        assert!(fake.state().containers.is_empty());
    }

    struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("source vanished"))
        }
    }

    #[test]
    fn stdin_errors() {
        // The caller's reader fails: that error, and the (running) container is killed.
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(FailingReader)),
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(e.to_string().contains("source vanished"), "{e}");
        assert!(fake.state().containers.is_empty());
        // The container stops reading: its exit code is the error, not the broken pipe.
        let (fake, d) = setup();
        fake.state().attach_stdin_limit = Some(10);
        fake.state().wait_container_result = 2;
        let e = d
            .run_container(RunContainerOptions {
                stdin: stdin(&[0; 100]),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(2));
        // It exited 0 without reading all its input: a success, with a warning.
        fake.state().wait_container_result = 0;
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                stdin: stdin(&[0; 100]),
                ..opts("assemble")
            })
        });
        r.unwrap();
        assert!(logs.iter().any(|(l, m)| *l == log::Level::Warn
            && m.starts_with(
                "Container \"fake-container-2\" exited without reading all of its input: "
            )));
    }

    #[test]
    fn daemon_stream_errors_and_wait_errors() {
        let (fake, d) = setup();
        fake.state().attach_output = [stdcopy_frame(1, b"a"), stdcopy_frame(3, b"oops")].concat();
        let e = d
            .run_container(RunContainerOptions {
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(e.to_string().contains("oops"), "{e}");
        assert!(fake.state().containers.is_empty());
        let (fake, d) = setup();
        fake.state().wait_container_err = Some(Error::api(500, "wait broke"));
        let e = d.run_container(opts("assemble")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "waiting for container \"fake-container-1\" to stop: Error response from daemon: wait broke"
        );
        assert!(fake
            .state()
            .killed
            .contains(&"fake-container-1".to_string()));
        assert!(fake.state().containers.is_empty());
    }

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

    /// A reader that says it read more than the buffer holds.
    struct LyingReader;
    impl Read for LyingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Ok(buf.len() + 1)
        }
    }

    #[test]
    fn a_lying_stdin_reader_is_an_error_not_a_panic() {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(LyingReader)),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(
            e.to_string().contains("a reader returned 65537 bytes"),
            "{e}"
        );
        assert!(fake.state().containers.is_empty());
    }

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
    fn env_values_never_reach_the_log() {
        let (fake, d) = setup();
        let env = vec![
            "HTTP_PROXY=http://me:hunter2@p:1".to_string(),
            "API_TOKEN=tok3n".to_string(),
            "PLAIN=value=with=equals".to_string(),
        ];
        let (_, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                env: env.clone(),
                ..opts("run")
            })
        });
        let created = logs
            .iter()
            .find(|(_, m)| m.starts_with("Creating container with options {Name:s2i_builder_"))
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        assert!(
            created.contains(r#""Env":["HTTP_PROXY","API_TOKEN","PLAIN"]"#),
            "{created}"
        );
        for secret in ["hunter2", "tok3n", "with=equals"] {
            assert!(logs.iter().all(|(_, m)| !m.contains(secret)), "{secret}");
        }
        // The container gets the values, of course.
        assert_eq!(fake.state().created[0].1.config.env, Some(env));
    }

    /// A run whose container never stops by itself and whose kill always fails.
    fn unkillable() -> (Arc<FakeClient>, DockerClient) {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        fake.state().kill_err = Some(Error::api(500, "cannot kill"));
        (fake, d)
    }

    /// Runs `f` on a thread and fails the test if it takes longer than `limit`.
    fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("still running after {limit:?}"))
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

    /// A writer that takes its time with every write.
    struct SlowWriter(Probe, Duration);
    impl Write for SlowWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.1);
            self.0.data.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_output_stream_left_open_after_the_exit_is_closed_after_the_grace() {
        let (fake, d) = setup();
        let d = d.with_output_grace(Duration::from_millis(100));
        // The container exits at once (exit code 0), the daemon never ends the stream.
        fake.state().attach_stays_open = true;
        fake.state().attach_output = [
            stdcopy_frame(1, b"one\n"),
            stdcopy_frame(2, b"two\n"),
            stdcopy_frame(1, b"three\n"),
        ]
        .concat();
        let (out, err) = (Probe::default(), Probe::default());
        let (o, e) = (out.clone(), err.clone());
        let f = fake.clone();
        let (r, logs) = within(Duration::from_secs(10), move || {
            logs_of(|| {
                d.run_container(RunContainerOptions {
                    stdin: stdin(b"tar"),
                    // Slower than the grace for each piece: still nothing is cut.
                    stdout: Some(Box::new(SlowWriter(o, Duration::from_millis(250)))),
                    stderr: Some(e.writer()),
                    ..opts("assemble")
                })
            })
        });
        r.unwrap();
        assert_eq!(out.text(), "one\nthree\n");
        assert_eq!(err.text(), "two\n");
        assert!(out.is_dropped() || err.is_dropped());
        assert_logged(
            &logs,
            log::Level::Warn,
            "The output stream of container \"fake-container-1\" stayed open 100ms after it exited; closing it",
        );
        assert!(f.state().containers.is_empty());
        // A container that exits non-zero is reported as such.
        fake.state().wait_container_result = 4;
        let e = within(Duration::from_secs(10), {
            let d = DockerClient::new(fake.clone(), auth())
                .with_output_grace(Duration::from_millis(50));
            move || {
                d.run_container(RunContainerOptions {
                    stdout: Some(Box::new(io::sink())),
                    ..opts("assemble")
                })
            }
        })
        .unwrap_err();
        assert_eq!(e.exit_code(), Some(4));
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn output_is_read_to_its_end_while_the_wait_has_answered() {
        // The wait answers at once, the stream ends by itself: everything arrives, no warning.
        let (fake, d) = setup();
        let frames: Vec<u8> = (0..200)
            .flat_map(|i| stdcopy_frame(1 + (i % 2) as u8, format!("line {i}\n").as_bytes()))
            .collect();
        fake.state().attach_output = frames;
        let (out, err) = (Probe::default(), Probe::default());
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                stdout: Some(out.writer()),
                stderr: Some(err.writer()),
                ..opts("assemble")
            })
        });
        r.unwrap();
        assert_eq!(out.text().lines().count(), 100);
        assert_eq!(err.text().lines().count(), 100);
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "attach",
                "start",
                "wait",
                "remove"
            ]
        );
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

    #[test]
    fn go_path_join() {
        assert_eq!(path_join(&["/a/", "b"]), "/a/b");
        assert_eq!(path_join(&["", "assemble"]), "assemble");
        assert_eq!(path_join(&["http://x/y", "c"]), "http:/x/y/c");
        assert_eq!(path_join(&["/a/../..", "b"]), "/b");
        assert_eq!(path_join(&["a/..", ""]), ".");
        assert_eq!(path_join(&["../a", "./b/"]), "../a/b");
        assert_eq!(path_join(&["", ""]), "");
    }
}
