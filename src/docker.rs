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
//! # Logging
//!
//! Messages go through the [`log`] crate with the reference's texts. The reference's `warning: `
//! and `error: ` prefixes are the log level here (`log::warn!`, `log::error!`); its verbosity
//! levels map to `info` (V(0), V(1)) and `debug` (V(2) and above, pull progress included).
//!
//! # Differences from S2I
//!
//! The observable contract of the reference is kept: names, defaults, label and environment
//! fallbacks, command construction, error texts and codes. These behaviours differ on purpose:
//!
//! 1. **The image's ENTRYPOINT is overridden.** When the image has a non-empty `ENTRYPOINT` and
//!    the caller gave none, the container is created with `["/usr/bin/env"]`
//!    ([`DEFAULT_ENTRYPOINT`]) so that `assemble` runs as given
//!    (S2I issue #475). The reference computed this override after the request was built, so it
//!    was never sent. A [`target_image`](RunContainerOptions::target_image) run (the built image
//!    run as is) keeps the image's entrypoint.
//! 2. **`pull_image` pulls a missing image.** With
//!    [`RunContainerOptions::pull_image`] set, the image is checked and pulled if missing before
//!    the run; the reference failed on the missing image before trying to pull.
//! 3. **CPU limits are applied.** `cpu_shares`, `cpu_quota` and `cpu_period` of
//!    [`CGroupLimits`] go to the container's `CpuShares`/`CpuQuota`/`CpuPeriod` and to a build's
//!    `cpushares`/`cpuquota`/`cpuperiod`; the reference dropped them.
//! 4. **A failed container's state is always reported.** The inspect after a non-zero exit
//!    gets its own deadline, so [`ContainerError::output`](crate::ContainerError::output) is
//!    filled in for runs longer than two minutes too.
//! 5. **Streams have an inactivity limit, not a total deadline.** Uploads, downloads and pulls
//!    fail after two minutes without progress (the transport's idle timeout), however long the
//!    whole transfer takes; the reference failed any upload or download longer than two minutes.
//! 6. **Pull retries decide per attempt.** Only an attempt whose error is one of
//!    [`RETRIABLE_ERRORS`] is retried; after the last attempt its error is
//!    returned as a pull error (the reference discarded it and went on as if the pull had
//!    worked); there is no pause after the last attempt, and the pause is configurable
//!    ([`DockerClient::with_pull_retry_delay`]).
//! 7. **In-band errors are never missed.** Both `errorDetail` and the legacy `error` field fail
//!    a pull, and a build whose output stream reports an error returns
//!    [`Error::Stream`] after the whole output was copied to the caller's writer (the
//!    reference reported such builds as successful).
//! 8. **Registry credentials match registries, not strings** (normalised keys, Docker Hub
//!    credentials only for Docker Hub, credential helpers; see [`auth`](crate::auth)).
//! 9. `X-Registry-Auth` is sent as the reference sends it, also for empty credentials (the
//!    daemon ignores them).
//! 10. **The assemble user's group is ignored in user checks**: `1001:0` is checked as `1001`.
//! 11. **`ONBUILD USER` without an argument** is the user `""` (not allowed) instead of a crash.
//! 12. `DOCKER_TLS_VERIFY` and `DOCKER_TLS` are on when non-empty, as in the reference and the
//!     docker CLI (kept on purpose; see [`engine`](crate::ops::engine)).
//! 13. **Output is streamed whenever any stream is attached**: the attach request carries
//!     `stream=1` also when only stdin or stderr is attached.
//! 14. **Uploads keep executables executable**: [`upload_to_container`](Docker::upload_to_container)
//!     gives directories and files with any execute bit `0777`, other files `0666`, and keeps
//!     setuid/setgid/sticky (the reference made every file `0666`).
//! 15. **`.git` is excluded relative to the upload root**, not matched against the full host
//!     path (sources below a host directory named `.git` still upload).
//! 16. **A commit keeps every setting given**: the configuration (`Env`, `Labels`, `User`, ...)
//!     is sent whenever any of its fields is set, not only with a command or entrypoint.
//! 17. **`on_start` is always awaited.** [`RunContainerOptions::on_start`] is joined before
//!     `run_container` returns, also when the container failed; the container's error is
//!     reported first.
//! 18. **`foo:` is `foo:latest`**, not `foo::latest` (see
//!     [`get_image_name`]).
//! 19. **`FakeDocker` behaves like the real thing**: it passes the destination to
//!     [`PostExecutor::post_execute`] and returns its error.
//! 20. **No signal handling.** A library must not take over the process's signals. A run is
//!     cancelled through a [`RunCancel`] handle from any thread (the run stops waiting at once,
//!     the container is killed and removed, and the run returns [`Error::Cancelled`]); the
//!     container is removed on every path, including a panic in a hook, a kill that fails (the
//!     removal is then forced) and a create whose reply was lost (see below).
//!
//! Beyond those:
//!
//! - A container that exits with code 0 without reading all of its `stdin` is a success (with a
//!   warning); the reference returned the broken pipe, which Podman provokes every time.
//! - Commit IDs are `sha256:<hex>` whatever the engine answers (Podman answers the bare hex).
//! - [`run_container`](Docker::run_container) inspects the image once (labels, environment and
//!   entrypoint from one reply) and does not attach when no stream is given.
//! - The create request is logged (at `debug`) with the names of its environment variables
//!   only; the reference logged their values, hiding only passwords in proxy URLs.
//! - A create whose reply is lost (the connection cut, a reply that does not parse or comes
//!   too late) may still have created the container: it is removed by the name the run asked
//!   for. After a timeout the run keeps looking for it for three times the create's time
//!   limit, since the daemon may carry the create out later. A daemon's error reply created
//!   nothing (a 409 names *another* container) and removes nothing.
//! - The container is waited for while its streams are copied, not after. When it has exited
//!   and its output stream stays open and silent for a grace period
//!   ([`DockerClient::with_output_grace`], 5 s), the run closes the stream instead of hanging
//!   (S2I issues #934, #1062). The silence counts only while the run waits for output, so
//!   output still coming, or still being written to the caller's writers, is never cut.
//! - When the caller's `stdin` or an output writer fails, the run shuts the attach connection
//!   down itself and does not depend on the kill to end the streams.

