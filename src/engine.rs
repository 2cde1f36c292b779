//! The Engine API client: where the engine is, which API version to speak, how long to wait.
//!
//! [`EngineClient`] is cheap to clone and safe to share between threads: clones share one
//! [`Transport`] (and so its pool of kept-alive connections) and the negotiated API version.
//! Each endpoint is a plain function in the [`ops`](mod@crate::ops) modules; `EngineClient` also implements the
//! [`Client`] trait by calling them.
//!
//! The same client speaks to Podman's Docker-compatible service: it tells the engines apart by
//! their ping ([`Engine`]) and handles Podman's differences; see [`podman`](mod@crate::podman).
//!
//! ```
//! # #[cfg(feature = "fake")] {
//! # let fake = s2i_docker::fake::FakeEngine::new().serve_in_memory()?;
//! // Against the engine of the environment (DOCKER_HOST, ...):
//! // let docker = s2i_docker::EngineClient::from_env()?;
//! // here, against the in-process fake engine:
//! let docker = fake.client()?;
//! let ping = s2i_docker::ops::system::ping(&docker)?;
//! assert_eq!(ping.api_version, "1.41");
//! # }
//! # Ok::<(), s2i_docker::Error>(())
//! ```

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::api::DockerConfig;
use crate::client::{BodyReader, Client, HijackedResponse};
use crate::error::{Error, Result};
use crate::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerRemoveOptions, ContainerWaitResponse, IdResponse,
};
use crate::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use crate::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImageRemoveOptions,
};
use crate::ops::system::{Ping, Version};
use crate::ops::{self, container, copy, image, system};
use crate::transport::{
    Body, Cancel, Host, Request, Response, Timeouts, TlsSettings, Transport, Upgrade,
};

/// Where the engine is when `DOCKER_HOST` says nothing.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The socket of a rootful Podman service (looked for after [`DEFAULT_HOST`] and the rootless
/// one, `$XDG_RUNTIME_DIR/podman/podman.sock`).
pub const PODMAN_SYSTEM_HOST: &str = "unix:///run/podman/podman.sock";

/// The newest API version this client speaks; a newer engine is spoken to in this version.
///
/// The request shapes used here are the same from 1.41 (Docker 20.10, Podman 4) to 1.45, and
/// Docker 29 refuses versions below 1.44, so the client goes up to 1.45.
pub const MAX_API_VERSION: &str = "1.45";

/// The oldest API version this client accepts: `POST /containers/{id}/wait?condition=not-running`
/// needs 1.30.
pub const MIN_API_VERSION: &str = "1.30";

/// The limit for establishing a connection (the reference's dial timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default cap on a JSON reply read into memory.
pub const DEFAULT_JSON_LIMIT: usize = 16 << 20;

/// Reads `DOCKER_HOST`, `DOCKER_CERT_PATH`, `DOCKER_TLS_VERIFY` and `DOCKER_TLS` as the reference
/// does, and looks for Podman when no variable names an engine.
///
/// - `endpoint`: `DOCKER_HOST`; else `CONTAINER_HOST` when it is a `unix://` or `tcp://` URL
///   (Podman's variable); else the first of [`DEFAULT_HOST`],
///   `$XDG_RUNTIME_DIR/podman/podman.sock` and [`PODMAN_SYSTEM_HOST`] that accepts a connection
///   (nothing is sent); else [`DEFAULT_HOST`], with all of them in `tried_endpoints` so that
///   connection errors name them.
/// - certificates: `cert.pem`, `key.pem` and `ca.pem` in `DOCKER_CERT_PATH`, else in
///   [`dir()`] (`DOCKER_CONFIG` or `~/.docker`).
/// - `tls_verify` / `use_tls`: true when `DOCKER_TLS_VERIFY` / `DOCKER_TLS` is set to anything
///   non-empty, even `0` or `false` (as the docker CLI reads them).
pub fn get_default_docker_config() -> DockerConfig {
    config_from(
        &|name| std::env::var(name).ok(),
        &home_dir,
        &accepts_connections,
    )
}

