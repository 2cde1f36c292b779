//! [`FakeClient`]: a recording, in-memory [`Client`], for offline tests of
//! [`DockerClient`](crate::DockerClient) and anything else written against the trait.
//!
//! It answers from a [`FakeClientState`] (images, registry, containers, outputs and errors set
//! by the test) and records every call by name, with its arguments. Its attach is a working
//! stream: the reader yields the configured stdcopy frames ([`stdcopy_frame`]) and, when asked
//! to, holds the stream open as a running container would until it is killed or removed or the
//! attach is shut down; the writer records standard input.
//!
//! It uses the [`Client`] trait and its stream types, the models of `ops` that the trait
//! returns, and `error`; it speaks no HTTP.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Cursor, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::client::{BodyReader, Client, HijackedResponse, ShutdownHandle, StdinWriter};
use crate::error::{Error, Result};
use crate::fake::{clone_error, fail};
use crate::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerListOptions, ContainerRemoveOptions, ContainerSummary,
    ContainerWaitResponse, IdResponse,
};
use crate::ops::container::{Signal, WaitCondition};
use crate::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use crate::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImageRemoveOptions,
};
use crate::ops::system::{Ping, Version};

/// The exit code [`FakeClient`] reports for a container it killed (128 + SIGKILL).
pub const KILLED_EXIT_CODE: i64 = 137;

/// One frame of Docker's multiplexed attach stream: `[stream, 0, 0, 0, size (u32 BE)]` + data.
///
/// `stream` is 1 for stdout and 2 for stderr. Use it to fill
/// [`FakeClientState::attach_output`].
pub fn stdcopy_frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + payload.len());
    frame.extend_from_slice(&[stream, 0, 0, 0]);
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(&payload[..len as usize]);
    frame
}

/// A function [`FakeClient`] calls with the name of every call (see
/// [`FakeClientState::on_call`]).
pub type OnCall = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything [`FakeClient`] answers with and everything it recorded.
///
/// Fields named like the reference's test client (`wait_container_result`,
/// `container_commit_options`, ...) behave like there; the others are this fake's own. An
/// `Option<Error>` field makes every call of its endpoint fail with (a copy of) that error.
///
/// `Debug` shows a summary (calls, images, containers, pulled references); it leaves out the
/// pulls' `X-Registry-Auth` values, which hold credentials.
#[derive(Default)]
#[non_exhaustive]
pub struct FakeClientState {
    /// The name of every call, in order: `ping`, `version`, `inspect_image`, `pull`,
    /// `remove_image`, `build`, `create`, `attach`, `start`, `wait`, `inspect_container`,
    /// `kill`, `remove`, `list`, `copy_to_container`, `copy_from_container`, `commit`.
    pub calls: Vec<String>,
    /// Called with the name of every call once it is recorded, before it is answered, and
    /// without the state's lock held (so it may call the fake): e.g. to cancel a run at a
    /// chosen step.
    pub on_call: Option<OnCall>,

    /// Local images by exact name (the real client asks for `name:tag`). A missing one is a
    /// 404 `No such image: <name>`.
    pub images: HashMap<String, ImageInspect>,
    /// Fails every image inspect.
    pub inspect_image_err: Option<Error>,
    /// What a pull can fetch, by the exact reference pulled; a successful pull of one of these
    /// adds it to `images`.
    pub registry: HashMap<String, ImageInspect>,
    /// Every pull: the reference and its options.
    pub pulls: Vec<(String, ImagePullOptions)>,
    /// Errors for the next pulls, one per pull, before `pull_fail` applies.
    pub pull_failures: VecDeque<Error>,
    /// Fails every pull (after `pull_failures` are used up).
    pub pull_fail: Option<Error>,
    /// The progress stream of a successful pull (JSON lines).
    pub pull_output: Vec<u8>,
    /// A pause before each line of `pull_output` (for inactivity tests).
    pub pull_line_delay: Duration,
    /// Every removed image.
    pub removed_images: Vec<String>,
    /// Fails every image removal.
    pub remove_image_err: Option<Error>,