mod io;
pub mod labels;
mod pull;
mod run;
mod users;

pub use pull::{DEFAULT_PULL_RETRY_COUNT, DEFAULT_PULL_RETRY_DELAY, RETRIABLE_ERRORS};
pub use run::{DEFAULT_ENTRYPOINT, DEFAULT_SHM_SIZE};

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::archive::{FileSystem, MakeTarWriter};
use crate::client::Client;
use crate::config::{AuthConfig, CGroupLimits, ContainerConfig, Image};
use crate::error::{Error, Result};
use crate::image_ref::get_image_name;
use crate::ops::container::Signal;
use crate::ops::container::{ContainerRemoveOptions, IdResponse};
use crate::ops::image::{ImageInspect, ImageRemoveOptions};
use crate::ops::stream::JsonMessage;
use crate::ops::system::Version;

pub use io::stream_container_io;
pub use pull::{get_builder_image, get_rebuild_image, get_runtime_image, pull_image};
pub use run::RunCancel;
pub use users::{check_allowed_user, check_allowed_user_with_assemble_user, get_assemble_user};

/// The S2I operations on images and containers (the reference's `Docker` interface).
///
/// [`DockerClient`] implements it over an engine; `fake::FakeDocker` (feature `fake`) implements
/// it with canned answers for tests of code that uses it.
///
/// Image names are normalised with a `:latest` tag where the reference does it (see each method).
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
    /// cancelled run is [`Error::Cancelled`]; other errors are the daemon's or the hooks'.
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
    /// # Errors
    /// The daemon's error, unchanged.
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
    /// The daemon's error, or [`Error::Stream`] when the build failed (reported inside the
    /// output stream).
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
    /// `0666`; `.git` directories are left out (see [`tar`](crate::archive)).
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

/// Called after a container exited with code 0 (the reference's `PostExecutor`).
///
/// `destination` is where the sources were extracted in the container (`""` when the command
/// was given explicitly). Any `Fn(&str, &str) -> Result<()>` is a `PostExecutor`.
pub trait PostExecutor {
    /// Runs after the container `container_id` exited with code 0, before it is removed.
    ///
    /// # Errors
    /// Whatever the hook reports; `run_container` returns it.
    fn post_execute(&self, container_id: &str, destination: &str) -> Result<()>;
}

