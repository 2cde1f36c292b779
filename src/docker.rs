//! The S2I operations: the [`Docker`] trait and its real implementation, [`DockerClient`].
//!
//! This is the reference's `pkg/docker` above the Engine endpoints: image metadata with S2I's
//! label and environment fallbacks, pulls with retries and pull policies, user checks, and
//! [`run_container`](Docker::run_container), which creates a container, streams sources into it,
//! streams its output out, waits for it, and removes it on every path.
//!
//! [`DockerClient`] is written against the [`Client`] trait only, so the same code runs over the
//! real engine ([`EngineClient`](crate::ops::engine)) and over the recording fake of the `fake`
//! module.
//!
//! This file holds the trait and [`DockerClient`], whose methods are short; each operation's
//! work is in a file of its own, listed in the [`Docker`] trait's docs. The options are in
//! `options.rs`, the label names and lookups in [`labels`], abandoned containers in [`reap`].
//!
//! This layer uses client, ops, transport, error, config, auth, user, image_ref and archive; never
//! fake, which stands above it.
//!
//! # Logging
//!
//! Messages go through the [`log`] crate with the reference's texts. The reference's `warning: `
//! and `error: ` prefixes are the log level here (`log::warn!`, `log::error!`); its verbosity
//! levels map to `info` (V(0), V(1)) and `debug` (V(2) and above, pull progress included).
//!
//! # Differences from S2I
//!
//! The observable contract of the reference is kept: names, defaults, label and environment
//! fallbacks, command construction, error texts and codes. The behaviours that differ on purpose
//! (the ENTRYPOINT override, pulls of missing images, applied CPU limits, per-attempt pull
//! retries, no signal handling, ...) are listed, with their reasons, in [`differences`].

mod build;
mod commit;
pub mod differences;
pub mod labels;
mod options;
mod pull;
pub mod reap;
mod run;
mod transfer;
mod users;

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::archive::{FileSystem, MakeTarWriter};
use crate::auth::RegistryCredentials;
use crate::client::Client;
use crate::config::{AuthConfig, Image};
use crate::error::{Error, Result};
use crate::image_ref::get_image_name;
use crate::ops::container::{ContainerRemoveOptions, Signal};
use crate::ops::image::{ImageInspect, ImageRemoveOptions};
use crate::ops::stream::JsonMessage;
use crate::ops::system::Version;

pub use build::{BuildEvent, BuildProgress};
pub use options::{
    BuildImageOptions, CommandOverrides, CommitContainerOptions, OnStartHook, PostExecutor,
    RunContainerOptions,
};
pub use pull::{get_builder_image, get_rebuild_image, get_runtime_image, pull_image};
pub use pull::{PullProgress, PullResult};
pub use pull::{DEFAULT_PULL_RETRY_COUNT, DEFAULT_PULL_RETRY_DELAY, RETRIABLE_ERRORS};
pub use reap::remove_abandoned_containers;
pub use run::RunCancel;
pub use run::{DEFAULT_ENTRYPOINT, DEFAULT_SHM_SIZE, REMOVE_WINDOW};
pub use transfer::{stream_container_io, UploadProgress};
pub use users::{check_allowed_user, check_allowed_user_with_assemble_user, get_assemble_user};

use labels::{image_from_inspect, scripts_url_of};

