//! The Engine API client: where the engine is, which API version to speak, how long to wait.
//!
//! [`EngineClient`] is cheap to clone and safe to share between threads: clones share one
//! [`Transport`] (and so its pool of kept-alive connections) and the negotiated API version.
//! Each endpoint is a plain function in the [`ops`](mod@crate::ops) modules; `EngineClient` also
//! implements the [`Client`](crate::Client) trait by calling them (that implementation lives in
//! [`client`](mod@crate::client), above `ops`).
//!
//! The same client speaks to Podman's Docker-compatible service: it tells the engines apart by
//! their ping ([`Engine`]) and handles Podman's differences; see [`podman`](mod@crate::ops::podman).
//!
//! This is the core every endpoint sends through: the limits of a call (how long it may wait,
//! how much JSON it may read), `call` and `upgrade`, the API version negotiation and the engine's
//! kind. Uses transport (the connection pool and HTTP/1.1), error, [`env`](crate::ops::env) (where
//! the engine is), the ping (to negotiate) and the image push and tag (offered as methods);
//! nothing above `ops`.
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
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::error::{ConnectFailure, Error, Result};
use crate::ops::env::{existing, get_default_docker_config, or_list, DockerConfig};
use crate::ops::{self, image, system};
use crate::transport::{
    Body, Cancel, Host, Request, Response, Timeouts, TlsSettings, Transport, Upgrade,
};

mod versions;

use versions::{check_api_version, may_refuse_max, negotiate, parse_api_version, raise_to_minimum};

/// The inactivity limit of calls to the engine (and of a pull's progress stream).
pub const DEFAULT_DOCKER_TIMEOUT: Duration = Duration::from_secs(120);

/// The newest API version this client speaks; a newer engine is spoken to in this version.
///
/// The request shapes used here are the same from 1.41 (Docker 20.10, Podman 4) to 1.45, and
/// Docker 29 refuses versions below 1.44, so the client goes up to 1.45.
pub const MAX_API_VERSION: &str = "1.45";

/// The oldest API version this client accepts: `POST /containers/{id}/wait?condition=not-running`
/// needs 1.30. A `DOCKER_API_VERSION` (or [`EngineClient::with_api_version`]) below it is an
/// error, and so is an engine that speaks only older versions.
pub const MIN_API_VERSION: &str = "1.30";

/// What a connection error on a Unix socket that this user may not open adds to the text.
const PERMISSION_HINT: &str = "; add the user to the `docker` group (`sudo usermod -aG docker \
    $USER`, then log in again), or set DOCKER_HOST to a socket the user may open, such as \
    rootless Docker's unix://$XDG_RUNTIME_DIR/docker.sock or Podman's \
    unix://$XDG_RUNTIME_DIR/podman/podman.sock";

