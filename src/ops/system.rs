//! System endpoints: ping, version.
//!
//! [`Ping`], [`Version`] and [`ComponentVersion`] are defined in [`models`](crate::ops::models) and
//! re-exported here. Uses the engine client core, transport and error; nothing above `ops`.

use crate::error::Result;
use crate::ops;
use crate::ops::engine::{EngineClient, Limits};
use crate::transport::Body;

pub use crate::ops::models::{ComponentVersion, Ping, Version};

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

/// The engine's version and components (`GET /version`).
///
/// # Errors
/// Connection errors, timeouts, [`Error::Api`](crate::Error::Api) and
/// [`Error::Decode`](crate::Error::Decode) for a reply that is not the expected JSON.
pub fn version(docker: &EngineClient) -> Result<Version> {
    let response = docker.call("GET", "/version", Vec::new(), Body::Empty, Limits::Short)?;
    ops::read_json(docker, response, "GET /version")
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