/// The S2I operations on images and containers (the reference's `Docker` interface).
///
/// [`DockerClient`] implements it over an engine; `fake::FakeDocker` (feature `fake`) implements
/// it with canned answers for tests of code that uses it.
///
/// Image names are normalised with a `:latest` tag where the reference does it (see each method).
///
/// # Where each operation is implemented
///
/// For [`DockerClient`], one step from here:
///
/// - `run_container`: `src/docker/run.rs`, whose module docs walk through a run;
/// - `pull_image`, `check_and_pull_image`: `src/docker/pull.rs` (with the free [`pull_image`]
///   and its pull policies);
/// - `get_scripts_url`, `get_assemble_input_files`, `get_assemble_runtime_user`, and the
///   [`Image`] that `check_image` returns: `src/docker/labels.rs` (labels and environment with
///   S2I's fallbacks);
/// - `commit_container`: `src/docker/commit.rs`;
/// - `build_image`: `src/docker/build.rs`;
/// - `upload_to_container`, `upload_to_container_with_tar_writer`, `download_from_container`:
///   `src/docker/transfer.rs`;
/// - the image getters (`get_image_id`, `get_image_user`, `get_labels`, `get_on_build`, ...),
///   `inspect_image`, the removals, `kill_container`, `version`, `check_reachable`:
///   `src/docker.rs` itself, a few lines each;
/// - [`remove_abandoned_containers`] (the containers of killed processes) and the labels that
///   `run_container` puts on its containers ([`reap::creation_labels`]): `src/docker/reap.rs`.
///
/// Beside them: the user checks ([`check_allowed_user`] and its kin) in `src/docker/users.rs`,
/// [`stream_container_io`] in `src/docker/transfer.rs`, the options' types in
/// `src/docker/options.rs`, and the [`differences`] from S2I in `src/docker/differences.rs`.
pub trait Docker: Send + Sync {
    /// Whether the image exists locally (`false` when the daemon says 404).
    ///
    /// # Errors
    /// Any other failure, as an `InspectImageError` (`unable to get metadata for <name>`).
    fn is_image_in_local_registry(&self, name: &str) -> Result<bool>;

    /// Whether the image has `ONBUILD` triggers; `false` when it cannot be inspected.
    fn is_image_on_build(&self, name: &str) -> bool;

    /// The image's `ONBUILD` triggers, e.g. `USER 500`.
    ///
    /// # Errors
    /// An `InspectImageError` when the image cannot be inspected.
    fn get_on_build(&self, name: &str) -> Result<Vec<String>>;

    /// Removes a container and its anonymous volumes (`DELETE /containers/{id}?v=1`).
    ///
    /// # Errors
    /// The daemon's error, unchanged.
    fn remove_container(&self, id: &str) -> Result<()>;

    /// Kills a container with `SIGKILL`.
    ///
    /// # Errors
    /// The daemon's error, unchanged (a container that is not running is a 409).
    fn kill_container(&self, id: &str) -> Result<()>;

    /// Where the image's S2I scripts are: its `io.openshift.s2i.scripts-url` label, else the
    /// deprecated `io.s2i.scripts-url` label, else its `STI_SCRIPTS_URL` variable, else `""`.
    ///
    /// The image is pulled if it is not present.
    ///
    /// # Errors
    /// Those of [`check_and_pull_image`](Docker::check_and_pull_image).
    fn get_scripts_url(&self, image: &str) -> Result<String>;

    /// The image's `io.openshift.s2i.assemble-input-files` label, or `""` (with a warning).
    ///
    /// # Errors
    /// Those of [`check_and_pull_image`](Docker::check_and_pull_image).
    fn get_assemble_input_files(&self, image: &str) -> Result<String>;

    /// The image's `io.openshift.s2i.assemble-runtime-user` label, or `""`.
    ///
    /// # Errors
    /// Those of [`check_and_pull_image`](Docker::check_and_pull_image).
    fn get_assemble_runtime_user(&self, image: &str) -> Result<String>;

    /// Runs a container to completion: see [`RunContainerOptions`] for what is sent and
    /// streamed, and [`DockerClient`]'s implementation for the sequence.
    ///
    /// # Errors
    /// A non-zero exit is [`Error::Container`] with the exit code and the container's state; a
    /// cancelled run is [`Error::Cancelled`]; other errors are the daemon's or the hooks'. A
    /// run that succeeded but whose container could not be removed within [`REMOVE_WINDOW`]
    /// fails with the removal's error, which names the container left behind.
    ///
    /// # Example
    /// `assemble` with the sources on its standard input, against the recording fake client
    /// (a container that exits with code 2):
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::Arc;
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::ops::image::ImageInspect;
    /// use s2i_docker::{AuthConfig, Docker, DockerClient, RunContainerOptions};
    ///
    /// let client = Arc::new(FakeClient::new());
    /// client.add_image("builder:latest", ImageInspect::default());
    /// client.state().wait_container_result = 2;
    /// let docker = DockerClient::new(client.clone(), AuthConfig::default());
    /// let e = docker
    ///     .run_container(RunContainerOptions {
    ///         image: "builder".into(),
    ///         command: "assemble".into(),
    ///         scripts_url: "image:///usr/libexec/s2i".into(),
    ///         stdin: Some(Box::new(&b"a tar of the sources"[..])),
    ///         ..Default::default()
    ///     })
    ///     .unwrap_err();
    /// assert_eq!(e.exit_code(), Some(2));
    ///
    /// // The sources were extracted before the script ran; the container is gone.
    /// let state = client.state();
    /// let cmd = state.created[0].1.config.cmd.clone().unwrap_or_default();
    /// assert_eq!(cmd[2], "tar -C /tmp -xf - && /usr/libexec/s2i/assemble");
    /// assert_eq!(state.attach_stdin, b"a tar of the sources");
    /// assert!(state.containers.is_empty());
    /// # }
    /// ```
    fn run_container(&self, opts: RunContainerOptions) -> Result<()>;

