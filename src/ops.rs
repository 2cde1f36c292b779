//! The Engine API, the floor the [`Client`](crate::Client) trait and the S2I operations stand
//! on: the engine client, and every endpoint as a plain function.
//!
//! - [`engine`]: the engine client core. [`EngineClient`] holds the transport, the limits of a
//!   call (the inactivity timeout, the JSON cap), sends calls and upgrades, negotiates the API
//!   version with the engine's ping, and tells Docker from Podman by it.
//! - [`env`](mod@env): where the engine is, from the docker CLI's environment
//!   ([`env::DockerConfig`]).
//! - One file per resource, one function per endpoint, each with its options directly above
//!   it: [`container`], [`image`], [`copy`] (archives in and out of a container), [`system`]
//!   (ping, version).
//! - [`stream`]: the two stream formats, stdcopy frames (attach, logs) and JSON-lines progress
//!   (pull, push, build).
//! - [`podman`]: where Podman's Docker-compatible API answers differently, as plain functions
//!   the endpoints call so that both engines give the same results.
//! - [`models`]: every Engine type in one place (the JSON models and replies, defined there, and
//!   the options, named there too).
//!
//! Each function validates its arguments, builds the path from an inline literal with
//! percent-encoded segments, builds the query (keys sorted, as the Go client sends them), sends
//! through [`EngineClient`], checks the status and decodes. Replies read into memory are capped:
//! JSON at [`EngineClient::with_json_limit`] (16 MiB by default), error bodies at 1 MiB; streams
//! (pull and build output, archives, attach) are handed back as `Read` values.
//!
//! `ops` uses [`transport`](crate::transport) (bytes and HTTP/1.1), [`error`](crate::error) and
//! [`image_ref`](crate::image_ref) (to normalise references); nothing above it: not the `Client`
//! or `Docker` traits, the S2I configuration, registry credentials or the fakes. This file holds
//! what every endpoint shares: refusing an empty container ID, reading a JSON reply within the
//! cap, and turning an error reply into [`Error::Api`] as moby does.

pub mod container;
pub mod copy;
pub mod engine;
pub mod env;
pub mod image;
pub mod models;
pub mod podman;
pub mod stream;
pub mod system;

use std::io::Read;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::ops::engine::EngineClient;
use crate::transport::Response;

/// The most of an error reply that is read (moby reads 1 MiB too).
const ERROR_BODY_LIMIT: u64 = 1 << 20;

/// A streamed response body (pull progress, build output, an archive).
pub type BodyReader = Box<dyn Read + Send>;

/// Decodes `null` as the type's default (the Engine sends `null` for empty lists and maps).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Rejects an empty container ID before anything is sent (an empty segment would address
/// another route, e.g. `DELETE /containers/` → 404 page not found).
pub(crate) fn check_container_id(id: &str) -> Result<()> {
    if id.trim().is_empty() {
        return Err(Error::InvalidInput(
            "invalid container name or ID: value is empty".into(),
        ));
    }
    Ok(())
}

/// Reads a JSON reply of at most the client's limit.
pub(crate) fn read_json_bytes(docker: &EngineClient, response: Response) -> Result<Vec<u8>> {
    response.read_to_vec(docker.json_limit())
}

/// Reads and decodes a JSON reply; `what` names it in a decode error (`GET /containers/{id}/json`).
pub(crate) fn read_json<T: DeserializeOwned>(
    docker: &EngineClient,
    response: Response,
    what: &str,
) -> Result<T> {
    let bytes = read_json_bytes(docker, response)?;
    decode_json(&bytes, what)
}

pub(crate) fn decode_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T> {
    // One reader for every reply (`from_slice`): each model's decoding is compiled once.
    decode_json_with(bytes, what, |bytes| serde_json::from_slice(bytes))
}

/// Decodes the reply of `what` with `decode` (e.g. a model's own reader), its error as
/// [`Error::Decode`].
pub(crate) fn decode_json_with<T>(
    bytes: &[u8],
    what: &str,
    decode: impl FnOnce(&[u8]) -> serde_json::Result<T>,
) -> Result<T> {
    decode(bytes).map_err(|source| Error::Decode {
        what: format!("{what} reply"),
        source,
    })
}

