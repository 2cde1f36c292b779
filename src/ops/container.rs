//! Container endpoints: create, attach, start, wait, inspect, kill, remove, list, commit (and the
//! logs that complete a Podman attach).
//!
//! Each endpoint's options sit directly above its function; the Engine's container models are
//! defined in [`models`](crate::ops::models) and re-exported here. Uses the engine client core,
//! [`podman`](mod@crate::ops::podman)'s adjustments, image references (to normalise a commit's
//! target), transport and error; nothing above `ops`.

use std::fmt;
use std::io::Read;

use crate::error::{Error, Result};
use crate::image_ref::parse_normalized_named;
use crate::ops::engine::{EngineClient, Limits};
use crate::ops::podman;
use crate::ops::{self, check_container_id};
use crate::transport::StdinWriter;
use crate::transport::{encode_path_segment, query, Body, ResponseBody, Upgrade};

pub use crate::ops::models::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerInspect,
    ContainerState, ContainerSummary, ContainerWaitExitError, ContainerWaitResponse, HostConfig,
    IdResponse, NetworkSettings, PortBinding,
};

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
    out.sort_unstable();
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
            let (mut reader, mut writer) = upgraded.split();
            let limit = docker.attach_timeout();
            reader.set_read_timeout(limit)?;
            writer.set_write_timeout(limit)?;
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
/// is no time limit unless the client has one
/// ([`with_wait_timeout`](EngineClient::with_wait_timeout)): the call lasts as long as the
/// container runs. The client's cancel ([`with_cancel`](EngineClient::with_cancel)) ends it.
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
    let response = docker.call("POST", &endpoint, Vec::new(), Body::Empty, Limits::Wait)?;
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

/// Options of `GET /containers/json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContainerListOptions {
    /// Stopped and created containers too, not only running ones (`all=1`).
    pub all: bool,
    /// Only containers with these labels: `key` (any value) or `key=value`, all of them
    /// (`filters={"label":[...]}`).
    pub labels: Vec<String>,
}

/// Lists containers (`GET /containers/json?all=1&filters={"label":[...]}`).
///
/// Without `all` only running containers are listed. The label filters go as the Engine's
/// `filters` JSON; a container must carry every label named. Podman's Docker-compatible API
/// answers the same request the same way.
///
/// ```no_run
/// use s2i_docker::ops::container::{self, ContainerListOptions};
/// let docker = s2i_docker::EngineClient::from_env()?;
/// let options = ContainerListOptions { all: true, labels: vec!["app=web".into()] };
/// for c in container::list(&docker, &options)? {
///     println!("{} {:?} {}", c.id, c.names, c.state);
/// }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidInput`] for an empty label filter (nothing is sent); [`Error::Api`] 400 for
/// a filter the daemon refuses; connection errors, timeouts, [`Error::Decode`].
pub fn list(
    docker: &EngineClient,
    options: &ContainerListOptions,
) -> Result<Vec<ContainerSummary>> {
    if options.labels.iter().any(|l| l.trim().is_empty()) {
        return Err(Error::InvalidInput(
            "invalid label filter: value is empty (use `key` or `key=value`)".into(),
        ));
    }
    let filters = if options.labels.is_empty() {
        String::new()
    } else {
        serde_json::json!({ "label": options.labels }).to_string()
    };
    let mut params = Vec::with_capacity(2);
    if options.all {
        params.push(("all", "1"));
    }
    if !filters.is_empty() {
        params.push(("filters", filters.as_str()));
    }
    let endpoint = format!("/containers/json{}", query(&params));
    let response = docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::read_json(docker, response, "GET /containers/json")
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

/// Creates an image from a container (`POST /commit?container=..&repo=..&tag=..`) and returns
/// its ID, `sha256:<hex>`.
///
/// The reference is normalised as the Go client does: `repo` is the fully qualified name
/// (`myimg` → `docker.io/library/myimg`) and `tag` the tag or `latest`; an empty reference sends
/// `repo=` and `tag=` empty (an untagged image). `comment` and `author` are always sent. The
/// configuration, when given, is the JSON body; Docker merges it with the container's. The
/// reply may take long (committing a big container): it is bounded by the client's build
/// timeout ([`with_build_timeout`](EngineClient::with_build_timeout), 30 minutes by default),
/// not by its short one.
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
    let response = docker.call("POST", &endpoint, headers, body, Limits::Build)?;
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
    //! The container endpoints against a scripted engine: the requests they send and how they
    //! read the replies, on Docker and on Podman.
    use super::*;
    use crate::fake::testing::http::{json, serve, Recorded, Server};

    mod cases;
}
