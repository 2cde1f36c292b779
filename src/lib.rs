//! The Docker work of a source-to-image (S2I) builder: check and pull builder images, run
//! `assemble` with the sources streamed in as a tar, copy files in and out, commit the result, and
//! check that images run as allowed users — synchronous and dependency-light.
//!
//! This crate re-implements the Go package `pkg/docker` of
//! [openshift/source-to-image](https://github.com/openshift/source-to-image) with the same names
//! (in Rust idiom), defaults, label and environment fallbacks, command construction and error
//! texts, and fixes the reference's known bugs (see [Differences from S2I](docker#differences-from-s2i)).
//!
//! - **Synchronous.** No async runtime: std sockets, plain `Read`/`Write`, and a thread only where
//!   a stream needs one (the attached container's output).
//! - **Dependency-light.** Its own blocking HTTP/1.1 client ([`transport`]) over a Unix socket,
//!   TCP or the system `ssh`, TLS behind the `tls` feature, one small serde mapping per Engine endpoint ([`ops`]).
//! - **Streaming.** Uploads, downloads, build contexts, pull progress and container output stream
//!   at the engine's speed in constant memory; nothing is held whole.
//!
//! # Usage
//!
//! Two layers: [`EngineClient`] implements the low-level [`Client`] trait, one method per Engine
//! endpoint; [`DockerClient`] implements the [`Docker`] trait, the operations the S2I builder
//! calls, over any `Client`.
//!
//! ```
//! # #[cfg(feature = "fake")] {
//! use std::sync::Arc;
//!
//! use s2i_docker::fake::engine::{FakeEngine, FakeImage};
//! use s2i_docker::{AuthConfig, Docker, DockerClient, RunContainerOptions};
//!
//! // Against a real engine: `let client = s2i_docker::EngineClient::from_env()?;`
//! // (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION as the docker CLI).
//! // Here the in-process fake engine stands in for it.
//! let engine = FakeEngine::new()
//!     .image(
//!         "builder:1",
//!         FakeImage::default()
//!             .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
//!             .user("1001"),
//!     )
//!     .container_output(b"---> Installing sources\n", b"")
//!     .serve_in_memory()?;
//! let client = engine.client()?;
//!
//! let docker = DockerClient::new(Arc::new(client), AuthConfig::default());
//! let image = docker.check_and_pull_image("builder:1")?;
//! assert!(image.is_some());
//! assert_eq!(docker.get_scripts_url("builder:1")?, "image:///usr/libexec/s2i");
//!
//! // Runs `/usr/libexec/s2i/assemble` in a container that is removed afterwards.
//! let options = RunContainerOptions {
//!     image: "builder:1".into(),
//!     command: "assemble".into(),
//!     ..Default::default()
//! };
//! docker.run_container(options)?;
//! assert!(engine.containers().is_empty());
//! # }
//! # Ok::<(), s2i_docker::Error>(())
//! ```
//!
//! A whole S2I build against the local engine is `examples/s2i_build.rs`
//! (`cargo run --example s2i_build`).
//!
//! # Architecture
//!
//! The crate reads in layers, top to bottom; each layer uses only the ones below it, and
//! nothing below `lib.rs` reaches up into it (`lib.rs` holds docs and re-exports only):
//!
//! | layer | what it holds | uses |
//! |---|---|---|
//! | [`docker`] | the seed's [`Docker`] trait and [`DockerClient`]: the S2I operations (pulls with retries, `run_container`, transfers, commit, build, user checks) | `client` and everything below, the leaves |
//! | [`client`] | the seed's [`Client`] trait, one method per Engine endpoint, and its implementation for [`EngineClient`] | `ops`, `transport`, `error` |
//! | [`ops`] | the Engine API: the engine client core (limits, calls, upgrades, version negotiation), the engine from the environment ([`ops::env`]), one file per resource, the stdcopy and JSON-lines streams, the Engine's models ([`ops::models`]), Podman's differences ([`ops::podman`]) | `transport`, `error`, `image_ref` |
//! | [`transport`] | bytes and HTTP/1.1: hosts, sockets, the keep-alive pool, heads, chunked bodies, upgrades with half-close, TLS, cancelling | `error` |
//! | [`error`] | the one [`Error`] type | nothing |
//!
//! Beside them stand leaves that the layers use: [`config`] (S2I's configuration types),
//! [`auth`] (registry credentials), [`user`] (uid ranges), [`image_ref`] (image references) and
//! [`archive`] (the upload tar stream). [`fake`] stands at the top: the doubles for users'
//! tests, and `fake::testing`, the one home of the crate's own in-process test servers.
//!
//! # Time limits and cancelling
//!
//! No call waits forever unless the caller says so:
//!
//! | call | limit |
//! |---|---|
//! | short calls (inspect, create, start, remove, ...) and the pauses inside streamed bodies (pull progress, archives) | [`DEFAULT_DOCKER_TIMEOUT`], [`EngineClient::with_timeout`] |
//! | a build's output and a commit's reply | [`DEFAULT_BUILD_TIMEOUT`] of silence, [`EngineClient::with_build_timeout`] |
//! | a wait for a running container, an attached container's output | none by default (a container may run silently for hours); [`EngineClient::with_wait_timeout`], [`EngineClient::with_attach_timeout`] |
//! | a pull's progress stream | [`DockerClient::with_pull_inactivity_timeout`] |
//! | a run's output stream after the container exited | [`DockerClient::with_output_grace`] |
//!
//! Every call can be cancelled from another thread: [`EngineClient::with_cancel`] (all calls of
//! that client), [`RunCancel`] for a run, [`BuildImageOptions::cancel`] for a build. A cancelled
//! run still removes its container, retrying for up to [`REMOVE_WINDOW`].
//!
//! # Errors
//!
//! One [`Error`] type. Callers match on kinds through predicates, never on strings:
//! [`Error::is_not_found`], [`Error::is_conflict`], [`Error::is_unauthorized`],
//! [`Error::is_timeout`], [`Error::is_cancelled`], [`Error::exit_code`] (a container that
//! exited non-zero) and [`Error::code`] (the reference's S2I error codes, with
//! [`Error::suggestion`]). Daemon replies print as the docker CLI prints them
//! (`Error response from daemon: ...`); connection failures say what to fix.
//!
//! # Testing with the fakes
//!
//! With the `fake` feature, [`fake`] offers three doubles: `FakeDocker` (the reference's
//! field-recording fake of [`Docker`]), `FakeClient` (a recording fake [`Client`]) and
//! `FakeEngine` (an in-process daemon speaking real HTTP/1.1, in memory or on a Unix socket,
//! with fault injection and request recording).
//!
//! # Registries and builds
//!
//! Each pull sends the credentials of its image's registry alone: a [`DockerClient`] asks its
//! [`RegistryCredentials`] source (one [`AuthConfig`], a `Vec<AuthConfig>`, an
//! [`AuthConfigurations`] read from a docker config file with its credential helpers, or a
//! closure from registry to credentials; see
//! [`with_registry_credentials`](DockerClient::with_registry_credentials)) for the registry of
//! every image it pulls, for `run_container`, rebuild and runtime images too. Credentials whose
//! `server_address` names another registry are never sent; Docker Hub's names (`docker.io`,
//! `index.docker.io`, `registry-1.docker.io`, `https://index.docker.io/v1/`) are one registry.
//!
//! A build ([`BuildImageOptions`]) takes build arguments, a target stage, labels, `pull` and a
//! network mode, and sends in its `X-Registry-Config` the credentials of every registry the
//! source lists, as `docker build` sends all configured registries, and of the registries its
//! Dockerfile's `FROM` lines (and `COPY --from` images) name, read from the head of the
//! context: a `FROM` a private image pulls with its registry's credentials. Its progress (the context's upload in bytes,
//! each step, its output, the pulls of base images, the built image's ID) goes to the
//! callback of [`DockerClient::with_build_progress`] as [`BuildEvent`]s, as a pull's goes to
//! [`DockerClient::with_pull_progress`].
//!
//! # Containers left by a killed process
//!
//! [`run_container`](Docker::run_container) removes its container on every path it controls;
//! a process that is killed leaves it. Every container the library creates is labelled with
//! its creating process and time ([`CREATED_BY_LABEL`], [`CREATED_AT_LABEL`]), and
//! [`remove_abandoned_containers`] removes those whose creator is gone, or that are older than
//! an age given (see [`docker::reap`]).
//!
//! # Engines
//!
//! Tested against Docker Engine 20.10 (API 1.41) and Podman 4.3's Docker-compatible service;
//! where Podman differs is in [`ops::podman`].
//!
//! **Which engine.** [`EngineClient::from_env`] (through [`get_default_docker_config`]) finds
//! it as the docker CLI does; [`ops::env`] has the details:
//!
//! 1. `DOCKER_HOST`, with `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and `DOCKER_CERT_PATH`;
//! 2. else the docker context that `DOCKER_CONTEXT` names, else the `currentContext` of
//!    `config.json` in `DOCKER_CONFIG` (default `~/.docker`): the host and certificates that
//!    `docker context create` wrote there. `default` means no context. A context that does not
//!    exist is an error naming it and the file looked for, never a fall back to another engine;
//! 3. else `CONTAINER_HOST` (Podman's variable), as it is;
//! 4. else the first of `/var/run/docker.sock`, `$XDG_RUNTIME_DIR/podman/podman.sock` and
//!    `/run/podman/podman.sock` whose socket exists. A socket that exists but refuses is the
//!    engine, and its error says why: "permission denied" comes with the usual fixes (the
//!    `docker` group, a rootless engine's socket).
//!
//! An `ssh://` host, from any of them, is handed to the host parser as it is: a remote engine
//! is reached over `ssh://[user@]host[:port]` as the docker CLI reaches it (the system `ssh`
//! running `docker system dial-stdio` there); what differs from the CLI is in
//! [`transport`](transport#ssh-engines).
//!
//! **Trust roots.** With the `tls` feature, a daemon's certificate is verified against the CA
//! file and the system's roots, found as Go finds them: the bundle in `SSL_CERT_FILE`, else the
//! first that exists of Debian's, Fedora and RHEL's, openSUSE's, OpenELEC's, CentOS 7's and
//! Alpine's, plus every file of the directories in `SSL_CERT_DIR` (else `/etc/ssl/certs` and
//! `/etc/pki/tls/certs`).
//!
//! **API versions.** Negotiated on the first call: the engine's newest, up to
//! [`MAX_API_VERSION`](ops::engine::MAX_API_VERSION). An engine newer than that may have dropped
//! it (Docker 29 refuses clients before 1.44), so it is also asked for its oldest version
//! (`/version`), which the client speaks when it is newer. `DOCKER_API_VERSION` pins a version;
//! one older than [`MIN_API_VERSION`](ops::engine::MIN_API_VERSION) is an error.
//!
//! **Differences from the docker CLI.** It knows neither `CONTAINER_HOST` nor Podman's sockets
//! (steps 3 and 4); it trusts a context's CA alone, where this client adds it to the system's
//! roots (as both do for `DOCKER_CERT_PATH`); it does not ask a newer engine for its oldest
//! version; it has `--context` and `--host` flags, for which there are
//! [`DockerConfig::from_context`] and a [`DockerConfig`] filled by hand.
//!
//! # Features
//!
//! | feature | effect |
//! |---|---|
//! | *(default)* | Unix-socket, plain-TCP and `ssh://` engines. |
//! | `tls` | `tcp://` engines over TLS with client certificates (rustls, ring provider). |
//! | `fake` | the [`fake`] module: `FakeDocker`, `FakeClient`, `FakeEngine`. |
//!
//! # Logging
//!
//! Through the [`log`] facade, with the reference's texts: its `warning: `/`error: ` prefixes
//! are the log level, its verbosity levels map to `info` (V(0), V(1)) and `debug` (V(2) and
//! above); see [`docker`]. Credentials never reach a log line.
//!
//! # Versioning and MSRV
//!
//! The minimum supported Rust version is declared in `Cargo.toml` (`rust-version`); it is not
//! tested in CI, which has one toolchain.
// One call of `libc::recv` (a look at a socket without waiting) in transport/conn.rs; nothing else.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::all)]

