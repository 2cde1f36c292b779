//! `--callback-url`: when a build ends, successful or not, its outcome is posted to a URL as
//! the reference posts it, `{"payload": "", "success": true, "labels": {...}}` (the labels of
//! the image committed, left out when there are none), tried up to three times while no
//! answer comes. What goes wrong is told, not fatal: a callback never changes the build's
//! result.
//!
//! An `http://` URL is posted over the library's own transport; `https://` needs the `tls`
//! feature (the static binary is built without it, and says so).

use std::collections::HashMap;
use std::time::Duration;

use s2i_docker::transport::{Body, Host, Request, Timeouts, TlsSettings, Transport};

/// The time limits of each try.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    response: Some(Duration::from_secs(30)),
    idle: Some(Duration::from_secs(30)),
};

/// Posts the outcome to `url`; returns what went wrong, as the reference's messages read.
pub fn post(url: &str, success: bool, labels: &HashMap<String, String>) -> Vec<String> {
    let mut data = serde_json::json!({ "payload": "", "success": success });
    if !labels.is_empty() {
        data["labels"] = serde_json::json!(labels);
    }
    let body = data.to_string().into_bytes();
    let (transport, target) = match connect(url) {
        Ok(t) => t,
        Err(e) => return vec![format!("Unable to invoke callback: {e}")],
    };
    let mut messages = Vec::new();
    for _ in 0..3 {
        let request = Request {
            method: "POST",
            target: target.clone(),
            headers: vec![("Content-Type", "application/json".to_string())],
            body: Body::Bytes(body.clone()),
            timeouts: TIMEOUTS,
        };
        match transport.send(request, None) {
            Ok(response) => {
                if response.status >= 300 {
                    messages.push(format!(
                        "Callback returned with error code: {}",
                        response.status
                    ));
                }
                let _ = response.read_to_vec(64 << 10);
                break;
            }
            Err(e) => messages.push(format!("Unable to invoke callback: {e}")),
        }
    }
    messages
}

/// A transport to the URL's host, and the request target (path and query).
fn connect(url: &str) -> Result<(Transport, String), String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:?} is not an http:// or https:// URL"))?;
    let (port, tls) = match scheme {
        "http" => (80, None),
        "https" => (
            443,
            Some(TlsSettings {
                ca_file: None,
                cert_file: None,
                key_file: None,
                verify: true,
            }),
        ),
        _ => return Err(format!("{url:?} is not an http:// or https:// URL")),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(format!(
            "{url:?} must name a host (and no user): http://host[:port]/path"
        ));
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, p)) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':')
        }
        None => false,
    };
    let authority = match has_port {
        true => authority.to_string(),
        false => format!("{authority}:{port}"),
    };
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    let host =
        Host::parse(&format!("tcp://{authority}"), tls.is_some()).map_err(|e| e.to_string())?;
    let transport = Transport::new(host, tls).map_err(|e| e.to_string())?;
    Ok((transport, target))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// Answers `statuses` to as many requests, one connection each; returns their bodies.
    fn receiver(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook?build=1", listener.local_addr().unwrap());
        let done = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for status in statuses {
                let (socket, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(socket);
                let mut line = String::new();
                let mut length = 0;
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, "POST /hook?build=1 HTTP/1.1\r\n");
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                bodies.push(String::from_utf8(body).unwrap());
                write!(
                    reader.get_mut(),
                    "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
                .unwrap();
            }
            bodies
        });
        (url, done)
    }

    #[test]
    fn the_outcome_is_posted_as_json() {
        let (url, done) = receiver(vec![200, 500]);
        let labels: HashMap<String, String> = [("a".to_string(), "b".to_string())].into();
        assert!(post(&url, true, &labels).is_empty());
        assert_eq!(
            post(&url, false, &HashMap::new()),
            ["Callback returned with error code: 500"]
        );
        let bodies = done.join().unwrap();
        let first: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"payload": "", "success": true, "labels": {"a": "b"}})
        );
        let second: serde_json::Value = serde_json::from_str(&bodies[1]).unwrap();
        assert_eq!(second, serde_json::json!({"payload": "", "success": false}));
    }

    #[test]
    fn what_goes_wrong_is_told() {
        // Nobody listens: three tries, three messages.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let messages = post(&format!("http://127.0.0.1:{port}/"), true, &HashMap::new());
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(
            messages[0].starts_with("Unable to invoke callback: "),
            "{messages:?}"
        );
        for bad in ["ftp://x/", "x", "http:///path", "http://user@host/"] {
            let m = post(bad, true, &HashMap::new());
            assert_eq!(m.len(), 1, "{bad}: {m:?}");
            assert!(m[0].starts_with("Unable to invoke callback: "), "{m:?}");
        }
    }

    #[test]
    fn urls_become_a_host_and_a_target() {
        let (_, target) = connect("http://example.com").unwrap();
        assert_eq!(target, "/");
        let (_, target) = connect("http://example.com:8080?x=1").unwrap();
        assert_eq!(target, "/?x=1");
        let (_, target) = connect("http://[::1]/a/b").unwrap();
        assert_eq!(target, "/a/b");
    }
}