fn config_from(
    env: &dyn Fn(&str) -> Option<String>,
    home: &dyn Fn() -> Option<PathBuf>,
    answers: &dyn Fn(&str) -> bool,
) -> DockerConfig {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let named = set("DOCKER_HOST").or_else(|| {
        set("CONTAINER_HOST").filter(|h| h.starts_with("unix://") || h.starts_with("tcp://"))
    });
    let (endpoint, tried_endpoints) = match named {
        Some(host) => (host, Vec::new()),
        None => discover(candidate_hosts(env), answers),
    };
    let cert_path = set("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir_from(env, home));
    DockerConfig {
        endpoint,
        cert_file: cert_path.join("cert.pem"),
        key_file: cert_path.join("key.pem"),
        ca_file: cert_path.join("ca.pem"),
        use_tls: set("DOCKER_TLS").is_some(),
        tls_verify: set("DOCKER_TLS_VERIFY").is_some(),
        tried_endpoints,
    }
}

/// Where to look for an engine, in order: Docker's socket, rootless Podman's, rootful Podman's.
fn candidate_hosts(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut hosts = vec![DEFAULT_HOST.to_string()];
    if let Some(dir) = env("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
        hosts.push(format!(
            "unix://{}/podman/podman.sock",
            dir.trim_end_matches('/')
        ));
    }
    hosts.push(PODMAN_SYSTEM_HOST.to_string());
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    hosts
}

/// The first candidate that answers, with no list; else the first candidate, with all of them.
fn discover(candidates: Vec<String>, answers: &dyn Fn(&str) -> bool) -> (String, Vec<String>) {
    if let Some(found) = candidates.iter().find(|h| answers(h)) {
        return (found.clone(), Vec::new());
    }
    let first = candidates
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    (first, candidates)
}

/// Whether something listens on a `unix://` socket (connects and hangs up; a socket-activated
/// service is started by it).
fn accepts_connections(host: &str) -> bool {
    host.strip_prefix("unix://")
        .is_some_and(|path| std::os::unix::net::UnixStream::connect(path).is_ok())
}

/// `a`, `a or b`, `a, b or c`.
fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The docker CLI's configuration directory: `DOCKER_CONFIG`, else `<home>/.docker`.
///
/// The home directory is `$HOME`, else the current user's entry in `/etc/passwd`.
pub fn dir() -> PathBuf {
    dir_from(&|name| std::env::var(name).ok(), &home_dir)
}

fn dir_from(env: &dyn Fn(&str) -> Option<String>, home: &dyn Fn() -> Option<PathBuf>) -> PathBuf {
    match env("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => home().unwrap_or_default().join(".docker"),
    }
}

/// `$HOME`, else the home directory of the process's real user in `/etc/passwd`.
fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    // No `getuid()` without unsafe code: the kernel tells the real uid in /proc/self/status.
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_home(&passwd, &uid)
}

/// The home directory of `uid` in a passwd file (`name:pw:uid:gid:gecos:home:shell`).
fn passwd_home(passwd: &str, uid: &str) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2] == uid && !fields[5].is_empty())
            .then(|| PathBuf::from(fields[5]))
    })
}

/// Connects to the engine described by `config` (the reference's `NewEngineAPIClient`).
///
/// TLS is used when `use_tls` or `tls_verify` is set; the daemon's certificate is verified only
/// with `tls_verify`. Each of the CA, certificate and key files is used only if it exists.
/// `DOCKER_API_VERSION` (e.g. `1.41` or `v1.41`) pins the API version; otherwise it is
/// negotiated with the engine on the first call (`GET /_ping`), capped at [`MAX_API_VERSION`].
///
/// No connection is made here.
///
/// # Errors
/// [`Error::InvalidInput`] for an endpoint that is not `unix://...` or `tcp://...` or an
/// invalid `DOCKER_API_VERSION`; TLS setup errors (unreadable or invalid certificate files, or
/// TLS asked for without the `tls` feature).
pub fn new_engine_api_client(config: &DockerConfig) -> Result<EngineClient> {
    let tls = (config.use_tls || config.tls_verify).then(|| TlsSettings {
        ca_file: existing(&config.ca_file),
        cert_file: existing(&config.cert_file),
        key_file: existing(&config.key_file),
        verify: config.tls_verify,
    });
    let host = Host::parse(&config.endpoint, tls.is_some())?;
    let transport = Transport::new(host, tls)?;
    let pinned = match std::env::var("DOCKER_API_VERSION") {
        Ok(v) if !v.is_empty() => Some(parse_api_version(&v)?),
        _ => None,
    };
    // The list belongs to the endpoint the search fell back to (its first entry), not to
    // another one set by hand.
    let tried = (config.tried_endpoints.len() > 1
        && config.tried_endpoints.first() == Some(&config.endpoint))
    .then(|| Arc::from(or_list(&config.tried_endpoints)));
    Ok(EngineClient {
        shared: Arc::new(Shared {
            transport,
            negotiated: OnceLock::new(),
            engine: OnceLock::new(),
            tried,
        }),
        pinned,
        engine: None,
        timeout: crate::DEFAULT_DOCKER_TIMEOUT,
        json_limit: DEFAULT_JSON_LIMIT,
        cancel: None,
    })
}

/// The path if it may exist: only "does not exist" drops it (a permission error keeps it, so the
/// TLS setup reports it).
fn existing(path: &Path) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        return None;
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        _ => Some(path.to_path_buf()),
    }
}

/// Checks a `<major>.<minor>` version, dropping a leading `v`.
fn parse_api_version(v: &str) -> Result<Arc<str>> {
    let trimmed = v.strip_prefix('v').unwrap_or(v);
    if version_tuple(trimmed).is_none() {
        return Err(Error::InvalidInput(format!(
            "invalid API version {v:?}: it must look like <major>.<minor>, e.g. 1.41"
        )));
    }
    Ok(Arc::from(trimmed))
}

