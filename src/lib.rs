//! The Docker work of a source-to-image (S2I) builder, synchronous and dependency-light.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::all)]

use std::time::Duration;

pub mod api;
pub mod auth;
pub mod client;
pub mod docker;
pub mod engine;
pub mod error;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
pub mod ops;
pub mod reference;
pub mod tar;
pub mod transport;
pub mod user;

pub use api::{AuthConfig, CGroupLimits, Config, DockerConfig, Image, PullPolicy};
pub use client::{BodyReader, Client, HijackedResponse, ShutdownHandle, StdinWriter};
pub use error::{ContainerError, Error, ErrorCode, Result, S2iError};

// -- re-exports: engine.rs (engine client, config from the environment)
pub use engine::{get_default_docker_config, new_engine_api_client, EngineClient};
pub use transport::Cancel;

// -- re-exports: docker.rs (the Docker trait and the S2I operations)
pub use docker::{
    check_allowed_user, check_allowed_user_with_assemble_user, get_assemble_user,
    get_builder_image, get_rebuild_image, get_runtime_image, new, pull_image, stream_container_io,
    BuildImageOptions, CommandOverrides, CommitContainerOptions, Docker, DockerClient, OnStartHook,
    PostExecutor, PullProgress, PullResult, RunCancel, RunContainerOptions,
};

// -- re-exports: auth.rs
pub use auth::{get_image_registry_auth, load_image_registry_auth, AuthConfigurations};

/// Environment variable of an image that names its scripts URL (deprecated: use [`SCRIPTS_URL_LABEL`]).
pub const SCRIPTS_URL_ENVIRONMENT: &str = "STI_SCRIPTS_URL";
/// Environment variable of an image that names the sources' destination (deprecated: use [`DESTINATION_LABEL`]).
pub const LOCATION_ENVIRONMENT: &str = "STI_LOCATION";
/// Label of a builder image that says where its S2I scripts are, e.g. `image:///usr/libexec/s2i`.
pub const SCRIPTS_URL_LABEL: &str = "io.openshift.s2i.scripts-url";
/// Label of a builder image that says where the sources are extracted.
pub const DESTINATION_LABEL: &str = "io.openshift.s2i.destination";
/// Label of a builder image that lists the files `assemble` reads in an extended build.
pub const ASSEMBLE_INPUT_FILES_LABEL: &str = "io.openshift.s2i.assemble-input-files";
/// Label of a builder image that names the user running `assemble-runtime`.
pub const ASSEMBLE_RUNTIME_USER_LABEL: &str = "io.openshift.s2i.assemble-runtime-user";
/// Label of a builder image that names the user running `assemble`.
pub const ASSEMBLE_USER_LABEL: &str = "io.openshift.s2i.assemble-user";
/// Deprecated form of [`SCRIPTS_URL_LABEL`], still read.
pub const DEPRECATED_SCRIPTS_URL_LABEL: &str = "io.s2i.scripts-url";
/// Deprecated form of [`DESTINATION_LABEL`], still read.
pub const DEPRECATED_DESTINATION_LABEL: &str = "io.s2i.destination";
/// Where sources are extracted when nothing says otherwise.
pub const DEFAULT_DESTINATION: &str = "/tmp";
/// The tag added to an image name that has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";
/// The inactivity limit of calls to the engine (and of a pull's progress stream).
pub const DEFAULT_DOCKER_TIMEOUT: Duration = Duration::from_secs(120);
/// `/dev/shm` size of S2I containers: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 67_108_864;
/// The pause between pull attempts.
pub const DEFAULT_PULL_RETRY_DELAY: Duration = Duration::from_secs(5);
/// How many times a failed pull is retried (so at most 7 attempts).
pub const DEFAULT_PULL_RETRY_COUNT: u32 = 6;
/// The entrypoint that replaces an image's own so that S2I's command runs as given.
pub const DEFAULT_ENTRYPOINT: &[&str] = &["/usr/bin/env"];
/// Texts of pull errors worth retrying.
pub const RETRIABLE_ERRORS: &[&str] = &[
    "ping attempt failed with error",
    "is already in progress",
    "connection reset by peer",
    "transport closed before response was received",
    "connection refused",
];
