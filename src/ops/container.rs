//! Container endpoints: create, attach, start, wait, inspect, kill, remove, commit.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::image_ref::parse_normalized_named;
use crate::ops::engine::{EngineClient, Limits};
use crate::ops::podman;
use crate::ops::{self, check_container_id};
use crate::transport::StdinWriter;
use crate::transport::{encode_path_segment, query, Body, ResponseBody, Upgrade};

/// A container's configuration (the Engine's `ContainerConfig`), also found in an image's `Config`.
///
/// `None` fields are left out of requests so the daemon applies the image's values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// The host name of the container.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// The domain name of the container.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domainname: String,
    /// The user that runs the command, `user`, `uid`, `user:group` or `uid:gid`.
    #[serde(default)]
    pub user: String,
    /// Attach the standard input.
    #[serde(default)]
    pub attach_stdin: bool,
    /// Attach the standard output.
    #[serde(default)]
    pub attach_stdout: bool,
    /// Attach the standard error.
    #[serde(default)]
    pub attach_stderr: bool,
    /// Allocate a pseudo-TTY.
    #[serde(default)]
    pub tty: bool,
    /// Keep the standard input open.
    #[serde(default)]
    pub open_stdin: bool,
    /// Close the standard input after the first attached client disconnects.
    #[serde(default)]
    pub stdin_once: bool,
    /// The environment, `NAME=value`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    /// The command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// The entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// The image to run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// The working directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<HashMap<String, String>>,
    /// The image's `ONBUILD` triggers, e.g. `USER 500`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    /// Exposed ports, `{"8080/tcp": {}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<HashMap<String, serde_json::Value>>,
    /// Volumes, `{"/data": {}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<HashMap<String, serde_json::Value>>,
    /// The signal that stops the container.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
}

/// Host-side settings of a container (the Engine's `HostConfig`, the fields this crate sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HostConfig {
    /// Bind mounts, `host:container[:options]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binds: Option<Vec<String>>,
    /// The network mode: `bridge`, `host`, `none`, `container:<id>`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_mode: String,
    /// Publish all exposed ports on random host ports.
    #[serde(default)]
    pub publish_all_ports: bool,
    /// Capabilities to drop, normalised to `CAP_X` when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap_drop: Option<Vec<String>>,
    /// Extra `/etc/hosts` lines, `host:ip`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_hosts: Option<Vec<String>>,
    /// Security options, e.g. `no-new-privileges`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_opt: Option<Vec<String>>,
    /// Memory limit in bytes.
    #[serde(default)]
    pub memory: i64,
    /// Memory plus swap in bytes, -1 for unlimited.
    #[serde(default)]
    pub memory_swap: i64,
    /// CPU shares.
    #[serde(default)]
    pub cpu_shares: i64,
    /// CPU CFS period.
    #[serde(default)]
    pub cpu_period: i64,
    /// CPU CFS quota.
    #[serde(default)]
    pub cpu_quota: i64,
    /// The parent cgroup.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cgroup_parent: String,
    /// Size of `/dev/shm` in bytes.
    #[serde(default)]
    pub shm_size: i64,
    /// Remove the container when it exits.
    #[serde(default)]
    pub auto_remove: bool,
}

/// The body of `POST /containers/create`: the config at top level plus `HostConfig`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContainerCreateBody {
    /// The container's configuration (flattened into the top level).
    #[serde(flatten)]
    pub config: ContainerConfig,
    /// Host settings.
    #[serde(rename = "HostConfig")]
    pub host_config: HostConfig,
}

/// The reply of `POST /containers/create`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerCreateResponse {
    /// The new container's ID.
    #[serde(default)]
    pub id: String,
    /// Warnings from the daemon.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub warnings: Vec<String>,
}