fn version_tuple(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The version to speak with a server that offers `server`: the lower of it and the maximum.
fn negotiate(server: &str, host: &str) -> Result<Arc<str>> {
    let Some(offered) = version_tuple(server) else {
        return Ok(Arc::from(MAX_API_VERSION));
    };
    let min = version_tuple(MIN_API_VERSION).unwrap_or_default();
    if offered < min {
        return Err(Error::Unsupported(format!(
            "the engine at {host} speaks API version {server}, older than {MIN_API_VERSION}, the oldest this client supports"
        )));
    }
    let max = version_tuple(MAX_API_VERSION).unwrap_or_default();
    Ok(if offered < max {
        Arc::from(server)
    } else {
        Arc::from(MAX_API_VERSION)
    })
}

/// How long a call may wait; the transport turns it into [`Timeouts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limits {
    /// A short call: the reply head and every pause in the body within the client's timeout.
    Short,
    /// A stream (pull, archive): no total deadline, but no pause longer than the timeout.
    Stream,
    /// No limit after connecting (wait, build, commit: their duration is the container's).
    Unbounded,
    /// An upgrade: the `101` within the timeout, then no limit on the raw stream.
    Upgrade,
}

struct Shared {
    transport: Transport,
    /// The version agreed with the engine, once a ping told it.
    negotiated: OnceLock<Arc<str>>,
    /// Which engine answers, once a ping told it.
    engine: OnceLock<Engine>,
    /// Every socket looked at when none answered (`a, b or c`), for connection errors.
    tried: Option<Arc<str>>,
}

/// The engine behind an endpoint, as the `Server` header of its ping tells.
///
/// Podman's answers differ from Docker's in places; the client handles each difference when it
/// speaks to Podman (see [`podman`](mod@crate::podman)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// The Docker Engine, or any engine that does not say it is Podman.
    Docker,
    /// Podman's Docker-compatible service (`Server: Libpod/4.3.1 (linux)`).
    Podman,
}

impl Engine {
    /// The engine a `Server` header names: `Libpod/...` is Podman, anything else (`Docker/...`,
    /// none) is Docker.
    ///
    /// ```
    /// use s2i_docker::engine::Engine;
    /// assert_eq!(Engine::from_server_header("Libpod/4.3.1 (linux)"), Engine::Podman);
    /// assert_eq!(Engine::from_server_header("Docker/20.10.24+dfsg1 (linux)"), Engine::Docker);
    /// ```
    pub fn from_server_header(server: &str) -> Engine {
        let product = server
            .trim_start()
            .split(['/', ' '])
            .next()
            .unwrap_or_default();
        if product.eq_ignore_ascii_case("libpod") {
            Engine::Podman
        } else {
            Engine::Docker
        }
    }
}

/// A client of the Docker Engine API (also Podman's Docker-compatible API).
///
/// Create one with [`new_engine_api_client`] or [`EngineClient::from_env`]. Clones share the
/// connection pool and the negotiated version, so clone freely, also across threads. The
/// builder-style settings ([`with_timeout`](EngineClient::with_timeout),
/// [`with_json_limit`](EngineClient::with_json_limit), [`with_cancel`](EngineClient::with_cancel))
/// return a clone that differs only in that setting.
#[derive(Clone)]
pub struct EngineClient {
    shared: Arc<Shared>,
    /// A version fixed by `DOCKER_API_VERSION` or [`EngineClient::with_api_version`].
    pinned: Option<Arc<str>>,
    /// An engine fixed by [`EngineClient::with_engine`].
    engine: Option<Engine>,
    timeout: Duration,
    json_limit: usize,
    cancel: Option<Cancel>,
}

impl fmt::Debug for EngineClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineClient")
            .field("host", &self.host().to_string())
            .field(
                "api_version",
                &self
                    .pinned
                    .as_deref()
                    .or(self.shared.negotiated.get().map(|v| &**v)),
            )
            .field("engine", &self.engine.or(self.shared.engine.get().copied()))
            .field("timeout", &self.timeout)
            .field("json_limit", &self.json_limit)
            .field("cancellable", &self.cancel.is_some())
            .finish()
    }
}

impl EngineClient {
    /// Connects as [`get_default_docker_config`] and [`new_engine_api_client`] describe.
    ///
    /// # Errors
    /// As [`new_engine_api_client`].
    pub fn from_env() -> Result<EngineClient> {
        new_engine_api_client(&get_default_docker_config())
    }

    /// The engine's address.
    pub fn host(&self) -> &Host {
        self.shared.transport.host()
    }

    /// A clone whose short calls and streams give up after `timeout` without progress
    /// (default [`DEFAULT_DOCKER_TIMEOUT`](crate::DEFAULT_DOCKER_TIMEOUT)).
    ///
    /// `wait`, `build` and `commit` never time out: they last as long as the container's work.
    pub fn with_timeout(&self, timeout: Duration) -> EngineClient {
        EngineClient {
            timeout,
            ..self.clone()
        }
    }

