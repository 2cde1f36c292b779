//! `FakeEngine`: an in-process Docker daemon that speaks real HTTP/1.1 on a Unix socket, or
//! in memory through this crate's transport.
//!
//! Point any Engine API client at it (this crate's own, or `curl --unix-socket`) and it
//! answers the way Docker 20.10 (API 1.41) does: the same status codes, headers, framing,
//! error texts and streams. It keeps state, so a test can build or pull an image, create a
//! container, upload sources into it, run it, download what it produced and commit it, all
//! without a daemon, in milliseconds. It is independent of this crate's request code: it
//! checks the client, it does not echo it.
//!
//! # What it serves
//!
//! | route | endpoint |
//! |---|---|
//! | [`Route::Ping`] | `GET`/`HEAD /_ping` |
//! | [`Route::Version`] | `GET /version` |
//! | [`Route::ImageInspect`] | `GET /images/{name}/json` |
//! | [`Route::ImagesCreate`] | `POST /images/create?fromImage=&tag=` (pull) |
//! | [`Route::ImageRemove`] | `DELETE /images/{name}` |
//! | [`Route::Build`] | `POST /build` (a tar context; see below) |
//! | [`Route::ContainersCreate`] | `POST /containers/create?name=` |
//! | [`Route::ContainerAttach`] | `POST /containers/{id}/attach` (`101 UPGRADED`, stdcopy frames) |
//! | [`Route::ContainerStart`] | `POST /containers/{id}/start` |
//! | [`Route::ContainerWait`] | `POST /containers/{id}/wait?condition=` |
//! | [`Route::ContainerInspect`] | `GET /containers/{id}/json` |
//! | [`Route::ContainerKill`] | `POST /containers/{id}/kill?signal=` |
//! | [`Route::ContainerRemove`] | `DELETE /containers/{id}?force=` |
//! | [`Route::ArchivePut`], [`Route::ArchiveGet`], [`Route::ArchiveHead`] | `PUT`/`GET`/`HEAD /containers/{id}/archive?path=` |
//! | [`Route::Commit`] | `POST /commit?container=&repo=&tag=` |
//!
//! Paths may carry a version prefix (`/v1.41/...`) or not; a version above 1.41 gets the
//! daemon's `400 client version ... is too new`. Any other path gets
//! `404 {"message":"page not found"}`.
//!
//! On the wire it behaves like the daemon's Go server: every reply carries `Api-Version: 1.41`,
//! `Ostype: linux`, `Docker-Experimental: false` and `Server: Docker/20.10.24 (linux)`; errors
//! are `{"message":"..."}` with `Content-Type: application/json`; a body of at most 2048 bytes
//! goes out with `Content-Length` and a longer one chunked (Go's buffering rule); pull and
//! build progress are chunked JSON lines, and the head of a `wait` reply is sent at once, its
//! body when the container stops. Connections are kept alive across requests unless the client
//! says `Connection: close`; request bodies may be chunked; `Expect: 100-continue` is honoured.
//!
//! # Seeding
//!
//! [`FakeEngine`] is a builder: images the daemon has ([`image`](FakeEngine::image)), images
//! its registry can pull ([`registry_image`](FakeEngine::registry_image)) and the credentials
//! that registry wants ([`registry_login`](FakeEngine::registry_login)), and how containers
//! run: every container prints [`container_output`](FakeEngine::container_output) and exits
//! with [`exit_code`](FakeEngine::exit_code), unless its command line contains the pattern of
//! an [`on_command`](FakeEngine::on_command) script. Names are normalised like the daemon's
//! (`busybox` is `busybox:latest` is `docker.io/library/busybox:latest`); IDs are 64 hex digits,
//! the same in every run of the same test.
//!
//! Containers have a small in-memory filesystem, copied from their image's files
//! ([`FakeImage::file`]). An upload (`PUT .../archive`) extracts into it and a download
//! (`GET .../archive`) archives from it, so the two round-trip. A container whose command is
//! `sh -c "tar -C <dir> -xf - && ..."` (how S2I feeds sources to `assemble`) extracts what was
//! written to its standard input into `<dir>` when it runs.
//!
//! A run begins at `start`. It waits for an attached standard input to be closed, then for the
//! script's [`delay`](FakeRun::delay); then its files are written, its output is sent to the
//! attached client as stdcopy frames (or raw with `Tty`), and its exit code is set for `wait`
//! and `inspect`. `kill` ends it at once with `128 + signal`.
//!
//! `POST /build` reads a plain tar context and interprets the Dockerfile minimally: `FROM`,
//! `LABEL`, `ENV`, `USER`, `WORKDIR`, `ENTRYPOINT`, `CMD`, `EXPOSE`, `VOLUME`, `ONBUILD`
//! (recorded), `COPY`/`ADD` from the context, `ARG`, `MAINTAINER`, `STOPSIGNAL`. `RUN` cannot be
//! faked: it fails the build with an in-band `errorDetail`, as a failing step does.
//!
//! # Faults
//!
//! [`RunningFake::fail`] makes a route misbehave, for every request or, with
//! [`FaultHandle::times`], for the next few: a daemon error ([`Fault::Status`]), an error inside
//! a `200` progress stream ([`Fault::InBand`]), a connection cut after some bytes
//! ([`Fault::HangUpAfter`]) or inside a chunk ([`Fault::TruncatedChunk`]), a reply that is not
//! HTTP ([`Fault::MalformedHead`]), or a slow reply ([`Fault::Delay`]).
//!
//! # Recording
//!
//! [`RunningFake::requests`] returns every request seen: method, path without the version
//! prefix, decoded query, headers, and body. [`assert_request`] and
//! [`RecordedRequest::query`] make assertions short. [`RunningFake::containers`] and
//! [`RunningFake::images`] show the daemon's state. Requests no route matched are kept apart
//! ([`RunningFake::unhandled`]); in [`strict`](FakeEngine::strict) mode they fail the test.
//!
//! # Lifetime
//!
//! [`FakeEngine::serve_unix`] binds a socket in a fresh private temporary directory and serves
//! it from its own threads: one accepting, one per connection (at most 64 at once). Dropping
//! the [`RunningFake`] stops them all, joins them, and removes the socket and the directory.
//!
//! [`FakeEngine::serve_in_memory`] needs no socket and no descriptor: the clients it hands out
//! ([`RunningFake::client`], [`RunningFake::transport`]) open in-memory pipes through the
//! transport's connector hook ([`transport::connector`](crate::transport::connector)), and each
//! pipe is served on a thread of its own by the same code that serves a socket's connections,
//! so the bytes on the wire, the faults, the time limits and cancelling are the same in both
//! modes. Dropping the fake stops and joins those threads too; its clients then fail to
//! connect, as they would with a stopped daemon.
//!
//! # Example
//!
//! ```
//! use s2i_docker::fake::engine::{assert_request, FakeEngine, FakeImage, FakeRun, Fault, Route};
//! use s2i_docker::ops::container::{self, ContainerConfig, ContainerCreateBody};
//! use s2i_docker::ops::image;
//!
//! let fake = FakeEngine::new()
//!     .image("builder:1", FakeImage::default().user("1001").cmd(&["/usr/libexec/s2i/usage"]))
//!     .on_command("usage", FakeRun::new().stdout(b"usage: ...\n").exit_code(2))
//!     .serve_unix()?;
//! let docker = fake.client()?;
//!
//! let builder = image::inspect(&docker, "builder:1")?;
//! assert_eq!(builder.config.unwrap().user, "1001");
//!
//! let body = ContainerCreateBody {
//!     config: ContainerConfig { image: "builder:1".into(), ..Default::default() },
//!     ..Default::default()
//! };
//! let id = container::create(&docker, &body, "s2i-usage")?.id;
//!
//! // The first start fails as a daemon short of disk would; the next one runs.
//! fake.fail(Route::ContainerStart, Fault::Status(500, "no space left on device".into())).times(1);
//! let err = container::start(&docker, &id).unwrap_err();
//! assert_eq!(err.status(), Some(500));
//! container::start(&docker, &id)?;
//! assert_eq!(container::wait(&docker, &id, "not-running")?.status_code, 2);
//!
//! let requests = fake.requests();
//! assert_request(&requests[0], "GET", "/_ping"); // the client negotiating the API version
//! assert_request(&requests[2], "POST", "/containers/create");
//! assert_eq!(requests[2].query("name"), Some("s2i-usage"));
//! assert_eq!(requests.last().unwrap().query("condition"), Some("not-running"));
//! assert_eq!(fake.container("s2i-usage").unwrap().exit_code, 2);
//! # Ok::<(), s2i_docker::Error>(())
//! ```
//!
//! The fake is plain HTTP on a socket, so anything can talk to it:
//!
//! ```
//! use std::io::{Read, Write};
//! use std::os::unix::net::UnixStream;
//! use s2i_docker::fake::engine::FakeEngine;
//!
//! let fake = FakeEngine::new().serve_unix()?;
//! let mut socket = UnixStream::connect(fake.socket_path().expect("served on a socket"))?;
//! socket.write_all(b"GET /v1.41/images/nope/json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut reply = String::new();
//! socket.read_to_string(&mut reply)?;
//! assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\n"));
//! assert!(reply.ends_with("\r\n\r\n{\"message\":\"no such image: nope: No such image: nope:latest\"}\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::transport::{Host, Transport};

