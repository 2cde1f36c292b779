//! The container models: a container's configuration ([`ContainerConfig`], [`HostConfig`] and
//! the body of a create that joins them), the inspect reply and its parts, and the replies of
//! create, wait, list ([`ContainerSummary`]) and commit.
//!
//! Plain serde types: they use nothing of the crate but [`ops`](mod@crate::ops)' decoding of
//! `null` lists and maps.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::json::{Cursor, Seen};

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

impl ContainerConfig {
    /// Reads the configuration at the cursor into `config` (a default one) as serde would, or
    /// gives up (`None`) where serde must decide. In place: the model is large to move.
    pub(crate) fn read_into(c: &mut Cursor<'_>, config: &mut ContainerConfig) -> Option<()> {
        let mut seen = Seen::default();
        c.members(|c, name| {
            match &*name {
                b"Hostname" => config.hostname = seen.first(0).and_then(|()| c.string())?,
                b"Domainname" => config.domainname = seen.first(1).and_then(|()| c.string())?,
                b"User" => config.user = seen.first(2).and_then(|()| c.string())?,
                b"AttachStdin" => config.attach_stdin = seen.first(3).and_then(|()| c.bool())?,
                b"AttachStdout" => config.attach_stdout = seen.first(4).and_then(|()| c.bool())?,
                b"AttachStderr" => config.attach_stderr = seen.first(5).and_then(|()| c.bool())?,
                b"Tty" => config.tty = seen.first(6).and_then(|()| c.bool())?,
                b"OpenStdin" => config.open_stdin = seen.first(7).and_then(|()| c.bool())?,
                b"StdinOnce" => config.stdin_once = seen.first(8).and_then(|()| c.bool())?,
                b"Env" => config.env = seen.first(9).and_then(|()| c.or_null(Cursor::strings))?,
                b"Cmd" => config.cmd = seen.first(10).and_then(|()| c.or_null(Cursor::strings))?,
                b"Entrypoint" => {
                    config.entrypoint = seen.first(11).and_then(|()| c.or_null(Cursor::strings))?
                }
                b"Image" => config.image = seen.first(12).and_then(|()| c.string())?,
                b"WorkingDir" => config.working_dir = seen.first(13).and_then(|()| c.string())?,
                b"Labels" => {
                    config.labels = seen
                        .first(14)
                        .and_then(|()| c.or_null(Cursor::string_map))?
                }
                b"OnBuild" => {
                    config.on_build = seen.first(15).and_then(|()| c.or_null(Cursor::strings))?
                }
                b"ExposedPorts" => {
                    config.exposed_ports = seen
                        .first(16)
                        .and_then(|()| c.or_null(Cursor::empty_object_map))?
                }
                b"Volumes" => {
                    config.volumes = seen
                        .first(17)
                        .and_then(|()| c.or_null(Cursor::empty_object_map))?
                }
                b"StopSignal" => config.stop_signal = seen.first(18).and_then(|()| c.string())?,
                _ => c.skip()?,
            }
            Some(())
        })
    }
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

/// A container's network settings (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkSettings {
    /// Container port (`8080/tcp`) to host bindings; `None` for an unpublished port.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub ports: HashMap<String, Option<Vec<PortBinding>>>,
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

/// A reply carrying an ID (`POST /commit`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct IdResponse {
    /// The ID.
    #[serde(rename = "Id", alias = "ID", default)]
    pub id: String,
}

/// One container of `GET /containers/json` (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    /// The container's ID.
    #[serde(default)]
    pub id: String,
    /// Its names, each with a leading `/` on Docker.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub names: Vec<String>,
    /// The image it was created from, as given.
    #[serde(default)]
    pub image: String,
    /// The ID of that image.
    #[serde(rename = "ImageID", default)]
    pub image_id: String,
    /// When it was created, in seconds since the Unix epoch.
    #[serde(default)]
    pub created: i64,
    /// `created`, `running`, `paused`, `restarting`, `removing`, `exited` or `dead`.
    #[serde(default)]
    pub state: String,
    /// Its status in words, e.g. `Exited (0) 5 minutes ago`.
    #[serde(default)]
    pub status: String,
    /// Its labels.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub labels: HashMap<String, String>,
}