/// Drains a reply whose body is not used, so its connection can serve the next call.
pub(crate) fn discard(response: Response) -> Result<()> {
    response.read_to_vec(ERROR_BODY_LIMIT as usize).map(drop)
}

/// Turns a 4xx/5xx reply into [`Error::Api`] as moby's `checkResponseErr` does.
///
/// At most 1 MiB of the body is read. A JSON body gives its `message`; another body gives its
/// trimmed text; an empty body says which route failed:
/// `request returned Not Found for API route and version <url>, check if the server supports the
/// requested API version`.
pub(crate) fn error_from_response(response: Response, url: &str) -> Error {
    let status = response.status;
    let json = response
        .header("Content-Type")
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    let mut body = Vec::new();
    // A reply cut short still says what it managed to say.
    let _ = response
        .into_body()
        .take(ERROR_BODY_LIMIT)
        .read_to_end(&mut body);
    Error::Api {
        status,
        message: error_message(status, json, &body, url),
    }
}

fn error_message(status: u16, json: bool, body: &[u8], url: &str) -> String {
    #[derive(Deserialize)]
    struct ErrorResponse {
        #[serde(default)]
        message: String,
    }
    let text = String::from_utf8_lossy(body);
    let mut text = text.trim();
    let parsed;
    if json || text.starts_with('{') {
        if let Ok(e) = serde_json::from_slice::<ErrorResponse>(body) {
            parsed = e.message;
            text = parsed.trim();
        }
    }
    if text.is_empty() {
        return format!(
            "request returned {} for API route and version {url}, check if the server supports the requested API version",
            status_text(status)
        );
    }
    text.to_string()
}

/// Go's `http.StatusText` for the statuses an engine sends.
fn status_text(status: u16) -> String {
    let text = match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        415 => "Unsupported Media Type",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => return status.to_string(),
    };
    text.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages() {
        let url = "unix:///var/run/docker.sock/v1.41/containers/x/json";
        let cases: &[(u16, bool, &str, &str)] = &[
            (404, true, "{\"message\":\"No such container: x\"}\n", "No such container: x"),
            (409, false, "{\"message\":\" conflict \"}", "conflict"),
            (500, false, "  plain failure\n", "plain failure"),
            (500, true, "{not json", "{not json"),
            (401, true, "{}", "request returned Unauthorized for API route and version unix:///var/run/docker.sock/v1.41/containers/x/json, check if the server supports the requested API version"),
            (
                404,
                false,
                "",
                "request returned Not Found for API route and version unix:///var/run/docker.sock/v1.41/containers/x/json, check if the server supports the requested API version",
            ),
            (
                599,
                false,
                " \n",
                "request returned 599 for API route and version unix:///var/run/docker.sock/v1.41/containers/x/json, check if the server supports the requested API version",
            ),
        ];
        for &(status, json, body, want) in cases {
            assert_eq!(
                error_message(status, json, body.as_bytes(), url),
                want,
                "{body:?}"
            );
        }
    }

    #[test]
    fn replies_that_are_not_utf8_decode_as_bytes() {
        #[derive(Deserialize, Debug, PartialEq)]
        struct Reply {
            #[serde(rename = "Id")]
            id: String,
        }
        let ok = |bytes: &[u8]| decode_json::<Reply>(bytes, "GET /x").map(|r| r.id);
        assert_eq!(ok(br#"{"Id":"caf\u00e9","X":1}"#).unwrap(), "caf\u{e9}");
        // A byte that is not UTF-8 in a field nobody reads is no error, as before.
        assert_eq!(ok(b"{\"Id\":\"a\",\"X\":\"\xff\"}").unwrap(), "a");
        match ok(b"{\"Id\":\"\xff\"}") {
            Err(Error::Decode { what, .. }) => assert_eq!(what, "GET /x reply"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_container_ids_are_refused() {
        for id in ["", " "] {
            let e = check_container_id(id).unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)));
            assert_eq!(
                e.to_string(),
                "invalid container name or ID: value is empty"
            );
        }
        assert!(check_container_id("abc").is_ok());
    }
}
