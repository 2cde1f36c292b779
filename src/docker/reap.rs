//! Containers left behind by a process that ended before it could remove them, and their
//! removal: who created a container ([`Creator`]), the labels every container the library
//! creates carries ([`creation_labels`]), and [`remove_abandoned_containers`].
//!
//! A process that is killed (`SIGKILL`, a crash, a machine that lost power) cannot run the
//! cleanup of [`run_container`](crate::Docker::run_container): its container stays. Each
//! container the library creates is labelled with [`CREATED_BY_LABEL`] (the creating process:
//! its pid, its start time and the host it ran on) and [`CREATED_AT_LABEL`] (when, in seconds
//! since the Unix epoch with nanoseconds after a dot), so that a later process can tell whether the creator still runs.
//!
//! # Who created a container
//!
//! [`CREATED_BY_LABEL`]'s value is `<pid>:<start>@<host>`:
//!
//! - `pid`: the creating process's id;
//! - `start`: its start time, field 22 of `/proc/<pid>/stat` (clock ticks since boot), so that a
//!   later process with the same pid is not taken for the creator; `0` when unknown;
//! - `host`: the kernel's boot id (`/proc/sys/kernel/random/boot_id`) and the inode of the
//!   creator's pid namespace (`/proc/self/ns/pid`), as `<boot-id>/<inode>`: two processes see
//!   each other's pids only when both are equal. Without them (no `/proc`) it is
//!   `hostname:<name>`, and nobody judges such a creator's liveness.
//!
//! Uses the [`Client`] trait (one container list, then one removal per abandoned container),
//! the label names of [`labels`](crate::docker::labels), and `/proc`.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::client::Client;
use crate::docker::labels::{CREATED_AT_LABEL, CREATED_BY_LABEL};
use crate::error::Result;
use crate::ops::container::{ContainerListOptions, ContainerRemoveOptions, ContainerSummary};

/// The process that created a container: the value of [`CREATED_BY_LABEL`] (see the module's
/// docs for its form).
///
/// ```
/// use s2i_docker::docker::reap::Creator;
/// let me = Creator::current();
/// assert_eq!(me.pid, std::process::id());
/// let parsed: Creator = me.to_string().parse().unwrap();
/// assert_eq!(parsed, me);
/// assert_eq!(me.is_gone(), Some(false));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Creator {
    /// The process id.
    pub pid: u32,
    /// The process's start time in clock ticks since boot (`/proc/<pid>/stat` field 22); `0`
    /// when unknown.
    pub start_time: u64,
    /// Where pids mean the same: `<boot-id>/<pid-namespace-inode>`, or `hostname:<name>`.
    pub host: String,
}

impl Creator {
    /// This process.
    pub fn current() -> Creator {
        let pid = std::process::id();
        Creator::of_process(pid).unwrap_or_else(|| Creator {
            pid,
            start_time: 0,
            host: host().to_string(),
        })
    }

    /// A running process of this host, with its start time read now; `None` when there is no
    /// such process (or `/proc` cannot tell).
    pub fn of_process(pid: u32) -> Option<Creator> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, start_time) = parse_stat(&stat)?;
        Some(Creator {
            pid,
            start_time,
            host: host().to_string(),
        })
    }

    /// Whether this process has ended: `Some(true)` when it ran on this host (same boot, same
    /// pid namespace) and no process with its pid and start time runs (a zombie counts as
    /// ended); `Some(false)` when it still runs; `None` when this process cannot tell (another
    /// host, an earlier boot, no `/proc`, or pids of other users hidden by `hidepid`).
    pub fn is_gone(&self) -> Option<bool> {
        if !self.host.contains('/') || self.host != host() {
            return None;
        }
        match std::fs::read_to_string(format!("/proc/{}/stat", self.pid)) {
            Ok(stat) => {
                let (state, start) = parse_stat(&stat)?;
                let other = self.start_time != 0 && start != self.start_time;
                Some(other || state == 'Z' || state == 'X')
            }
            // Pid 1 always exists in a namespace: unseen, pids are hidden from this process.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::metadata("/proc/1/stat").ok().map(|_| true)
            }
            Err(_) => None,
        }
    }
}