mod build;
mod clock;
mod fs;
mod http;
mod router;
mod server;
mod state;

use fs::{Entry, Fs, Kind};
use server::Server;
use state::{parse_reference, registry_host, FaultEntry, Shared, State};

/// Recorded request bodies keep at most this many bytes ([`RecordedRequest::body_len`] has the
/// full length).
pub const MAX_RECORDED_BODY: usize = 1 << 20;

/// An image to seed the fake with: its config and its files.
///
/// The default image has `/` and `/tmp` (mode `1777`), no environment, no command.
///
/// ```
/// use s2i_docker::fake::engine::FakeImage;
///
/// let builder = FakeImage::default()
///     .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
///     .env("APP_ROOT", "/opt/app-root")
///     .user("1001")
///     .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755);
/// ```
#[derive(Clone, Debug)]
pub struct FakeImage {
    pub(crate) labels: std::collections::BTreeMap<String, String>,
    pub(crate) env: Vec<String>,
    pub(crate) user: String,
    pub(crate) workdir: String,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) onbuild: Vec<String>,
    pub(crate) exposed: Vec<String>,
    pub(crate) fs: Fs,
}

impl Default for FakeImage {
    fn default() -> Self {
        let mut fs = Fs::root();
        fs.mkdir_all("/tmp", 0o1777, fs::SEED_MTIME);
        FakeImage {
            labels: Default::default(),
            env: Vec::new(),
            user: String::new(),
            workdir: String::new(),
            entrypoint: None,
            cmd: None,
            onbuild: Vec::new(),
            exposed: Vec::new(),
            fs,
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl FakeImage {
    /// Adds label `key=value` (`Config.Labels`).
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// Adds `NAME=value` to `Config.Env`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push(format!("{name}={value}"));
        self
    }

    /// Sets `Config.User`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Sets `Config.WorkingDir` (and creates the directory).
    pub fn workdir(mut self, dir: &str) -> Self {
        self.workdir = dir.to_string();
        self.fs.mkdir_all(dir, 0o755, fs::SEED_MTIME);
        self
    }

    /// Sets `Config.Entrypoint`.
    pub fn entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = Some(strings(argv));
        self
    }

    /// Sets `Config.Cmd`.
    pub fn cmd(mut self, argv: &[&str]) -> Self {
        self.cmd = Some(strings(argv));
        self
    }

    /// Adds an `ONBUILD` trigger (`Config.OnBuild`), e.g. `"USER 1001"`.
    pub fn onbuild(mut self, instruction: &str) -> Self {
        self.onbuild.push(instruction.to_string());
        self
    }

    /// Adds an exposed port (`Config.ExposedPorts`), e.g. `"8080/tcp"`.
    pub fn expose(mut self, port: &str) -> Self {
        self.exposed.push(port.to_string());
        self
    }

    /// Adds a regular file (parents are created as needed, mode `0755`).
    pub fn file(mut self, path: &str, bytes: &[u8], mode: u32) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: mode & 0o7777,
                kind: Kind::File(bytes.to_vec()),
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }

    /// Adds a directory.
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: mode & 0o7777,
                kind: Kind::Dir,
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }

    /// Adds a symbolic link to `target`.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: 0o777,
                kind: Kind::Symlink(target.to_string()),
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }
}

/// How a container's run goes: its output, exit code, duration and effects.
///
/// ```
/// use std::time::Duration;
/// use s2i_docker::fake::engine::FakeRun;
///
/// let failing = FakeRun::new()
///     .stderr(b"assemble: missing Gemfile\n")
///     .exit_code(1)
///     .delay(Duration::from_millis(20));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeRun {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) exit_code: i64,
    pub(crate) delay: Duration,
    pub(crate) oom_killed: bool,
    pub(crate) error: String,
    pub(crate) writes: Vec<(String, Entry)>,
}

