//! `/_ping` and `/version`: what the daemon says about itself.
//!
//! Constant replies, but for the API versions the daemon was given.

use serde_json::json;

use crate::fake::engine::http::{Body, Reply};
use crate::fake::engine::state::{ApiVersions, DOCKER_VERSION};

/// `GET`/`HEAD /_ping`.
pub(super) fn ping(head: bool) -> Reply {
    let body = if head { Vec::new() } else { b"OK".to_vec() };
    Reply::new(200, Body::Bytes(body))
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Pragma", "no-cache")
}

/// `GET /version`.
pub(super) fn version(versions: &ApiVersions) -> Reply {
    let ApiVersions { max, min } = versions;
    Reply::json(
        200,
        &json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [{
                "Name": "Engine",
                "Version": DOCKER_VERSION,
                "Details": {
                    "ApiVersion": max, "Arch": "amd64", "Experimental": "false",
                    "GitCommit": "fake", "GoVersion": "go1.19.8", "KernelVersion": "6.1.0",
                    "MinAPIVersion": min, "Os": "linux"
                }
            }],
            "Version": DOCKER_VERSION,
            "ApiVersion": max,
            "MinAPIVersion": min,
            "GitCommit": "fake",
            "GoVersion": "go1.19.8",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.1.0",
            "BuildTime": "2023-04-04T00:00:00.000000000+00:00"
        }),
    )
}