    /// The image's ID, `sha256:...`.
    ///
    /// # Errors
    /// The inspect error, unchanged.
    fn get_image_id(&self, name: &str) -> Result<String>;

    /// The image's working directory, `/` when it sets none.
    ///
    /// # Errors
    /// The inspect error, unchanged.
    fn get_image_workdir(&self, name: &str) -> Result<String>;

    /// Commits a container as a new image and returns the image's ID.
    ///
    /// The reply is awaited for the client's build timeout (see [`Docker::build_image`]).
    ///
    /// # Errors
    /// The daemon's error, unchanged; [`Error::Timeout`] and [`Error::Cancelled`] as above.
    fn commit_container(&self, opts: CommitContainerOptions) -> Result<String>;

    /// Removes an image, keeping its untagged parents (`noprune=1`).
    ///
    /// # Errors
    /// The daemon's error, unchanged.
    fn remove_image(&self, name: &str) -> Result<()>;

    /// The image's metadata; never pulls.
    ///
    /// [`DockerClient`] always answers `Some`; a fake may answer `None`.
    ///
    /// # Errors
    /// An `InspectImageError`, also when the image does not exist.
    fn check_image(&self, name: &str) -> Result<Option<Image>>;

    /// Pulls the image (with retries) even if it is present, then returns its metadata.
    ///
    /// # Errors
    /// A `PullImageError` (`unable to get <name>`) whose cause is the last attempt's error.
    fn pull_image(&self, name: &str) -> Result<Option<Image>>;

    /// The image's metadata, pulling it first if it is not present.
    ///
    /// # Errors
    /// An `InspectImageError` when the image cannot be inspected for another reason than its
    /// absence, or the error of [`pull_image`](Docker::pull_image).
    fn check_and_pull_image(&self, name: &str) -> Result<Option<Image>>;

    /// Builds an image from the tar build context in `opts.stdin`, copying the build's output
    /// to `opts.stdout` as it arrives.
    ///
    /// # Errors
    /// The daemon's error, or [`Error::Stream`] when the build failed (reported anywhere inside
    /// the output stream, also after lines that are not JSON), returned once the whole output
    /// was copied; [`Error::Timeout`] after the client's build timeout without output
    /// ([`EngineClient::with_build_timeout`], 30 minutes by default); [`Error::Cancelled`]
    /// through [`BuildImageOptions::cancel`] or the client's own cancel.
    ///
    /// [`EngineClient::with_build_timeout`]: crate::EngineClient::with_build_timeout
    fn build_image(&self, opts: BuildImageOptions) -> Result<()>;

    /// The image's user as written in it (`user`, `uid`, `user:group`, ...).
    ///
    /// # Errors
    /// An `InspectImageError`.
    fn get_image_user(&self, name: &str) -> Result<String>;

    /// The image's entrypoint (empty when it has none).
    ///
    /// # Errors
    /// The inspect error, unchanged.
    fn get_image_entrypoint(&self, name: &str) -> Result<Vec<String>>;

    /// The image's labels.
    ///
    /// # Errors
    /// An `InspectImageError`.
    fn get_labels(&self, name: &str) -> Result<HashMap<String, String>>;