impl<F> PostExecutor for F
where
    F: Fn(&str, &str) -> Result<()>,
{
    fn post_execute(&self, container_id: &str, destination: &str) -> Result<()> {
        self(container_id, destination)
    }
}

/// What [`pull_image`] found: the image and whether it has `ONBUILD` triggers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullResult {
    /// The image has `ONBUILD` triggers.
    pub on_build: bool,
    /// The image's metadata (`None` only from a fake).
    pub image: Option<Image>,
}

/// The hook run right after the container started, with the container's ID.
pub type OnStartHook = Box<dyn FnOnce(&str) -> Result<()> + Send>;

/// Rewrites the `/bin/sh -c` command line of a run (see
/// [`RunContainerOptions::command_overrides`]).
pub type CommandOverrides = Box<dyn Fn(&str) -> String + Send>;

/// Options of [`Docker::run_container`] (the reference's `RunContainerOptions`).
///
/// Every stream given here is dropped (closed) before `run_container` returns, on every path:
/// `stdout` and `stderr` as soon as the container's output ends, so readers of a pipe behind
/// them see the end of the output.
///
/// # Example
/// ```
/// use s2i_docker::RunContainerOptions;
///
/// let opts = RunContainerOptions {
///     image: "registry.example.com/builder:1".into(),
///     command: "assemble".into(),
///     env: vec!["APP=demo".into()],
///     stdin: Some(Box::new(std::io::empty())),
///     stdout: Some(Box::new(std::io::sink())),
///     ..Default::default()
/// };
/// # drop(opts);
/// ```
#[derive(Default)]
pub struct RunContainerOptions {
    /// The image to run; `:latest` is added when it has neither tag nor digest.
    pub image: String,
    /// Check the image and pull it if missing before the run.
    pub pull_image: bool,
    /// Not used: pulls use the credentials given to [`DockerClient::new`] (as in the reference).
    pub pull_auth: AuthConfig,
    /// The scripts are inside the uploaded tar, under `<destination>/scripts`.
    pub external_scripts: bool,
    /// Where the scripts are (`image:///path` or a path); overrides the image's label.
    pub scripts_url: String,
    /// Where the sources are extracted; overrides the image's label and environment.
    pub destination: String,
    /// The container's environment, `NAME=value`.
    pub env: Vec<String>,
    /// Extra `/etc/hosts` lines, `host:ip` (`HostConfig.ExtraHosts`).
    pub add_host: Vec<String>,
    /// The container's entrypoint; empty keeps the image's, or overrides a non-empty one with
    /// `/usr/bin/env` (see the module's "Differences from S2I").
    pub entrypoint: Vec<String>,
    /// Streamed into the container's standard input (a tar of the sources for `assemble`),
    /// then the input is closed.
    ///
    /// A container that exits with code 0 without reading all of it is a success (logged as
    /// a warning); one that exits otherwise is a container error, whatever happened to its
    /// input.
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Receives the container's standard output as it is produced.
    pub stdout: Option<Box<dyn Write + Send>>,
    /// Receives the container's standard error as it is produced.
    pub stderr: Option<Box<dyn Write + Send>>,
    /// Runs on its own thread right after the container started, with the container's ID;
    /// always awaited before `run_container` returns. Its error is returned when the container
    /// itself succeeded; a panic in it becomes an error.
    pub on_start: Option<OnStartHook>,
    /// Runs after the container exited with code 0, before it is removed.
    pub post_exec: Option<Box<dyn PostExecutor + Send>>,
    /// Run the built image as it is: no command override, the image's entrypoint, all exposed
    /// ports published, and their bindings logged.
    pub target_image: bool,
    /// `HostConfig.NetworkMode`: `host`, `bridge`, `container:<id>`, ...; empty for the
    /// daemon's default.
    pub network_mode: String,
    /// The user that runs the command.
    pub user: String,
    /// Memory and CPU limits.
    pub cgroup_limits: Option<CGroupLimits>,
    /// Capabilities to drop, e.g. `KILL` or `CAP_KILL`.
    pub cap_drop: Vec<String>,
    /// Bind mounts, `host:container[:options]`.
    pub binds: Vec<String>,
    /// Security options, e.g. `no-new-privileges` (`HostConfig.SecurityOpt`).
    pub security_opt: Vec<String>,
    /// The S2I script to run, e.g. `assemble`.
    pub command: String,
    /// Rewrites the `/bin/sh -c` command line built for `assemble`/`usage` with a stdin.
    pub command_overrides: Option<CommandOverrides>,
    /// The container's command, used verbatim when non-empty.
    pub command_explicit: Vec<String>,
    /// Cancels the run from another thread.
    pub cancel: Option<RunCancel>,
}