impl fmt::Display for Creator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}@{}", self.pid, self.start_time, self.host)
    }
}

impl std::str::FromStr for Creator {
    type Err = crate::error::Error;

    /// Parses `<pid>:<start>@<host>`.
    fn from_str(s: &str) -> Result<Creator> {
        let bad = || {
            crate::error::Error::InvalidInput(format!(
                "invalid {CREATED_BY_LABEL} value {s:?}: expected <pid>:<start>@<host>"
            ))
        };
        let (process, host) = s.split_once('@').ok_or_else(bad)?;
        let (pid, start) = process.split_once(':').ok_or_else(bad)?;
        let host = host.trim();
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Creator {
            pid: pid.trim().parse().map_err(|_| bad())?,
            start_time: start.trim().parse().map_err(|_| bad())?,
            host: host.to_string(),
        })
    }
}

/// The state (field 3) and start time (field 22) of a `/proc/<pid>/stat` line. The command
/// name (field 2) is in parentheses and may hold spaces and parentheses: the fields after it
/// start after the last `)`.
fn parse_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // Fields 4..=21 lie between the state and the start time.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// This process's host: `<boot-id>/<pid-namespace-inode>`, else `hostname:<name>`.
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok();
        let ns = std::fs::read_link("/proc/self/ns/pid").ok().and_then(|l| {
            let l = l.to_string_lossy().into_owned();
            let inode = l.strip_prefix("pid:[")?.strip_suffix(']')?.to_string();
            Some(inode)
        });
        if let (Some(boot), Some(ns)) = (boot, ns) {
            let boot = boot.trim();
            if !boot.is_empty() {
                return format!("{boot}/{ns}");
            }
        }
        let name = ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .find_map(|p| std::fs::read_to_string(p).ok())
            .map(|n| n.trim().to_string())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "unknown".to_string());
        format!("hostname:{name}")
    })
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The labels every container the library creates carries: [`CREATED_BY_LABEL`] with this
/// process as [`Creator`], and [`CREATED_AT_LABEL`] with the time since the Unix epoch in
/// seconds, with nanoseconds after a dot (`1796517843.123456789`).
///
/// ```
/// use s2i_docker::docker::labels::{CREATED_AT_LABEL, CREATED_BY_LABEL};
/// let labels = s2i_docker::docker::reap::creation_labels();
/// assert!(labels[CREATED_BY_LABEL].starts_with(&format!("{}:", std::process::id())));
/// let (secs, nanos) = labels[CREATED_AT_LABEL].split_once('.').unwrap();
/// assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
/// assert_eq!(nanos.len(), 9);
/// ```
pub fn creation_labels() -> HashMap<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let at = format!("{}.{:09}", now.as_secs(), now.subsec_nanos());
    HashMap::from([
        (CREATED_BY_LABEL.to_string(), Creator::current().to_string()),
        (CREATED_AT_LABEL.to_string(), at),
    ])
}

/// The whole seconds of a [`CREATED_AT_LABEL`] value (`<secs>` or `<secs>.<fraction>`).
fn created_at_secs(value: &str) -> Option<u64> {
    let value = value.trim();
    let secs = value.split_once('.').map_or(value, |(secs, _)| secs);
    secs.parse().ok()
}

/// Why a listed container is removed, if it is.
fn abandoned(c: &ContainerSummary, max_age: Option<Duration>, now: u64) -> Option<String> {
    let creator = c.labels.get(CREATED_BY_LABEL).map(|v| v.parse::<Creator>());
    if let Some(Ok(creator)) = &creator {
        if creator.is_gone() == Some(true) {
            return Some(format!("its creator, process {creator}, is gone"));
        }
    }
    let max_age = max_age?;
    let created = c
        .labels
        .get(CREATED_AT_LABEL)
        .and_then(|v| created_at_secs(v))
        .unwrap_or_else(|| u64::try_from(c.created).unwrap_or(0));
    let age = Duration::from_secs(now.saturating_sub(created));
    (age > max_age).then(|| {
        format!(
            "it is {}s old, more than {}s",
            age.as_secs(),
            max_age.as_secs()
        )
    })
}