/// Normalises capability names as the Go client does before `POST /containers/create`:
/// upper-cased, `CAP_`-prefixed unless `ALL` or already prefixed, de-duplicated and sorted.
///
/// ```
/// use s2i_docker::ops::container::normalize_capabilities;
/// let caps = ["kill", "MKNOD", "setgid", "CAP_SETUID", "cap_kill"].map(String::from);
/// assert_eq!(normalize_capabilities(&caps), ["CAP_KILL", "CAP_MKNOD", "CAP_SETGID", "CAP_SETUID"]);
/// ```
pub fn normalize_capabilities(caps: &[String]) -> Vec<String> {
    let mut out: Vec<String> = caps
        .iter()
        .map(|c| {
            let c = c.to_uppercase();
            if c == "ALL" || c.starts_with("CAP_") {
                c
            } else {
                format!("CAP_{c}")
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Creates a container (`POST /containers/create?name=..`).
///
/// The body is the configuration at the top level plus `HostConfig`; `CapDrop` is sent
/// normalised ([`normalize_capabilities`]). An empty `name` lets the daemon choose one.
///
/// On Podman, a short image name (`app:1`) means what it means to Docker
/// (`docker.io/library/app:1`) when such an image exists, and Podman's own lookup otherwise
/// (see [`podman`](mod@crate::ops::podman)).
///
/// # Errors
/// [`Error::Api`]: 404 for a missing image, 409 for a name in use (Podman: 500, see
/// [`Error::is_conflict`]), 400 for an invalid configuration; connection errors, timeouts,
/// [`Error::Decode`].
pub fn create(
    docker: &EngineClient,
    body: &ContainerCreateBody,
    name: &str,
) -> Result<ContainerCreateResponse> {
    if let Some(qualified) = podman::docker_hub_name(&body.config.image) {
        if docker.is_podman()? {
            let mut as_docker = body.clone();
            as_docker.config.image = qualified;
            match create_as_given(docker, &as_docker, name) {
                Err(e) if e.is_not_found() => {}
                done => return done,
            }
        }
    }
    create_as_given(docker, body, name)
}

fn create_as_given(
    docker: &EngineClient,
    body: &ContainerCreateBody,
    name: &str,
) -> Result<ContainerCreateResponse> {
    let json = match &body.host_config.cap_drop {
        Some(caps) => {
            let mut normalized = body.clone();
            normalized.host_config.cap_drop =
                Some(normalize_capabilities(caps)).filter(|c| !c.is_empty());
            serde_json::to_vec(&normalized)?
        }
        None => serde_json::to_vec(body)?,
    };
    let params: &[(&str, &str)] = if name.is_empty() {
        &[]
    } else {
        &[("name", name)]
    };
    let endpoint = format!("/containers/create{}", query(params));
    let headers = vec![("Content-Type", "application/json".to_string())];
    let response = docker.call("POST", &endpoint, headers, Body::Bytes(json), Limits::Short)?;
    ops::read_json(docker, response, "POST /containers/create")
}

/// Which streams `POST /containers/{id}/attach` attaches.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerAttachOptions {
    /// Stream output as it is produced (`stream=1`).
    pub stream: bool,
    /// Attach the standard input (`stdin=1`).
    pub stdin: bool,
    /// Attach the standard output (`stdout=1`).
    pub stdout: bool,
    /// Attach the standard error (`stderr=1`).
    pub stderr: bool,
}

/// Attaches to a container's standard streams (`POST /containers/{id}/attach`, upgraded).
///
/// Sends `stream=1`, `stdin=1`, `stdout=1`, `stderr=1` as `options` say, with
/// `Content-Type: text/plain`, `Connection: Upgrade` and `Upgrade: tcp`; the daemon must answer
/// `101 Switching Protocols`, after which the connection carries the raw stream (stdcopy frames
/// when the container has no TTY; see [`stream::demux`](crate::ops::stream::demux)). Attach
/// before start so no output is lost. The upgrade must come within the client's timeout; the
/// stream itself has no time limit.
///
/// On Podman, the output is made as complete as Docker's: when a container exits without
/// reading all of its input, Podman's attach can lose output (it sends `Error: ...` on stderr
/// instead and resets the connection); the missing output is then read from the container's
/// logs (see [`podman`](mod@crate::ops::podman)).
///
/// Without `stream`, Docker returns at once (there is nothing to stream) while Podman streams
/// anyway and, for a stopped container, waits for it to start again: on Podman such an attach
/// is refused instead of left hanging.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID (nothing is sent); [`Error::Unsupported`] for an
/// attach without `stream` on Podman (nothing is sent); [`Error::Api`]
/// `unable to upgrade to tcp, received <status>: <daemon message>` when the daemon refuses
/// (404 for a missing container, 409 for one that cannot be attached); connection errors.
pub fn attach(
    docker: &EngineClient,
    container: &str,
    options: &ContainerAttachOptions,
) -> Result<HijackedResponse> {
    check_container_id(container)?;
    if !options.stream && docker.is_podman()? {
        return Err(Error::Unsupported(
            "Podman cannot attach without stream=1: it streams anyway, and waits for a stopped container to start again".into(),
        ));
    }
    let mut params = Vec::with_capacity(4);
    for (key, on) in [
        ("stderr", options.stderr),
        ("stdin", options.stdin),
        ("stdout", options.stdout),
        ("stream", options.stream),
    ] {
        if on {
            params.push((key, "1"));
        }
    }
    let endpoint = format!(
        "/containers/{}/attach{}",
        encode_path_segment(container),
        query(&params)
    );
    let headers = vec![("Content-Type", "text/plain".to_string())];
    let podman = docker.is_podman()?;
    match docker.upgrade("POST", &endpoint, headers)? {
        Upgrade::Switched(upgraded) => {
            let (reader, writer) = upgraded.split();
            let reader: Box<dyn Read + Send> = if podman && (options.stdout || options.stderr) {
                Box::new(podman::AttachOutput::new(
                    Box::new(reader),
                    docker.clone(),
                    container,
                    options.stdout,
                    options.stderr,
                ))
            } else {
                Box::new(reader)
            };
            Ok(HijackedResponse {
                reader,
                writer: Box::new(writer),
            })
        }
        Upgrade::Refused(response) => {
            let status = response.status;
            let detail = match ops::error_from_response(response, "") {
                Error::Api { message, .. } if !message.starts_with("request returned") => {
                    format!(": {message}")
                }
                _ => String::new(),
            };
            Err(Error::Api {
                status,
                message: format!("unable to upgrade to tcp, received {status}{detail}"),
            })
        }
    }
}

/// The output a container wrote so far (`GET /containers/{id}/logs?stdout=1&stderr=1`), framed
/// as an attach stream when the container has no TTY.
pub(crate) fn logs(
    docker: &EngineClient,
    container: &str,
    stdout: bool,
    stderr: bool,
) -> Result<ResponseBody> {
    check_container_id(container)?;
    let mut params = Vec::with_capacity(2);
    if stderr {
        params.push(("stderr", "1"));
    }
    if stdout {
        params.push(("stdout", "1"));
    }
    let endpoint = format!(
        "/containers/{}/logs{}",
        encode_path_segment(container),
        query(&params)
    );
    let response = docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Stream)?;
    Ok(response.into_body())
}

/// Starts a container (`POST /containers/{id}/start`).
///
/// A container that already runs is no error (the daemon answers 304).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container, 500 when
/// the runtime fails to start it; connection errors, timeouts.
pub fn start(docker: &EngineClient, container: &str) -> Result<()> {
    check_container_id(container)?;
    let endpoint = format!("/containers/{}/start", encode_path_segment(container));
    let response = docker.call("POST", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::discard(response)
}

/// The reply of `POST /containers/{id}/wait`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerWaitResponse {
    /// The container's exit code.
    #[serde(default)]
    pub status_code: i64,
    /// An error the daemon met while waiting.
    #[serde(default)]
    pub error: Option<ContainerWaitExitError>,
}

/// The `Error` of a wait reply.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerWaitExitError {
    /// The error's text.
    #[serde(default)]
    pub message: String,
}

/// What [`wait`] waits for (the Engine's `condition` query parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WaitCondition {
    /// The container is not running: answers at once for a created or exited container (the
    /// S2I choice, and the daemon's default).
    #[default]
    NotRunning,
    /// The container's next exit, even if it is not running yet.
    NextExit,
    /// The container's removal.
    Removed,
}

