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
//! | [`Route::ContainerList`] | `GET /containers/json?all=&filters={"label":[...]}` |
//! | [`Route::ArchivePut`], [`Route::ArchiveGet`], [`Route::ArchiveHead`] | `PUT`/`GET`/`HEAD /containers/{id}/archive?path=` |
//! | [`Route::Commit`] | `POST /commit?container=&repo=&tag=` |
//!
//! Paths may carry a version prefix (`/v1.41/...`) or not; a version above 1.41 gets the
//! daemon's `400 client version ... is too new`, one below 1.12 its `400 client version ... is
//! too old`. [`api_version`](FakeEngine::api_version) and
//! [`min_api_version`](FakeEngine::min_api_version) move those bounds, to play a newer engine
//! (Docker 29 speaks 1.52 and refuses anything before 1.44). Any other path gets
//! `404 {"message":"page not found"}`.
//!
//! On the wire it behaves like the daemon's Go server: every reply carries `Api-Version: 1.41`
//! (or the version given to [`api_version`](FakeEngine::api_version)),
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
//! use s2i_docker::ops::container::{self, ContainerConfig, ContainerCreateBody, WaitCondition};
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
//! let waited = container::wait(&docker, &id, WaitCondition::NotRunning)?;
//! assert_eq!(waited.status_code, 2);
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
//!
//! # Inside
//!
//! This file holds the public face: the builder [`FakeEngine`], the routes and faults, the
//! recorded requests and the views of the state. The seeds ([`FakeImage`], [`FakeRun`]) are in
//! `seed`, the served fake ([`RunningFake`]) in `running`. Below them, `state` is what the
//! daemon knows, `router` the route table with one handler per endpoint, `build` the reading of
//! Dockerfiles, `fs` the containers' files, `http` and `server` the wire and the threads, and
//! `clock` the times and IDs.
//!
//! The fake is an oracle for the crate's own client, so it must not share its request code:
//! outside its tests it uses only the transport (HTTP wire parsing, chunked framing, the
//! connector hook), the crate's [`Error`], and `ops::engine` and `ops::env` to hand out an
//! [`EngineClient`](crate::EngineClient). The Engine API's endpoint code and models stay out.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::error::{Error, Result};

mod build;
mod clock;
mod fs;
mod http;
mod router;
mod running;
mod seed;
mod server;
mod state;
#[cfg(test)]
mod tests;

pub use running::RunningFake;
pub use seed::{FakeImage, FakeRun};

use server::Server;
use state::{parse_reference, registry_host, Shared, State};

/// Recorded request bodies keep at most this many bytes ([`RecordedRequest::body_len`] has the
/// full length).
pub const MAX_RECORDED_BODY: usize = 1 << 20;

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
    /// `GET /containers/json`.
    ContainerList,
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

    /// The newest API version the daemon speaks (default `1.41`, Docker 20.10's): the
    /// `Api-Version` header of every reply and `/version`'s `ApiVersion`. A request whose
    /// prefix is newer gets the daemon's `400 client version 1.52 is too new. Maximum supported
    /// API version is 1.41`.
    ///
    /// A version that is not `<major>.<minor>`, or older than the
    /// [`min_api_version`](Self::min_api_version), makes serving fail.
    pub fn api_version(mut self, version: &str) -> Self {
        if valid_version(version) {
            self.state.versions.max = version.to_string();
        } else {
            self.errors.push(format!("invalid API version {version:?}"));
        }
        self
    }

    /// The oldest API version the daemon accepts (default `1.12`): `/version`'s
    /// `MinAPIVersion`. A request whose prefix is older gets the daemon's `400 client version
    /// 1.41 is too old. Minimum supported API version is 1.44, please upgrade your client to a
    /// newer version`, as Docker 29 answers. The newest version is raised to it if it is older.
    ///
    /// ```
    /// use s2i_docker::fake::engine::FakeEngine;
    ///
    /// // Docker 29: API 1.44 to 1.52.
    /// let fake = FakeEngine::new().min_api_version("1.44").api_version("1.52").serve_in_memory()?;
    /// let docker = fake.client()?;
    /// let refused = docker.with_api_version("1.41")?;
    /// let e = s2i_docker::ops::system::version(&refused).unwrap_err();
    /// assert_eq!(
    ///     e.to_string(),
    ///     "Error response from daemon: client version 1.41 is too old. Minimum supported API \
    ///      version is 1.44, please upgrade your client to a newer version"
    /// );
    /// // Negotiated, the client speaks a version the engine accepts.
    /// assert_eq!(s2i_docker::ops::system::version(&docker)?.min_api_version, "1.44");
    /// assert_eq!(docker.api_version()?, s2i_docker::ops::engine::MAX_API_VERSION);
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn min_api_version(mut self, version: &str) -> Self {
        if valid_version(version) {
            self.state.versions.min = version.to_string();
            if version_key(&self.state.versions.max) < version_key(version) {
                self.state.versions.max = version.to_string();
            }
        } else {
            self.errors.push(format!("invalid API version {version:?}"));
        }
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
    /// transport's connector hook
    /// ([`Transport::with_connector`](crate::transport::Transport::with_connector)) to in-memory
    /// pipes, each served on a thread of its own by the same code that serves a socket's
    /// connections.
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

    fn into_shared(mut self) -> Result<Arc<Shared>> {
        let versions = &self.state.versions;
        if version_key(&versions.max) < version_key(&versions.min) {
            self.errors.push(format!(
                "API version {} is older than the minimum API version {}",
                versions.max, versions.min
            ));
        }
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

/// Whether `v` is `<major>.<minor>`.
fn valid_version(v: &str) -> bool {
    v.split_once('.').is_some_and(|(a, b)| {
        [a, b]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 4 && p.bytes().all(|c| c.is_ascii_digit()))
    })
}

/// `1.41` → `(1, 41)`, compared numerically.
fn version_key(v: &str) -> (u32, u32) {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
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