/// The default limit of silence in a build's output and a commit's reply (see
/// [`EngineClient::with_build_timeout`]): 30 minutes.
///
/// A build step can run for minutes without printing anything (a compiler, a download), and
/// committing a big container is one long silence before its reply; the client's own timeout
/// ([`DEFAULT_DOCKER_TIMEOUT`]) would cut such builds short. Thirty minutes of silence, on the
/// other hand, means an engine or a connection that stopped answering.
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The limit for establishing a connection (the reference's dial timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The default cap on a JSON reply read into memory.
pub const DEFAULT_JSON_LIMIT: usize = 16 << 20;

/// Connects to the engine described by `config` (the reference's `NewEngineAPIClient`).
///
/// TLS is used when `use_tls` or `tls_verify` is set; the daemon's certificate is verified only
/// with `tls_verify`. Each of the CA, certificate and key files is used only if it exists.
/// `DOCKER_API_VERSION` (e.g. `1.41` or `v1.41`) pins the API version; otherwise it is
/// negotiated with the engine on the first call (see [`EngineClient::api_version`]).
///
/// No connection is made here.
///
/// # Errors
/// [`Error::InvalidInput`] for a configuration whose [`error`](DockerConfig::error) is set (the
/// environment named an engine that cannot be used, e.g. a docker context that does not
/// exist), an endpoint that is not `unix://...` or `tcp://...`, or a `DOCKER_API_VERSION` that
/// is invalid or older than [`MIN_API_VERSION`]; TLS setup errors (unreadable or invalid
/// certificate files, or TLS asked for without the `tls` feature).
pub fn new_engine_api_client(config: &DockerConfig) -> Result<EngineClient> {
    if let Some(why) = &config.error {
        return Err(Error::InvalidInput(why.clone()));
    }
    let tls = (config.use_tls || config.tls_verify).then(|| TlsSettings {
        ca_file: existing(&config.ca_file),
        cert_file: existing(&config.cert_file),
        key_file: existing(&config.key_file),
        verify: config.tls_verify,
    });
    let host = Host::parse(&config.endpoint, tls.is_some())?;
    let transport = Transport::new(host, tls)?;
    let pinned = match std::env::var("DOCKER_API_VERSION") {
        Ok(v) if !v.is_empty() => Some(check_api_version(&v).map_err(|e| {
            Error::InvalidInput(format!(
                "DOCKER_API_VERSION: {e}; unset it to negotiate the version with the engine"
            ))
        })?),
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
        timeout: DEFAULT_DOCKER_TIMEOUT,
        long: LongCalls::default(),
        json_limit: DEFAULT_JSON_LIMIT,
        cancel: None,
    })
}

/// How long a call may wait; the transport turns it into [`Timeouts`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limits {
    /// A short call: the reply head and every pause in the body within the client's timeout.
    Short,
    /// A stream (pull, archive): no total deadline, but no pause longer than the timeout.
    Stream,
    /// A build or a commit: no pause in the reply longer than the build timeout.
    Build,
    /// A wait: the reply within the wait timeout, none by default (it lasts as long as the
    /// container runs).
    Wait,
    /// An upgrade: the `101` within the timeout; the raw stream then gets the attach timeout
    /// (none by default), set by the caller of [`EngineClient::upgrade`].
    Upgrade,
}

/// The limits of the calls that may last long: `None` waits forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LongCalls {
    build: Option<Duration>,
    wait: Option<Duration>,
    attach: Option<Duration>,
}

impl Default for LongCalls {
    fn default() -> LongCalls {
        LongCalls {
            build: Some(DEFAULT_BUILD_TIMEOUT),
            wait: None,
            attach: None,
        }
    }
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
/// speaks to Podman (see [`podman`](mod@crate::ops::podman)).
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
    /// use s2i_docker::ops::engine::Engine;
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
    long: LongCalls,
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
            .field("build_timeout", &self.long.build)
            .field("wait_timeout", &self.long.wait)
            .field("attach_timeout", &self.long.attach)
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
    /// (default [`DEFAULT_DOCKER_TIMEOUT`]).
    ///
    /// Builds and commits have a limit of their own
    /// ([`with_build_timeout`](EngineClient::with_build_timeout)), and so have waits and
    /// attached streams, which have none by default: they last as long as the container runs.
    pub fn with_timeout(&self, timeout: Duration) -> EngineClient {
        EngineClient {
            timeout,
            ..self.clone()
        }
    }

    /// A clone whose builds and commits fail with [`Error::Timeout`] after `limit` without a
    /// byte of their reply (a build's output, a commit's answer); `None` waits forever.
    ///
    /// The default is [`DEFAULT_BUILD_TIMEOUT`], 30 minutes: a build step may legitimately be
    /// silent for minutes, so the client's timeout would be too short. Sending the build
    /// context is bounded the same way.
    pub fn with_build_timeout(&self, limit: Option<Duration>) -> EngineClient {
        let long = LongCalls {
            build: limit,
            ..self.long
        };
        EngineClient {
            long,
            ..self.clone()
        }
    }