impl WaitCondition {
    /// The value on the wire: `not-running`, `next-exit` or `removed`.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitCondition::NotRunning => "not-running",
            WaitCondition::NextExit => "next-exit",
            WaitCondition::Removed => "removed",
        }
    }
}

impl fmt::Display for WaitCondition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A signal [`kill`] sends (the Engine's `signal` query parameter).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Signal {
    /// `SIGKILL`: ends the container at once (the daemon's default).
    #[default]
    Kill,
    /// `SIGTERM`: asks the container's process to end.
    Term,
    /// `SIGINT`: an interrupt, as from a terminal.
    Int,
    /// `SIGHUP`: a hang-up.
    Hup,
    /// `SIGQUIT`: quit, with a core dump where the process allows it.
    Quit,
    /// `SIGUSR1`: user-defined signal 1.
    Usr1,
    /// `SIGUSR2`: user-defined signal 2.
    Usr2,
}

impl Signal {
    /// The value on the wire: `SIGKILL`, `SIGTERM`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Kill => "SIGKILL",
            Signal::Term => "SIGTERM",
            Signal::Int => "SIGINT",
            Signal::Hup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::Usr1 => "SIGUSR1",
            Signal::Usr2 => "SIGUSR2",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Waits for a container (`POST /containers/{id}/wait?condition=..`) and returns its exit code.
///
/// The condition is always sent (Podman's default differs from Docker's, `not-running`). There
/// is no time limit: the call lasts as long as the container runs.
///
/// A container that never ran has exit code 0 on both engines (Podman says -1).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container;
/// [`Error::Other`] with the reply's text (at most 2 KiB) when the reply is not JSON;
/// connection errors.
pub fn wait(
    docker: &EngineClient,
    container: &str,
    condition: WaitCondition,
) -> Result<ContainerWaitResponse> {
    check_container_id(container)?;
    let podman = docker.is_podman()?;
    let endpoint = format!(
        "/containers/{}/wait{}",
        encode_path_segment(container),
        query(&[("condition", condition.as_str())])
    );
    let response = docker.call(
        "POST",
        &endpoint,
        Vec::new(),
        Body::Empty,
        Limits::Unbounded,
    )?;
    let raw = ops::read_json_bytes(docker, response)?;
    let mut waited: ContainerWaitResponse = serde_json::from_slice(&raw).map_err(|_| {
        let text = String::from_utf8_lossy(&raw[..raw.len().min(2048)]);
        Error::Other(text.trim().to_string())
    })?;
    if podman && waited.status_code == -1 && condition == WaitCondition::NotRunning {
        let never_ran = inspect(docker, container)
            .ok()
            .and_then(|i| i.state)
            .is_some_and(|s| s.status == "created");
        if never_ran {
            waited.status_code = 0;
        }
    }
    Ok(waited)
}

/// A container's state (the Engine's `ContainerState`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerState {
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    #[serde(default)]
    pub status: String,
    /// Whether it runs.
    #[serde(default)]
    pub running: bool,
    /// Whether the kernel killed it for lack of memory.
    #[serde(rename = "OOMKilled", default)]
    pub oom_killed: bool,
    /// Whether it is dead.
    #[serde(default)]
    pub dead: bool,
    /// Its process ID.
    #[serde(default)]
    pub pid: i64,
    /// Its exit code.
    #[serde(default)]
    pub exit_code: i64,
    /// The error that stopped it.
    #[serde(default)]
    pub error: String,
}