impl FakeRun {
    /// A run that prints nothing and exits 0 at once.
    pub fn new() -> Self {
        FakeRun::default()
    }

    /// What the run writes to its standard output.
    pub fn stdout(mut self, bytes: &[u8]) -> Self {
        self.stdout = bytes.to_vec();
        self
    }

    /// What the run writes to its standard error.
    pub fn stderr(mut self, bytes: &[u8]) -> Self {
        self.stderr = bytes.to_vec();
        self
    }

    /// The exit code (`State.ExitCode`, and `StatusCode` of `wait`).
    pub fn exit_code(mut self, code: i64) -> Self {
        self.exit_code = code;
        self
    }

    /// How long the run lasts once started (and once its standard input is closed).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Reports the run as killed for lack of memory (`State.OOMKilled`).
    pub fn oom_killed(mut self, yes: bool) -> Self {
        self.oom_killed = yes;
        self
    }

    /// Sets `State.Error`.
    pub fn error(mut self, message: &str) -> Self {
        self.error = message.to_string();
        self
    }

    /// A file the run creates in the container (e.g. a build artifact).
    pub fn writes(mut self, path: &str, bytes: &[u8], mode: u32) -> Self {
        self.writes.push((
            path.to_string(),
            Entry {
                mode: mode & 0o7777,
                kind: Kind::File(bytes.to_vec()),
                mtime: fs::SEED_MTIME,
            },
        ));
        self
    }
}

/// An endpoint of the fake, to aim a [`Fault`] at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Route {
    /// `GET`/`HEAD /_ping`.
    Ping,
    /// `GET /version`.
    Version,
    /// `GET /images/{name}/json`.
    ImageInspect,
    /// `POST /images/create` (pull).
    ImagesCreate,
    /// `DELETE /images/{name}`.
    ImageRemove,
    /// `POST /build`.
    Build,
    /// `POST /containers/create`.
    ContainersCreate,
    /// `POST /containers/{id}/attach`.
    ContainerAttach,
    /// `POST /containers/{id}/start`.
    ContainerStart,
    /// `POST /containers/{id}/wait`.
    ContainerWait,
    /// `GET /containers/{id}/json`.
    ContainerInspect,
    /// `POST /containers/{id}/kill`.
    ContainerKill,
    /// `DELETE /containers/{id}`.
    ContainerRemove,
    /// `PUT /containers/{id}/archive`.
    ArchivePut,
    /// `GET /containers/{id}/archive`.
    ArchiveGet,
    /// `HEAD /containers/{id}/archive`.
    ArchiveHead,
    /// `POST /commit`.
    Commit,
}

/// A way for a route to misbehave.
///
/// `Status`, `InBand` and `MalformedHead` replace the reply (the request has no effect);
/// `HangUpAfter` and `TruncatedChunk` damage the real reply (the request takes effect, as when
/// a daemon dies while answering); `Delay` only delays it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Reply `code` with the daemon's error body `{"message": msg}`.
    Status(u16, String),
    /// Reply `200` with a JSON-lines stream that ends in `{"errorDetail":{"message":msg},...}`
    /// (for pull, a `Pulling from` line comes first; for build, a step line).
    InBand(String),
    /// Send only the first `n` bytes of the reply, then close the connection.
    HangUpAfter(usize),
    /// Send the reply chunked and close inside a chunk. A reply without a body (`204`, `304`)
    /// becomes a `200` whose chunked body is cut; `attach` is cut inside its first frame;
    /// a `HEAD` reply, having no body, is only followed by a close.
    TruncatedChunk,
    /// Reply with a head no HTTP parser accepts, then close.
    MalformedHead,
    /// Wait this long before handling the request.
    Delay(Duration),
}

/// A fault just registered with [`RunningFake::fail`]; it applies to every request of its
/// route until limited with [`times`](FaultHandle::times) or cleared.
#[derive(Debug)]
pub struct FaultHandle<'a> {
    shared: &'a Shared,
    id: u64,
}

impl FaultHandle<'_> {
    /// Applies the fault to the next `n` requests of its route only.
    pub fn times(self, n: usize) {
        let mut st = self.shared.lock();
        if n == 0 {
            st.faults.retain(|f| f.id != self.id);
        } else if let Some(f) = st.faults.iter_mut().find(|f| f.id == self.id) {
            f.remaining = Some(n);
        }
    }
}

/// A request the fake received.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, percent-decoded, without the version prefix: `/images/busybox:latest/json`.
    pub path: String,
    /// The version of the prefix (`1.41` for `/v1.41/...`), if there was one.
    pub api_version: Option<String>,
    /// The query, decoded, in order.
    pub query: Vec<(String, String)>,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The length of the (de-chunked) body.
    pub body_len: usize,
    /// The body, up to [`MAX_RECORDED_BODY`] bytes.
    pub body: Vec<u8>,
    /// The route it matched, if any.
    pub route: Option<Route>,
    pub(crate) seq: u64,
}

impl RecordedRequest {
    /// The first value of query parameter `key`.
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Headers whose values are credentials.
fn is_secret_header(name: &str) -> bool {
    ["x-registry-auth", "x-registry-config", "authorization"]
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

impl fmt::Debug for RecordedRequest {
    /// Credentials (`X-Registry-Auth`, ...) are redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if is_secret_header(n) {
                    "<redacted>"
                } else {
                    v.as_str()
                };
                (n.as_str(), v)
            })
            .collect();
        f.debug_struct("RecordedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("api_version", &self.api_version)
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body_len", &self.body_len)
            .field("route", &self.route)
            .finish()
    }
}

/// Asserts that `r` is a `method` request on `path` (without the version prefix).
///
/// # Panics
///
/// When it is not, with both in the message.
pub fn assert_request(r: &RecordedRequest, method: &str, path: &str) {
    assert!(
        r.method == method && r.path == path,
        "expected {method} {path}, got {} {}",
        r.method,
        r.path
    );
}

/// A container of the fake daemon, as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ContainerInfo {
    /// The 64-hex ID.
    pub id: String,
    /// The name, without the leading `/`.
    pub name: String,
    /// The image ID (`sha256:...`).
    pub image: String,
    /// `created`, `running` or `exited`.
    pub status: String,
    /// The last exit code.
    pub exit_code: i64,
    /// Entrypoint and command: what the container runs.
    pub argv: Vec<String>,
    /// What the last attached client wrote to its standard input.
    pub stdin: Vec<u8>,
    /// The merged `Config`.
    pub config: Value,
    /// The `HostConfig`.
    pub host_config: Value,
}

