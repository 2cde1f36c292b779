//! The options of the S2I operations that take more than a name: [`RunContainerOptions`] with
//! its hooks ([`OnStartHook`], [`PostExecutor`], [`CommandOverrides`]),
//! [`CommitContainerOptions`] and [`BuildImageOptions`].
//!
//! Plain data: uses config (credentials and limits), error, and the run's [`RunCancel`].

use std::collections::HashMap;
use std::fmt;
use std::io::{Read, Write};

use crate::config::{AuthConfig, CGroupLimits};
use crate::docker::RunCancel;
use crate::error::Result;

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

/// The hook run right after the container started, with the container's ID.
pub type OnStartHook = Box<dyn FnOnce(&str) -> Result<()> + Send>;

/// Rewrites the `/bin/sh -c` command line of a run (see
/// [`RunContainerOptions::command_overrides`]).
pub type CommandOverrides = Box<dyn Fn(&str) -> String + Send>;

/// Options of [`Docker::run_container`](super::Docker::run_container) (the reference's
/// `RunContainerOptions`).
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
    /// Not used: pulls use the credentials of the client
    /// ([`DockerClient::new`](super::DockerClient::new),
    /// [`with_registry_credentials`](super::DockerClient::with_registry_credentials)) for the
    /// image's registry, as in the reference.
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
    /// `/usr/bin/env` (see [`differences`](super::differences), item 1).
    pub entrypoint: Vec<String>,
    /// Streamed into the container's standard input (a tar of the sources for `assemble`),
    /// then the input is closed.
    ///
    /// A container that exits with code 0 without reading all of it is a success (logged as
    /// a warning); one that exits otherwise is a container error, whatever happened to its
    /// input. Once the container exited and its output ended, the rest of the input is not
    /// sent: as soon as the daemon stops taking it (a write stuck for half a second), and at
    /// the latest after the output grace ([`DockerClient::with_output_grace`]), the run closes
    /// the attach connection instead of waiting for the daemon to give it up.
    ///
    /// [`DockerClient::with_output_grace`]: super::DockerClient::with_output_grace
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
    ///
    /// The run waits for the container as long as it runs, unless its client has a wait
    /// timeout ([`EngineClient::with_wait_timeout`](crate::EngineClient::with_wait_timeout)):
    /// then a container still running after it fails the run with
    /// [`Error::Timeout`](crate::Error::Timeout), and is killed and removed. The client's
    /// cancel ([`EngineClient::with_cancel`](crate::EngineClient::with_cancel)) also ends
    /// the run, and its container is removed all the same.
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

/// Options of [`Docker::commit_container`](super::Docker::commit_container) (the reference's
/// `CommitContainerOptions`).
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

/// Options of [`Docker::build_image`](super::Docker::build_image) (the reference's
/// `BuildImageOptions`, with the build's arguments, target stage, labels and pull).
///
/// The credentials of the base images' registries come from the client's
/// [registry credentials](super::DockerClient::with_registry_credentials): those of every
/// registry the source lists, and of the registries the Dockerfile's `FROM` lines name (it is
/// read from the head of the context, up to 4 MiB in, and sent whole), and the build's
/// progress goes to its [build progress](super::DockerClient::with_build_progress) callback.
///
/// # Example
/// ```
/// use s2i_docker::BuildImageOptions;
///
/// let opts = BuildImageOptions {
///     name: "app:1".into(),
///     stdin: Some(Box::new(std::io::empty())), // a tar with a Dockerfile
///     build_args: [("VERSION".to_string(), "1.2".to_string())].into(),
///     target: "runtime".into(),
///     labels: [("org.example.team".to_string(), "web".to_string())].into(),
///     pull: true,
///     ..Default::default()
/// };
/// # drop(opts);
/// ```
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
    /// Values of the Dockerfile's `ARG`s (`--build-arg NAME=value`). `Debug` shows their
    /// names only.
    pub build_args: HashMap<String, String>,
    /// The stage of a multi-stage Dockerfile to build (`--target`); empty builds the last.
    pub target: String,
    /// Labels for the built image (`--label`), beside the Dockerfile's own.
    pub labels: HashMap<String, String>,
    /// Pull the base images even when present (`--pull`), with the client's registry
    /// credentials.
    pub pull: bool,
    /// The network of the `RUN` steps (`--network`), e.g. `none` or `host`; empty for the
    /// engine's default.
    pub network_mode: String,
    /// Cancels the build from another thread: the upload of the context and the output stream
    /// are cut at once (through the client's [`cancellable`](crate::Client::cancellable)),
    /// and `build_image` returns [`Error::Cancelled`](crate::Error::Cancelled); a handle
    /// cancelled already sends nothing. One handle can cancel the builds and runs of a whole
    /// S2I build. The container of a step in progress is the daemon's to remove (the build
    /// asks for `forcerm`).
    pub cancel: Option<RunCancel>,
}

impl fmt::Debug for BuildImageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut build_args: Vec<&String> = self.build_args.keys().collect();
        build_args.sort_unstable();
        f.debug_struct("BuildImageOptions")
            .field("name", &self.name)
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("cgroup_limits", &self.cgroup_limits)
            .field("build_args", &build_args)
            .field("target", &self.target)
            .field("labels", &self.labels)
            .field("pull", &self.pull)
            .field("network_mode", &self.network_mode)
            .field("cancel", &self.cancel)
            .finish()
    }
}