    /// The options of the last build.
    pub build_image_opts: Option<ImageBuildOptions>,
    /// The build context of the last build (read whole).
    pub build_image_context: Vec<u8>,
    /// The output stream of a build (JSON lines).
    pub build_image_output: Vec<u8>,
    /// Fails every build request.
    pub build_image_err: Option<Error>,

    /// Every create request: the container name and the body.
    pub created: Vec<(String, ContainerCreateBody)>,
    /// The containers that exist, by ID (removal deletes them).
    pub containers: HashMap<String, ContainerCreateBody>,
    /// The ID of the next container; empty for `fake-container-<n>`.
    pub container_id: String,
    /// Fails every create.
    pub create_err: Option<Error>,
    /// The options of the last attach.
    pub attach_options: Option<ContainerAttachOptions>,
    /// Fails every attach.
    pub attach_err: Option<Error>,
    /// What an attached container "prints": stdcopy frames (see [`stdcopy_frame`]).
    pub attach_output: Vec<u8>,
    /// Everything written to an attached container's stdin.
    pub attach_stdin: Vec<u8>,
    /// Writes to stdin fail with a broken pipe once this many bytes arrived (a container that
    /// exited without reading all its input).
    pub attach_stdin_limit: Option<usize>,
    /// The stdin of the attached container was half-closed.
    pub stdin_closed: bool,
    /// Every started container.
    pub started: Vec<String>,
    /// Fails every start.
    pub start_err: Option<Error>,
    /// Containers run until killed: the attach stream stays open after `attach_output` and
    /// `wait` blocks, until `kill` (or the container's removal; the attach stream also ends
    /// when its [`shutdown_handle`](StdinWriter::shutdown_handle) is used); the exit code is
    /// then [`KILLED_EXIT_CODE`].
    pub run_until_killed: bool,
    /// The attach stream stays open after `attach_output` whatever the container does (a
    /// daemon that does not end it at the exit), until its
    /// [`shutdown_handle`](StdinWriter::shutdown_handle) is used or the container is removed.
    pub attach_stays_open: bool,
    /// Every killed container.
    pub killed: Vec<String>,
    /// Fails every kill.
    pub kill_err: Option<Error>,
    /// Every removed container, with the options of the removal.
    pub removed: Vec<(String, ContainerRemoveOptions)>,
    /// Errors for the next container removals, one per removal, before `remove_err` applies.
    pub remove_failures: VecDeque<Error>,
    /// Fails every container removal.
    pub remove_err: Option<Error>,
    /// The options of the last container list. A list answers from `containers`: those whose
    /// create body has every label asked for, and without `all` only the started ones not
    /// killed.
    pub list_options: Option<ContainerListOptions>,
    /// Fails every container list.
    pub list_err: Option<Error>,
    /// The container of the last wait.
    pub wait_container_id: String,
    /// The exit code every wait reports.
    pub wait_container_result: i64,
    /// Fails every wait.
    pub wait_container_err: Option<Error>,
    /// Waits get no answer (a reply that never comes) until the container is removed; then
    /// they answer `wait_container_result`.
    pub wait_stalls: bool,
    /// What a container inspect answers.
    pub wait_container_err_inspect_json: ContainerInspect,
    /// Fails every container inspect.
    pub inspect_container_err: Option<Error>,

    /// The container of the last commit.
    pub container_commit_id: String,
    /// The options of the last commit.
    pub container_commit_options: Option<ContainerCommitOptions>,
    /// What a commit answers.
    pub container_commit_response: IdResponse,
    /// Fails every commit.
    pub container_commit_err: Option<Error>,