/// A published port (`NetworkSettings.Ports` values).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PortBinding {
    /// The host IP.
    #[serde(default)]
    pub host_ip: String,
    /// The host port.
    #[serde(default)]
    pub host_port: String,
}

/// A container's network settings (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Container port (`8080/tcp`) to host bindings; `None` for an unpublished port.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub ports: HashMap<String, Option<Vec<PortBinding>>>,
}

/// The reply of `GET /containers/{id}/json` (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerInspect {
    /// The container's ID.
    #[serde(default)]
    pub id: String,
    /// Its name, with a leading `/`.
    #[serde(default)]
    pub name: String,
    /// The image ID it was created from.
    #[serde(default)]
    pub image: String,
    /// Its state.
    #[serde(default)]
    pub state: Option<ContainerState>,
    /// Its configuration.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// Its host configuration.
    #[serde(default)]
    pub host_config: Option<HostConfig>,
    /// Its network settings.
    #[serde(default)]
    pub network_settings: Option<NetworkSettings>,
}

/// A container's configuration and state (`GET /containers/{id}/json`).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container;
/// connection errors, timeouts, [`Error::Decode`].
pub fn inspect(docker: &EngineClient, container: &str) -> Result<ContainerInspect> {
    check_container_id(container)?;
    let endpoint = format!("/containers/{}/json", encode_path_segment(container));
    let response = docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::read_json(docker, response, "GET /containers/{id}/json")
}

/// Sends a signal to a container (`POST /containers/{id}/kill?signal=..`).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container, 409 for
/// one that is not running; connection errors, timeouts.
pub fn kill(docker: &EngineClient, container: &str, signal: Signal) -> Result<()> {
    check_container_id(container)?;
    let endpoint = format!(
        "/containers/{}/kill{}",
        encode_path_segment(container),
        query(&[("signal", signal.as_str())])
    );
    let response = docker.call("POST", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::discard(response)
}

/// Options of `DELETE /containers/{id}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerRemoveOptions {
    /// Remove anonymous volumes too (`v=1`).
    pub remove_volumes: bool,
    /// Kill a running container first (`force=1`).
    pub force: bool,
}

/// Removes a container (`DELETE /containers/{id}`), with `v=1` and `force=1` when asked.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container, 409 for
/// a running one without `force`; connection errors, timeouts.
pub fn remove(
    docker: &EngineClient,
    container: &str,
    options: &ContainerRemoveOptions,
) -> Result<()> {
    check_container_id(container)?;
    let mut params = Vec::new();
    if options.force {
        params.push(("force", "1"));
    }
    if options.remove_volumes {
        params.push(("v", "1"));
    }
    let endpoint = format!(
        "/containers/{}{}",
        encode_path_segment(container),
        query(&params)
    );
    let response = docker.call("DELETE", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::discard(response)
}

/// Options of `POST /commit`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ContainerCommitOptions {
    /// The new image's reference, `repo[:tag]`; normalised like the Go client does.
    pub reference: String,
    /// A commit message.
    pub comment: String,
    /// The author.
    pub author: String,
    /// The configuration to apply to the image, sent as the body.
    pub config: Option<ContainerConfig>,
}