    /// A clone that reads JSON replies of at most `limit` bytes (default [`DEFAULT_JSON_LIMIT`]).
    pub fn with_json_limit(&self, limit: usize) -> EngineClient {
        EngineClient {
            json_limit: limit,
            ..self.clone()
        }
    }

    /// A clone whose calls are aborted (with [`Error::Cancelled`]) once `cancel` is cancelled.
    ///
    /// The clone shares the connection pool; calls made through other clones are not affected.
    pub fn with_cancel(&self, cancel: Cancel) -> EngineClient {
        EngineClient {
            cancel: Some(cancel),
            ..self.clone()
        }
    }

    /// A clone that speaks API version `version` (`1.41` or `v1.41`) without negotiating.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the version is not `<major>.<minor>`.
    pub fn with_api_version(&self, version: &str) -> Result<EngineClient> {
        Ok(EngineClient {
            pinned: Some(parse_api_version(version)?),
            ..self.clone()
        })
    }

    /// A clone that takes the engine to be `engine` without asking it (e.g. Podman behind a
    /// proxy that rewrites the `Server` header).
    pub fn with_engine(&self, engine: Engine) -> EngineClient {
        EngineClient {
            engine: Some(engine),
            ..self.clone()
        }
    }

    /// Which engine answers: told by the `Server` header of its ping, asked once per client
    /// (the version negotiation's ping tells it without another request) and shared by clones.
    ///
    /// # Errors
    /// The ping's errors when it must ask (the engine is unreachable, ...).
    pub fn engine(&self) -> Result<Engine> {
        let known = || self.engine.or(self.shared.engine.get().copied());
        if let Some(engine) = known() {
            return Ok(engine);
        }
        if self.pinned.is_none() {
            // The negotiation is due anyway, and its ping tells the engine.
            self.version()?;
            if let Some(engine) = known() {
                return Ok(engine);
            }
        }
        let ping = system::ping(self)?;
        Ok(*self
            .shared
            .engine
            .get_or_init(|| Engine::from_server_header(&ping.server)))
    }

    /// Whether the engine is Podman (asking it once, see [`engine`](EngineClient::engine)).
    pub(crate) fn is_podman(&self) -> Result<bool> {
        Ok(self.engine()? == Engine::Podman)
    }

    /// Remembers the engine a ping's `Server` header names.
    pub(crate) fn note_server(&self, server: &str) {
        let _ = self.shared.engine.set(Engine::from_server_header(server));
    }

    /// The API version in use, negotiating it first if no call has done so yet.
    ///
    /// # Errors
    /// The ping's errors when negotiating (the engine is unreachable, ...), and
    /// [`Error::Unsupported`] for an engine older than [`MIN_API_VERSION`].
    pub fn api_version(&self) -> Result<String> {
        Ok(self.version()?.to_string())
    }

    /// The cap on JSON replies.
    pub(crate) fn json_limit(&self) -> usize {
        self.json_limit
    }

    fn version(&self) -> Result<Arc<str>> {
        if let Some(v) = &self.pinned {
            return Ok(v.clone());
        }
        if let Some(v) = self.shared.negotiated.get() {
            return Ok(v.clone());
        }
        // Racing first calls may each ping; they agree, and the first answer is kept.
        let response = self.send_raw(Request {
            method: "GET",
            target: "/_ping".to_string(),
            headers: Vec::new(),
            body: Body::Empty,
            timeouts: self.timeouts(Limits::Short),
        })?;
        let server = response
            .header("Api-Version")
            .unwrap_or_default()
            .to_string();
        if server.is_empty() && response.status >= 400 {
            return Err(ops::error_from_response(response, &self.url("/_ping")));
        }
        self.note_server(response.header("Server").unwrap_or_default());
        let _ = response.read_to_vec(1 << 10);
        let agreed = negotiate(&server, &self.host().to_string())?;
        Ok(self.shared.negotiated.get_or_init(|| agreed).clone())
    }

    fn timeouts(&self, limits: Limits) -> Timeouts {
        let t = Some(self.timeout);
        let (response, idle) = match limits {
            Limits::Short | Limits::Stream => (t, t),
            Limits::Unbounded => (None, None),
            Limits::Upgrade => (t, None),
        };
        Timeouts {
            connect: CONNECT_TIMEOUT,
            response,
            idle,
        }
    }

    /// The URL of a target, for error texts.
    fn url(&self, target: &str) -> String {
        format!("{}{target}", self.host())
    }

    fn send_raw(&self, request: Request<'_>) -> Result<Response> {
        self.shared
            .transport
            .send(request, self.cancel.as_ref())
            .map_err(|e| self.name_tried(e))
    }

    /// A connection error names every socket looked at when none answered.
    fn name_tried(&self, e: Error) -> Error {
        match (e, &self.shared.tried) {
            (
                Error::Connect {
                    failure, source, ..
                },
                Some(tried),
            ) => Error::Connect {
                host: tried.to_string(),
                failure,
                source,
            },
            (e, _) => e,
        }
    }