impl fmt::Debug for RunContainerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn given<T: ?Sized>(o: &Option<Box<T>>) -> &'static str {
            if o.is_some() {
                "Some(..)"
            } else {
                "None"
            }
        }
        f.debug_struct("RunContainerOptions")
            .field("image", &self.image)
            .field("pull_image", &self.pull_image)
            .field("pull_auth", &self.pull_auth)
            .field("external_scripts", &self.external_scripts)
            .field("scripts_url", &self.scripts_url)
            .field("destination", &self.destination)
            .field("env", &self.env.len())
            .field("add_host", &self.add_host)
            .field("entrypoint", &self.entrypoint)
            .field("stdin", &given(&self.stdin))
            .field("stdout", &given(&self.stdout))
            .field("stderr", &given(&self.stderr))
            .field("on_start", &given(&self.on_start))
            .field("post_exec", &given(&self.post_exec))
            .field("target_image", &self.target_image)
            .field("network_mode", &self.network_mode)
            .field("user", &self.user)
            .field("cgroup_limits", &self.cgroup_limits)
            .field("cap_drop", &self.cap_drop)
            .field("binds", &self.binds)
            .field("security_opt", &self.security_opt)
            .field("command", &self.command)
            .field("command_overrides", &given(&self.command_overrides))
            .field("command_explicit", &self.command_explicit)
            .field("cancel", &self.cancel)
            .finish()
    }
}

/// Options of [`Docker::commit_container`] (the reference's `CommitContainerOptions`).
///
/// The new image's configuration is sent whenever any of `command`, `entrypoint`, `env`,
/// `labels` or `user` is set; the engine merges it with the container's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitContainerOptions {
    /// The container to commit.
    pub container_id: String,
    /// The new image's name, `repo[:tag]` (`:latest` when no tag).
    pub repository: String,
    /// The image's user.
    pub user: String,
    /// The image's `Cmd`.
    pub command: Vec<String>,
    /// The image's environment, `NAME=value`.
    pub env: Vec<String>,
    /// The image's entrypoint.
    pub entrypoint: Vec<String>,
    /// The image's labels.
    pub labels: HashMap<String, String>,
}

/// Options of [`Docker::build_image`] (the reference's `BuildImageOptions`).
#[derive(Default)]
pub struct BuildImageOptions {
    /// The new image's tag.
    pub name: String,
    /// The build context: a tar with a `Dockerfile`, streamed to the engine.
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Receives the build's output (JSON lines) as it arrives; dropped when the build ends.
    pub stdout: Option<Box<dyn Write + Send>>,
    /// Memory and CPU limits of the build's containers.
    pub cgroup_limits: Option<CGroupLimits>,
}

impl fmt::Debug for BuildImageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildImageOptions")
            .field("name", &self.name)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("cgroup_limits", &self.cgroup_limits)
            .finish()
    }
}

/// A callback that receives every progress message of a pull.
pub type PullProgress = Arc<dyn Fn(&JsonMessage) + Send + Sync>;

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
    auth: AuthConfig,
    pull_retry_delay: Duration,
    pull_retry_count: u32,
    pull_inactivity_timeout: Duration,
    pull_progress: Option<PullProgress>,
    output_grace: Duration,
}

impl fmt::Debug for DockerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerClient")
            .field("auth", &self.auth)
            .field("pull_retry_delay", &self.pull_retry_delay)
            .field("pull_retry_count", &self.pull_retry_count)
            .field("pull_inactivity_timeout", &self.pull_inactivity_timeout)
            .field("pull_progress", &self.pull_progress.is_some())
            .field("output_grace", &self.output_grace)
            .finish_non_exhaustive()
    }
}

