//! Podman: where its Docker-compatible API answers differently from the Docker Engine, and
//! what this crate does about each difference.
//!
//! [`EngineClient`] speaks to Podman's service (`podman system service`) as
//! to the Docker Engine. It tells them apart by the `Server` header of `GET /_ping`
//! (`Libpod/4.3.1 (linux)` is Podman, see [`Engine`](crate::ops::engine::Engine)), asked once per
//! client and shared by its clones (the version negotiation's ping tells it for free), and it
//! handles the differences below inside the endpoint functions of [`ops`](crate::ops), so that
//! [`DockerClient`](crate::DockerClient) and the S2I operations above it give the same results on
//! both engines. Tested with Docker Engine 20.10.24 (API 1.41) and Podman 4.3.1 (its compat
//! API 1.41).
//!
//! # Finding the engine
//!
//! With neither `DOCKER_HOST` nor `CONTAINER_HOST` set (Podman's own variable, honoured when it
//! is a `unix://` or `tcp://` URL), [`get_default_docker_config`](crate::get_default_docker_config)
//! uses the first of these sockets that accepts a connection: `/var/run/docker.sock`,
//! `$XDG_RUNTIME_DIR/podman/podman.sock` (rootless Podman), `/run/podman/podman.sock` (rootful
//! Podman). When none does, it keeps `/var/run/docker.sock`, and the connection error names every
//! socket tried: `Cannot connect to the Docker daemon at unix:///var/run/docker.sock,
//! unix:///run/user/1000/podman/podman.sock or unix:///run/podman/podman.sock. Is the docker
//! daemon running?`.
//!
//! # Differences handled
//!
//! 1. **`POST /commit` ignores the configuration in its body** (podman#13770, S2I #1082: the
//!    built image kept the builder's `Cmd`). On Podman, [`commit`](crate::ops::container::commit)
//!    also sends the configuration as `changes` query values, Dockerfile instructions that Podman
//!    does apply: `CMD ["..."]` and `ENTRYPOINT ["..."]` (JSON form), `ENV "K"="V"`,
//!    `LABEL "k"="v"`, `USER u`, `WORKDIR d`, `EXPOSE p`, `VOLUME ["..."]`, `STOPSIGNAL s`.
//!    They are chosen so the image comes out as Docker's merge of body and container makes it:
//!    an `Entrypoint` without a `Cmd` also sends `CMD []` (Docker then drops the container's
//!    command), and an empty `Cmd` keeps the container's. Podman strips one pair of quotes from
//!    `ENV` and `LABEL` keys and values and unescapes nothing, so every key and value is sent
//!    quoted and arrives as given. The body is still sent, so a Podman that reads it gets the
//!    same configuration twice.
//! 2. **`POST /commit` without a body fails** (`Decode(): EOF`, 500): on Podman an empty JSON
//!    object is sent when there is no configuration.
//! 3. **Commit IDs are bare hex** on Podman; every commit ID and every image ID from an inspect
//!    is given as `sha256:<hex>`, Docker's form.
//! 4. **Short names.** Docker reads `name:tag` as `docker.io/library/name:tag`. Podman names the
//!    images it builds and commits through this API the same way, but its own CLI names them
//!    `localhost/name:tag`, and it resolves a short name to `localhost/` first when both exist.
//!    On Podman, [image inspect](crate::ops::image::inspect), [image
//!    remove](crate::ops::image::remove) and [container create](crate::ops::container::create)
//!    use the Docker meaning of a short name (`docker.io/library/name:tag`,
//!    `docker.io/user/name:tag`) when such an image exists, and Podman's own lookup otherwise,
//!    so images made with `podman build -t name` are found by `name` as Podman users expect (on
//!    Docker that name would not exist). `RepoTags` and `RepoDigests` are given in Docker's short
//!    form (`name:tag`, not `docker.io/library/name:tag`).
//! 5. **Conflicts are 500s.** Where Docker answers 409 (a container name in use, killing a
//!    stopped container, removing a running one, removing by ID an image with several tags),
//!    Podman 4 answers 500 with its own text. [`Error::is_conflict`]
//!    is true for those texts (and only those: `that name is already in use`,
//!    `container state improper`, `by ID with more than one tag`); [`Error::status`]
//!    still tells the status the engine sent.
//! 6. **Refused pulls answer 200.** Podman reports every pull failure inside the progress
//!    stream (`errorDetail`), where Docker answers an error status: the stream reader fails with
//!    [`Error::Stream`] carrying the registry's text, which says what
//!    Docker's does (`unauthorized: authentication required`, `manifest unknown`,
//!    `connection refused`). [`Error::is_unauthorized`] is true
//!    for a refusal on both engines, [`Error::is_not_found`] for a
//!    missing image or tag (`manifest unknown`, `name unknown`), and the retry decision sees the
//!    same texts.
//! 7. **Not-found texts differ**: `failed to find image x:1: docker.io/library/x:1: No such
//!    image`, `no such image: ...: image not known`, `no such container`. All are 404s, and the
//!    check-and-pull logic treats Podman's `image not known` like Docker's `No such image`.
//! 8. **Attach without `stream=1` streams anyway** on Podman (it reads a missing `stream` as
//!    true, and refuses an explicit `stream=0` without `logs`), so it would wait for a stopped
//!    container to start again where Docker returns at once.
//!    [`attach`](crate::ops::container::attach) refuses such a request on Podman with
//!    [`Error::Unsupported`] instead of hanging. (S2I always attaches with `stream=1`.) Attach before start works on
//!    Podman 4.3: the `101` comes at once, as from Docker; an engine that withheld it would
//!    fail the attach after the client's timeout, not hang it.
//! 9. **Waiting on a container that never ran** (`condition=not-running`) gives exit code -1 on
//!    Podman, 0 on Docker: [`wait`](crate::ops::container::wait) reports 0 for a container in
//!    the `created` state. A wait without a condition is sent as `not-running`, Docker's default.
//! 10. **Archive uploads create missing directories** on Podman; Docker answers 404
//!     (`Could not find the file <dir> in container <id>`). On Podman,
//!     [`put_archive`](crate::ops::copy::put_archive) first asks whether the directory exists
//!     (`HEAD`) and gives Docker's 404 when it does not.
//! 11. **A container that exits without reading all of its stdin breaks Podman's attach.**
//!     Docker drops the unread input quietly. Podman then resets the connection, and often
//!     writes `Error: write unixpacket ...: broken pipe` as a last stderr frame, and sometimes
//!     loses output it had not forwarded yet (a few runs in a hundred here, under load).
//!     The attach stream of a Podman container therefore holds back a last stderr frame that
//!     starts with `Error: ` until more follows, and when the stream ends with such a frame, a
//!     reset, or a cut frame, it waits for the container and takes what the attach did not
//!     deliver from the container's logs (`GET /containers/{id}/logs`), dropping Podman's
//!     complaint, so the caller gets exactly the container's output. Writing the input fails
//!     too; [`run_container`](crate::Docker::run_container) decides by the exit code on both
//!     engines (see [`docker`](crate::docker)'s differences from S2I).
//! 12. **An image inspect can fail while another image is removed**: Podman reads the other
//!     images to find an image's parent, and answers 500 `... locating image with ID "<id>":
//!     image not known` when one of them goes meanwhile (parallel builds and removals hit it).
//!     [`inspect`](crate::ops::image::inspect) tries such an inspect again, up to five times
//!     50 ms apart; a missing image is a 404 on Podman too, and is not retried.
//! 13. **Version headers**: Podman's ping carries `Api-Version: 1.41` (used for negotiation, as
//!     Docker's) and `Libpod-Api-Version: 4.3.1` (not used); `GET /version` names the
//!     `Podman Engine` component.
//!
//! # What Podman cannot do
//!
//! - **ONBUILD triggers are not reported.** Podman keeps them in the images it builds, but
//!   neither its compat nor its own image inspect has an `OnBuild` field, so `get_on_build` is
//!   empty and `is_image_on_build` false on Podman, and the user check of `ONBUILD USER` cannot
//!   happen there. A commit whose configuration sets `OnBuild` fails on Podman with
//!   [`Error::Unsupported`] (its commit cannot set them either).
//! - **Values with a newline** in `Env`, `Labels`, `User`, `WorkingDir` or `StopSignal`, label
//!   keys with `=`, `Env` entries without `=`, and `User`, `WorkingDir` or `StopSignal` with
//!   surrounding spaces cannot be written as the instructions Podman's commit reads: such a
//!   commit fails on Podman with [`Error::InvalidInput`] naming the
//!   value, before anything is sent. (`Cmd`, `Entrypoint` and `Volumes` go as JSON and have no
//!   such limit.)
//! - **Committed images carry Podman's environment**: `container=podman` and, from Podman's
//!   default `containers.conf`, `TERM=xterm` are in every Podman container's environment and so
//!   in the images committed from them.
//! - **`StopSignal` is stored as a number** (`SIGTERM` becomes `15`).
//! - `Hostname`, `Domainname`, `Image` and the attach/TTY flags of a commit configuration are
//!   not applied on Podman (no instruction sets them); Docker stores them, and neither engine
//!   uses them when it runs the image.
//! - Images built by Podman carry an `io.buildah.version` label, and a build's output says
//!   `STEP 1/2` where Docker's says `Step 1/2`.

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::error::{Error, Result};
use crate::image_ref::{parse_normalized_named, DEFAULT_DOMAIN};
use crate::ops::container::ContainerConfig;
use crate::ops::container::WaitCondition;
use crate::ops::engine::EngineClient;

