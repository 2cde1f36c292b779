//! The system models: what a ping's headers tell ([`Ping`]) and the reply of `GET /version`.
//!
//! Plain serde types: they use nothing of the crate but [`ops`](mod@crate::ops)' decoding of
//! `null` lists.

use serde::Deserialize;

/// What `GET /_ping` tells.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ping {
    /// The `Api-Version` header: the newest API version the daemon speaks.
    pub api_version: String,
    /// The `OSType` header, e.g. `linux`.
    pub os_type: String,
    /// The `Server` header, e.g. `Docker/20.10.24 (linux)` or `Libpod/4.3.1`.
    pub server: String,
    /// The `Docker-Experimental` header.
    pub experimental: bool,
}

/// The reply of `GET /version`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    /// The engine's version, e.g. `20.10.24+dfsg1`.
    #[serde(default)]
    pub version: String,
    /// The newest API version it speaks.
    #[serde(default)]
    pub api_version: String,
    /// The oldest API version it speaks.
    #[serde(default, rename = "MinAPIVersion", alias = "MinApiVersion")]
    pub min_api_version: String,
    /// The git commit it was built from.
    #[serde(default)]
    pub git_commit: String,
    /// The Go version it was built with.
    #[serde(default)]
    pub go_version: String,
    /// `linux`, ...
    #[serde(default)]
    pub os: String,
    /// `amd64`, ...
    #[serde(default)]
    pub arch: String,
    /// The kernel version.
    #[serde(default)]
    pub kernel_version: String,
    /// The components (`Engine`, `containerd`, `Podman Engine`, ...).
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub components: Vec<ComponentVersion>,
}

/// One component of a [`Version`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ComponentVersion {
    /// The component's name.
    #[serde(default)]
    pub name: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
}
