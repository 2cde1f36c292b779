//! Archive endpoints: copy a tar into and out of a container.

use serde::Deserialize;

/// Options of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyToContainerOptions {
    /// Refuse to replace a directory with a non-directory and the reverse (`noOverwriteDirNonDir=true`).
    pub allow_overwrite_dir_with_file: bool,
    /// Give the copied files the container user's uid and gid (`copyUIDGID=true`).
    pub copy_uid_gid: bool,
}

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