/// Creates the real [`Docker`] over `client`; `auth` is used for every pull it makes.
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
    /// The S2I operations over `client`; `auth` is sent with every pull this instance makes.
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
            auth,
            pull_retry_delay: crate::docker::pull::DEFAULT_PULL_RETRY_DELAY,
            pull_retry_count: crate::docker::pull::DEFAULT_PULL_RETRY_COUNT,
            pull_inactivity_timeout: crate::ops::engine::DEFAULT_DOCKER_TIMEOUT,
            pull_progress: None,
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
    /// coming is never cut short.
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

/// The reference's `updateImageWithInspect`: ID, labels and env of an inspected image.
pub(crate) fn image_from_inspect(inspect: &ImageInspect) -> Image {
    let config = inspect.config.as_ref().map(|c| ContainerConfig {
        labels: c.labels.clone().unwrap_or_default(),
        env: c.env.clone().unwrap_or_default(),
    });
    Image {
        id: inspect.id.clone(),
        container_config: config.clone(),
        config,
    }
}

/// A label of the image's `Config`; an empty value counts as absent.
fn label<'a>(image: Option<&'a Image>, key: &str) -> Option<&'a str> {
    image
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.get(key))
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The reference's `getVariable`: the first `NAME=` entry of the image's env, trimmed.
fn variable(image: Option<&Image>, name: &str) -> Option<String> {
    let env = &image?.config.as_ref()?.env;
    let value = env
        .iter()
        .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))?;
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// The reference's lookup of an S2I setting: the label, else the deprecated label, else the
/// deprecated environment variable, each with the reference's warning when it is used.
fn label_or_deprecated(
    image: Option<&Image>,
    label_key: &str,
    deprecated_label: &str,
    deprecated_env: &str,
) -> Option<String> {
    if let Some(v) = label(image, label_key) {
        return Some(v.to_string());
    }
    let id = image.map_or("", |i| i.id.as_str());
    if let Some(v) = label(image, deprecated_label) {
        log::warn!(
            "Image {id} uses deprecated label '{deprecated_label}', please migrate it to {label_key} instead!"
        );
        return Some(v.to_string());
    }
    let v = variable(image, deprecated_env)?;
    log::warn!(
        "Image {id} uses deprecated environment variable {deprecated_env}, please migrate it to {label_key} label instead!"
    );
    Some(v)
}

/// The reference's `getScriptsURL`: label, deprecated label, deprecated env, or `""`.
pub(crate) fn scripts_url_of(image: Option<&Image>) -> String {
    let Some(img) = image else {
        return String::new();
    };
    label_or_deprecated(
        image,
        crate::docker::labels::SCRIPTS_URL_LABEL,
        crate::docker::labels::DEPRECATED_SCRIPTS_URL_LABEL,
        crate::docker::labels::SCRIPTS_URL_ENVIRONMENT,
    )
    .unwrap_or_else(|| {
        log::warn!(
            "Image {} does not contain a value for the {} label",
            img.id,
            crate::docker::labels::SCRIPTS_URL_LABEL
        );
        String::new()
    })
}