/// An image of the fake daemon, as a test sees it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ImageInfo {
    /// `sha256:...`.
    pub id: String,
    /// Familiar names: `busybox:latest`, `127.0.0.1:5000/x:1`.
    pub tags: Vec<String>,
    /// The `Config`.
    pub config: Value,
    /// The parent image ID (the base of a build, the image of a committed container).
    pub parent: String,
}

/// The seed of a fake daemon; [`serve_unix`](FakeEngine::serve_unix) starts it.
///
/// See the [module documentation](self) for what it serves.
#[derive(Debug, Default)]
pub struct FakeEngine {
    state: State,
    errors: Vec<String>,
}

impl FakeEngine {
    /// A daemon with no images, no registry, and containers that print nothing and exit 0.
    pub fn new() -> Self {
        FakeEngine::default()
    }

    fn reference(&mut self, name: &str) -> Option<state::Reference> {
        let r = parse_reference(name);
        if r.is_none() {
            self.errors
                .push(format!("invalid image reference {name:?}"));
        }
        r
    }

    /// An image the daemon has, under `reference`.
    pub fn image(mut self, reference: &str, image: FakeImage) -> Self {
        if let Some(r) = self.reference(reference) {
            let image = self.state.image_from_seed(&image);
            self.state.add_image(image, &[r]);
        }
        self
    }

    /// An image the daemon can pull as `reference` (from the registry that its domain names).
    pub fn registry_image(mut self, reference: &str, image: FakeImage) -> Self {
        if let Some(r) = self.reference(reference) {
            let image = self.state.image_from_seed(&image);
            self.state.registry.insert(r.canonical(), image);
        }
        self
    }

    /// Makes pulls from `registry` (`127.0.0.1:5000`, `docker.io`, ...) require these
    /// credentials in `X-Registry-Auth`.
    pub fn registry_login(mut self, registry: &str, username: &str, password: &str) -> Self {
        self.state.logins.insert(
            registry_host(registry),
            (username.to_string(), password.to_string()),
        );
        self
    }

    /// What every container prints, unless an [`on_command`](Self::on_command) script says
    /// otherwise.
    pub fn container_output(mut self, stdout: &[u8], stderr: &[u8]) -> Self {
        self.state.default_run.stdout = stdout.to_vec();
        self.state.default_run.stderr = stderr.to_vec();
        self
    }

    /// The exit code of every container, unless an [`on_command`](Self::on_command) script
    /// says otherwise.
    pub fn exit_code(mut self, code: i64) -> Self {
        self.state.default_run.exit_code = code;
        self
    }

    /// How the runs of containers whose command line (entrypoint and command joined by spaces)
    /// contains `pattern` go. The first matching pattern wins.
    pub fn on_command(mut self, pattern: &str, run: FakeRun) -> Self {
        self.state.commands.push((pattern.to_string(), run));
        self
    }

    /// Requests that no route matches fail the test: [`RunningFake::requests`] and dropping
    /// the fake panic when there were any. (They are always recorded and answered `404`.)
    pub fn strict(mut self) -> Self {
        self.state.strict = true;
        self
    }

    /// Serves on a Unix socket in a new private temporary directory.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an invalid image reference in the seed; [`Error::Io`] when
    /// the directory or the socket cannot be made.
    pub fn serve_unix(self) -> Result<RunningFake> {
        let dir = temp_dir()?;
        let socket = dir.join("docker.sock");
        match self.serve_at(&socket) {
            Ok(mut running) => {
                running.dir = Some(dir);
                Ok(running)
            }
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(e)
            }
        }
    }

    /// Serves on a Unix socket at `path`, which must not exist; the socket file is removed on
    /// drop.
    ///
    /// # Errors
    ///
    /// As [`serve_unix`](Self::serve_unix); binding fails if `path` exists.
    pub fn serve_unix_at(self, path: impl AsRef<Path>) -> Result<RunningFake> {
        self.serve_at(path.as_ref())
    }

    /// Serves in memory, without a socket: [`RunningFake::client`] connects through the
    /// transport's connector hook ([`Transport::with_connector`]) to in-memory pipes, each
    /// served on a thread of its own by the same code that serves a socket's connections.
    ///
    /// Everything works as with [`serve_unix`](Self::serve_unix) (faults, time limits,
    /// cancelling, `attach`), only no descriptor is used and nothing can connect from outside
    /// the process; [`RunningFake::socket_path`] is `None`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an invalid image reference in the seed.
    pub fn serve_in_memory(self) -> Result<RunningFake> {
        let shared = self.into_shared()?;
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let name = PathBuf::from(format!(
            "/in-memory/s2i-fake-engine-{}-{n}.sock",
            std::process::id()
        ));
        Ok(RunningFake {
            server: Server::in_memory(shared),
            dir: None,
            name,
        })
    }

    fn into_shared(self) -> Result<Arc<Shared>> {
        if !self.errors.is_empty() {
            return Err(Error::InvalidInput(format!(
                "fake engine seed: {}",
                self.errors.join("; ")
            )));
        }
        Ok(Arc::new(Shared::new(self.state)))
    }

    fn serve_at(self, socket: &Path) -> Result<RunningFake> {
        let shared = self.into_shared()?;
        let server = Server::start(shared, socket)?;
        Ok(RunningFake {
            server,
            dir: None,
            name: socket.to_path_buf(),
        })
    }
}

static NEXT_DIR: AtomicU64 = AtomicU64::new(0);

/// A new directory only this user can enter, short enough for a socket path (108 bytes).
fn temp_dir() -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let mut base = std::env::temp_dir();
    if base.as_os_str().len() > 60 {
        base = PathBuf::from("/tmp");
    }
    let mut last = None;
    for _ in 0..100 {
        let n = NEXT_DIR.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("s2i-fake-engine-{}-{n}", std::process::id()));
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e.into()),
        }
    }
    Err(last
        .unwrap_or_else(|| std::io::Error::other("no free temporary directory name"))
        .into())
}

/// A fake daemon being served; dropping it stops it and cleans up.
pub struct RunningFake {
    server: Server,
    dir: Option<PathBuf>,
    /// The socket's path, or the name of the in-memory fake (a path where nothing listens).
    name: PathBuf,
}

impl fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningFake")
            .field("host", &self.host())
            .field("in_memory", &self.is_in_memory())
            .finish()
    }
}

impl RunningFake {
    fn shared(&self) -> &Shared {
        &self.server.shared
    }