/// How many times an image inspect is tried when Podman fails it for another image's removal.
pub(crate) const INSPECT_ATTEMPTS: u32 = 5;

/// The pause between those attempts.
pub(crate) const INSPECT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether an image inspect failed because Podman lost track of *another* image meanwhile.
///
/// Podman reads the other images to find an image's parent; when one of them is removed at
/// the same moment, the inspect fails with a 500 such as `failed to convert ImageData to
/// ImageInspect 'x:1': reading image "<id>": locating image with ID "<id>": image not known`.
/// A missing image itself is a 404.
pub(crate) fn is_inspect_race(e: &Error) -> bool {
    matches!(e, Error::Api { status: 500, message } if message.contains("image not known"))
}

/// The Docker meaning of a short image name: `docker.io/library/name:tag` for `name:tag`,
/// `docker.io/user/name` for `user/name`.
///
/// `None` when the name already names its registry, is an image ID (`sha256:...` or 64 hex
/// digits), or is not a valid reference: those are looked up as given.
pub(crate) fn docker_hub_name(name: &str) -> Option<String> {
    if name.starts_with("sha256:") {
        return None;
    }
    let named = parse_normalized_named(name).ok()?;
    (named.domain == DEFAULT_DOMAIN && !has_domain(name)).then(|| named.to_string())
}