/// The reference's `getDestination`: label, deprecated label, deprecated env, or `/tmp`.
pub(crate) fn destination_of(image: Option<&Image>) -> String {
    label_or_deprecated(
        image,
        crate::docker::labels::DESTINATION_LABEL,
        crate::docker::labels::DEPRECATED_DESTINATION_LABEL,
        crate::docker::labels::LOCATION_ENVIRONMENT,
    )
    .unwrap_or_else(|| crate::docker::labels::DEFAULT_DESTINATION.to_string())
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
        match label(
            img.as_ref(),
            crate::docker::labels::ASSEMBLE_INPUT_FILES_LABEL,
        ) {
            Some(v) => Ok(v.to_string()),
            None => {
                log::warn!(
                    "Image \"{image}\" does not contain a value for the {} label",
                    crate::docker::labels::ASSEMBLE_INPUT_FILES_LABEL
                );
                Ok(String::new())
            }
        }
    }

    fn get_assemble_runtime_user(&self, image: &str) -> Result<String> {
        let img = self.check_and_pull_image(image)?;
        Ok(label(
            img.as_ref(),
            crate::docker::labels::ASSEMBLE_RUNTIME_USER_LABEL,
        )
        .unwrap_or_default()
        .to_string())
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
        let any_set = !opts.command.is_empty()
            || !opts.entrypoint.is_empty()
            || !opts.env.is_empty()
            || !opts.labels.is_empty()
            || !opts.user.is_empty();
        let config = any_set.then(|| {
            let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
            crate::ops::container::ContainerConfig {
                cmd: some(opts.command),
                entrypoint: some(opts.entrypoint),
                env: some(opts.env),
                labels: (!opts.labels.is_empty()).then_some(opts.labels),
                user: opts.user,
                ..Default::default()
            }
        });
        let options = crate::ops::container::ContainerCommitOptions {
            reference: opts.repository,
            config,
            ..Default::default()
        };
        let IdResponse { id } = self.client.container_commit(&opts.container_id, &options)?;
        // Podman answers the bare hex digest; Docker (and every inspect) says `sha256:<hex>`.
        if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(format!("sha256:{id}"));
        }
        Ok(id)
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
        io::build_image(self, opts)
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
        io::upload_to_container(self, fs, src, dest, container, &|w| {
            crate::archive::default_upload_tar_writer(w)
        })
    }

    fn upload_to_container_with_tar_writer(
        &self,
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        container: &str,
        make_tar_writer: &MakeTarWriter,
    ) -> Result<()> {
        io::upload_to_container(self, fs, src, dest, container, make_tar_writer)
    }

    fn download_from_container(
        &self,
        container_path: &str,
        w: &mut dyn Write,
        container: &str,
    ) -> Result<()> {
        io::download_from_container(self, container_path, w, container)
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
    use std::sync::Arc;

    use super::*;
    use crate::fake::testing::docker::*;
    use crate::fake::FakeClient;

    #[test]
    fn local_registry_and_name_normalisation() {
        let (fake, d) = setup();
        assert!(d.is_image_in_local_registry("builder").unwrap());
        assert!(!d.is_image_in_local_registry("missing").unwrap());
        fake.state().inspect_image_err = Some(Error::api(500, "boom"));
        let e = d.is_image_in_local_registry("builder").unwrap_err();
        assert_eq!(e.to_string(), "unable to get metadata for builder:latest");
        assert_eq!(e.code(), Some(crate::ErrorCode::InspectImage));
        assert_eq!(
            fake.calls(),
            ["inspect_image", "inspect_image", "inspect_image"]
        );
    }

    #[test]
    fn metadata_getters() {
        let (fake, d) = setup();
        let mut img = image("sha256:x", &[("a", "b")], &[]);
        if let Some(c) = img.config.as_mut() {
            c.user = "1001:0".into();
            c.entrypoint = Some(vec!["/entry".into()]);
            c.on_build = Some(vec!["USER 500".into()]);
        }
        fake.add_image("x:latest", img.clone());
        fake.add_image("raw", img);
        assert_eq!(d.get_image_user("x").unwrap(), "1001:0");
        assert_eq!(d.get_image_id("x").unwrap(), "sha256:x");
        assert_eq!(d.get_labels("x").unwrap()["a"], "b");
        assert_eq!(d.get_on_build("x").unwrap(), ["USER 500"]);
        assert!(d.is_image_on_build("x"));
        assert!(!d.is_image_on_build("builder"));
        assert!(!d.is_image_on_build("missing"));
        // These do not normalise: the name is inspected as given.
        assert_eq!(d.get_image_entrypoint("raw").unwrap(), ["/entry"]);
        assert_eq!(d.get_image_workdir("raw").unwrap(), "/");
        assert!(d.get_image_entrypoint("x").unwrap_err().is_not_found());
        assert_eq!(d.inspect_image("raw").unwrap().id, "sha256:x");
        // Errors: wrapped for user/labels/on-build, raw for the id.
        let e = d.get_labels("missing").unwrap_err();
        assert_eq!(e.to_string(), "unable to get metadata for missing:latest");
        let e = d.get_image_id("missing").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such image: missing:latest"
        );
        assert!(fake.calls().iter().all(|c| c == "inspect_image"));
    }

    #[test]
    fn check_image_maps_the_inspect() {
        let (fake, d) = setup();
        fake.add_image(
            "e:latest",
            image("sha256:e", &[("l", "v")], &["A=1", "B= 2 "]),
        );
        let img = d.check_image("e").unwrap().unwrap();
        assert_eq!(img.id, "sha256:e");
        assert_eq!(img.config, img.container_config);
        let c = img.config.unwrap();
        assert_eq!(c.labels["l"], "v");
        assert_eq!(c.env, ["A=1", "B= 2 "]);
        let e = d.check_image("nope").unwrap_err();
        assert_eq!(e.to_string(), "unable to get metadata for nope:latest");
        assert!(e.is_not_found());
        // No config at all is empty metadata, not a crash.
        fake.add_image("bare:latest", ImageInspect::default());
        assert_eq!(d.get_scripts_url("bare").unwrap(), "");
        assert!(d.get_labels("bare").unwrap().is_empty());
    }

    #[test]
    fn scripts_url_fallbacks_and_warnings() {
        let (fake, d) = setup();
        fake.add_image(
            "new:latest",
            image("id-new", &[(SCRIPTS_URL, "image:///new")], &[]),
        );
        fake.add_image(
            "old:latest",
            image("id-old", &[("io.s2i.scripts-url", "image:///old")], &[]),
        );
        fake.add_image(
            "env:latest",
            image("id-env", &[], &["X=1", "STI_SCRIPTS_URL= image:///env "]),
        );
        fake.add_image("none:latest", image("id-none", &[(SCRIPTS_URL, "")], &[]));
        let (url, logs) = logs_of(|| d.get_scripts_url("new").unwrap());
        assert_eq!(url, "image:///new");
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        let (url, logs) = logs_of(|| d.get_scripts_url("old").unwrap());
        assert_eq!(url, "image:///old");
        assert_logged(&logs, log::Level::Warn, "Image id-old uses deprecated label 'io.s2i.scripts-url', please migrate it to io.openshift.s2i.scripts-url instead!");
        let (url, logs) = logs_of(|| d.get_scripts_url("env").unwrap());
        assert_eq!(url, "image:///env");
        assert_logged(&logs, log::Level::Warn, "Image id-env uses deprecated environment variable STI_SCRIPTS_URL, please migrate it to io.openshift.s2i.scripts-url label instead!");
        let (url, logs) = logs_of(|| d.get_scripts_url("none").unwrap());
        assert_eq!(url, "");
        assert_logged(
            &logs,
            log::Level::Warn,
            "Image id-none does not contain a value for the io.openshift.s2i.scripts-url label",
        );
    }

    const SCRIPTS_URL: &str = crate::docker::labels::SCRIPTS_URL_LABEL;

    #[test]
    fn scripts_url_pulls_a_missing_image() {
        let (fake, d) = setup();
        fake.state().registry.insert(
            "remote:latest".into(),
            image("sha256:r", &[(SCRIPTS_URL, "image:///r")], &[]),
        );
        assert_eq!(d.get_scripts_url("remote").unwrap(), "image:///r");
        assert_eq!(fake.calls(), ["inspect_image", "pull", "inspect_image"]);
        assert_eq!(fake.state().pulls[0].0, "remote:latest");
        // Present now: no second pull.
        assert_eq!(d.get_scripts_url("remote").unwrap(), "image:///r");
        assert_eq!(fake.calls().len(), 4);
    }

    #[test]
    fn assemble_labels() {
        let (fake, d) = setup();
        fake.add_image(
            "a:latest",
            image(
                "id",
                &[
                    (
                        crate::docker::labels::ASSEMBLE_INPUT_FILES_LABEL,
                        "/opt/app",
                    ),
                    (crate::docker::labels::ASSEMBLE_RUNTIME_USER_LABEL, "1002"),
                ],
                &[],
            ),
        );
        assert_eq!(d.get_assemble_input_files("a").unwrap(), "/opt/app");
        assert_eq!(d.get_assemble_runtime_user("a").unwrap(), "1002");
        let (files, logs) = logs_of(|| d.get_assemble_input_files("builder").unwrap());
        assert_eq!(files, "");
        assert_logged(&logs, log::Level::Warn, "Image \"builder\" does not contain a value for the io.openshift.s2i.assemble-input-files label");
        assert_eq!(d.get_assemble_runtime_user("builder").unwrap(), "");
        assert!(d.get_assemble_runtime_user("gone").is_err());
    }

    #[test]
    fn commit_sends_the_config_when_anything_is_set() {
        let (fake, d) = setup();
        fake.state().container_commit_response.id = "sha256:new".into();
        // Decision 16: env alone is enough for a config.
        let id = d
            .commit_container(CommitContainerOptions {
                container_id: "c1".into(),
                repository: "app:1".into(),
                env: vec!["A=1".into()],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(id, "sha256:new");
        let sent = fake.state().container_commit_options.clone().unwrap();
        assert_eq!(fake.state().container_commit_id, "c1");
        assert_eq!(sent.reference, "app:1");
        let config = sent.config.unwrap();
        assert_eq!(config.env, Some(vec!["A=1".to_string()]));
        assert_eq!(config.cmd, None);
        // Everything.
        let labels: HashMap<_, _> = [("k".to_string(), "v".to_string())].into();
        d.commit_container(CommitContainerOptions {
            container_id: "c1".into(),
            repository: "app".into(),
            user: "1001".into(),
            command: vec!["/run".into()],
            entrypoint: vec!["/usr/bin/env".into()],
            env: vec![],
            labels: labels.clone(),
        })
        .unwrap();
        let config = fake
            .state()
            .container_commit_options
            .clone()
            .unwrap()
            .config
            .unwrap();
        assert_eq!(config.cmd, Some(vec!["/run".to_string()]));
        assert_eq!(config.entrypoint, Some(vec!["/usr/bin/env".to_string()]));
        assert_eq!(config.labels, Some(labels));
        assert_eq!(config.user, "1001");
        assert_eq!(config.env, None);
        // Nothing: no body.
        d.commit_container(CommitContainerOptions {
            container_id: "c1".into(),
            ..Default::default()
        })
        .unwrap();
        let sent = fake.state().container_commit_options.clone().unwrap();
        assert_eq!(sent.config, None);
        // Podman's bare IDs get the digest algorithm Docker's have.
        let bare = "ab".repeat(32);
        fake.state().container_commit_response.id = bare.clone();
        let id = d
            .commit_container(CommitContainerOptions::default())
            .unwrap();
        assert_eq!(id, format!("sha256:{bare}"));
        // The daemon's error comes back as it is.
        fake.state().container_commit_err = Some(Error::api(409, "conflict"));
        let e = d
            .commit_container(CommitContainerOptions::default())
            .unwrap_err();
        assert!(e.is_conflict());
        assert_eq!(e.to_string(), "Error response from daemon: conflict");
    }

    #[test]
    fn removals_versions_and_reachability() {
        let (fake, d) = setup();
        d.remove_image("builder:latest").unwrap();
        assert_eq!(fake.state().removed_images, ["builder:latest"]);
        assert!(d.remove_image("builder:latest").unwrap_err().is_not_found());
        assert!(d.remove_container("nope").unwrap_err().is_not_found());
        d.kill_container("any").unwrap();
        fake.state().version.version = "20.10.24".into();
        assert_eq!(d.version().unwrap().version, "20.10.24");
        d.check_reachable().unwrap();
        fake.state().version_err = Some(Error::other("Cannot connect"));
        assert!(d.check_reachable().is_err());
        assert_eq!(
            fake.calls(),
            [
                "remove_image",
                "remove_image",
                "remove",
                "kill",
                "version",
                "version",
                "version"
            ]
        );
    }

    #[test]
    fn download_copies_the_archive() {
        let (fake, d) = setup();
        fake.state().copy_from_container_content = b"tar bytes".to_vec();
        let mut out = Vec::new();
        d.download_from_container("/tmp/artifacts", &mut out, "c1")
            .unwrap();
        assert_eq!(out, b"tar bytes");
        assert_eq!(fake.state().copy_from_container_path, "/tmp/artifacts");
        assert_eq!(fake.state().copy_from_container_id, "c1");
        fake.state().copy_from_container_err = Some(Error::api(404, "Could not find the file"));
        let e = d
            .download_from_container("/nope", &mut out, "c1")
            .unwrap_err();
        assert!(e.is_not_found());
    }

    #[test]
    fn new_is_the_real_docker() {
        let fake = Arc::new(FakeClient::new());
        let d = new(fake.clone(), auth());
        assert!(!d.is_image_in_local_registry("x").unwrap());
        assert!(format!("{d:?}").contains("DockerClient"));
    }
}