    /// `unix:///path/to/docker.sock`: the value for `DOCKER_HOST`.
    ///
    /// An in-memory fake has a name of the same shape (`unix:///in-memory/...`), which its
    /// clients show in error messages; nothing listens there.
    pub fn host(&self) -> String {
        format!("unix://{}", self.name.display())
    }

    /// The socket's path; `None` for a fake served in memory.
    pub fn socket_path(&self) -> Option<&Path> {
        self.server.socket.as_deref()
    }

    /// Whether the fake was started with [`FakeEngine::serve_in_memory`].
    pub fn is_in_memory(&self) -> bool {
        self.server.socket.is_none()
    }

    /// A client of this fake: [`new_engine_api_client`](crate::new_engine_api_client) with
    /// [`host`](Self::host) as the endpoint, or, in memory, a client over
    /// [`transport`](Self::transport). It negotiates API 1.41 with its first request (unless
    /// `DOCKER_API_VERSION` pins another version, which the fake may refuse as the daemon
    /// would).
    ///
    /// A client of an in-memory fake that outlives it gets [`Error::Connect`] (the engine is
    /// not running) for every new connection.
    ///
    /// # Errors
    ///
    /// As [`new_engine_api_client`](crate::new_engine_api_client).
    pub fn client(&self) -> Result<crate::EngineClient> {
        if !self.is_in_memory() {
            return crate::new_engine_api_client(&crate::DockerConfig {
                endpoint: self.host(),
                ..Default::default()
            });
        }
        let client = crate::EngineClient::with_transport(self.transport()?);
        match std::env::var("DOCKER_API_VERSION") {
            Ok(v) if !v.is_empty() => client.with_api_version(&v),
            _ => Ok(client),
        }
    }

    /// A bare HTTP transport to this fake (the socket, or the in-memory connector), for tests
    /// below the Engine client.
    ///
    /// # Errors
    ///
    /// None in practice: a plain Unix-socket transport needs no setup that can fail.
    pub fn transport(&self) -> Result<Transport> {
        let host = Host::Unix(self.name.clone());
        match self.server.connector() {
            Some(connector) => Ok(Transport::with_connector(host, connector)),
            None => Transport::new(host, None),
        }
    }

    /// Every request received so far, in order.
    ///
    /// # Panics
    ///
    /// In [`strict`](FakeEngine::strict) mode, when a request matched no route.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let st = self.shared().lock();
        if st.strict && !st.unhandled.is_empty() {
            let list = unhandled_list(&st);
            drop(st);
            panic!("fake engine (strict): requests with no route: {list}");
        }
        st.records.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        let mut st = self.shared().lock();
        st.records.clear();
        st.unhandled.clear();
    }

    /// The requests that matched no route (they were answered `404 page not found`).
    pub fn unhandled(&self) -> Vec<RecordedRequest> {
        let st = self.shared().lock();
        st.records
            .iter()
            .filter(|r| st.unhandled.contains(&r.seq))
            .cloned()
            .collect()
    }

    /// # Panics
    ///
    /// When a request matched no route, listing them.
    pub fn assert_no_unhandled(&self) {
        let st = self.shared().lock();
        if !st.unhandled.is_empty() {
            let list = unhandled_list(&st);
            drop(st);
            panic!("fake engine: requests with no route: {list}");
        }
    }

    /// Makes `route` misbehave; see [`Fault`]. Faults of a route apply in the order they were
    /// added, each until its count runs out.
    pub fn fail(&self, route: Route, fault: Fault) -> FaultHandle<'_> {
        let mut st = self.shared().lock();
        let id = st.faults.iter().map(|f| f.id).max().unwrap_or(0) + 1;
        st.faults.push(FaultEntry {
            id,
            route,
            fault,
            remaining: None,
        });
        FaultHandle {
            shared: self.shared(),
            id,
        }
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared().lock().faults.clear();
    }

    /// Adds an image while serving; returns its ID.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an invalid reference.
    pub fn add_image(&self, reference: &str, image: FakeImage) -> Result<String> {
        let r = parse_reference(reference)
            .ok_or_else(|| Error::InvalidInput(format!("invalid image reference {reference:?}")))?;
        let mut st = self.shared().lock();
        let image = st.image_from_seed(&image);
        Ok(st.add_image(image, &[r]))
    }

    /// Every container, by ID.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        let st = self.shared().lock();
        st.containers
            .values()
            .map(|c| ContainerInfo {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image_id.clone(),
                status: c.status.as_str().to_string(),
                exit_code: c.exit_code,
                argv: c.argv(),
                stdin: c.stdin.clone(),
                config: c.config.clone(),
                host_config: c.host_config.clone(),
            })
            .collect()
    }

    /// The container with this ID, name or ID prefix.
    pub fn container(&self, key: &str) -> Option<ContainerInfo> {
        let id = self.shared().lock().find_container_id(key)?;
        self.containers().into_iter().find(|c| c.id == id)
    }

    /// The bytes of regular file `path` in a container.
    pub fn container_file(&self, container: &str, path: &str) -> Option<Vec<u8>> {
        let st = self.shared().lock();
        let id = st.find_container_id(container)?;
        match &st.containers[&id].fs.get(path)?.kind {
            Kind::File(b) => Some(b.clone()),
            _ => None,
        }
    }

    /// Every image, by ID.
    pub fn images(&self) -> Vec<ImageInfo> {
        let st = self.shared().lock();
        st.images
            .values()
            .map(|i| ImageInfo {
                id: i.id.clone(),
                tags: st.repo_tags(&i.id),
                config: i.config.clone(),
                parent: i.parent.clone(),
            })
            .collect()
    }

    /// The image with this reference or ID.
    pub fn image(&self, name: &str) -> Option<ImageInfo> {
        let id = self.shared().lock().find_image(name)?.id.clone();
        self.images().into_iter().find(|i| i.id == id)
    }

    /// The bytes of regular file `path` in an image.
    pub fn image_file(&self, image: &str, path: &str) -> Option<Vec<u8>> {
        let st = self.shared().lock();
        match &st.find_image(image)?.fs.get(path)?.kind {
            Kind::File(b) => Some(b.clone()),
            _ => None,
        }
    }
}