    /// Copies the host path `src` (a file or a directory tree) to `dest` in the container.
    ///
    /// The tar is produced while it is sent: `src` renamed to `base(dest)`, extracted into
    /// `Dir(dest)`; directories and files with an execute bit become `0777`, other files
    /// `0666`, without setuid, setgid or sticky bits (keep them with
    /// [`upload_to_container_with_tar_writer`](Docker::upload_to_container_with_tar_writer) and
    /// [`ChmodAdapter::keep_special_bits`](crate::archive::ChmodAdapter::keep_special_bits));
    /// `.git` directories are left out (see [`tar`](crate::archive)).
    ///
    /// # Errors
    /// The daemon's error (e.g. 404 when `Dir(dest)` does not exist), or the tar's.
    ///
    /// # Example
    /// A script uploaded as `/opt/app/hello.sh`, against the recording fake client:
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::Arc;
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::archive::LocalFileSystem;
    /// use s2i_docker::{AuthConfig, Docker, DockerClient};
    ///
    /// let src = std::env::temp_dir().join(format!("s2i-doc-upload-{}", std::process::id()));
    /// std::fs::write(&src, "echo hi\n")?;
    /// let client = Arc::new(FakeClient::new());
    /// let docker = DockerClient::new(client.clone(), AuthConfig::default());
    /// let uploaded = docker.upload_to_container(&LocalFileSystem, &src, "/opt/app/hello.sh", "c1");
    /// std::fs::remove_file(&src)?;
    /// uploaded?;
    ///
    /// // One entry, renamed to `hello.sh`, extracted into `/opt/app` of `c1`.
    /// let state = client.state();
    /// assert_eq!(state.copy_to_container_path, "/opt/app");
    /// let mut archive = tar::Archive::new(&state.copy_to_container_content[..]);
    /// let entry = archive.entries()?.next().unwrap()?;
    /// assert_eq!(entry.path()?.to_str(), Some("hello.sh"));
    /// assert_eq!(entry.header().mode()? & 0o777, 0o666);
    /// # }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn upload_to_container(
        &self,
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        container: &str,
    ) -> Result<()>;

    /// Like [`upload_to_container`](Docker::upload_to_container), with the tar written through
    /// the writer `make_tar_writer` makes (e.g. other modes than the default's
    /// [`ChmodAdapter`](crate::archive::ChmodAdapter)).
    ///
    /// # Errors
    /// As [`upload_to_container`](Docker::upload_to_container).
    fn upload_to_container_with_tar_writer(
        &self,
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        container: &str,
        make_tar_writer: &MakeTarWriter,
    ) -> Result<()>;

    /// Copies the archive of `container_path` (a tar whose root entry is the path's base name)
    /// into `w`, as it arrives.
    ///
    /// # Errors
    /// The daemon's error, unchanged, or the error of writing to `w`.
    ///
    /// # Example
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::Arc;
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::{AuthConfig, Docker, DockerClient};
    ///
    /// let client = Arc::new(FakeClient::new());
    /// client.state().copy_from_container_content = b"the archive".to_vec();
    /// let docker = DockerClient::new(client.clone(), AuthConfig::default());
    /// let mut tar = Vec::new();
    /// docker.download_from_container("/tmp/artifacts", &mut tar, "c1")?;
    /// assert_eq!(tar, b"the archive");
    /// assert_eq!(client.state().copy_from_container_path, "/tmp/artifacts");
    /// # }
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    fn download_from_container(
        &self,
        container_path: &str,
        w: &mut dyn Write,
        container: &str,
    ) -> Result<()>;

    /// The engine's version.
    ///
    /// # Errors
    /// The daemon's or the connection's error.
    fn version(&self) -> Result<Version>;

    /// Whether the engine answers.
    ///
    /// # Errors
    /// The error of [`version`](Docker::version).
    fn check_reachable(&self) -> Result<()>;

    /// The raw image inspect (no name normalisation).
    ///
    /// # Errors
    /// The daemon's error, unchanged.
    fn inspect_image(&self, name: &str) -> Result<ImageInspect>;
}

