//! The archive model: what the daemon says about a copied path ([`ContainerPathStat`], from the
//! `X-Docker-Container-Path-Stat` header).
//!
//! A plain serde type; it uses nothing of the crate.

use serde::Deserialize;

/// What `X-Docker-Container-Path-Stat` says about the copied path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ContainerPathStat {
    /// The base name.
    #[serde(default)]
    pub name: String,
    /// The size in bytes.
    #[serde(default)]
    pub size: i64,
    /// The Go `os.FileMode` bits (type bits high, permissions low).
    #[serde(default)]
    pub mode: u32,
    /// The modification time, RFC 3339.
    #[serde(default)]
    pub mtime: String,
    /// The target of a symlink.
    #[serde(rename = "linkTarget", default)]
    pub link_target: String,
}