/// Whether the first component of `name` is a registry (as the reference grammar decides).
fn has_domain(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => {
            first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
        }
        None => false,
    }
}

/// Docker's short form of a fully qualified name in `RepoTags`/`RepoDigests`:
/// `docker.io/library/x:1` is `x:1`, `docker.io/u/x:1` is `u/x:1`; others are kept.
pub(crate) fn familiar(name: &str) -> String {
    match name.strip_prefix("docker.io/") {
        Some(rest) => match rest.strip_prefix("library/") {
            Some(official) if !official.contains('/') => official.to_string(),
            _ => rest.to_string(),
        },
        None => name.to_string(),
    }
}

/// `sha256:<hex>` for a bare 64-digit hex ID; anything else unchanged.
pub(crate) fn image_id(id: String) -> String {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("sha256:{id}")
    } else {
        id
    }
}

/// The `changes` values that make Podman's commit apply `config` as Docker's applies the body.
///
/// # Errors
/// [`Error::Unsupported`] for `OnBuild` triggers; [`Error::InvalidInput`] for a value the
/// instructions cannot carry (see the module's "What Podman cannot do").
pub(crate) fn commit_changes(config: &ContainerConfig) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    if config.on_build.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(Error::Unsupported(
            "Podman cannot set ONBUILD triggers in a commit (its API does not keep them)".into(),
        ));
    }
    let entrypoint = config.entrypoint.as_deref();
    let cmd = config.cmd.as_deref().filter(|c| !c.is_empty());
    if let Some(entrypoint) = entrypoint {
        changes.push(format!("ENTRYPOINT {}", serde_json::to_string(entrypoint)?));
    }
    match (cmd, entrypoint.is_some_and(|e| !e.is_empty())) {
        (Some(cmd), _) => changes.push(format!("CMD {}", serde_json::to_string(cmd)?)),
        // Docker keeps the container's command only when no entrypoint is given.
        (None, true) => changes.push("CMD []".to_string()),
        (None, false) => {}
    }
    for entry in config.env.iter().flatten() {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(unwritable("Env", entry, "it has no '='"));
        };
        if key.is_empty() {
            return Err(unwritable("Env", entry, "its name is empty"));
        }
        no_newline("Env", entry)?;
        changes.push(format!("ENV \"{key}\"=\"{value}\""));
    }
    // Sorted: the same configuration always sends the same request.
    let labels: BTreeMap<&String, &String> = config.labels.iter().flatten().collect();
    for (key, value) in labels {
        if key.is_empty() || key.contains('=') {
            return Err(unwritable(
                "Labels",
                key,
                "a label name must be non-empty and without '='",
            ));
        }
        no_newline("Labels", key)?;
        no_newline("Labels", value)?;
        changes.push(format!("LABEL \"{key}\"=\"{value}\""));
    }
    for (field, instruction, value) in [
        ("User", "USER", &config.user),
        ("WorkingDir", "WORKDIR", &config.working_dir),
        ("StopSignal", "STOPSIGNAL", &config.stop_signal),
    ] {
        if value.is_empty() {
            continue;
        }
        no_newline(field, value)?;
        if value.trim() != value {
            return Err(unwritable(field, value, "it has surrounding spaces"));
        }
        changes.push(format!("{instruction} {value}"));
    }
    let ports: std::collections::BTreeSet<&String> =
        config.exposed_ports.iter().flat_map(|p| p.keys()).collect();
    for port in ports {
        no_newline("ExposedPorts", port)?;
        if port.trim().is_empty() || port.contains(char::is_whitespace) {
            return Err(unwritable(
                "ExposedPorts",
                port,
                "it is empty or has spaces",
            ));
        }
        changes.push(format!("EXPOSE {port}"));
    }
    let volumes: Vec<&String> = {
        let mut v: Vec<&String> = config.volumes.iter().flat_map(|v| v.keys()).collect();
        v.sort();
        v
    };
    if !volumes.is_empty() {
        changes.push(format!("VOLUME {}", serde_json::to_string(&volumes)?));
    }
    Ok(changes)
}