    /// The container of the last upload.
    pub copy_to_container_id: String,
    /// The destination directory of the last upload.
    pub copy_to_container_path: String,
    /// The tar of the last upload (read whole).
    pub copy_to_container_content: Vec<u8>,
    /// The options of the last upload.
    pub copy_to_container_options: Option<CopyToContainerOptions>,
    /// Fails every upload (after reading its content).
    pub copy_to_container_err: Option<Error>,
    /// The container of the last download.
    pub copy_from_container_id: String,
    /// The path of the last download.
    pub copy_from_container_path: String,
    /// The tar a download returns.
    pub copy_from_container_content: Vec<u8>,
    /// The stat a download returns.
    pub copy_from_container_stat: ContainerPathStat,
    /// Fails every download.
    pub copy_from_container_err: Option<Error>,

    /// What `version` answers.
    pub version: Version,
    /// Fails `version` and `ping`.
    pub version_err: Option<Error>,
}

impl fmt::Debug for FakeClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn sorted(mut keys: Vec<&String>) -> Vec<&String> {
            keys.sort();
            keys
        }
        let pulls: Vec<&str> = self.pulls.iter().map(|(r, _)| r.as_str()).collect();
        f.debug_struct("FakeClientState")
            .field("calls", &self.calls)
            .field("images", &sorted(self.images.keys().collect()))
            .field("containers", &sorted(self.containers.keys().collect()))
            .field("pulls", &pulls)
            .field("killed", &self.killed)
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

struct Shared {
    state: Mutex<FakeClientState>,
    // Signalled on every kill, removal and attach shutdown, so blocked attach readers and
    // waits can look again.
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, FakeClientState> {
        // A test that panicked while holding the lock leaves plain data behind; keep going.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until `id` was killed (if `kill_ends`) or removed, or `closed` (an attach
    /// shutdown) is set.
    fn wait_ended(&self, id: &str, kill_ends: bool, closed: Option<&AtomicBool>) {
        let mut state = self.lock();
        while !((kill_ends && state.killed.iter().any(|k| k == id))
            || state.removed.iter().any(|(r, _)| r == id)
            || closed.is_some_and(|c| c.load(Ordering::SeqCst)))
        {
            state = self.changed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn notify(&self) {
        // Under the lock: a waiter checks its condition holding it, so it cannot miss this.
        let _state = self.lock();
        self.changed.notify_all();
    }
}

/// A recording, in-memory [`Client`] (the reference's `FakeDockerClient`), for offline tests of
/// [`DockerClient`](crate::DockerClient).
///
/// Configure it through [`state`](FakeClient::state), hand an `Arc` of it to the code under
/// test, then assert on [`calls`](FakeClient::calls) and the recorded fields.
///
/// Unlike the reference's, its attach is a working stream: the reader yields
/// [`attach_output`](FakeClientState::attach_output) (stdcopy frames) and the writer records
/// stdin into [`attach_stdin`](FakeClientState::attach_stdin).
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use s2i_docker::fake::{stdcopy_frame, FakeClient};
/// use s2i_docker::ops::image::ImageInspect;
/// use s2i_docker::{AuthConfig, Docker, DockerClient, RunContainerOptions};
///
/// let client = Arc::new(FakeClient::new());
/// client.add_image("builder:latest", ImageInspect { id: "sha256:b".into(), ..Default::default() });
/// client.state().attach_output = stdcopy_frame(1, b"built\n");
///
/// let out = Arc::new(std::sync::Mutex::new(Vec::new()));
/// # struct Shared(Arc<std::sync::Mutex<Vec<u8>>>);
/// # impl std::io::Write for Shared {
/// #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
/// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// # }
/// let docker = DockerClient::new(client.clone(), AuthConfig::default());
/// docker.run_container(RunContainerOptions {
///     image: "builder".into(),
///     command: "run".into(),
///     stdout: Some(Box::new(Shared(out.clone()))),
///     ..Default::default()
/// })?;
/// assert_eq!(*out.lock().unwrap(), b"built\n");
/// assert_eq!(client.calls(), ["inspect_image", "create", "attach", "start", "wait", "remove"]);
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub struct FakeClient {
    shared: Arc<Shared>,
}

impl Default for FakeClient {
    fn default() -> FakeClient {
        FakeClient::new()
    }
}

impl fmt::Debug for FakeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("FakeClient").field(&*self.state()).finish()
    }
}

impl FakeClient {
    /// A fake with no images, no containers and no recorded calls.
    pub fn new() -> FakeClient {
        FakeClient {
            shared: Arc::new(Shared {
                state: Mutex::new(FakeClientState::default()),
                changed: Condvar::new(),
            }),
        }
    }