/// The real [`Docker`]: the S2I operations over a [`Client`] (the reference's `stiDocker`).
///
/// Cloning is cheap (the client is shared).
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use std::sync::Arc;
/// use s2i_docker::fake::FakeClient;
/// use s2i_docker::{AuthConfig, Docker, DockerClient};
///
/// let client = Arc::new(FakeClient::new());
/// let docker = DockerClient::new(client.clone(), AuthConfig::default());
/// assert!(!docker.is_image_in_local_registry("busybox")?);
/// assert_eq!(client.calls(), ["inspect_image"]);
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
#[derive(Clone)]
pub struct DockerClient {
    client: Arc<dyn Client>,
    /// Asked for the credentials of each image's registry (see `pull.rs`).
    credentials: Arc<dyn RegistryCredentials>,
    build_progress: Option<BuildProgress>,
    pull_retry_delay: Duration,
    pull_retry_count: u32,
    pull_inactivity_timeout: Duration,
    pull_progress: Option<PullProgress>,
    upload_progress: Option<transfer::UploadProgress>,
    output_grace: Duration,
}

impl fmt::Debug for DockerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerClient")
            .field("credentials", &"<per registry>")
            .field("build_progress", &self.build_progress.is_some())
            .field("pull_retry_delay", &self.pull_retry_delay)
            .field("pull_retry_count", &self.pull_retry_count)
            .field("pull_inactivity_timeout", &self.pull_inactivity_timeout)
            .field("pull_progress", &self.pull_progress.is_some())
            .field("upload_progress", &self.upload_progress.is_some())
            .field("output_grace", &self.output_grace)
            .finish_non_exhaustive()
    }
}

/// Creates the real [`Docker`] over `client`; `auth` is sent with the pulls from its registry
/// (see [`DockerClient::new`]).
///
/// The same as [`DockerClient::new`] (the reference's `New`).
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use std::sync::Arc;
/// use s2i_docker::fake::FakeClient;
/// use s2i_docker::{AuthConfig, Docker};
///
/// let docker = s2i_docker::new(Arc::new(FakeClient::new()), AuthConfig::default());
/// docker.check_reachable()?;
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn new(client: Arc<dyn Client>, auth: AuthConfig) -> DockerClient {
    DockerClient::new(client, auth)
}

impl DockerClient {
    /// The S2I operations over `client`; `auth` is sent with every pull this instance makes
    /// from the registry its `server_address` names, and never to another registry.
    ///
    /// Credentials without a `server_address` name no registry and go with every pull, as in
    /// the reference; those from [`get_image_registry_auth`](crate::get_image_registry_auth)
    /// always name theirs. For credentials for several registries, see
    /// [`with_registry_credentials`](DockerClient::with_registry_credentials).
    ///
    /// Over a real engine, `client` comes from
    /// [`new_engine_api_client`](crate::new_engine_api_client); in tests, from the `fake`
    /// module.
    ///
    /// # Example
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::{AuthConfig, Docker, DockerClient};
    ///
    /// let auth = AuthConfig { username: "builder".into(), password: "s3cret".into(), ..Default::default() };
    /// let client = Arc::new(FakeClient::new());
    /// let docker = DockerClient::new(client.clone(), auth)
    ///     .with_pull_retry_delay(Duration::from_millis(10));
    /// // Nothing to pull in the fake: the pull fails with S2I's text.
    /// let e = docker.check_and_pull_image("quay.io/org/builder").unwrap_err();
    /// assert_eq!(e.to_string(), "unable to get quay.io/org/builder:latest");
    /// assert_eq!(client.calls(), ["inspect_image", "pull", "inspect_image"]);
    /// // The credentials went with the pull, but never show in `Debug`.
    /// assert!(!client.state().pulls[0].1.registry_auth.is_empty());
    /// assert!(!format!("{docker:?}").contains("s3cret"));
    /// # }
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn new(client: Arc<dyn Client>, auth: AuthConfig) -> DockerClient {
        DockerClient {
            client,
            credentials: Arc::new(auth),
            build_progress: None,
            pull_retry_delay: DEFAULT_PULL_RETRY_DELAY,
            pull_retry_count: DEFAULT_PULL_RETRY_COUNT,
            pull_inactivity_timeout: crate::ops::engine::DEFAULT_DOCKER_TIMEOUT,
            pull_progress: None,
            upload_progress: None,
            output_grace: run::DEFAULT_OUTPUT_GRACE,
        }
    }