fn no_newline(field: &str, value: &str) -> Result<()> {
    if value.contains('\n') {
        return Err(unwritable(field, value, "it has a newline"));
    }
    Ok(())
}

fn unwritable(field: &str, value: &str, why: &str) -> Error {
    Error::InvalidInput(format!(
        "Podman cannot commit {field} value {value:?}: {why} (Podman applies a commit's configuration only as Dockerfile instructions)"
    ))
}

/// How Podman reports a failed attach: a last stderr frame `Error: <why>`, e.g.
/// `Error: write unixpacket @->/proc/self/fd/15/attach: broken pipe`.
const ATTACH_ERROR_PREFIX: &[u8] = b"Error: ";

/// The stdcopy frame layout: `[stream, 0, 0, 0, size (u32, big-endian)]`, then `size` bytes.
#[derive(Default)]
struct Frames {
    header: [u8; 8],
    have: usize,
    stream: u8,
    left: u64,
}

impl Frames {
    /// Whether the reader stands between two frames.
    fn at_boundary(&self) -> bool {
        self.have == 0 && self.left == 0
    }

    /// Calls `payload(stream, bytes, last_of_frame)` for the payload in `input`.
    ///
    /// `Err(consumed)` when a header is not a stdcopy header: `consumed` bytes of `input` were
    /// read, the bad header last (it is in `self.header`).
    fn feed(
        &mut self,
        mut input: &[u8],
        payload: &mut dyn FnMut(u8, &[u8], bool),
    ) -> std::result::Result<(), usize> {
        let total = input.len();
        while !input.is_empty() {
            if self.left == 0 {
                let take = (8 - self.have).min(input.len());
                self.header[self.have..self.have + take].copy_from_slice(&input[..take]);
                self.have += take;
                input = &input[take..];
                if self.have < 8 {
                    return Ok(());
                }
                self.have = 0;
                let h = self.header;
                if h[0] > 2 || h[1..4] != [0, 0, 0] {
                    return Err(total - input.len());
                }
                self.stream = h[0];
                self.left = u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
                if self.left == 0 {
                    payload(h[0], &[], true);
                }
                continue;
            }
            let take = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(input.len());
            self.left -= take as u64;
            payload(self.stream, &input[..take], self.left == 0);
            input = &input[take..];
        }
        Ok(())
    }
}

/// The output of a Podman attach, made as complete as Docker's.
///
/// When a container exits without reading all of its stdin, Podman's attach can lose the
/// output it had not forwarded yet: it writes `Error: <why>` as a last stderr frame instead and
/// closes (or resets) the connection. This reader hands on the output as it comes (in frames of
/// its own), holding back only a stderr frame that starts with `Error: ` until more follows.
/// When the stream ends with such a frame, with a reset, or in the middle of a frame, it waits
/// for the container, reads its logs, and delivers what the attach did not (the logs hold the
/// whole output; Podman's `Error:` frame is not in them and is dropped). A TTY stream (not
/// framed) passes through as it is.
pub(crate) struct AttachOutput {
    upstream: Box<dyn Read + Send>,
    docker: EngineClient,
    container: String,
    stdout: bool,
    stderr: bool,
    frames: Frames,
    raw: bool,
    started: bool,
    /// Bytes ready for the caller, from `pos` on.
    out: Vec<u8>,
    pos: usize,
    /// The stderr frame being collected (stderr frames go out whole, to check their start).
    stderr_frame: Vec<u8>,
    /// A complete stderr frame starting with `Error: `, held until more data follows.
    suspect: Option<Vec<u8>>,
    /// Payload bytes delivered per stream (stdin, stdout, stderr).
    delivered: [u64; 3],
    catch_up: Option<CatchUp>,
    done: bool,
    /// The read buffer for the attach stream and the logs.
    chunk: Vec<u8>,
}

