//! `--callback-url`: when a build ends, successful or not, its outcome is posted to a URL as
//! the reference posts it, `{"payload": "", "success": true, "labels": {...}}` (the labels of
//! the image committed, left out when there are none), tried up to three times while no
//! answer comes. What goes wrong is told, not fatal: a callback never changes the build's
//! result.
//!
//! The URL is reached as [`http`](crate::http) reaches one: an `http://` URL through the proxy
//! the environment names for it, as the reference's Go client does; `https://` with the `tls`
//! feature only, and directly.

use std::collections::HashMap;
use std::time::Duration;

use s2i_docker::transport::{Body, Timeouts};

use crate::http::route;

/// The time limits of each try.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(10),
    response: Some(Duration::from_secs(30)),
    idle: Some(Duration::from_secs(30)),
};

/// Posts the outcome to `url`; returns what went wrong, as the reference's messages read.
pub fn post(url: &str, success: bool, labels: &HashMap<String, String>) -> Vec<String> {
    post_with(url, success, labels, &|name| std::env::var(name).ok())
}

/// As [`post`], reading the environment through `env`.
fn post_with(
    url: &str,
    success: bool,
    labels: &HashMap<String, String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut data = serde_json::json!({ "payload": "", "success": success });
    if !labels.is_empty() {
        data["labels"] = serde_json::json!(labels);
    }
    let body = data.to_string().into_bytes();
    let mut messages = Vec::new();
    let route = match route(url, env, &mut messages) {
        Ok(r) => r,
        Err(e) => return vec![format!("Unable to invoke callback: {e}")],
    };
    for _ in 0..3 {
        let request = route.request(
            "POST",
            vec![("Content-Type", "application/json".to_string())],
            Body::Bytes(body.clone()),
            TIMEOUTS,
        );
        match route.send(request) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    /// Answers `statuses` to as many requests, one connection each; returns their bodies.
    fn receiver(statuses: Vec<u16>) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let (address, done) = listener(statuses, None);
        (format!("http://{address}/hook?build=1"), done)
    }

    /// As [`receiver`], at the returned address (`host:port`), for requests whose target and
    /// one of whose header lines are `expect` (by default, the path and query of `receiver`).
    fn listener(
        statuses: Vec<u16>,
        expect: Option<(&'static str, &'static str)>,
    ) -> (String, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let (target, header) = expect.unwrap_or(("/hook?build=1", ""));
        let done = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for status in statuses {
                let (socket, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(socket);
                let mut line = String::new();
                let mut length = 0;
                reader.read_line(&mut line).unwrap();
                assert_eq!(line, format!("POST {target} HTTP/1.1\r\n"));
                let mut headers = String::new();
                loop {
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    if line == "\r\n" {
                        break;
                    }
                    headers.push_str(&line);
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                assert!(headers.contains(header), "{header} not in {headers}");
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
        (address, done)
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
        for bad in ["ftp://x/", "x", "http:///path", "http://user@:80/"] {
            let m = post(bad, true, &HashMap::new());
            assert_eq!(m.len(), 1, "{bad}: {m:?}");
            assert!(m[0].starts_with("Unable to invoke callback: "), "{m:?}");
        }
    }

    #[test]
    fn the_environments_proxy_is_used() {
        // The listener stands in for the proxy: the request names the whole URL and carries
        // the proxy's credentials.
        let auth = "Proxy-Authorization: Basic dTpwdw==\r\n";
        let (proxy, done) = listener(vec![200], Some(("http://hooks.example:81/h?x=1", auth)));
        let env = move |name: &str| match name {
            "HTTP_PROXY" => Some(format!("http://u:pw@{proxy}")),
            "NO_PROXY" => Some("other.example".to_string()),
            _ => None,
        };
        let url = "http://hooks.example:81/h?x=1";
        assert!(post_with(url, true, &HashMap::new(), &env).is_empty());
        let body: serde_json::Value = serde_json::from_str(&done.join().unwrap()[0]).unwrap();
        assert_eq!(body, serde_json::json!({"payload": "", "success": true}));
        // A host NO_PROXY names goes direct: the target is the path alone.
        let direct = route("http://other.example:1/p", &env, &mut Vec::new()).unwrap();
        assert_eq!(direct.target, "/p");
        // A proxy it cannot use is said, its credentials not.
        let socks = |n: &str| (n == "HTTP_PROXY").then(|| "socks5://u:secret@p:1".to_string());
        let m = post_with(url, true, &HashMap::new(), &socks);
        assert!(
            m.len() == 1 && m[0].contains("only http://") && !m[0].contains("secret"),
            "{m:?}"
        );
    }
}