/// A reply carrying an ID (`POST /commit`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdResponse {
    /// The ID.
    #[serde(rename = "Id", alias = "ID", default)]
    pub id: String,
}

/// Creates an image from a container (`POST /commit?container=..&repo=..&tag=..`) and returns
/// its ID, `sha256:<hex>`.
///
/// The reference is normalised as the Go client does: `repo` is the fully qualified name
/// (`myimg` → `docker.io/library/myimg`) and `tag` the tag or `latest`; an empty reference sends
/// `repo=` and `tag=` empty (an untagged image). `comment` and `author` are always sent. The
/// configuration, when given, is the JSON body; Docker merges it with the container's. There is
/// no time limit (committing a big container takes long).
///
/// Podman ignores the body, so to Podman the configuration also goes as `changes` (Dockerfile
/// instructions that give the image Docker's result), and a body is always sent (`{}` without
/// a configuration: Podman refuses none); see [`podman`](mod@crate::ops::podman).
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID, an invalid reference, or a reference with a digest
/// (`refusing to create a tag with a digest reference`), and on Podman for a configuration value
/// its instructions cannot carry, all without a request; [`Error::Unsupported`] for `OnBuild`
/// triggers on Podman; [`Error::Api`] 404 for a missing container; connection errors.
pub fn commit(
    docker: &EngineClient,
    container: &str,
    options: &ContainerCommitOptions,
) -> Result<IdResponse> {
    check_container_id(container)?;
    let (repo, tag) = if options.reference.is_empty() {
        (String::new(), String::new())
    } else {
        let named = parse_normalized_named(&options.reference)?;
        if named.digest.is_some() {
            return Err(Error::InvalidInput(
                "refusing to create a tag with a digest reference".into(),
            ));
        }
        let tag = named
            .tag
            .clone()
            .unwrap_or_else(|| crate::image_ref::DEFAULT_TAG.to_string());
        (named.name(), tag)
    };
    let podman = docker.is_podman()?;
    let changes = match (&options.config, podman) {
        (Some(config), true) => podman::commit_changes(config)?,
        _ => Vec::new(),
    };
    let mut params = vec![
        ("author", options.author.as_str()),
        ("comment", options.comment.as_str()),
        ("container", container),
        ("repo", repo.as_str()),
        ("tag", tag.as_str()),
    ];
    params.extend(changes.iter().map(|c| ("changes", c.as_str())));
    let endpoint = format!("/commit{}", query(&params));
    let json = vec![("Content-Type", "application/json".to_string())];
    let (headers, body) = match &options.config {
        Some(config) => (json, Body::Bytes(serde_json::to_vec(config)?)),
        None if podman => (json, Body::Bytes(b"{}".to_vec())),
        None => (Vec::new(), Body::Empty),
    };
    let response = docker.call("POST", &endpoint, headers, body, Limits::Unbounded)?;
    let mut committed: IdResponse = ops::read_json(docker, response, "POST /commit")?;
    committed.id = podman::image_id(committed.id);
    Ok(committed)
}

/// An attached container connection (`101 Switching Protocols` on `POST /containers/{id}/attach`).
///
/// The two halves are independent: read the multiplexed output on one thread while writing stdin
/// on another. Dropping both closes the connection; the writer's
/// [`shutdown_handle`](StdinWriter::shutdown_handle) closes it from a third thread.
pub struct HijackedResponse {
    /// The raw multiplexed stream (8-byte stdcopy frames when the container has no TTY).
    pub reader: Box<dyn Read + Send>,
    /// The container's standard input.
    pub writer: Box<dyn StdinWriter>,
}

impl std::fmt::Debug for HijackedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HijackedResponse { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::testing::http::{json, serve};
    use std::io::Write;

