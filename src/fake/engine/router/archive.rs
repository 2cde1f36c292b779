//! `/containers/{id}/archive`: uploads extract into the container's files, downloads archive
//! from them, with the daemon's path stat header.
//!
//! Like every handler, it reads and changes the fake's state and nothing else; the tar work is
//! the fake's own `fs`.

use super::{no_such_container, Query};
use crate::fake::engine::fs::Kind;
use crate::fake::engine::http::{Body, Reply};
use crate::fake::engine::state::Shared;

/// `PUT /containers/{id}/archive?path=`: extracts a tar into a directory of the container.
pub(super) fn put(shared: &Shared, key: &str, q: &Query, body: &[u8]) -> Reply {
    let mut st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let path = q.get("path");
    if path.is_empty() {
        return Reply::error(400, "bad parameter: pathcannot be empty");
    }
    let Some(c) = st.containers.get_mut(&id) else {
        return no_such_container(key);
    };
    match c.fs.get(path).map(|e| &e.kind) {
        None => {
            return Reply::error(
                404,
                &format!("Could not find the file {path} in container {key}"),
            )
        }
        Some(Kind::Dir) => {}
        Some(_) => return Reply::error(400, "extraction point is not a directory"),
    }
    match c.fs.extract(path, body, q.flag("noOverwriteDirNonDir")) {
        Ok(()) => Reply::new(200, Body::Bytes(Vec::new())),
        Err(e) => Reply::error(400, &e),
    }
}

/// `GET`/`HEAD /containers/{id}/archive?path=`: a tar of the path and its stat header (the
/// stat alone for `HEAD`).
pub(super) fn get(shared: &Shared, key: &str, q: &Query, head: bool) -> Reply {
    let st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let path = q.get("path");
    if path.is_empty() {
        return Reply::error(400, "bad parameter: pathcannot be empty");
    }
    let fs = &st.containers[&id].fs;
    let Some(stat) = fs.stat(path) else {
        return Reply::error(
            404,
            &format!("Could not find the file {path} in container {key}"),
        );
    };
    if head {
        return Reply::new(200, Body::None)
            .header("X-Docker-Container-Path-Stat", stat.header_value());
    }
    match fs.archive(path) {
        Some(tar) => Reply::new(200, Body::Bytes(tar))
            .header("Content-Type", "application/x-tar")
            .header("X-Docker-Container-Path-Stat", stat.header_value()),
        None => Reply::error(500, &format!("cannot archive {path}")),
    }
}