fn unhandled_list(st: &State) -> String {
    st.records
        .iter()
        .filter(|r| st.unhandled.contains(&r.seq))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        self.server.stop();
        if let Some(socket) = &self.server.socket {
            let _ = std::fs::remove_file(socket);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if !std::thread::panicking() {
            let st = self.shared().lock();
            if st.strict && !st.unhandled.is_empty() {
                let list = unhandled_list(&st);
                drop(st);
                panic!("fake engine (strict): requests with no route: {list}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::io::{Read, Write};
    use std::net::Shutdown;
    use std::os::unix::net::UnixStream;

    use crate::transport::chunked::ChunkedDecoder;
    use crate::transport::wire::{parse_response_head, Status};

    /// A reply as the tests see it.
    struct Got {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Got {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    /// Reads one reply (by its framing) from `s`, leaving later bytes in `rest`.
    fn read_reply(s: &mut UnixStream, rest: &mut Vec<u8>, head_only: bool) -> Got {
        let mut buf = std::mem::take(rest);
        let mut tmp = [0u8; 8192];
        let (n, head) = loop {
            if let Status::Complete(x) = parse_response_head(&buf).unwrap() {
                break x;
            }
            let k = s.read(&mut tmp).unwrap();
            assert!(k > 0, "eof in head: {:?}", String::from_utf8_lossy(&buf));
            buf.extend_from_slice(&tmp[..k]);
        };
        buf.drain(..n);
        let headers: Vec<(String, String)> = head
            .headers()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let mut body = Vec::new();
        if head_only || head.status == 204 || head.status == 304 {
        } else if head.has_token("Transfer-Encoding", "chunked") {
            let mut dec = ChunkedDecoder::new();
            loop {
                let (used, data) = dec.decode(&buf, usize::MAX).unwrap();
                body.extend_from_slice(&buf[data]);
                buf.drain(..used);
                if dec.is_done() {
                    break;
                }
                if used == 0 {
                    let k = s.read(&mut tmp).unwrap();
                    assert!(k > 0, "eof in chunked body");
                    buf.extend_from_slice(&tmp[..k]);
                }
            }
        } else if let Some(cl) = head.header("Content-Length") {
            let cl: usize = cl.parse().unwrap();
            while buf.len() < cl {
                let k = s.read(&mut tmp).unwrap();
                assert!(k > 0, "eof in body");
                buf.extend_from_slice(&tmp[..k]);
            }
            body = buf.drain(..cl).collect();
        }
        *rest = buf;
        Got {
            status: head.status,
            headers,
            body,
        }
    }

    fn request(method: &str, target: &str, headers: &str, body: &[u8]) -> Vec<u8> {
        let mut r = format!(
            "{method} {target} HTTP/1.1\r\nHost: api.moby.localhost\r\n{headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    }

    fn call(fake: &RunningFake, method: &str, target: &str, body: &[u8]) -> Got {
        let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        s.write_all(&request(method, target, "", body)).unwrap();
        read_reply(&mut s, &mut Vec::new(), method == "HEAD")
    }

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = ::tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn builder() -> FakeEngine {
        FakeEngine::new().image(
            "busybox",
            FakeImage::default()
                .cmd(&["sh"])
                .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
                .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755),
        )
    }

    #[test]
    fn keep_alive_ping_and_daemon_headers() {
        let fake = builder().serve_unix().unwrap();
        let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        let mut rest = Vec::new();
        s.write_all(&request("GET", "/_ping", "", b"")).unwrap();
        let r = read_reply(&mut s, &mut rest, false);
        assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
        for (h, v) in [
            ("Api-Version", "1.41"),
            ("Ostype", "linux"),
            ("Docker-Experimental", "false"),
            ("Server", "Docker/20.10.24 (linux)"),
        ] {
            assert_eq!(r.header(h), Some(v), "{h}");
        }
        s.write_all(&request("HEAD", "/v1.41/_ping", "", b""))
            .unwrap();
        let r = read_reply(&mut s, &mut rest, true);
        assert_eq!((r.status, r.header("Content-Length")), (200, Some("0")));
        s.write_all(&request(
            "GET",
            "/v1.41/version",
            "Connection: close\r\n",
            b"",
        ))
        .unwrap();
        let r = read_reply(&mut s, &mut rest, false);
        assert_eq!(r.json()["ApiVersion"], "1.41");
        assert_eq!(r.header("Connection"), Some("close"));
        let mut tail = Vec::new();
        s.read_to_end(&mut tail).unwrap();
        assert!(tail.is_empty() && rest.is_empty());

        let reqs = fake.requests();
        assert_eq!(reqs.len(), 3);
        assert_request(&reqs[1], "HEAD", "/_ping");
        assert_eq!(reqs[1].api_version.as_deref(), Some("1.41"));
        assert_eq!(reqs[2].route, Some(Route::Version));
    }

    #[test]
    fn unknown_routes_and_versions() {
        let fake = builder().serve_unix().unwrap();
        let r = call(&fake, "GET", "/v1.41/nothing/here", b"");
        assert_eq!(
            (r.status, r.json()),
            (404, json!({"message": "page not found"}))
        );
        assert_eq!(r.header("Api-Version"), None);
        let r = call(&fake, "GET", "/v1.45/version", b"");
        assert_eq!(r.status, 400);
        assert_eq!(
            r.json()["message"],
            "client version 1.45 is too new. Maximum supported API version is 1.41"
        );
        assert_eq!(fake.unhandled().len(), 1);
        let caught =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.assert_no_unhandled()));
        assert!(caught.is_err());
    }

    #[test]
    fn strict_mode_reports_unhandled_requests() {
        let fake = builder().strict().serve_unix().unwrap();
        call(&fake, "GET", "/v1.41/containers/json", b"");
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.requests()));
        let msg = caught.unwrap_err();
        let msg = msg.downcast_ref::<String>().unwrap();
        assert!(msg.contains("GET /containers/json"), "{msg}");
        fake.clear_requests();
        drop(fake);
    }

    use serde_json::json;

    #[test]
    fn a_whole_s2i_run() {
        let fake = builder()
            .on_command(
                "assemble",
                FakeRun::new()
                    .stdout(b"---> Installing\n")
                    .stderr(b"warn\n")
                    .writes("/opt/app/out.bin", b"built", 0o755),
            )
            .serve_unix()
            .unwrap();
        let create = json!({
            "Image": "busybox", "OpenStdin": true, "StdinOnce": true, "AttachStdout": true,
            "Cmd": ["/bin/sh", "-c", "tar -C /tmp -xf - && /usr/libexec/s2i/assemble"],
            "HostConfig": {"ShmSize": 0}
        });
        let r = call(
            &fake,
            "POST",
            "/v1.41/containers/create?name=s2i_busybox_1",
            &serde_json::to_vec(&create).unwrap(),
        );
        assert_eq!(r.status, 201);
        let id = r.json()["Id"].as_str().unwrap().to_string();
        assert_eq!(id.len(), 64);
        let again = call(
            &fake,
            "POST",
            "/v1.41/containers/create?name=s2i_busybox_1",
            &serde_json::to_vec(&create).unwrap(),
        );
        assert_eq!(again.status, 409);

        // Attach before start, as the reference does.
        let mut a = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        a.write_all(&request(
            "POST",
            &format!("/v1.41/containers/{id}/attach?stderr=1&stdin=1&stdout=1&stream=1"),
            "Content-Type: text/plain\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n",
            b"",
        ))
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            a.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert_eq!(
            head,
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        );
        assert_eq!(
            call(&fake, "POST", &format!("/containers/{id}/start"), b"").status,
            204
        );
        assert_eq!(
            call(&fake, "POST", &format!("/containers/{id}/start"), b"").status,
            304
        );
        a.write_all(&tar_of(&[("src/app.rb", b"puts 1\n")]))
            .unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        let mut frames = Vec::new();
        a.read_to_end(&mut frames).unwrap();
        let mut want = vec![1, 0, 0, 0, 0, 0, 0, 16];
        want.extend_from_slice(b"---> Installing\n");
        want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 5]);
        want.extend_from_slice(b"warn\n");
        assert_eq!(frames, want);

        let w = call(
            &fake,
            "POST",
            &format!("/v1.41/containers/{id}/wait?condition=not-running"),
            b"",
        );
        assert_eq!(w.header("Transfer-Encoding"), Some("chunked"));
        assert_eq!(w.json(), json!({"Error": null, "StatusCode": 0}));

        // The sources were extracted where the command said; the run wrote its artifact.
        assert_eq!(
            fake.container_file(&id, "/tmp/src/app.rb").unwrap(),
            b"puts 1\n"
        );
        let info = fake.container("s2i_busybox_1").unwrap();
        assert_eq!((info.status.as_str(), info.exit_code), ("exited", 0));
        assert_eq!(info.host_config["ShmSize"], 67_108_864);

        let g = call(
            &fake,
            "GET",
            &format!("/v1.41/containers/{id}/archive?path=/opt/app/out.bin"),
            b"",
        );
        assert_eq!(g.header("Content-Type"), Some("application/x-tar"));
        let stat = base64::engine::general_purpose::STANDARD
            .decode(g.header("X-Docker-Container-Path-Stat").unwrap())
            .unwrap();
        let stat: Value = serde_json::from_slice(&stat).unwrap();
        assert_eq!(
            (
                stat["name"].as_str(),
                stat["size"].as_u64(),
                stat["mode"].as_u64()
            ),
            (Some("out.bin"), Some(5), Some(0o755))
        );
        let mut ar = ::tar::Archive::new(&g.body[..]);
        let mut e = ar.entries().unwrap().next().unwrap().unwrap();
        let mut content = Vec::new();
        e.read_to_end(&mut content).unwrap();
        assert_eq!(content, b"built");

        let c = call(
            &fake,
            "POST",
            &format!("/v1.41/commit?author=&comment=&container={id}&repo=docker.io%2Flibrary%2Fapp&tag=1"),
            br#"{"Cmd":["/usr/libexec/s2i/run"],"Labels":{"x":"y"}}"#,
        );
        assert_eq!(c.status, 201);
        let image = fake.image("app:1").unwrap();
        assert_eq!(c.json()["Id"], image.id);
        assert_eq!(image.config["Cmd"], json!(["/usr/libexec/s2i/run"]));
        assert_eq!(image.config["Labels"]["x"], "y");
        assert_eq!(
            fake.image_file("app:1", "/tmp/src/app.rb").unwrap(),
            b"puts 1\n"
        );

        assert_eq!(
            call(&fake, "POST", &format!("/containers/{id}/kill"), b"").status,
            409
        );
        assert_eq!(
            call(&fake, "DELETE", &format!("/v1.41/containers/{id}?v=1"), b"").status,
            204
        );
        let gone = call(&fake, "GET", &format!("/containers/{id}/json"), b"");
        assert_eq!(
            (gone.status, gone.json()["message"].as_str()),
            (404, Some(format!("No such container: {id}").as_str()))
        );
    }

    #[test]
    fn faults_replace_or_damage_replies() {
        let fake = builder().serve_unix().unwrap();
        fake.fail(Route::ImageInspect, Fault::Status(500, "boom".into()))
            .times(1);
        let r = call(&fake, "GET", "/images/busybox/json", b"");
        assert_eq!(
            (r.status, r.json()["message"].as_str()),
            (500, Some("boom"))
        );
        assert_eq!(call(&fake, "GET", "/images/busybox/json", b"").status, 200);

        fake.fail(Route::Ping, Fault::MalformedHead).times(1);
        let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        s.write_all(&request("GET", "/_ping", "", b"")).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        assert!(parse_response_head(&raw).is_err());

        fake.fail(Route::Version, Fault::HangUpAfter(12)).times(1);
        let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        s.write_all(&request("GET", "/version", "", b"")).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        assert_eq!(raw, b"HTTP/1.1 200");

        fake.fail(Route::Version, Fault::TruncatedChunk).times(1);
        let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        s.write_all(&request("GET", "/version", "", b"")).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        assert!(String::from_utf8_lossy(&raw).contains("Transfer-Encoding: chunked"));

        fake.fail(
            Route::ImagesCreate,
            Fault::InBand("manifest unknown".into()),
        );
        let r = call(
            &fake,
            "POST",
            "/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest",
            b"",
        );
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        assert!(text.ends_with("{\"error\":\"manifest unknown\",\"errorDetail\":{\"message\":\"manifest unknown\"}}\r\n"), "{text}");
        fake.clear_faults();

        fake.fail(Route::Ping, Fault::Delay(Duration::from_millis(150)))
            .times(1);
        let t = std::time::Instant::now();
        assert_eq!(call(&fake, "GET", "/_ping", b"").status, 200);
        assert!(t.elapsed() >= Duration::from_millis(150));
    }

    #[test]
    fn pulls_need_known_images_and_matching_credentials() {
        let fake = FakeEngine::new()
            .registry_image("127.0.0.1:5000/x:1", FakeImage::default().user("1001"))
            .registry_login("127.0.0.1:5000", "user", "pass")
            .serve_unix()
            .unwrap();
        let pull = |auth: Option<&str>| {
            let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
            let header = auth.map_or(String::new(), |a| {
                let v = base64::engine::general_purpose::URL_SAFE.encode(a);
                format!("X-Registry-Auth: {v}\r\n")
            });
            s.write_all(&request(
                "POST",
                "/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fx&tag=1",
                &header,
                b"",
            ))
            .unwrap();
            read_reply(&mut s, &mut Vec::new(), false)
        };
        let r = pull(None);
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("unauthorized: authentication required"));
        let r = pull(Some(r#"{"username":"user","password":"nope"}"#));
        assert!(String::from_utf8_lossy(&r.body).contains("errorDetail"));
        assert!(fake.image("127.0.0.1:5000/x:1").is_none());
        let r = pull(Some(
            r#"{"username":"user","password":"pass","serveraddress":"127.0.0.1:5000"}"#,
        ));
        let text = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            text.contains("Status: Downloaded newer image for 127.0.0.1:5000/x:1"),
            "{text}"
        );
        assert_eq!(
            fake.image("127.0.0.1:5000/x:1").unwrap().config["User"],
            "1001"
        );
        let r = pull(Some(r#"{"username":"user","password":"pass"}"#));
        assert!(String::from_utf8_lossy(&r.body).contains("Image is up to date"));

        let r = call(
            &fake,
            "POST",
            "/images/create?fromImage=docker.io%2Flibrary%2Fnope&tag=latest",
            b"",
        );
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json()["message"],
            "pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        );
        let dbg = format!("{:?}", fake.requests()[1]);
        assert!(dbg.contains("<redacted>") && !dbg.contains("eyJ"), "{dbg}");
    }

    #[test]
    fn build_reads_the_dockerfile() {
        let fake = builder().serve_unix().unwrap();
        let dockerfile = b"FROM busybox\nLABEL a=b \"c d\"=e\nENV X=1 Y=\"two words\"\nUSER 1001\nWORKDIR /opt/app\nCOPY src/ ./\nENTRYPOINT [\"/entry\"]\nEXPOSE 8080\nONBUILD USER root\n";
        let ctx = tar_of(&[("Dockerfile", dockerfile), ("src/main.rb", b"main")]);
        let r = call(
            &fake,
            "POST",
            "/v1.41/build?t=built%3A1&nocache=1&rm=1",
            &ctx,
        );
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.starts_with("{\"stream\":\"Step 1/9 : FROM busybox\"}\r\n"),
            "{text}"
        );
        assert!(text.contains("Successfully tagged built:1"), "{text}");
        let image = fake.image("built:1").unwrap();
        assert_eq!(
            image.config["Labels"],
            json!({"a": "b", "c d": "e", "io.openshift.s2i.scripts-url": "image:///usr/libexec/s2i"})
        );
        assert_eq!(image.config["Env"], json!(["X=1", "Y=two words"]));
        assert_eq!(image.config["User"], "1001");
        assert_eq!(image.config["Entrypoint"], json!(["/entry"]));
        assert_eq!(image.config["Cmd"], Value::Null);
        assert_eq!(image.config["OnBuild"], json!(["USER root"]));
        assert_eq!(image.config["ExposedPorts"], json!({"8080/tcp": {}}));
        assert_eq!(
            fake.image_file("built:1", "/opt/app/main.rb").unwrap(),
            b"main"
        );
        assert!(fake
            .image_file("built:1", "/usr/libexec/s2i/assemble")
            .is_some());

        let ctx = tar_of(&[("Dockerfile", b"FROM busybox\nRUN make\n")]);
        let r = call(&fake, "POST", "/build?t=x", &ctx);
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.contains("\"errorDetail\"") && text.contains("cannot run RUN"),
            "{text}"
        );
        let r = call(&fake, "POST", "/build", &tar_of(&[("x", b"")]));
        assert_eq!(
            (r.status, r.json()["message"].as_str()),
            (500, Some("Cannot locate specified Dockerfile: Dockerfile"))
        );
    }

    #[test]
    fn kill_wait_and_removal_rules() {
        let fake = builder()
            .on_command("sleep", FakeRun::new().delay(Duration::from_secs(60)))
            .serve_unix()
            .unwrap();
        let body = br#"{"Image":"busybox","Cmd":["sleep","60"]}"#;
        let id = call(&fake, "POST", "/containers/create", body).json()["Id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            call(&fake, "POST", &format!("/containers/{id}/start"), b"").status,
            204
        );
        let del = call(&fake, "DELETE", &format!("/containers/{id}"), b"");
        assert_eq!(del.status, 409);
        assert!(del.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("You cannot remove a running container"));
        let waiter = {
            let path = fake.socket_path().unwrap().to_path_buf();
            let id = id.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(path).unwrap();
                s.write_all(&request("POST", &format!("/containers/{id}/wait"), "", b""))
                    .unwrap();
                read_reply(&mut s, &mut Vec::new(), false).json()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            call(
                &fake,
                "POST",
                &format!("/containers/{id}/kill?signal=SIGKILL"),
                b""
            )
            .status,
            204
        );
        assert_eq!(
            waiter.join().unwrap(),
            json!({"Error": null, "StatusCode": 137})
        );
        assert_eq!(
            call(
                &fake,
                "DELETE",
                &format!("/containers/{}?force=1", &id[..12]),
                b""
            )
            .status,
            204
        );
        assert!(fake.containers().is_empty());
    }

    #[test]
    fn dropping_stops_threads_and_removes_the_directory() {
        let fake = builder()
            .on_command("sleep", FakeRun::new().delay(Duration::from_secs(60)))
            .serve_unix()
            .unwrap();
        let dir = fake.socket_path().unwrap().parent().unwrap().to_path_buf();
        let body = br#"{"Image":"busybox","Cmd":["sleep","60"]}"#;
        let id = call(&fake, "POST", "/containers/create", body).json()["Id"]
            .as_str()
            .unwrap()
            .to_string();
        call(&fake, "POST", &format!("/containers/{id}/start"), b"");
        // A wait that would block for a minute, an idle keep-alive connection, a half-read one.
        let mut w = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        w.write_all(&request("POST", &format!("/containers/{id}/wait"), "", b""))
            .unwrap();
        let _idle = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        let mut half = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
        half.write_all(b"POST /build HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t = std::time::Instant::now();
        drop(fake);
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        assert!(!dir.exists());
        let mut rest = Vec::new();
        let _ = w.read_to_end(&mut rest);
    }

    #[test]
    fn debug_never_shows_registry_passwords() {
        let seed = FakeEngine::new().registry_login("registry.test", "user", "hunter2");
        let text = format!("{seed:?}");
        assert!(
            text.contains("registry.test") && !text.contains("hunter2"),
            "{text}"
        );
    }

    #[test]
    fn bad_seeds_are_reported_not_panicked() {
        let err = FakeEngine::new()
            .image("Not Valid", FakeImage::default())
            .serve_unix()
            .unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{err}");
    }
}