    /// A clone whose waits for a container (`POST /containers/{id}/wait`) fail with
    /// [`Error::Timeout`] when the container has not stopped within `limit`.
    ///
    /// The default, `None`, waits as long as the container runs: silence is normal there.
    pub fn with_wait_timeout(&self, limit: Option<Duration>) -> EngineClient {
        let long = LongCalls {
            wait: limit,
            ..self.long
        };
        EngineClient {
            long,
            ..self.clone()
        }
    }

    /// A clone whose attached streams (after the `101` of `POST /containers/{id}/attach`)
    /// fail with a timeout after `limit` without a byte read (or a write stuck as long).
    ///
    /// The default, `None`, has no limit: a container may stay silent as long as it likes. An
    /// attached stream ends early anyway through the cancel of
    /// [`with_cancel`](EngineClient::with_cancel) or the writer's
    /// [`shutdown_handle`](crate::transport::StdinWriter::shutdown_handle).
    pub fn with_attach_timeout(&self, limit: Option<Duration>) -> EngineClient {
        let long = LongCalls {
            attach: limit,
            ..self.long
        };
        EngineClient {
            long,
            ..self.clone()
        }
    }

    /// The limit of silence on an attached stream (see
    /// [`with_attach_timeout`](EngineClient::with_attach_timeout)).
    pub(crate) fn attach_timeout(&self) -> Option<Duration> {
        self.long.attach
    }

    /// A clone that reads JSON replies of at most `limit` bytes (default [`DEFAULT_JSON_LIMIT`]).
    ///
    /// Any value is accepted; `usize::MAX` means no limit.
    pub fn with_json_limit(&self, limit: usize) -> EngineClient {
        EngineClient {
            json_limit: limit,
            ..self.clone()
        }
    }

    /// A clone whose calls are aborted (with [`Error::Cancelled`]) once `cancel` is cancelled.
    ///
    /// The clone shares the connection pool; calls made through other clones are not affected.
    /// A run of [`run_container`](crate::Docker::run_container) through a cancelled client
    /// still kills and removes its container, through [`without_cancel`](Self::without_cancel).
    pub fn with_cancel(&self, cancel: Cancel) -> EngineClient {
        EngineClient {
            cancel: Some(cancel),
            ..self.clone()
        }
    }

    /// A clone whose calls are aborted by `cancel` as well as by the client's own cancel, if
    /// any (see [`with_cancel`](EngineClient::with_cancel)).
    pub fn also_cancelled_by(&self, cancel: &Cancel) -> EngineClient {
        let cancel = match &self.cancel {
            None => cancel.clone(),
            Some(own) => {
                let both = Cancel::new();
                both.follow(own);
                both.follow(cancel);
                both
            }
        };
        self.with_cancel(cancel)
    }

    /// A clone that no cancel aborts (undoes [`with_cancel`](EngineClient::with_cancel)), e.g.
    /// to clean up after a cancelled call.
    pub fn without_cancel(&self) -> EngineClient {
        EngineClient {
            cancel: None,
            ..self.clone()
        }
    }

    /// A clone that speaks API version `version` (`1.41` or `v1.41`) without negotiating.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] when the version is not `<major>.<minor>` or is older than
    /// [`MIN_API_VERSION`].
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

    /// The engine, if known without asking (fixed, or told by an earlier ping).
    pub(crate) fn known_engine(&self) -> Option<Engine> {
        self.engine.or(self.shared.engine.get().copied())
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
    /// The negotiation, once per client (shared by its clones), as the docker CLI's: `GET
    /// /_ping` tells the newest version the engine speaks (`Api-Version`), and the client
    /// speaks the older of that and [`MAX_API_VERSION`] (an engine that does not tell gets
    /// [`MAX_API_VERSION`]). One step more than the CLI: an engine newer than
    /// [`MAX_API_VERSION`] may have dropped it (Docker 29 refuses versions before 1.44 with
    /// `client version 1.41 is too old`), so the client also asks its `/version` for
    /// `MinAPIVersion` and, when that is newer, speaks the engine's oldest version (logging a
    /// warning) rather than one the engine refuses. A version pinned by `DOCKER_API_VERSION` or
    /// [`with_api_version`](EngineClient::with_api_version) is used as it is.
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
        let host = self.host().to_string();
        let mut agreed = negotiate(&server, &host)?;
        if may_refuse_max(&server) {
            if let Some(minimum) = self.minimum_version(&server) {
                agreed = raise_to_minimum(agreed, &minimum, &server, &host);
            }
        }
        Ok(self.shared.negotiated.get_or_init(|| agreed).clone())
    }