    #[test]
    fn capabilities_are_normalised() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["KILL", "MKNOD", "SETGID", "SETUID"],
                &["CAP_KILL", "CAP_MKNOD", "CAP_SETGID", "CAP_SETUID"],
            ),
            (
                &["setuid", "cap_kill", "Cap_Kill", "kill"],
                &["CAP_KILL", "CAP_SETUID"],
            ),
            (&["all", "net_raw"], &["ALL", "CAP_NET_RAW"]),
            (&[], &[]),
        ];
        for (input, want) in cases {
            let input: Vec<String> = input.iter().map(|s| s.to_string()).collect();
            assert_eq!(normalize_capabilities(&input), *want, "{input:?}");
        }
    }

    #[test]
    fn create_sends_config_host_config_and_name() {
        let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"abc\",\"Warnings\":null}"));
        let body = ContainerCreateBody {
            config: ContainerConfig {
                image: "busybox:latest".into(),
                cmd: Some(vec!["/bin/sh".into()]),
                open_stdin: true,
                ..Default::default()
            },
            host_config: HostConfig {
                cap_drop: Some(vec!["kill".into(), "CAP_KILL".into(), "mknod".into()]),
                shm_size: 67_108_864,
                ..Default::default()
            },
        };
        let created = create(&docker, &body, "s2i_busybox_0000abcd").unwrap();
        assert_eq!(created.id, "abc");
        assert!(created.warnings.is_empty());
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/containers/create")
        );
        assert_eq!(r.query_pairs(), [("name", "s2i_busybox_0000abcd")]);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(sent["Image"], "busybox:latest");
        assert_eq!(sent["OpenStdin"], true);
        assert_eq!(sent["Cmd"], serde_json::json!(["/bin/sh"]));
        assert_eq!(
            sent["HostConfig"]["CapDrop"],
            serde_json::json!(["CAP_KILL", "CAP_MKNOD"])
        );
        assert_eq!(sent["HostConfig"]["ShmSize"], 67_108_864);
        assert!(sent.get("Entrypoint").is_none());

        let _ = create(&docker, &ContainerCreateBody::default(), "").unwrap();
        assert!(server.requests()[1].query.is_empty(), "no name, no query");
    }

    #[test]
    fn attach_upgrades_and_streams() {
        let (docker, server) = serve(|r| {
            if r.path.contains("missing") {
                return json(
                    "404 Not Found",
                    "{\"message\":\"No such container: missing\"}",
                );
            }
            if r.path.contains("bare") {
                return (
                    b"HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    false,
                );
            }
            let mut reply =
                b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
            reply.extend_from_slice(b"\x01\0\0\0\0\0\0\x03out\x02\0\0\0\0\0\0\x03err");
            (reply, true)
        });
        let options = ContainerAttachOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
        };
        let mut hijacked = attach(&docker, "abc", &options).unwrap();
        let (mut out, mut err) = (Vec::new(), Vec::new());
        crate::ops::stream::demux(&mut hijacked.reader, &mut out, &mut err).unwrap();
        assert_eq!((&out[..], &err[..]), (&b"out"[..], &b"err"[..]));
        // The server closed: writing may fail, but half-closing never panics.
        let _ = hijacked.writer.write_all(b"x");
        let _ = hijacked.writer.close_write();
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/containers/abc/attach")
        );
        assert_eq!(
            r.query_pairs(),
            [
                ("stderr", "1"),
                ("stdin", "1"),
                ("stdout", "1"),
                ("stream", "1")
            ]
        );
        assert_eq!(r.header("Content-Type"), Some("text/plain"));
        assert_eq!(r.header("Upgrade"), Some("tcp"));
        assert!(r
            .header("Connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("upgrade")));

        let e = attach(&docker, "missing", &options).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "Error response from daemon: unable to upgrade to tcp, received 404: No such container: missing"
        );
        let e = attach(&docker, "bare", &ContainerAttachOptions::default()).unwrap_err();
        assert!(e.is_conflict());
        assert_eq!(
            e.to_string(),
            "Error response from daemon: unable to upgrade to tcp, received 409"
        );
        assert_eq!(server.requests()[2].query.len(), 0);
    }

    #[test]
    fn start_wait_kill_remove_inspect() {
        let (docker, server) = serve(|r| {
            match (r.method.as_str(), r.path.rsplit('/').next()) {
            (_, Some("start")) => (b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec(), false),
            (_, Some("wait")) if r.path.contains("weird") => {
                (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!".to_vec(), false)
            }
            (_, Some("wait")) => json("200 OK", "{\"StatusCode\":3,\"Error\":null}"),
            (_, Some("json")) => json(
                "200 OK",
                "{\"Id\":\"abc\",\"State\":{\"Status\":\"exited\",\"ExitCode\":3,\"OOMKilled\":true,\"Error\":\"\"},\"NetworkSettings\":{\"Ports\":{\"8080/tcp\":null}}}",
            ),
            _ => (b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), false),
        }
        });
        start(&docker, "abc").unwrap();
        assert_eq!(
            wait(&docker, "abc", WaitCondition::NotRunning)
                .unwrap()
                .status_code,
            3
        );
        let e = wait(&docker, "weird", WaitCondition::NotRunning).unwrap_err();
        assert_eq!(e.to_string(), "not json!");
        kill(&docker, "abc", Signal::Kill).unwrap();
        remove(
            &docker,
            "abc",
            &ContainerRemoveOptions {
                remove_volumes: true,
                force: true,
            },
        )
        .unwrap();
        let state = inspect(&docker, "abc").unwrap().state.unwrap();
        assert!(state.oom_killed);
        assert_eq!(state.exit_code, 3);
        type Seen = (String, String, Vec<(String, String)>);
        let got: Vec<Seen> = server
            .requests()
            .into_iter()
            .map(|r| (r.method, r.path, r.query))
            .collect();
        let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let want = vec![
            (
                "POST".to_string(),
                "/v1.41/containers/abc/start".to_string(),
                pairs(&[]),
            ),
            (
                "POST".into(),
                "/v1.41/containers/abc/wait".into(),
                pairs(&[("condition", "not-running")]),
            ),
            (
                "POST".into(),
                "/v1.41/containers/weird/wait".into(),
                pairs(&[("condition", "not-running")]),
            ),
            (
                "POST".into(),
                "/v1.41/containers/abc/kill".into(),
                pairs(&[("signal", "SIGKILL")]),
            ),
            (
                "DELETE".into(),
                "/v1.41/containers/abc".into(),
                pairs(&[("force", "1"), ("v", "1")]),
            ),
            (
                "GET".into(),
                "/v1.41/containers/abc/json".into(),
                pairs(&[]),
            ),
        ];
        assert_eq!(got, want);
        assert!(server.requests().iter().all(|r| r.body.is_empty()));
    }

    #[test]
    fn empty_ids_send_nothing() {
        let (docker, server) = serve(|_| json("200 OK", "{}"));
        let errors = [
            start(&docker, "").unwrap_err(),
            wait(&docker, "", WaitCondition::NotRunning).unwrap_err(),
            inspect(&docker, "").unwrap_err(),
            kill(&docker, "", Signal::Kill).unwrap_err(),
            remove(&docker, "", &ContainerRemoveOptions::default()).unwrap_err(),
            attach(&docker, "", &ContainerAttachOptions::default()).unwrap_err(),
            commit(&docker, "", &ContainerCommitOptions::default()).unwrap_err(),
        ];
        for e in errors {
            assert!(
                matches!(&e, Error::InvalidInput(m) if m == "invalid container name or ID: value is empty"),
                "{e:?}"
            );
        }
        assert!(server.requests().is_empty());
    }

    #[test]
    fn commit_query_and_body() {
        let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"sha256:new\"}"));
        let options = ContainerCommitOptions {
            reference: "myimg".into(),
            config: Some(ContainerConfig {
                cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
                user: "1001".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(commit(&docker, "abc", &options).unwrap().id, "sha256:new");
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/commit")
        );
        assert_eq!(
            r.query_pairs(),
            [
                ("author", ""),
                ("comment", ""),
                ("container", "abc"),
                ("repo", "docker.io/library/myimg"),
                ("tag", "latest"),
            ]
        );
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(sent["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
        assert_eq!(sent["User"], "1001");

        let plain = ContainerCommitOptions {
            reference: "quay.io/a/b:2".into(),
            comment: "c".into(),
            author: "me".into(),
            config: None,
        };
        commit(&docker, "abc", &plain).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(
            r.query_pairs()[3..],
            [("repo", "quay.io/a/b"), ("tag", "2")]
        );
        assert_eq!(r.query_pairs()[..2], [("author", "me"), ("comment", "c")]);
        assert!(r.body.is_empty());
        assert_eq!(r.header("Content-Type"), None);

        commit(&docker, "abc", &ContainerCommitOptions::default()).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(r.query_pairs()[3..], [("repo", ""), ("tag", "")]);

        let digest = ContainerCommitOptions {
            reference: format!("x@sha256:{}", "0".repeat(64)),
            ..Default::default()
        };
        let e = commit(&docker, "abc", &digest).unwrap_err();
        assert_eq!(
            e.to_string(),
            "refusing to create a tag with a digest reference"
        );
        assert_eq!(server.requests().len(), 3);
    }

    fn podman(
        handler: impl Fn(&crate::fake::testing::http::Recorded) -> (Vec<u8>, bool)
            + Send
            + Sync
            + 'static,
    ) -> (EngineClient, crate::fake::testing::http::Server) {
        let (docker, server) = serve(handler);
        (
            docker.with_engine(crate::ops::engine::Engine::Podman),
            server,
        )
    }

    #[test]
    fn commit_to_podman_sends_the_config_as_changes() {
        let hex = "ab".repeat(32);
        let reply = format!("{{\"Id\":\"{hex}\"}}");
        let (docker, server) = podman(move |_| json("201 Created", &reply));
        let options = ContainerCommitOptions {
            reference: "app:1".into(),
            config: Some(ContainerConfig {
                cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
                env: Some(vec!["A=1".into()]),
                labels: Some(HashMap::from([("k".to_string(), "v".to_string())])),
                user: "1001".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        // Docker's form of the ID.
        assert_eq!(
            commit(&docker, "c", &options).unwrap().id,
            format!("sha256:{hex}")
        );
        let r = server.only_request();
        assert_eq!(
            r.query_pairs(),
            [
                ("author", ""),
                ("changes", r#"CMD ["/usr/libexec/s2i/run"]"#),
                ("changes", r#"ENV "A"="1""#),
                ("changes", r#"LABEL "k"="v""#),
                ("changes", "USER 1001"),
                ("comment", ""),
                ("container", "c"),
                ("repo", "docker.io/library/app"),
                ("tag", "1"),
            ]
        );
        // The body still goes (a Podman that reads it gets the same).
        let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(sent["User"], "1001");

        // No configuration: no changes, and `{}` (Podman refuses an empty body).
        commit(&docker, "c", &ContainerCommitOptions::default()).unwrap();
        let r = server.requests().pop().unwrap();
        assert!(r.query.iter().all(|(k, _)| k != "changes"));
        assert_eq!(r.body, b"{}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));

        // What the instructions cannot carry is refused before anything is sent.
        let bad = ContainerCommitOptions {
            config: Some(ContainerConfig {
                env: Some(vec!["A=two\nlines".into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let e = commit(&docker, "c", &bad).unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn attach_without_stream_is_refused_by_podman_only() {
        let (docker, server) = podman(|_| json("500 Internal Server Error", "{}"));
        let options = ContainerAttachOptions {
            stdout: true,
            ..Default::default()
        };
        let e = attach(&docker, "c", &options).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        assert!(e.to_string().contains("stream=1"), "{e}");
        assert!(server.requests().is_empty());
    }

    #[test]
    fn podman_waits_like_docker() {
        let (docker, server) = podman(|r| {
            if r.path.ends_with("/json") {
                let status = if r.path.contains("fresh") {
                    "created"
                } else {
                    "exited"
                };
                return json(
                    "200 OK",
                    &format!("{{\"State\":{{\"Status\":\"{status}\"}}}}"),
                );
            }
            json("200 OK", "{\"StatusCode\":-1,\"Error\":null}")
        });
        // A container that never ran exited with 0, as Docker says.
        assert_eq!(
            wait(&docker, "fresh", WaitCondition::NotRunning)
                .unwrap()
                .status_code,
            0
        );
        let r = &server.requests()[0];
        assert_eq!(r.query_pairs(), [("condition", "not-running")]);
        // Otherwise -1 is what it is.
        assert_eq!(
            wait(&docker, "old", WaitCondition::NotRunning)
                .unwrap()
                .status_code,
            -1
        );
        assert_eq!(
            wait(&docker, "fresh", WaitCondition::NextExit)
                .unwrap()
                .status_code,
            -1
        );
        assert_eq!(server.requests().len(), 5);
    }

    #[test]
    fn podman_creates_from_the_docker_meaning_of_a_short_name() {
        let (docker, server) = podman(|r| {
            let image = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["Image"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if image == "docker.io/library/cli-only:1" {
                return json(
                    "404 Not Found",
                    "{\"message\":\"no such image: image not known\"}",
                );
            }
            json("201 Created", "{\"Id\":\"abc\"}")
        });
        let body = |image: &str| ContainerCreateBody {
            config: ContainerConfig {
                image: image.into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let images = |server: &crate::fake::testing::http::Server| -> Vec<String> {
            server
                .requests()
                .iter()
                .map(|r| {
                    serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["Image"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .collect()
        };
        create(&docker, &body("app:1"), "n").unwrap();
        assert_eq!(images(&server), ["docker.io/library/app:1"]);
        // Only Podman's own lookup knows it (`localhost/cli-only:1`).
        create(&docker, &body("cli-only:1"), "n").unwrap();
        assert_eq!(
            images(&server)[1..],
            ["docker.io/library/cli-only:1", "cli-only:1"]
        );
        // Qualified names and IDs go as they are.
        create(&docker, &body("quay.io/x/y:1"), "n").unwrap();
        create(&docker, &body(&format!("sha256:{}", "0".repeat(64))), "n").unwrap();
        assert_eq!(
            images(&server)[3..],
            [
                "quay.io/x/y:1".to_string(),
                format!("sha256:{}", "0".repeat(64))
            ]
        );
        // Docker is asked as it was asked.
        let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"abc\"}"));
        create(&docker, &body("app:1"), "n").unwrap();
        assert_eq!(images(&server), ["app:1"]);
    }
}
