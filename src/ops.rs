//! The Engine endpoints as plain functions, one file per resource.
//!
//! Each function validates its arguments, builds the path from an inline literal with
//! percent-encoded segments, builds the query (keys sorted, as the Go client sends them), sends
//! through [`EngineClient`], checks the status and decodes. Replies read into memory are capped:
//! JSON at [`EngineClient::with_json_limit`] (16 MiB by default), error bodies at 1 MiB; streams
//! (pull and build output, archives, attach) are handed back as `Read` values.
//!
//! The same functions serve Podman's Docker-compatible API: where Podman answers differently,
//! they adjust the request or the reply so that both engines give the same result (see
//! [`podman`](mod@crate::ops::podman)).

pub mod container;
pub mod copy;
pub mod engine;
pub mod env;
pub mod image;
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
    serde_json::from_slice(bytes).map_err(|source| Error::Decode {
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

/// A scripted engine on a Unix socket for the unit tests: it records each request (decoded from
/// the wire) and answers with bytes a handler chooses.
#[cfg(test)]
pub(crate) mod test_server {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    use crate::config::DockerConfig;
    use crate::ops::engine::{new_engine_api_client, EngineClient};

    /// A request as the engine received it.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct Recorded {
        pub method: String,
        /// The path exactly as sent (still percent-encoded).
        pub path: String,
        /// The query pairs in the order sent, percent-decoded.
        pub query: Vec<(String, String)>,
        pub headers: Vec<(String, String)>,
        /// The body, de-chunked.
        pub body: Vec<u8>,
    }

    impl Recorded {
        pub fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }

        pub fn query_pairs(&self) -> Vec<(&str, &str)> {
            self.query
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect()
        }
    }

    /// What to answer: the bytes, and whether to close the connection afterwards.
    pub(crate) type Handler = dyn Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync;

    pub(crate) struct Server {
        pub requests: Arc<Mutex<Vec<Recorded>>>,
        pub path: PathBuf,
    }

    impl Server {
        pub fn requests(&self) -> Vec<Recorded> {
            self.requests.lock().map(|r| r.clone()).unwrap_or_default()
        }

        pub fn only_request(&self) -> Recorded {
            let r = self.requests();
            assert_eq!(r.len(), 1, "{r:#?}");
            r[0].clone()
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    /// A JSON reply with `Content-Length`.
    pub(crate) fn json(status: &str, body: &str) -> (Vec<u8>, bool) {
        (
            format!(
                "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .into_bytes(),
            false,
        )
    }

    /// Starts a server and a client pinned to API 1.41 (no negotiation unless `pinned` is false).
    pub(crate) fn serve_with(
        pinned: bool,
        handler: impl Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync + 'static,
    ) -> (EngineClient, Server) {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "s2i-docker-ops-{}-{}.sock",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind the test socket");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (handler, recorded) = (handler.clone(), recorded.clone());
                std::thread::spawn(move || serve_connection(conn, &*handler, &recorded));
            }
        });
        let config = DockerConfig {
            endpoint: format!("unix://{}", path.display()),
            ..Default::default()
        };
        let mut client = new_engine_api_client(&config).expect("client");
        if pinned {
            // Nor a ping to tell the engine: the tests that need Podman ask for it.
            client = client
                .with_api_version("1.41")
                .expect("version")
                .with_engine(crate::ops::engine::Engine::Docker);
        }
        (client, Server { requests, path })
    }

    pub(crate) fn serve(
        handler: impl Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync + 'static,
    ) -> (EngineClient, Server) {
        serve_with(true, handler)
    }

    fn serve_connection(conn: UnixStream, handler: &Handler, recorded: &Mutex<Vec<Recorded>>) {
        let Ok(mut writer) = conn.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(conn);
        while let Some(request) = read_request(&mut reader) {
            if let Ok(mut r) = recorded.lock() {
                r.push(request.clone());
            }
            let (reply, close) = handler(&request);
            if writer.write_all(&reply).is_err() || close {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }

    fn percent_decode(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' && i + 2 < b.len() {
                if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                    out.push(v);
                    i += 3;
                    continue;
                }
            }
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn read_request(r: &mut BufReader<UnixStream>) -> Option<Recorded> {
        let mut line = String::new();
        if r.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let method = parts.next()?.to_string();
        let target = parts.next()?.to_string();
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_string(), q.to_string()),
            None => (target.clone(), String::new()),
        };
        let query = query
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (percent_decode(k), percent_decode(v))
            })
            .collect();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let get = |n: &str| {
            headers
                .iter()
                .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if get("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let mut size = String::new();
                r.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; n + 2];
                r.read_exact(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(n) = get("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
            body.resize(n, 0);
            r.read_exact(&mut body).ok()?;
        }
        Some(Recorded {
            method,
            path,
            query,
            headers,
            body,
        })
    }
}