    /// Sends `method` to `/v<version><endpoint>` (the endpoint carries its query) and returns a
    /// reply whose status is below 400; a 4xx/5xx becomes [`Error::Api`] with the daemon's message.
    pub(crate) fn call(
        &self,
        method: &'static str,
        endpoint: &str,
        headers: Vec<(&'static str, String)>,
        body: Body<'_>,
        limits: Limits,
    ) -> Result<Response> {
        let target = format!("/v{}{endpoint}", self.version()?);
        self.call_target(method, target, headers, body, limits)
    }

    /// As [`call`](EngineClient::call) without the version prefix (`/_ping` answers on both).
    pub(crate) fn call_unversioned(
        &self,
        method: &'static str,
        endpoint: &str,
        limits: Limits,
    ) -> Result<Response> {
        self.call_target(
            method,
            endpoint.to_string(),
            Vec::new(),
            Body::Empty,
            limits,
        )
    }

    fn call_target(
        &self,
        method: &'static str,
        target: String,
        headers: Vec<(&'static str, String)>,
        body: Body<'_>,
        limits: Limits,
    ) -> Result<Response> {
        let response = self.send_raw(Request {
            method,
            target: target.clone(),
            headers,
            body,
            timeouts: self.timeouts(limits),
        })?;
        // The daemon's own convention (and moby's): below 400 is success, e.g. 304 for a start
        // of a running container.
        if response.status >= 400 {
            return Err(ops::error_from_response(response, &self.url(&target)));
        }
        Ok(response)
    }

    /// Sends an upgrade request (`Connection: Upgrade`, `Upgrade: tcp`) to the versioned endpoint.
    pub(crate) fn upgrade(
        &self,
        method: &'static str,
        endpoint: &str,
        headers: Vec<(&'static str, String)>,
    ) -> Result<Upgrade> {
        let target = format!("/v{}{endpoint}", self.version()?);
        self.shared
            .transport
            .upgrade(
                Request {
                    method,
                    target,
                    headers,
                    body: Body::Empty,
                    timeouts: self.timeouts(Limits::Upgrade),
                },
                self.cancel.as_ref(),
            )
            .map_err(|e| self.name_tried(e))
    }
}

impl Client for EngineClient {
    fn ping(&self) -> Result<Ping> {
        system::ping(self)
    }

    fn server_version(&self) -> Result<Version> {
        system::version(self)
    }

    fn image_inspect_with_raw(&self, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
        image::inspect_with_raw(self, name)
    }

    fn image_pull(&self, reference: &str, options: &ImagePullOptions) -> Result<BodyReader> {
        Ok(Box::new(image::pull(self, reference, options)?))
    }

    fn image_remove(
        &self,
        image: &str,
        options: &ImageRemoveOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        image::remove(self, image, options)
    }

    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> Result<BodyReader> {
        Ok(Box::new(image::build(self, context, options)?))
    }

    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> Result<ContainerCreateResponse> {
        container::create(self, body, name)
    }

    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> Result<HijackedResponse> {
        container::attach(self, container, options)
    }

    fn container_start(&self, container: &str) -> Result<()> {
        container::start(self, container)
    }

    fn container_wait(&self, container: &str, condition: &str) -> Result<ContainerWaitResponse> {
        container::wait(self, container, condition)
    }

    fn container_inspect(&self, container: &str) -> Result<ContainerInspect> {
        container::inspect(self, container)
    }

    fn container_kill(&self, container: &str, signal: &str) -> Result<()> {
        container::kill(self, container, signal)
    }

    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()> {
        container::remove(self, container, options)
    }

    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> Result<()> {
        copy::put_archive(self, container, path, content, options)
    }

    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(BodyReader, ContainerPathStat)> {
        let (body, stat) = copy::get_archive(self, container, path)?;
        Ok((Box::new(body), stat))
    }

    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> Result<IdResponse> {
        container::commit(self, container, options)
    }
}

// Registry operations the S2I flows do not use (so not part of the `Client` trait): tagging an
// image for a registry and pushing it there.
impl EngineClient {
    /// Pushes an image to its registry (`POST /images/{name}/push?tag=..`); see
    /// [`ops::image::push`].
    ///
    /// Read the returned JSON-lines stream to its end and check it for in-band errors (with
    /// [`ops::stream::consume`]): a refused push answers 200.
    ///
    /// # Errors
    /// As [`ops::image::push`].
    pub fn image_push(
        &self,
        reference: &str,
        options: &crate::ops::image::ImagePushOptions,
    ) -> Result<crate::transport::ResponseBody> {
        image::push(self, reference, options)
    }

    /// Gives the image `source` the name `target` (`POST /images/{source}/tag?repo=..&tag=..`);
    /// see [`ops::image::tag`].
    ///
    /// # Errors
    /// As [`ops::image::tag`].
    pub fn image_tag(&self, source: &str, target: &str) -> Result<()> {
        image::tag(self, source, target)
    }
}

// A client over a transport made elsewhere, e.g. one whose connections come from a
// `transport::unstable::Connector` (an in-process engine such as the `fake` feature's
// `FakeEngine` served in memory).
impl EngineClient {
    /// A client that sends its requests through `transport`, with the defaults of
    /// [`new_engine_api_client`]: the API version negotiated on the first call (the
    /// environment's `DOCKER_API_VERSION` is not read), the default timeout and JSON limit.
    ///
    /// With [`Transport::with_connector`] this reaches an engine that is not behind a socket.
    pub fn with_transport(transport: Transport) -> EngineClient {
        EngineClient {
            shared: Arc::new(Shared {
                transport,
                negotiated: OnceLock::new(),
                engine: OnceLock::new(),
                tried: None,
            }),
            pinned: None,
            engine: None,
            timeout: crate::DEFAULT_DOCKER_TIMEOUT,
            json_limit: DEFAULT_JSON_LIMIT,
            cancel: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)], home: Option<&str>) -> DockerConfig {
        config_answered(vars, home, &[])
    }

    /// The configuration when exactly the sockets `listening` answer.
    fn config_answered(
        vars: &[(&str, &str)],
        home: Option<&str>,
        listening: &[&str],
    ) -> DockerConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let home = home.map(PathBuf::from);
        config_from(&|name| vars.get(name).cloned(), &|| home.clone(), &|host| {
            listening.contains(&host)
        })
    }

    #[test]
    fn looks_for_podman_when_no_variable_names_an_engine() {
        let rootless = "unix:///run/user/1000/podman/podman.sock";
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/1000")];
        // Docker answers: Docker, even with Podman around.
        let c = config_answered(&xdg, None, &[DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert!(c.tried_endpoints.is_empty());
        // Rootless Podman before rootful Podman.
        let c = config_answered(&xdg, None, &[rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, rootless);
        assert!(c.tried_endpoints.is_empty());
        let c = config_answered(&xdg, None, &[PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
        // Without XDG_RUNTIME_DIR (or a relative one) there is no rootless socket to look at.
        let c = config_answered(&[], None, &[rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
        let c = config_answered(&[("XDG_RUNTIME_DIR", "run")], None, &[]);
        assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
        // Nothing answers: Docker's socket, and the list for the connection error.
        let c = config_answered(&[("XDG_RUNTIME_DIR", "/run/user/1000/")], None, &[]);
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(
            c.tried_endpoints,
            [DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]
        );
        // Root's runtime directory is /run: the rootful socket is listed once.
        let c = config_answered(&[("XDG_RUNTIME_DIR", "/run")], None, &[]);
        assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
        // A variable that names an engine is used as it is: nothing is looked at.
        for vars in [
            [("DOCKER_HOST", "tcp://10.0.0.1:2375")],
            [("CONTAINER_HOST", "unix:///somewhere/podman.sock")],
        ] {
            let c = config_from(
                &|name| {
                    vars.iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_string())
                },
                &|| None,
                &|host| panic!("{host} looked at"),
            );
            assert!(c.tried_endpoints.is_empty());
            assert_eq!(c.endpoint, vars[0].1);
        }
    }

    #[test]
    fn connection_errors_name_the_sockets_tried() {
        assert_eq!(or_list(&[]), "");
        assert_eq!(or_list(&["a".into()]), "a");
        assert_eq!(or_list(&["a".into(), "b".into()]), "a or b");
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");

        let dir = std::env::temp_dir().join(format!("s2i-docker-discovery-{}", std::process::id()));
        let hosts: Vec<String> = ["docker.sock", "podman/podman.sock", "podman.sock"]
            .iter()
            .map(|f| format!("unix://{}/{f}", dir.display()))
            .collect();
        let (endpoint, tried) = discover(hosts.clone(), &accepts_connections);
        assert_eq!(endpoint, hosts[0]);
        let config = DockerConfig {
            endpoint,
            tried_endpoints: tried,
            ..Default::default()
        };
        let docker = new_engine_api_client(&config).unwrap();
        let e = crate::ops::system::ping(&docker).unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "failed to connect to the docker API at {}, {} or {}; check if the path is correct",
                hosts[0], hosts[1], hosts[2]
            )),
            "{text}"
        );
        // An endpoint set by hand is named alone.
        let named = DockerConfig {
            endpoint: hosts[1].clone(),
            tried_endpoints: hosts.clone(),
            ..Default::default()
        };
        let e = crate::ops::system::ping(&new_engine_api_client(&named).unwrap()).unwrap_err();
        assert!(!e.to_string().contains(&hosts[0]), "{e}");

        // A socket that accepts connections is found.
        std::fs::create_dir_all(dir.join("podman")).unwrap();
        let path = dir.join("podman/podman.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(
            discover(hosts.clone(), &accepts_connections),
            (hosts[1].clone(), vec![])
        );
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!accepts_connections("tcp://127.0.0.1:1"));
    }

    #[test]
    fn default_config_from_environment() {
        let c = config(&[], Some("/home/u"));
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(c.ca_file, PathBuf::from("/home/u/.docker/ca.pem"));
        assert_eq!(c.cert_file, PathBuf::from("/home/u/.docker/cert.pem"));
        assert_eq!(c.key_file, PathBuf::from("/home/u/.docker/key.pem"));
        assert!(!c.use_tls && !c.tls_verify);

        let c = config(
            &[
                ("DOCKER_HOST", "tcp://10.0.0.1:2376"),
                ("CONTAINER_HOST", "unix:///run/podman.sock"),
                ("DOCKER_CERT_PATH", "/certs"),
                ("DOCKER_TLS_VERIFY", "0"),
                ("DOCKER_CONFIG", "/cfg"),
            ],
            Some("/home/u"),
        );
        assert_eq!(c.endpoint, "tcp://10.0.0.1:2376");
        assert_eq!(c.key_file, PathBuf::from("/certs/key.pem"));
        // Any non-empty value turns verification on, "0" included (as the docker CLI does).
        assert!(c.tls_verify && !c.use_tls);

        let c = config(
            &[
                ("CONTAINER_HOST", "unix:///run/podman.sock"),
                ("DOCKER_CONFIG", "/cfg"),
                ("DOCKER_TLS", "1"),
                ("DOCKER_TLS_VERIFY", ""),
            ],
            None,
        );
        assert_eq!(c.endpoint, "unix:///run/podman.sock");
        assert_eq!(c.ca_file, PathBuf::from("/cfg/ca.pem"));
        assert!(c.use_tls && !c.tls_verify);

        // Podman's ssh:// hosts are not for this client.
        let c = config(
            &[("CONTAINER_HOST", "ssh://core@host/run/podman.sock")],
            None,
        );
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(c.ca_file, PathBuf::from(".docker/ca.pem"));
    }

    #[test]
    fn engines_by_server_header() {
        for (server, engine) in [
            ("Libpod/4.3.1 (linux)", Engine::Podman),
            ("libpod/5.0.0", Engine::Podman),
            ("Docker/20.10.24+dfsg1 (linux)", Engine::Docker),
            ("", Engine::Docker),
            ("Libpodder/1", Engine::Docker),
        ] {
            assert_eq!(Engine::from_server_header(server), engine, "{server}");
        }
    }

    fn engine_server(server: &'static str) -> (EngineClient, crate::ops::test_server::Server) {
        crate::ops::test_server::serve_with(false, move |r| {
            if r.path == "/_ping" {
                return (
                    format!("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: {server}\r\nContent-Length: 2\r\n\r\nOK").into_bytes(),
                    false,
                );
            }
            crate::ops::test_server::json("200 OK", "{\"Id\":\"x\"}")
        })
    }

    #[test]
    fn the_engine_is_asked_once() {
        // Told by the version negotiation's ping, for all clones.
        let (docker, server) = engine_server("Libpod/4.3.1 (linux)");
        crate::ops::container::inspect(&docker, "abc").unwrap();
        assert_eq!(docker.engine().unwrap(), Engine::Podman);
        assert_eq!(
            docker
                .with_timeout(Duration::from_secs(1))
                .engine()
                .unwrap(),
            Engine::Podman
        );
        assert_eq!(server.requests().len(), 2, "one ping, one inspect");
        assert!(format!("{docker:?}").contains("Podman"));
        // With a pinned version, by a ping of its own when first needed.
        let (docker, server) = engine_server("Docker/20.10.24 (linux)");
        let pinned = docker.with_api_version("1.41").unwrap();
        assert_eq!(pinned.engine().unwrap(), Engine::Docker);
        assert_eq!(docker.engine().unwrap(), Engine::Docker);
        assert_eq!(server.requests().len(), 1);
        // Asked first, by the negotiation's ping.
        let (docker, server) = engine_server("Libpod/4.3.1 (linux)");
        assert_eq!(docker.engine().unwrap(), Engine::Podman);
        crate::ops::image::inspect(&docker, "app:1").unwrap();
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            ["/_ping", "/v1.41/images/docker.io/library/app:1/json"]
        );
        // Or not at all when the caller says.
        let (docker, server) = engine_server("Docker/20.10.24 (linux)");
        assert_eq!(
            docker.with_engine(Engine::Podman).engine().unwrap(),
            Engine::Podman
        );
        assert!(server.requests().is_empty());
        // An explicit ping tells it too.
        crate::ops::system::ping(&docker).unwrap();
        assert_eq!(docker.engine().unwrap(), Engine::Docker);
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn home_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      broken\n\
                      u:x:1000:1000:U,,,:/home/u:/bin/sh\n";
        assert_eq!(passwd_home(passwd, "0"), Some(PathBuf::from("/root")));
        assert_eq!(passwd_home(passwd, "1000"), Some(PathBuf::from("/home/u")));
        assert_eq!(passwd_home(passwd, "42"), None);
        assert!(dir().ends_with(".docker") || std::env::var_os("DOCKER_CONFIG").is_some());
    }

    #[test]
    fn api_versions() {
        assert_eq!(&*parse_api_version("v1.41").unwrap(), "1.41");
        assert_eq!(&*parse_api_version("1.24").unwrap(), "1.24");
        for bad in ["1", "1.", ".1", "1.4x", "latest", "v1.41.0"] {
            assert!(parse_api_version(bad).is_err(), "{bad}");
        }
        let host = "unix:///var/run/docker.sock";
        assert_eq!(&*negotiate("1.41", host).unwrap(), "1.41");
        assert_eq!(&*negotiate("1.56", host).unwrap(), MAX_API_VERSION);
        assert_eq!(&*negotiate("1.45", host).unwrap(), "1.45");
        assert_eq!(&*negotiate("", host).unwrap(), MAX_API_VERSION);
        assert_eq!(&*negotiate("1.30", host).unwrap(), "1.30");
        let e = negotiate("1.29", host).unwrap_err().to_string();
        assert!(e.contains("1.29") && e.contains(MIN_API_VERSION), "{e}");
        // Numeric, not textual, comparison.
        assert_eq!(&*negotiate("1.100", host).unwrap(), MAX_API_VERSION);
    }

    #[test]
    fn client_is_shareable() {
        fn shareable<T: Send + Sync + Clone + 'static>() {}
        shareable::<EngineClient>();
    }

    #[test]
    fn tls_files_are_used_only_when_present() {
        let dir = std::env::temp_dir();
        assert_eq!(existing(Path::new("")), None);
        assert_eq!(existing(&dir.join("no-such-file-s2i-docker.pem")), None);
        assert_eq!(existing(&dir), Some(dir.clone()));
    }

    fn negotiating_server(offer: &'static str) -> (EngineClient, crate::ops::test_server::Server) {
        crate::ops::test_server::serve_with(false, move |r| {
            if r.path == "/_ping" {
                let header = if offer.is_empty() {
                    String::new()
                } else {
                    format!("Api-Version: {offer}\r\n")
                };
                return (
                    format!("HTTP/1.1 200 OK\r\n{header}Content-Length: 2\r\n\r\nOK").into_bytes(),
                    false,
                );
            }
            if r.path.ends_with("/gone/json") {
                return (
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    false,
                );
            }
            crate::ops::test_server::json("200 OK", "{\"Id\":\"x\"}")
        })
    }

    #[test]
    fn negotiates_once_and_prefixes_paths() {
        for (offer, used) in [
            ("1.43", "1.43"),
            ("1.99", MAX_API_VERSION),
            ("", MAX_API_VERSION),
        ] {
            let (docker, server) = negotiating_server(offer);
            for _ in 0..3 {
                crate::ops::container::inspect(&docker, "abc").unwrap();
            }
            let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
            let want = format!("/v{used}/containers/abc/json");
            assert_eq!(paths, ["/_ping", &want, &want, &want], "offer {offer:?}");
            assert_eq!(docker.api_version().unwrap(), used);
            // A clone shares the negotiated version: no second ping.
            crate::ops::container::inspect(&docker.with_timeout(Duration::from_secs(5)), "abc")
                .unwrap();
            assert_eq!(server.requests().len(), 5);
        }
    }

    #[test]
    fn refuses_old_engines_naming_both_versions() {
        let (docker, server) = negotiating_server("1.25");
        let e = crate::ops::container::inspect(&docker, "abc").unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("1.25") && text.contains("1.30"), "{text}");
        assert_eq!(server.requests().len(), 1, "only the ping went out");
        // A pinned version skips negotiation altogether.
        let pinned = docker.with_api_version("v1.24").unwrap();
        crate::ops::container::inspect(&pinned, "abc").unwrap();
        assert_eq!(server.requests()[1].path, "/v1.24/containers/abc/json");
    }

    #[test]
    fn empty_error_bodies_name_the_route() {
        let (docker, _server) = crate::ops::test_server::serve(|r| {
            assert!(r.path.ends_with("/json"));
            (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                false,
            )
        });
        let e = crate::ops::container::inspect(&docker, "gone").unwrap_err();
        assert!(e.is_not_found());
        let host = docker.host().to_string();
        assert_eq!(
            e.to_string(),
            format!("Error response from daemon: request returned Not Found for API route and version {host}/v1.41/containers/gone/json, check if the server supports the requested API version")
        );
    }

    #[test]
    fn unreachable_engines_fail_to_connect() {
        let config = DockerConfig {
            endpoint: "unix:///nonexistent/s2i-docker/docker.sock".into(),
            ..Default::default()
        };
        let docker = new_engine_api_client(&config).unwrap();
        let e = crate::ops::system::ping(&docker).unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        let e = crate::ops::container::inspect(&docker, "abc").unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    }

    #[test]
    fn json_replies_are_capped() {
        let (docker, _server) = crate::ops::test_server::serve(|_| {
            crate::ops::test_server::json("200 OK", &format!("{{\"Id\":\"{}\"}}", "a".repeat(4096)))
        });
        assert!(crate::ops::container::inspect(&docker, "abc").is_ok());
        let small = docker.with_json_limit(1024);
        assert!(crate::ops::container::inspect(&small, "abc").is_err());
        // The clone's limit does not leak into the original.
        assert!(crate::ops::container::inspect(&docker, "abc").is_ok());
    }
}