    /// The oldest API version the engine accepts (`MinAPIVersion` of `/version`, asked in the
    /// version the engine offers, which it surely speaks); `None` when it does not tell.
    fn minimum_version(&self, server: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Versions {
            #[serde(rename = "MinAPIVersion", default)]
            min_api_version: String,
        }
        let response = self
            .send_raw(Request {
                method: "GET",
                target: format!("/v{server}/version"),
                headers: Vec::new(),
                body: Body::Empty,
                timeouts: self.timeouts(Limits::Short),
            })
            .ok()?;
        let ok = response.status < 400;
        let body = response.read_to_vec(64 << 10).ok()?;
        let versions: Versions = serde_json::from_slice(&body).ok().filter(|_| ok)?;
        Some(versions.min_api_version).filter(|v| !v.is_empty())
    }

    fn timeouts(&self, limits: Limits) -> Timeouts {
        let t = Some(self.timeout);
        let (response, idle) = match limits {
            Limits::Short | Limits::Stream => (t, t),
            Limits::Build => (self.long.build, self.long.build),
            Limits::Wait => (self.long.wait, self.long.wait),
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

    /// A connection error names every socket looked at when none answered, and says how to
    /// get the permission to open a Unix socket.
    fn name_tried(&self, e: Error) -> Error {
        let e = match (e, &self.shared.tried) {
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
        };
        with_permission_hint(e)
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
        let target = self.versioned(endpoint)?;
        self.call_target(method, target, headers, body, limits)
    }

    /// `/v<version><endpoint>` (pushed piece by piece: `format!` costs several times as much
    /// on a path every call takes).
    fn versioned(&self, endpoint: &str) -> Result<String> {
        let version = self.version()?;
        let mut target = String::with_capacity(2 + version.len() + endpoint.len());
        target.push_str("/v");
        target.push_str(&version);
        target.push_str(endpoint);
        Ok(target)
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
            target,
            headers,
            body,
            timeouts: self.timeouts(limits),
        })?;
        // The daemon's own convention (and moby's): below 400 is success, e.g. 304 for a start
        // of a running container.
        if response.status >= 400 {
            let url = self.url(response.target());
            return Err(ops::error_from_response(response, &url));
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
        let target = self.versioned(endpoint)?;
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

/// Adds the usual fixes to a permission error on a Unix socket: the text then reads
/// `permission denied while trying to connect to the docker API at unix:///...; add the user
/// to the docker group ...`.
fn with_permission_hint(e: Error) -> Error {
    match e {
        Error::Connect {
            host,
            failure: ConnectFailure::PermissionDenied,
            source,
        } if host.starts_with("unix://") && !host.ends_with(PERMISSION_HINT) => Error::Connect {
            host: format!("{host}{PERMISSION_HINT}"),
            failure: ConnectFailure::PermissionDenied,
            source,
        },
        e => e,
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
// `transport::connector::Connector` (an in-process engine such as the `fake` feature's
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
            timeout: DEFAULT_DOCKER_TIMEOUT,
            long: LongCalls::default(),
            json_limit: DEFAULT_JSON_LIMIT,
            cancel: None,
        }
    }
}

#[cfg(test)]
mod tests {
    //! The client core against a scripted engine.
    use super::*;
    use crate::fake::testing::http::{json, serve, serve_with, Server};
    use crate::fake::testing::wire::TempDir;

    mod cases;
}