    /// The pause between two pull attempts (default
    /// [`DEFAULT_PULL_RETRY_DELAY`], 5 s).
    pub fn with_pull_retry_delay(mut self, delay: Duration) -> DockerClient {
        self.pull_retry_delay = delay;
        self
    }

    /// How many times a pull that failed with a retriable error is tried again (default
    /// [`DEFAULT_PULL_RETRY_COUNT`], 6: at most 7 attempts).
    pub fn with_pull_retry_count(mut self, count: u32) -> DockerClient {
        self.pull_retry_count = count;
        self
    }

    /// The longest pause between two progress messages of a pull before the attempt fails
    /// with `pulling image "<name>" timed out after <limit>` (default 2 minutes).
    ///
    /// The limit holds while a read blocks too (the stream is read on a thread of its own, which
    /// drops the stream once the transport's idle timeout ends the read), and it catches a
    /// stream that trickles bytes without completing messages.
    pub fn with_pull_inactivity_timeout(mut self, limit: Duration) -> DockerClient {
        self.pull_inactivity_timeout = limit;
        self
    }

    /// How long [`run_container`](Docker::run_container) lets the output stream of an exited
    /// container stay silent before closing it (default 5 s).
    ///
    /// Docker ends the stream when the container exits; a daemon that keeps it open would
    /// otherwise hang the run. The silence counts only while the run waits for output, not
    /// while the caller's `stdout`/`stderr` writers take their time, so output that is still
    /// coming is never cut short. A grace too long for the clock (e.g. `Duration::MAX`) means
    /// the stream is never closed by the run.
    ///
    /// The grace also bounds how long the run waits for the wait's answer once the output
    /// stream ended: half a second after the end (or the grace, if shorter) it asks the engine
    /// with a container inspect. A container still running lost its attach connection, and
    /// the run fails with an [`Error::Io`] saying so; a container that exited gets the rest of
    /// the grace for its wait to answer, and then the run takes the exit code from the inspect
    /// (a wait's reply can be lost without an error: waits have no time limit by default). A
    /// failed inspect is tried again after another grace. The same check follows a write of
    /// `stdin` that fails with a connection error.
    pub fn with_output_grace(mut self, grace: Duration) -> DockerClient {
        self.output_grace = grace;
        self
    }

    /// Calls `progress` with every progress message of every pull (they are also logged at
    /// `debug` level).
    pub fn with_pull_progress(
        mut self,
        progress: impl Fn(&JsonMessage) + Send + Sync + 'static,
    ) -> DockerClient {
        self.pull_progress = Some(Arc::new(progress));
        self
    }

    /// The client this instance sends its requests through.
    pub fn client(&self) -> &Arc<dyn Client> {
        &self.client
    }

    /// Inspects a normalised name, wrapping errors as `InspectImageError`.
    fn inspect_normalized(&self, name: &str) -> Result<ImageInspect> {
        let name = get_image_name(name);
        self.client
            .image_inspect_with_raw(&name)
            .map(|(inspect, _raw)| inspect)
            .map_err(|e| Error::inspect_image(&name, e))
    }
}

