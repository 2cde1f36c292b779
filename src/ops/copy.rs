//! Archive endpoints: copy a tar into and out of a container, and describe a path of it.
//!
//! The tar streams both ways and is never held in memory. [`ContainerPathStat`] is defined in
//! [`models`](crate::ops::models) and re-exported here. Uses the engine client core, the container
//! inspect (to tell a missing container from a missing path on Podman), transport and error;
//! nothing above `ops`.

use std::io::Read;

use base64::Engine as _;

use crate::error::{Error, Result};
use crate::ops::engine::{EngineClient, Limits};
use crate::ops::{self, check_container_id};
use crate::transport::{encode_path_segment, query, Body, Response, ResponseBody};

pub use crate::ops::models::ContainerPathStat;

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
/// Podman creates a missing directory where Docker answers 404, so on Podman the directory is
/// looked up first (`HEAD`) and a missing one is Docker's 404, `Could not find the file <path>
/// in container <id>`, with nothing uploaded.
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
    if docker.is_podman()? {
        if let Err(e) = stat(docker, container, path) {
            if e.is_not_found() {
                // A HEAD reply has no text: tell a missing container from a missing path.
                crate::ops::container::inspect(docker, container)?;
                return Err(Error::api(
                    404,
                    format!("Could not find the file {path} in container {container}"),
                ));
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::testing::http::{json, serve};
    use base64::engine::general_purpose::STANDARD;

    const STAT: &str = "{\"name\":\"up.txt\",\"size\":14,\"mode\":420,\"mtime\":\"2024-01-01T00:00:00Z\",\"linkTarget\":\"\"}";

    #[test]
    fn path_stat_headers() {
        let good = STANDARD.encode(STAT);
        let stat = decode_path_stat(Some(&good)).unwrap();
        assert_eq!(
            stat,
            ContainerPathStat {
                name: "up.txt".into(),
                size: 14,
                mode: 420,
                mtime: "2024-01-01T00:00:00Z".into(),
                link_target: String::new(),
            }
        );
        let dir = STANDARD.encode("{\"name\":\"tmp\",\"size\":4096,\"mode\":2147484159,\"mtime\":\"x\",\"linkTarget\":\"\"}");
        assert_eq!(decode_path_stat(Some(&dir)).unwrap().mode, 2_147_484_159);
        let prefix = "unable to get resource stat from response: unable to decode container path stat header: ";
        for bad in [
            None,
            Some("!!not base64!!"),
            Some(&*STANDARD.encode("not json")),
            Some(""),
        ] {
            let e = decode_path_stat(bad).unwrap_err().to_string();
            assert!(e.starts_with(prefix), "{bad:?}: {e}");
            assert!(e.len() > prefix.len(), "{e}");
        }
    }

    #[test]
    fn put_archive_query_and_streamed_body() {
        let (docker, server) = serve(|_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(),
                false,
            )
        });
        let tar: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        put_archive(
            &docker,
            "abc",
            "/tmp",
            &mut &tar[..],
            &CopyToContainerOptions::default(),
        )
        .unwrap();
        let options = CopyToContainerOptions {
            allow_overwrite_dir_with_file: true,
            copy_uid_gid: true,
        };
        put_archive(&docker, "abc", "/opt/app root", &mut &b"x"[..], &options).unwrap();
        let r = server.requests();
        assert_eq!(
            (r[0].method.as_str(), r[0].path.as_str()),
            ("PUT", "/v1.41/containers/abc/archive")
        );
        assert_eq!(
            r[0].query_pairs(),
            [("noOverwriteDirNonDir", "true"), ("path", "/tmp")]
        );
        assert_eq!(r[0].body, tar);
        assert_eq!(r[0].header("Content-Type"), None);
        assert_eq!(
            r[1].query_pairs(),
            [("copyUIDGID", "true"), ("path", "/opt/app root")]
        );
    }

    #[test]
    fn get_archive_and_stat() {
        let header = STANDARD.encode(STAT);
        let (docker, server) = serve(move |r| {
            if r.path.contains("nostat") {
                return (
                    b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntar".to_vec(),
                    false,
                );
            }
            if r.query.iter().any(|(_, v)| v == "/missing") {
                return json(
                    "404 Not Found",
                    "{\"message\":\"Could not find the file /missing in container abc\"}",
                );
            }
            let body = if r.method == "HEAD" { "" } else { "tar" };
            (
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-tar\r\nX-Docker-Container-Path-Stat: {header}\r\nContent-Length: 3\r\n\r\n{body}"
                )
                .into_bytes(),
                false,
            )
        });
        let (mut body, stat) = get_archive(&docker, "abc", "/tmp/up.txt").unwrap();
        let mut data = Vec::new();
        body.read_to_end(&mut data).unwrap();
        assert_eq!(
            (data.as_slice(), stat.name.as_str()),
            (&b"tar"[..], "up.txt")
        );
        assert_eq!(stat.size, 14);
        let head = stat_path(&docker);
        assert_eq!(head.name, "up.txt");
        let e = get_archive(&docker, "nostat", "/x").map(drop).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("unable to get resource stat from response"),
            "{e}"
        );
        let e = get_archive(&docker, "abc", "/missing")
            .map(drop)
            .unwrap_err();
        assert!(e.is_not_found());
        let r = server.requests();
        assert_eq!(
            (r[0].method.as_str(), r[0].path.as_str()),
            ("GET", "/v1.41/containers/abc/archive")
        );
        assert_eq!(r[0].query_pairs(), [("path", "/tmp/up.txt")]);
        assert_eq!(r[1].method, "HEAD");
        assert!(get_archive(&docker, "", "/").is_err());
        assert_eq!(server.requests().len(), 4);
    }

    fn stat_path(docker: &EngineClient) -> ContainerPathStat {
        stat(docker, "abc", "/tmp/up.txt").unwrap()
    }

    #[test]
    fn podman_uploads_only_into_existing_directories() {
        let (docker, server) = serve(|r| {
            let missing = r.query_pairs().contains(&("path", "/no/such"));
            match r.method.as_str() {
                "HEAD" if missing || r.path.contains("gone") => {
                    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(), false)
                }
                "HEAD" => (
                    format!(
                        "HTTP/1.1 200 OK\r\nX-Docker-Container-Path-Stat: {}\r\nContent-Length: 0\r\n\r\n",
                        STANDARD.encode(STAT)
                    )
                    .into_bytes(),
                    false,
                ),
                "GET" if r.path.contains("gone") => {
                    json("404 Not Found", "{\"message\":\"no such container\"}")
                }
                "GET" => json("200 OK", "{\"Id\":\"c\"}"),
                _ => (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec(), false),
            }
        });
        let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
        let options = CopyToContainerOptions::default();
        put_archive(&docker, "c", "/tmp", &mut &b"tar"[..], &options).unwrap();
        let e = put_archive(&docker, "c", "/no/such", &mut &b"tar"[..], &options).unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "Error response from daemon: Could not find the file /no/such in container c"
        );
        let e = put_archive(&docker, "gone", "/tmp", &mut &b"tar"[..], &options).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error response from daemon: no such container"
        );
        let methods: Vec<String> = server.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(
            methods,
            ["HEAD", "PUT", "HEAD", "GET", "HEAD", "GET"],
            "nothing uploaded"
        );
    }
}