struct CatchUp {
    body: Box<dyn Read + Send>,
    frames: Frames,
    /// Payload bytes of the logs seen per stream.
    seen: [u64; 3],
}

impl AttachOutput {
    pub(crate) fn new(
        upstream: Box<dyn Read + Send>,
        docker: EngineClient,
        container: &str,
        stdout: bool,
        stderr: bool,
    ) -> AttachOutput {
        AttachOutput {
            upstream,
            docker,
            container: container.to_string(),
            stdout,
            stderr,
            frames: Frames::default(),
            raw: false,
            started: false,
            out: Vec::new(),
            pos: 0,
            stderr_frame: Vec::new(),
            suspect: None,
            delivered: [0; 3],
            catch_up: None,
            done: false,
            chunk: vec![0; 64 << 10],
        }
    }

    /// Queues a frame for the caller (split if it is too long for one header).
    fn emit(&mut self, stream: u8, payload: &[u8]) {
        for chunk in payload.chunks(u32::MAX as usize) {
            self.out.extend_from_slice(&[stream, 0, 0, 0]);
            self.out
                .extend_from_slice(&u32::try_from(chunk.len()).unwrap_or(u32::MAX).to_be_bytes());
            self.out.extend_from_slice(chunk);
        }
        self.delivered[usize::from(stream.min(2))] += payload.len() as u64;
    }

    /// Takes bytes of the attach stream.
    fn take_upstream(&mut self, input: &[u8]) {
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if !self.started {
            self.started = true;
            // A TTY's stream is not framed: it does not start like a header.
            if input[0] > 2 || input[1..input.len().min(4)].iter().any(|&b| b != 0) {
                self.raw = true;
            }
        }
        if self.raw {
            self.out.extend_from_slice(input);
            return;
        }
        let mut frames = std::mem::take(&mut self.frames);
        let fed = frames.feed(input, &mut |stream, bytes, last| {
            self.take_payload(stream, bytes, last)
        });
        if let Err(consumed) = fed {
            // Not a stdcopy stream after all: hand on the rest as it is.
            self.raw = true;
            self.out.extend_from_slice(&frames.header);
            self.out.extend_from_slice(&input[consumed..]);
        }
        self.frames = frames;
    }

    fn take_payload(&mut self, stream: u8, bytes: &[u8], last: bool) {
        // More output after an `Error: ` frame: it was the container's own.
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if stream != 2 {
            if !bytes.is_empty() {
                self.emit(stream, bytes);
            }
            return;
        }
        self.stderr_frame.extend_from_slice(bytes);
        if last {
            let frame = std::mem::take(&mut self.stderr_frame);
            if frame.starts_with(ATTACH_ERROR_PREFIX) {
                self.suspect = Some(frame);
            } else if !frame.is_empty() {
                self.emit(2, &frame);
            }
        }
    }

    /// The attach stream ended: complete it from the logs if it may have lost output.
    fn end_upstream(&mut self, reset: bool) {
        let suspicious = reset
            || self.suspect.is_some()
            || !self.frames.at_boundary()
            || !self.stderr_frame.is_empty();
        if self.raw || !suspicious {
            self.finish_partial();
            self.done = true;
            return;
        }
        // The logs are whole only once the container stopped (it has, or is about to, when
        // Podman ends the attach).
        let _ =
            crate::ops::container::wait(&self.docker, &self.container, WaitCondition::NotRunning);
        match crate::ops::container::logs(&self.docker, &self.container, self.stdout, self.stderr) {
            Ok(body) => {
                self.suspect = None;
                self.stderr_frame.clear();
                self.catch_up = Some(CatchUp {
                    body: Box::new(body),
                    frames: Frames::default(),
                    seen: [0; 3],
                });
            }
            Err(e) => {
                log::debug!(
                    "Podman attach of {}: no logs to complete it: {e}",
                    self.container
                );
                self.finish_partial();
                self.done = true;
            }
        }
    }