/// Whether the container's [`CREATED_BY_LABEL`] and [`CREATED_AT_LABEL`] came from its image
/// (an image committed from a labelled container carries its labels, and so do the containers
/// created from it): such a container was not created by the library, and is left alone. A
/// container the library created from such an image has labels of its own: another creation
/// time, to the nanosecond, even when the same process made the image. When that cannot be
/// told (the engine fails), the container is left alone too.
fn inherited(client: &dyn Client, c: &ContainerSummary) -> bool {
    let image = if c.image_id.is_empty() {
        &c.image
    } else {
        &c.image_id
    };
    if image.is_empty() {
        return false;
    }
    match client.image_inspect_with_raw(image) {
        Ok((inspect, _)) => {
            let of_image = inspect
                .config
                .and_then(|config| config.labels)
                .unwrap_or_default();
            let same = |key: &str| of_image.get(key) == c.labels.get(key);
            of_image.contains_key(CREATED_BY_LABEL)
                && same(CREATED_BY_LABEL)
                && same(CREATED_AT_LABEL)
        }
        Err(e) if e.is_not_found() => false,
        Err(e) => {
            log::warn!(
                "Leaving container {}: unable to inspect its image {image}: {e}",
                c.id
            );
            true
        }
    }
}

/// Force-removes (with their anonymous volumes) the containers this library created whose
/// creating process is gone, or that are older than `max_age`; returns the IDs removed.
///
/// The containers are those listed with the label [`CREATED_BY_LABEL`], running or not. One is
/// removed when its [`Creator`] ran on this host and has ended ([`Creator::is_gone`]), whatever
/// its age; or when `max_age` is given and it was created longer ago than that
/// ([`CREATED_AT_LABEL`], else the engine's creation time). A container created on another
/// host, or in an earlier boot, or in another pid namespace, is therefore only removed by age;
/// so is one whose creator label does not parse. Containers of processes that still run are
/// kept unless too old: choose `max_age` longer than the longest build.
///
/// A container whose creator and creation time labels are those of its image was not created
/// by the library: an image committed from a labelled container (as S2I commits its builds)
/// carries its labels, and so does every container created from that image. Such containers are left alone, as
/// are those whose image cannot be inspected (one image inspect per container to remove).
///
/// A container that is gone by the time it is removed (another process removed it) is not
/// counted; one that cannot be removed is logged (`warn`) and left for a later call.
///
/// ```no_run
/// use std::time::Duration;
/// use s2i_docker::docker::remove_abandoned_containers;
/// let engine = s2i_docker::EngineClient::from_env()?;
/// for id in remove_abandoned_containers(&engine, Some(Duration::from_secs(24 * 3600)))? {
///     println!("removed {id}");
/// }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
///
/// # Errors
/// The container list fails (the engine does not answer, or refuses the filter).
pub fn remove_abandoned_containers(
    client: &dyn Client,
    max_age: Option<Duration>,
) -> Result<Vec<String>> {
    let listed = client.container_list(&ContainerListOptions {
        all: true,
        labels: vec![CREATED_BY_LABEL.to_string()],
    })?;
    let now = unix_now();
    let mut removed = Vec::new();
    for c in &listed {
        let Some(why) = abandoned(c, max_age, now) else {
            continue;
        };
        if inherited(client, c) {
            continue;
        }
        log::info!("Removing container {}: {why}", c.id);
        let options = ContainerRemoveOptions {
            remove_volumes: true,
            force: true,
        };
        match client.container_remove(&c.id, &options) {
            Ok(()) => removed.push(c.id.clone()),
            Err(e) if e.is_not_found() => {}
            Err(e) => log::warn!("Unable to remove abandoned container {}: {e}", c.id),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    //! Who created a container, the labels of a run's container, and the removal of abandoned
    //! containers against the recording fake and, through HTTP, the fake engine.
    use super::*;
    use crate::docker::{Docker, DockerClient, RunContainerOptions};
    use crate::error::Error;
    use crate::fake::engine::{FakeEngine, FakeImage};
    use crate::fake::testing::docker::{auth, builder, image, logs_of};
    use crate::fake::FakeClient;
    use crate::ops::container::{self, ContainerConfig, ContainerCreateBody};

    mod cases;
}