    /// The state: configure answers, read what was recorded.
    ///
    /// Do not hold the guard across a call into the fake (it would deadlock).
    pub fn state(&self) -> MutexGuard<'_, FakeClientState> {
        self.shared.lock()
    }

    /// The names of the calls made so far, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Adds a local image under its exact name (use `name:tag`).
    pub fn add_image(&self, name: &str, image: ImageInspect) -> &FakeClient {
        self.state().images.insert(name.to_string(), image);
        self
    }

    fn record(&self, call: &str) -> MutexGuard<'_, FakeClientState> {
        let on_call = {
            let mut state = self.state();
            state.calls.push(call.to_string());
            state.on_call.clone()
        };
        if let Some(f) = on_call {
            f(call);
        }
        self.state()
    }
}

/// A pull's progress stream, optionally slowed down line by line.
struct SlowLines {
    data: Cursor<Vec<u8>>,
    delay: Duration,
    at_line_start: bool,
}

impl Read for SlowLines {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.delay.is_zero() {
            return self.data.read(buf);
        }
        if self.at_line_start && (self.data.position() as usize) < self.data.get_ref().len() {
            std::thread::sleep(self.delay);
        }
        // One line at a time, so every line gets its pause.
        let rest = &self.data.get_ref()[self.data.position() as usize..];
        let line_len = rest
            .iter()
            .position(|b| *b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let n = line_len.min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        let ends_line = n == 0 || rest[n - 1] == b'\n';
        self.data.set_position(self.data.position() + n as u64);
        self.at_line_start = ends_line;
        Ok(n)
    }
}

/// The output half of a fake attach.
struct AttachReader {
    shared: Arc<Shared>,
    id: String,
    data: Cursor<Vec<u8>>,
    hold: bool,
    /// Only a shutdown or the removal ends the stream, not a kill.
    stays_open: bool,
    closed: Arc<AtomicBool>,
    /// What is left of the frame being read: a read never spans two frames, as when a daemon
    /// sends each as the container writes it.
    frame_left: usize,
}

impl Read for AttachReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.closed.load(Ordering::SeqCst) {
            // Shut down: like a socket, nothing more is read.
            return Ok(0);
        }
        let (data, pos) = (self.data.get_ref(), self.data.position() as usize);
        if self.frame_left == 0 {
            if let Some(header) = data.get(pos..pos + 8) {
                let size = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
                self.frame_left = 8 + size as usize;
            }
        }
        let limit = match self.frame_left {
            0 => buf.len(),
            left => left.min(buf.len()),
        };
        let n = self.data.read(&mut buf[..limit])?;
        self.frame_left = self.frame_left.saturating_sub(n);
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        if self.hold {
            // The container "runs" until it is killed or removed, or the connection is shut
            // down; then its stream ends.
            self.shared
                .wait_ended(&self.id, !self.stays_open, Some(&self.closed));
            self.hold = false;
        }
        Ok(0)
    }
}

/// The stdin half of a fake attach.
struct AttachWriter {
    shared: Arc<Shared>,
    id: String,
    closed: Arc<AtomicBool>,
}

impl Write for AttachWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut state = self.shared.lock();
        let gone = state.killed.contains(&self.id) || self.closed.load(Ordering::SeqCst);
        let full = state
            .attach_stdin_limit
            .is_some_and(|limit| state.attach_stdin.len().saturating_add(buf.len()) > limit);
        if gone || full {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "broken pipe"));
        }
        state.attach_stdin.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl StdinWriter for AttachWriter {
    fn close_write(&mut self) -> io::Result<()> {
        self.shared.lock().stdin_closed = true;
        Ok(())
    }

    fn shutdown_handle(&self) -> Option<ShutdownHandle> {
        let (shared, closed) = (self.shared.clone(), self.closed.clone());
        Some(ShutdownHandle::new(move || {
            closed.store(true, Ordering::SeqCst);
            shared.notify();
        }))
    }
}

