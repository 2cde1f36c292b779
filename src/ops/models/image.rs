//! The image models: the inspect reply ([`ImageInspect`], whose `Config` is a
//! [`ContainerConfig`]) and the entries of a remove's reply.
//!
//! Plain serde types: they use nothing of the crate but the container models and
//! [`ops`](mod@crate::ops)' decoding of `null` lists.

use serde::Deserialize;

use super::ContainerConfig;

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
