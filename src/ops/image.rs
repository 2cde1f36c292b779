//! Image endpoints: inspect, pull, remove, build.

use std::collections::HashMap;

use serde::Deserialize;

use crate::ops::container::ContainerConfig;

/// The reply of `GET /images/{name}/json` (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image ID, `sha256:...`.
    #[serde(default)]
    pub id: String,
    /// Its tags, `name:tag`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_tags: Vec<String>,
    /// Its digests, `name@sha256:...`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_digests: Vec<String>,
    /// Its configuration: user, env, entrypoint, working dir, labels, `ONBUILD` triggers.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// The architecture, e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// The operating system, e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// The size in bytes.
    #[serde(default)]
    pub size: i64,
}

/// Options of `POST /images/create` (a pull).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImagePullOptions {
    /// The `X-Registry-Auth` header value (base64url JSON); empty sends none.
    pub registry_auth: String,
    /// The platform, e.g. `linux/amd64`; empty for the daemon's.
    pub platform: String,
}

/// Options of `DELETE /images/{name}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageRemoveOptions {
    /// Remove even if in use by stopped containers or tagged in several repositories (`force=1`).
    pub force: bool,
    /// Keep untagged parents (`noprune=1`).
    pub no_prune: bool,
}

/// One entry of the reply of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteResponseItem {
    /// A tag that was removed.
    #[serde(default)]
    pub untagged: String,
    /// An image ID that was deleted.
    #[serde(default)]
    pub deleted: String,
}

/// Options of `POST /build`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageBuildOptions {
    /// Tags for the image (`t`, repeated).
    pub tags: Vec<String>,
    /// Do not use the cache (`nocache=1`).
    pub no_cache: bool,
    /// Remove intermediate containers after a successful build (`rm`, default on in the Engine).
    pub remove: bool,
    /// Always remove intermediate containers (`forcerm=1`).
    pub force_remove: bool,
    /// Memory limit in bytes (`memory`, when non-zero).
    pub memory: i64,
    /// Memory plus swap (`memswap`, when non-zero).
    pub memory_swap: i64,
    /// CPU shares (`cpushares`, when non-zero).
    pub cpu_shares: i64,
    /// CPU period (`cpuperiod`, when non-zero).
    pub cpu_period: i64,
    /// CPU quota (`cpuquota`, when non-zero).
    pub cpu_quota: i64,
    /// The parent cgroup (`cgroupparent`, when non-empty).
    pub cgroup_parent: String,
    /// The Dockerfile's path inside the context (`dockerfile`, when non-empty).
    pub dockerfile: String,
    /// Build-time labels (`labels`, JSON, when non-empty).
    pub labels: HashMap<String, String>,
}