impl Client for FakeClient {
    fn ping(&self) -> Result<Ping> {
        let state = self.record("ping");
        fail(&state.version_err)?;
        Ok(Ping {
            api_version: state.version.api_version.clone(),
            ..Default::default()
        })
    }

    fn server_version(&self) -> Result<Version> {
        let state = self.record("version");
        fail(&state.version_err)?;
        Ok(state.version.clone())
    }

    fn image_inspect_with_raw(&self, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
        let state = self.record("inspect_image");
        fail(&state.inspect_image_err)?;
        match state.images.get(name) {
            Some(image) => Ok((image.clone(), Vec::new())),
            None => Err(Error::api(404, format!("No such image: {name}"))),
        }
    }

    fn image_pull(&self, reference: &str, options: &ImagePullOptions) -> Result<BodyReader> {
        let mut state = self.record("pull");
        state.pulls.push((reference.to_string(), options.clone()));
        if let Some(e) = state.pull_failures.pop_front() {
            return Err(e);
        }
        fail(&state.pull_fail)?;
        if let Some(image) = state.registry.get(reference).cloned() {
            state.images.insert(reference.to_string(), image);
        }
        Ok(Box::new(SlowLines {
            data: Cursor::new(state.pull_output.clone()),
            delay: state.pull_line_delay,
            at_line_start: true,
        }))
    }

    fn image_remove(
        &self,
        image: &str,
        _options: &ImageRemoveOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        let mut state = self.record("remove_image");
        fail(&state.remove_image_err)?;
        match state.images.remove(image) {
            Some(removed) => {
                state.removed_images.push(image.to_string());
                Ok(vec![ImageDeleteResponseItem {
                    untagged: image.to_string(),
                    deleted: removed.id,
                }])
            }
            None => Err(Error::api(404, format!("No such image: {image}"))),
        }
    }

    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> Result<BodyReader> {
        drop(self.record("build"));
        // Read outside the lock: the context may be produced by a thread that reports to us.
        let mut read = Vec::new();
        context.read_to_end(&mut read)?;
        let mut state = self.state();
        state.build_image_opts = Some(options.clone());
        state.build_image_context = read;
        fail(&state.build_image_err)?;
        Ok(Box::new(Cursor::new(state.build_image_output.clone())))
    }

    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> Result<ContainerCreateResponse> {
        let mut state = self.record("create");
        state.created.push((name.to_string(), body.clone()));
        fail(&state.create_err)?;
        let id = if state.container_id.is_empty() {
            format!("fake-container-{}", state.created.len())
        } else {
            state.container_id.clone()
        };
        state.containers.insert(id.clone(), body.clone());
        Ok(ContainerCreateResponse {
            id,
            warnings: Vec::new(),
        })
    }

    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> Result<HijackedResponse> {
        let mut state = self.record("attach");
        state.attach_options = Some(*options);
        fail(&state.attach_err)?;
        let closed = Arc::new(AtomicBool::new(false));
        Ok(HijackedResponse {
            reader: Box::new(AttachReader {
                shared: self.shared.clone(),
                id: container.to_string(),
                data: Cursor::new(state.attach_output.clone()),
                hold: state.run_until_killed || state.attach_stays_open,
                stays_open: state.attach_stays_open,
                closed: closed.clone(),
                frame_left: 0,
            }),
            writer: Box::new(AttachWriter {
                shared: self.shared.clone(),
                id: container.to_string(),
                closed,
            }),
        })
    }

    fn container_start(&self, container: &str) -> Result<()> {
        let mut state = self.record("start");
        fail(&state.start_err)?;
        state.started.push(container.to_string());
        Ok(())
    }