impl Docker for DockerClient {
    fn is_image_in_local_registry(&self, name: &str) -> Result<bool> {
        match self.inspect_normalized(name) {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn is_image_on_build(&self, name: &str) -> bool {
        self.get_on_build(name).is_ok_and(|t| !t.is_empty())
    }

    fn get_on_build(&self, name: &str) -> Result<Vec<String>> {
        let inspect = self.inspect_normalized(name)?;
        Ok(inspect.config.and_then(|c| c.on_build).unwrap_or_default())
    }

    fn remove_container(&self, id: &str) -> Result<()> {
        let opts = ContainerRemoveOptions {
            remove_volumes: true,
            force: false,
        };
        self.client.container_remove(id, &opts)
    }

    fn kill_container(&self, id: &str) -> Result<()> {
        self.client.container_kill(id, Signal::Kill)
    }

    fn get_scripts_url(&self, image: &str) -> Result<String> {
        let img = self.check_and_pull_image(image)?;
        Ok(scripts_url_of(img.as_ref()))
    }

    fn get_assemble_input_files(&self, image: &str) -> Result<String> {
        let img = self.check_and_pull_image(image)?;
        Ok(labels::assemble_input_files_of(image, img.as_ref()))
    }

    fn get_assemble_runtime_user(&self, image: &str) -> Result<String> {
        let img = self.check_and_pull_image(image)?;
        Ok(labels::assemble_runtime_user_of(img.as_ref()))
    }

    fn run_container(&self, opts: RunContainerOptions) -> Result<()> {
        run::run_container(self, opts)
    }

    fn get_image_id(&self, name: &str) -> Result<String> {
        let name = get_image_name(name);
        Ok(self.client.image_inspect_with_raw(&name)?.0.id)
    }

    fn get_image_workdir(&self, name: &str) -> Result<String> {
        let workdir = self
            .inspect_image(name)?
            .config
            .map(|c| c.working_dir)
            .unwrap_or_default();
        Ok(if workdir.is_empty() {
            "/".to_string()
        } else {
            workdir
        })
    }

    fn commit_container(&self, opts: CommitContainerOptions) -> Result<String> {
        commit::commit_container(self, opts)
    }

    fn remove_image(&self, name: &str) -> Result<()> {
        let opts = ImageRemoveOptions {
            force: false,
            no_prune: true,
        };
        self.client.image_remove(name, &opts).map(|_| ())
    }

    fn check_image(&self, name: &str) -> Result<Option<Image>> {
        let inspect = self.inspect_normalized(name)?;
        Ok(Some(image_from_inspect(&inspect)))
    }

    fn pull_image(&self, name: &str) -> Result<Option<Image>> {
        pull::pull_with_retries(self, name).map(Some)
    }

    fn check_and_pull_image(&self, name: &str) -> Result<Option<Image>> {
        let inspect = pull::inspect_or_pull(self, name)?;
        Ok(Some(image_from_inspect(&inspect)))
    }

    fn build_image(&self, opts: BuildImageOptions) -> Result<()> {
        build::build_image(self, opts)
    }

    fn get_image_user(&self, name: &str) -> Result<String> {
        Ok(self
            .inspect_normalized(name)?
            .config
            .map(|c| c.user)
            .unwrap_or_default())
    }

    fn get_image_entrypoint(&self, name: &str) -> Result<Vec<String>> {
        Ok(self
            .inspect_image(name)?
            .config
            .and_then(|c| c.entrypoint)
            .unwrap_or_default())
    }

    fn get_labels(&self, name: &str) -> Result<HashMap<String, String>> {
        Ok(self
            .inspect_normalized(name)?
            .config
            .and_then(|c| c.labels)
            .unwrap_or_default())
    }

    fn upload_to_container(
        &self,
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        container: &str,
    ) -> Result<()> {
        transfer::upload_to_container(self, fs, src, dest, container, None)
    }

    fn upload_to_container_with_tar_writer(
        &self,
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        container: &str,
        make_tar_writer: &MakeTarWriter,
    ) -> Result<()> {
        transfer::upload_to_container(self, fs, src, dest, container, Some(make_tar_writer))
    }

    fn download_from_container(
        &self,
        container_path: &str,
        w: &mut dyn Write,
        container: &str,
    ) -> Result<()> {
        transfer::download_from_container(self, container_path, w, container)
    }

    fn version(&self) -> Result<Version> {
        self.client.server_version()
    }

    fn check_reachable(&self) -> Result<()> {
        self.version().map(|_| ())
    }

    fn inspect_image(&self, name: &str) -> Result<ImageInspect> {
        Ok(self.client.image_inspect_with_raw(name)?.0)
    }
}

#[cfg(test)]
mod tests {
    //! The operations implemented in this file, against the recording fake client.
    use super::*;
    use crate::fake::testing::docker::*;
    use crate::fake::FakeClient;
    use std::sync::Arc;

    mod cases;
}
