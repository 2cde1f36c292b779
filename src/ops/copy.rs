//! Archive endpoints: copy a tar into and out of a container.

use std::io::Read;

use base64::Engine as _;
use serde::Deserialize;

use crate::engine::{EngineClient, Limits};
use crate::error::{Error, Result};
use crate::ops::{self, check_container_id};
use crate::transport::{encode_path_segment, query, Body, Response, ResponseBody};

/// Options of `PUT /containers/{id}/archive`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyToContainerOptions {
    /// Refuse to replace a directory with a non-directory and the reverse (`noOverwriteDirNonDir=true`).
    pub allow_overwrite_dir_with_file: bool,
    /// Give the copied files the container user's uid and gid (`copyUIDGID=true`).
    pub copy_uid_gid: bool,
}

/// Extracts a tar stream into a directory of a container (`PUT /containers/{id}/archive?path=..`).
///
/// The tar is streamed from `content` with chunked encoding, never held in memory. The query
/// carries `noOverwriteDirNonDir=true` unless
/// [`allow_overwrite_dir_with_file`](CopyToContainerOptions::allow_overwrite_dir_with_file) is
/// set, and `copyUIDGID=true` when [`copy_uid_gid`](CopyToContainerOptions::copy_uid_gid) is.
/// No total deadline: only a pause longer than the client's timeout fails the upload.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container or
/// directory, 400 for a body that is not a tar, 403 for a read-only path; reading `content`,
/// connection errors, timeouts.
pub fn put_archive(
    docker: &EngineClient,
    container: &str,
    path: &str,
    content: &mut (dyn Read + Send),
    options: &CopyToContainerOptions,
) -> Result<()> {
    check_container_id(container)?;
    let mut params = Vec::with_capacity(3);
    if options.copy_uid_gid {
        params.push(("copyUIDGID", "true"));
    }
    if !options.allow_overwrite_dir_with_file {
        params.push(("noOverwriteDirNonDir", "true"));
    }
    params.push(("path", path));
    let endpoint = format!(
        "/containers/{}/archive{}",
        encode_path_segment(container),
        query(&params)
    );
    let response = docker.call(
        "PUT",
        &endpoint,
        Vec::new(),
        Body::Reader(content),
        Limits::Stream,
    )?;
    ops::discard(response)
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

/// The header in which the daemon describes the path of an archive reply.
const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

/// Decodes `X-Docker-Container-Path-Stat`: base64 (standard alphabet) of a JSON object.
///
/// # Errors
/// [`Error::Other`] `unable to get resource stat from response: unable to decode container path
/// stat header: <why>` when the header is missing, not base64 or not the expected JSON.
pub fn decode_path_stat(header: Option<&str>) -> Result<ContainerPathStat> {
    let fail = |why: String| {
        Error::Other(format!(
            "unable to get resource stat from response: unable to decode container path stat header: {why}"
        ))
    };
    let header = header.ok_or_else(|| fail("the header is missing".into()))?;
    let json = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|e| fail(e.to_string()))?;
    serde_json::from_slice(&json).map_err(|e| fail(e.to_string()))
}

fn path_stat(response: &Response) -> Result<ContainerPathStat> {
    decode_path_stat(response.header(PATH_STAT_HEADER))
}

/// Reads a path of a container as a tar stream (`GET /containers/{id}/archive?path=..`).
///
/// Returns the tar (streamed, never held in memory) and what the daemon says about `path`.
/// A directory's tar holds the directory itself as its first entry; a file's holds the file.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty ID; [`Error::Api`] 404 for a missing container or path;
/// the errors of [`decode_path_stat`]; connection errors, timeouts.
pub fn get_archive(
    docker: &EngineClient,
    container: &str,
    path: &str,
) -> Result<(ResponseBody, ContainerPathStat)> {
    check_container_id(container)?;
    let endpoint = format!(
        "/containers/{}/archive{}",
        encode_path_segment(container),
        query(&[("path", path)])
    );
    let response = docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Stream)?;
    let stat = path_stat(&response)?;
    Ok((response.into_body(), stat))
}

/// Describes a path of a container without copying it (`HEAD /containers/{id}/archive?path=..`).
///
/// # Errors
/// As [`get_archive`]; a missing path is [`Error::Api`] 404 (a `HEAD` reply has no message).
pub fn stat(docker: &EngineClient, container: &str, path: &str) -> Result<ContainerPathStat> {
    check_container_id(container)?;
    let endpoint = format!(
        "/containers/{}/archive{}",
        encode_path_segment(container),
        query(&[("path", path)])
    );
    let response = docker.call("HEAD", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    let stat = path_stat(&response)?;
    ops::discard(response)?;
    Ok(stat)
}