pub mod archive;
pub mod auth;
pub mod client;
pub mod config;
pub mod docker;
pub mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod image_ref;
pub mod ops;
pub mod transport;
pub mod user;

pub use auth::RegistryCredentials;
pub use auth::{get_image_registry_auth, load_image_registry_auth, AuthConfigurations};
pub use client::{
    BodyReader, Client, HijackedResponse, ShutdownHandle, Signal, StdinWriter, WaitCondition,
};
pub use config::{AuthConfig, CGroupLimits, Config, ContainerConfig, Image, PullPolicy};
pub use docker::labels::{
    ASSEMBLE_INPUT_FILES_LABEL, ASSEMBLE_RUNTIME_USER_LABEL, ASSEMBLE_USER_LABEL, CREATED_AT_LABEL,
    CREATED_BY_LABEL, DEFAULT_DESTINATION, DEPRECATED_DESTINATION_LABEL,
    DEPRECATED_SCRIPTS_URL_LABEL, DESTINATION_LABEL, LOCATION_ENVIRONMENT, SCRIPTS_URL_ENVIRONMENT,
    SCRIPTS_URL_LABEL,
};
pub use docker::{
    check_allowed_user, check_allowed_user_with_assemble_user, get_assemble_user,
    get_builder_image, get_rebuild_image, get_runtime_image, new, pull_image,
    remove_abandoned_containers, stream_container_io, BuildImageOptions, CommandOverrides,
    CommitContainerOptions, Docker, DockerClient, OnStartHook, PostExecutor, PullProgress,
    PullResult, RunCancel, RunContainerOptions, DEFAULT_ENTRYPOINT, DEFAULT_PULL_RETRY_COUNT,
    DEFAULT_PULL_RETRY_DELAY, DEFAULT_SHM_SIZE, REMOVE_WINDOW, RETRIABLE_ERRORS,
};
pub use docker::{BuildEvent, BuildProgress, UploadProgress};
pub use error::{ContainerError, Error, ErrorCode, Result, S2iError};
pub use image_ref::DEFAULT_TAG;
pub use ops::engine::{
    new_engine_api_client, Engine, EngineClient, DEFAULT_BUILD_TIMEOUT, DEFAULT_DOCKER_TIMEOUT,
};
pub use ops::env::{get_default_docker_config, DockerConfig};
pub use transport::Cancel;

/// The README's example is compiled as a doctest, so it stays in step with the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