    fn container_wait(
        &self,
        container: &str,
        _condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        let (run_until_killed, stalls, result) = {
            let mut state = self.record("wait");
            state.wait_container_id = container.to_string();
            fail(&state.wait_container_err)?;
            (
                state.run_until_killed,
                state.wait_stalls,
                state.wait_container_result,
            )
        };
        if stalls {
            self.shared.wait_ended(container, false, None);
        }
        let status_code = if run_until_killed {
            self.shared.wait_ended(container, true, None);
            KILLED_EXIT_CODE
        } else {
            result
        };
        Ok(ContainerWaitResponse {
            status_code,
            error: None,
        })
    }

    fn container_inspect(&self, _container: &str) -> Result<ContainerInspect> {
        let state = self.record("inspect_container");
        fail(&state.inspect_container_err)?;
        Ok(state.wait_container_err_inspect_json.clone())
    }

    fn container_kill(&self, container: &str, _signal: Signal) -> Result<()> {
        let mut state = self.record("kill");
        fail(&state.kill_err)?;
        state.killed.push(container.to_string());
        self.shared.changed.notify_all();
        Ok(())
    }

    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()> {
        let mut state = self.record("remove");
        if let Some(e) = state.remove_failures.pop_front() {
            return Err(e);
        }
        fail(&state.remove_err)?;
        match state.containers.remove(container) {
            Some(_) => {
                state.removed.push((container.to_string(), *options));
                // A removed container's streams and waits end, as with a daemon.
                self.shared.changed.notify_all();
                Ok(())
            }
            None => Err(Error::api(404, format!("No such container: {container}"))),
        }
    }

    fn container_list(&self, options: &ContainerListOptions) -> Result<Vec<ContainerSummary>> {
        let mut state = self.record("list");
        state.list_options = Some(options.clone());
        fail(&state.list_err)?;
        let mut listed: Vec<ContainerSummary> = state
            .containers
            .iter()
            .filter(|(id, _)| {
                options.all || (state.started.contains(id) && !state.killed.contains(id))
            })
            .filter(|(_, body)| {
                let labels = body.config.labels.clone().unwrap_or_default();
                options.labels.iter().all(|f| match f.split_once('=') {
                    Some((k, v)) => labels.get(k).is_some_and(|l| l == v),
                    None => labels.contains_key(f),
                })
            })
            .map(|(id, body)| ContainerSummary {
                id: id.clone(),
                image: body.config.image.clone(),
                state: if state.started.contains(id) {
                    "running"
                } else {
                    "created"
                }
                .into(),
                labels: body.config.labels.clone().unwrap_or_default(),
                ..Default::default()
            })
            .collect();
        listed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(listed)
    }

    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> Result<()> {
        drop(self.record("copy_to_container"));
        // Read outside the lock, like a daemon consuming the upload while it is produced.
        let mut read = Vec::new();
        let copied = content.read_to_end(&mut read);
        let mut state = self.state();
        state.copy_to_container_id = container.to_string();
        state.copy_to_container_path = path.to_string();
        state.copy_to_container_content = read;
        state.copy_to_container_options = Some(*options);
        copied?;
        fail(&state.copy_to_container_err)
    }

    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(BodyReader, ContainerPathStat)> {
        let mut state = self.record("copy_from_container");
        state.copy_from_container_id = container.to_string();
        state.copy_from_container_path = path.to_string();
        fail(&state.copy_from_container_err)?;
        Ok((
            Box::new(Cursor::new(state.copy_from_container_content.clone())),
            state.copy_from_container_stat.clone(),
        ))
    }

    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> Result<IdResponse> {
        let mut state = self.record("commit");
        state.container_commit_id = container.to_string();
        state.container_commit_options = Some(options.clone());
        if let Some(e) = &state.container_commit_err {
            return Err(clone_error(e));
        }
        Ok(state.container_commit_response.clone())
    }
}

#[cfg(test)]
mod tests;
