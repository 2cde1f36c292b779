//! System endpoints: ping, version.

use serde::Deserialize;

use crate::error::Result;
use crate::ops;
use crate::ops::engine::{EngineClient, Limits};
use crate::transport::Body;

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

/// Asks the engine whether it is there (`GET /_ping`) and what it speaks.
///
/// The ping is sent without a version prefix, so it needs no negotiation and works with any
/// engine version.
///
/// # Errors
/// Connection errors ([`Error::Connect`](crate::Error::Connect)), timeouts, and
/// [`Error::Api`](crate::Error::Api) when the engine answers with an error status.
pub fn ping(docker: &EngineClient) -> Result<Ping> {
    let response = docker.call_unversioned("GET", "/_ping", Limits::Short)?;
    let header = |name| response.header(name).unwrap_or_default().to_string();
    let ping = Ping {
        api_version: header("Api-Version"),
        os_type: header("Ostype"),
        server: header("Server"),
        experimental: response
            .header("Docker-Experimental")
            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
    };
    ops::discard(response)?;
    docker.note_server(&ping.server);
    Ok(ping)
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

/// The engine's version and components (`GET /version`).
///
/// # Errors
/// Connection errors, timeouts, [`Error::Api`](crate::Error::Api) and
/// [`Error::Decode`](crate::Error::Decode) for a reply that is not the expected JSON.
pub fn version(docker: &EngineClient) -> Result<Version> {
    let response = docker.call("GET", "/version", Vec::new(), Body::Empty, Limits::Short)?;
    ops::read_json(docker, response, "GET /version")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::testing::http::{json, serve, serve_with};

    #[test]
    fn ping_reads_the_headers_unversioned() {
        let (docker, server) = serve_with(false, |_| {
            (
                b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nOstype: linux\r\nServer: Docker/20.10.24 (linux)\r\nDocker-Experimental: true\r\nContent-Length: 2\r\n\r\nOK".to_vec(),
                false,
            )
        });
        let ping = ping(&docker).unwrap();
        assert_eq!(
            ping,
            Ping {
                api_version: "1.41".into(),
                os_type: "linux".into(),
                server: "Docker/20.10.24 (linux)".into(),
                experimental: true,
            }
        );
        let r = server.only_request();
        assert_eq!((r.method.as_str(), r.path.as_str()), ("GET", "/_ping"));
        assert!(r.query.is_empty() && r.body.is_empty());
    }

    #[test]
    fn version_decodes_the_engine_reply() {
        let (docker, server) = serve(|_| {
            json(
                "200 OK",
                "{\"Version\":\"20.10.24\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\",\"Os\":\"linux\",\"Arch\":\"amd64\",\"Components\":[{\"Name\":\"Engine\",\"Version\":\"20.10.24\",\"Details\":{}}]}",
            )
        });
        let v = version(&docker).unwrap();
        assert_eq!(v.version, "20.10.24");
        assert_eq!(v.min_api_version, "1.12");
        assert_eq!(v.components[0].name, "Engine");
        assert_eq!(server.only_request().path, "/v1.41/version");
    }
}