    /// Hands on what is held, as it is.
    fn finish_partial(&mut self) {
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if !self.stderr_frame.is_empty() {
            let frame = std::mem::take(&mut self.stderr_frame);
            self.emit(2, &frame);
        }
    }

    /// Takes bytes of the logs: what the attach delivered is skipped, the rest goes out.
    fn take_logs(&mut self, input: &[u8]) {
        let Some(mut catch_up) = self.catch_up.take() else {
            return;
        };
        let seen = &mut catch_up.seen;
        let fed = catch_up.frames.feed(input, &mut |stream, bytes, _| {
            let i = usize::from(stream);
            // The first `delivered` bytes of each stream came through the attach.
            let skip = self.delivered[i]
                .saturating_sub(seen[i])
                .min(bytes.len() as u64) as usize;
            seen[i] += bytes.len() as u64;
            if skip < bytes.len() {
                self.emit(stream, &bytes[skip..]);
            }
        });
        if fed.is_ok() {
            self.catch_up = Some(catch_up);
        } else {
            self.done = true;
        }
    }
}

impl Read for AttachOutput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut chunk = std::mem::take(&mut self.chunk);
        let read = self.read_with(buf, &mut chunk);
        self.chunk = chunk;
        read
    }
}

impl AttachOutput {
    fn read_with(&mut self, buf: &mut [u8], chunk: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = (self.out.len() - self.pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.out.len() {
                    self.out.clear();
                    self.pos = 0;
                }
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if let Some(catch_up) = self.catch_up.as_mut() {
                match catch_up.body.read(chunk) {
                    Ok(0) => self.done = true,
                    Ok(n) => self.take_logs(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            match self.upstream.read(chunk) {
                Ok(0) => self.end_upstream(false),
                Ok(n) => self.take_upstream(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.end_upstream(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn changes(config: ContainerConfig) -> Vec<String> {
        commit_changes(&config).unwrap()
    }

    #[test]
    fn s2i_commit_as_instructions() {
        let config = ContainerConfig {
            cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
            env: Some(vec![
                "GREETING=hi there".into(),
                "EMPTY=".into(),
                "EQ=a=b".into(),
            ]),
            labels: Some(HashMap::from([
                (
                    "io.openshift.s2i.build.image".to_string(),
                    "builder:1".to_string(),
                ),
                (
                    "a.b".to_string(),
                    "with \"quotes\" and 'apostrophes'".to_string(),
                ),
            ])),
            user: "1001".into(),
            ..Default::default()
        };
        assert_eq!(
            changes(config),
            [
                r#"CMD ["/usr/libexec/s2i/run"]"#,
                r#"ENV "GREETING"="hi there""#,
                r#"ENV "EMPTY"="""#,
                r#"ENV "EQ"="a=b""#,
                r#"LABEL "a.b"="with "quotes" and 'apostrophes'""#,
                r#"LABEL "io.openshift.s2i.build.image"="builder:1""#,
                "USER 1001",
            ]
        );
        assert!(changes(ContainerConfig::default()).is_empty());
    }

    #[test]
    fn command_and_entrypoint_follow_dockers_merge() {
        let v = |s: &[&str]| Some(s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // An entrypoint alone: Docker drops the container's command.
        let only_entrypoint = ContainerConfig {
            entrypoint: v(&["/usr/bin/env"]),
            ..Default::default()
        };
        assert_eq!(
            changes(only_entrypoint),
            [r#"ENTRYPOINT ["/usr/bin/env"]"#, "CMD []"]
        );
        // An empty command keeps the container's; an empty entrypoint clears it.
        let empty = ContainerConfig {
            cmd: v(&[]),
            entrypoint: v(&[]),
            ..Default::default()
        };
        assert_eq!(changes(empty), ["ENTRYPOINT []"]);
        // JSON carries anything: quotes, commas, newlines, non-ASCII.
        let odd = ContainerConfig {
            cmd: v(&["sh", "-c", "echo \"a,b\"\nexit 0", "é"]),
            ..Default::default()
        };
        assert_eq!(
            changes(odd),
            [r#"CMD ["sh","-c","echo \"a,b\"\nexit 0","é"]"#]
        );
        assert!(!changes(ContainerConfig {
            cmd: v(&["x\ny"]),
            ..Default::default()
        })[0]
            .contains('\n'));
    }

    #[test]
    fn the_other_instructions() {
        let config = ContainerConfig {
            working_dir: "/opt/app".into(),
            stop_signal: "SIGTERM".into(),
            exposed_ports: Some(HashMap::from([
                ("8080/tcp".to_string(), serde_json::json!({})),
                ("53/udp".to_string(), serde_json::json!({})),
            ])),
            volumes: Some(HashMap::from([
                ("/data".to_string(), serde_json::json!({})),
                ("/cache dir".to_string(), serde_json::json!({})),
            ])),
            // Not expressible, and of no effect on containers run from the image: ignored.
            hostname: "h".into(),
            tty: true,
            image: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            changes(config),
            [
                "WORKDIR /opt/app",
                "STOPSIGNAL SIGTERM",
                "EXPOSE 53/udp",
                "EXPOSE 8080/tcp",
                r#"VOLUME ["/cache dir","/data"]"#,
            ]
        );
    }

    #[test]
    fn values_podman_cannot_take_are_refused() {
        let refused = |config: ContainerConfig| commit_changes(&config).unwrap_err();
        let env = |e: &str| ContainerConfig {
            env: Some(vec![e.to_string()]),
            ..Default::default()
        };
        for bad in ["A=x\ny", "NOVALUE", "=v"] {
            let e = refused(env(bad));
            assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
            assert!(e.to_string().contains("Podman cannot commit Env"), "{e}");
        }
        let label = |k: &str, v: &str| ContainerConfig {
            labels: Some(HashMap::from([(k.to_string(), v.to_string())])),
            ..Default::default()
        };
        for (k, v) in [("a=b", "v"), ("", "v"), ("k", "two\nlines"), ("k\n", "v")] {
            assert!(
                matches!(refused(label(k, v)), Error::InvalidInput(_)),
                "{k:?}={v:?}"
            );
        }
        for user in [" 1001", "1001\n", "u\nv"] {
            let e = refused(ContainerConfig {
                user: user.into(),
                ..Default::default()
            });
            assert!(e.to_string().contains("User"), "{e}");
        }
        let e = refused(ContainerConfig {
            on_build: Some(vec!["USER root".into()]),
            ..Default::default()
        });
        assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        // No triggers is fine.
        assert!(commit_changes(&ContainerConfig {
            on_build: Some(vec![]),
            ..Default::default()
        })
        .is_ok());
    }

    #[test]
    fn short_names_and_their_docker_meaning() {
        let cases: &[(&str, Option<&str>)] = &[
            ("app", Some("docker.io/library/app")),
            ("app:1", Some("docker.io/library/app:1")),
            ("user/app:1", Some("docker.io/user/app:1")),
            (
                "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                Some("docker.io/library/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
            // Already qualified, or with a registry of its own.
            ("docker.io/library/app:1", None),
            ("docker.io/user/app", None),
            ("index.docker.io/library/app:1", None),
            ("localhost/app:1", None),
            ("localhost:5000/app:1", None),
            ("quay.io/x/y", None),
            // IDs and what is not a reference.
            (
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            ("Not:Valid:", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(docker_hub_name(name).as_deref(), *want, "{name}");
        }
    }

    #[test]
    fn familiar_names_and_ids() {
        assert_eq!(familiar("docker.io/library/app:1"), "app:1");
        assert_eq!(familiar("docker.io/user/app:1"), "user/app:1");
        assert_eq!(familiar("docker.io/library/a/b:1"), "library/a/b:1");
        assert_eq!(familiar("localhost/app:1"), "localhost/app:1");
        assert_eq!(familiar("quay.io/x/y@sha256:ab"), "quay.io/x/y@sha256:ab");
        let hex = "ab".repeat(32);
        assert_eq!(image_id(hex.clone()), format!("sha256:{hex}"));
        assert_eq!(image_id(format!("sha256:{hex}")), format!("sha256:{hex}"));
        assert_eq!(image_id("abc".into()), "abc");
        assert_eq!(image_id(String::new()), "");
    }

    /// An attach stream: the chunks, then the end (`None`) or a reset.
    struct Upstream(Vec<Vec<u8>>, bool);

    impl Read for Upstream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return if self.1 {
                    Err(io::ErrorKind::ConnectionReset.into())
                } else {
                    Ok(0)
                };
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    const COMPLAINT: &[u8] = b"Error: write unixpacket @->/proc/self/fd/15/attach: broken pipe\n";

    /// Reads a Podman attach over `upstream` with a scripted engine whose logs are `logs`;
    /// returns stdout, stderr and the requests made.
    fn attach_output(upstream: Upstream, logs: Option<Vec<u8>>) -> (String, String, Vec<String>) {
        let (docker, server) = crate::fake::testing::http::serve(move |r| {
            if r.path.ends_with("/wait") {
                return crate::fake::testing::http::json("200 OK", "{\"StatusCode\":0}");
            }
            match &logs {
                Some(body) => {
                    let mut reply =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                            .into_bytes();
                    reply.extend_from_slice(body);
                    (reply, false)
                }
                None => crate::fake::testing::http::json(
                    "500 Internal Server Error",
                    "{\"message\":\"no logs\"}",
                ),
            }
        });
        let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
        let mut reader = AttachOutput::new(Box::new(upstream), docker, "c", true, true);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        crate::ops::stream::demux(&mut reader, &mut out, &mut err).unwrap();
        let requests = server
            .requests()
            .into_iter()
            .map(|r| {
                let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} {}?{}", r.method, r.path, q.join("&"))
            })
            .collect();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            requests,
        )
    }

    #[test]
    fn attach_output_passes_a_whole_stream_through() {
        let mut all = frame(1, b"out 1\n");
        all.extend(frame(2, b"err 1\n"));
        all.extend(frame(1, b"out 2\n"));
        // In pieces that cut headers and payloads anywhere.
        let pieces: Vec<Vec<u8>> = all.chunks(3).map(<[u8]>::to_vec).collect();
        let (out, err, requests) = attach_output(Upstream(pieces, false), None);
        assert_eq!((out.as_str(), err.as_str()), ("out 1\nout 2\n", "err 1\n"));
        assert!(requests.is_empty(), "{requests:?}");
        // An `Error: ` frame followed by more output is the container's own.
        let mut stream = frame(2, b"Error: mine\n");
        stream.extend(frame(1, b"after\n"));
        let (out, err, requests) = attach_output(Upstream(vec![stream], false), None);
        assert_eq!((out.as_str(), err.as_str()), ("after\n", "Error: mine\n"));
        assert!(requests.is_empty());
    }

    #[test]
    fn attach_output_recovers_what_podman_lost() {
        // Podman forwarded nothing and complained instead: the logs have the output.
        let mut logs = frame(1, b"done\n");
        logs.extend(frame(2, b"warning\n"));
        let (out, err, requests) =
            attach_output(Upstream(vec![frame(2, COMPLAINT)], false), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("done\n", "warning\n"));
        assert_eq!(
            requests,
            [
                "POST /v1.41/containers/c/wait?condition=not-running",
                "GET /v1.41/containers/c/logs?stderr=1&stdout=1"
            ]
        );
        // A reset in the middle of a frame: what came is kept, the rest comes from the logs.
        let mut cut = frame(1, b"hello world\n");
        cut.truncate(8 + 5);
        let mut before = frame(2, b"e1\n");
        before.extend(cut);
        let mut logs = frame(2, b"e1\n");
        logs.extend(frame(1, b"hello "));
        logs.extend(frame(1, b"world\n"));
        logs.extend(frame(2, b"e2\n"));
        let (out, err, _) = attach_output(Upstream(vec![before], true), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("hello world\n", "e1\ne2\n"));
        // A reset after everything came: the logs add nothing.
        let mut logs = frame(1, b"all\n");
        logs.extend(frame(2, b"of it\n"));
        let (out, err, requests) = attach_output(Upstream(vec![logs.clone()], true), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("all\n", "of it\n"));
        assert_eq!(requests.len(), 2);
        // The container's own last `Error: ` line is in its logs: delivered once.
        let mut own = frame(1, b"x\n");
        own.extend(frame(2, b"Error: it failed\n"));
        let (out, err, _) = attach_output(Upstream(vec![own.clone()], false), Some(own));
        assert_eq!((out.as_str(), err.as_str()), ("x\n", "Error: it failed\n"));
    }

    #[test]
    fn attach_output_without_logs_or_frames() {
        // No logs to read: what came, Podman's complaint included, is what there is.
        let (out, err, requests) = attach_output(
            Upstream(vec![frame(1, b"part"), frame(2, COMPLAINT)], true),
            None,
        );
        assert_eq!(out, "part");
        assert_eq!(err.as_bytes(), COMPLAINT);
        assert_eq!(requests.len(), 2);
        // A TTY's stream is not framed: it passes as it is, resets and all.
        let (docker, server) = crate::fake::testing::http::serve(|_| {
            crate::fake::testing::http::json("500 Internal Server Error", "{}")
        });
        let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
        let upstream = Upstream(vec![b"$ ls\r\n".to_vec(), b"a b\r\n".to_vec()], true);
        let mut reader = AttachOutput::new(Box::new(upstream), docker, "c", true, true);
        let mut raw = Vec::new();
        reader.read_to_end(&mut raw).unwrap();
        assert_eq!(raw, b"$ ls\r\na b\r\n");
        assert!(server.requests().is_empty());
    }
}
