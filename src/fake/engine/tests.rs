//! Tests of the fake as a whole, over a real Unix socket and raw HTTP: framing and headers,
//! unknown routes, strict mode, faults, a whole S2I run, and shutdown.
//!
//! The client side here (`call`, `read_reply`, ...) is deliberately independent of the crate's
//! transport, so the fake is checked against HTTP itself; the route tests beside the handlers
//! (`build`, `router::images`, `router::containers`) use it too.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use super::*;
use crate::transport::chunked::ChunkedDecoder;
use crate::transport::wire::{parse_response_head, Status};

/// A reply as the tests see it.
pub(super) struct Got {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Got {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// Reads one reply (by its framing) from `s`, leaving later bytes in `rest`.
pub(super) fn read_reply(s: &mut UnixStream, rest: &mut Vec<u8>, head_only: bool) -> Got {
    let mut buf = std::mem::take(rest);
    let mut tmp = [0u8; 8192];
    let (n, head) = loop {
        if let Status::Complete(x) = parse_response_head(&buf).unwrap() {
            break x;
        }
        let k = s.read(&mut tmp).unwrap();
        assert!(k > 0, "eof in head: {:?}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&tmp[..k]);
    };
    buf.drain(..n);
    let headers: Vec<(String, String)> = head
        .headers()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let mut body = Vec::new();
    if head_only || head.status == 204 || head.status == 304 {
    } else if head.has_token("Transfer-Encoding", "chunked") {
        let mut dec = ChunkedDecoder::new();
        loop {
            let (used, data) = dec.decode(&buf, usize::MAX).unwrap();
            body.extend_from_slice(&buf[data]);
            buf.drain(..used);
            if dec.is_done() {
                break;
            }
            if used == 0 {
                let k = s.read(&mut tmp).unwrap();
                assert!(k > 0, "eof in chunked body");
                buf.extend_from_slice(&tmp[..k]);
            }
        }
    } else if let Some(cl) = head.header("Content-Length") {
        let cl: usize = cl.parse().unwrap();
        while buf.len() < cl {
            let k = s.read(&mut tmp).unwrap();
            assert!(k > 0, "eof in body");
            buf.extend_from_slice(&tmp[..k]);
        }
        body = buf.drain(..cl).collect();
    }
    *rest = buf;
    Got {
        status: head.status,
        headers,
        body,
    }
}

/// The bytes of a request with a `Content-Length` body.
pub(super) fn request(method: &str, target: &str, headers: &str, body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "{method} {target} HTTP/1.1\r\nHost: api.moby.localhost\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// One request on a fresh connection, and its reply.
pub(super) fn call(fake: &RunningFake, method: &str, target: &str, body: &[u8]) -> Got {
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    s.write_all(&request(method, target, "", body)).unwrap();
    read_reply(&mut s, &mut Vec::new(), method == "HEAD")
}

/// A plain tar of regular files (mode `0644`).
pub(super) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = ::tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = ::tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A daemon with a `busybox` that looks like an S2I builder image.
pub(super) fn builder() -> FakeEngine {
    FakeEngine::new().image(
        "busybox",
        FakeImage::default()
            .cmd(&["sh"])
            .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
            .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755),
    )
}

#[test]
fn keep_alive_ping_and_daemon_headers() {
    let fake = builder().serve_unix().unwrap();
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    let mut rest = Vec::new();
    s.write_all(&request("GET", "/_ping", "", b"")).unwrap();
    let r = read_reply(&mut s, &mut rest, false);
    assert_eq!((r.status, r.body.as_slice()), (200, &b"OK"[..]));
    for (h, v) in [
        ("Api-Version", "1.41"),
        ("Ostype", "linux"),
        ("Docker-Experimental", "false"),
        ("Server", "Docker/20.10.24 (linux)"),
    ] {
        assert_eq!(r.header(h), Some(v), "{h}");
    }
    s.write_all(&request("HEAD", "/v1.41/_ping", "", b""))
        .unwrap();
    let r = read_reply(&mut s, &mut rest, true);
    assert_eq!((r.status, r.header("Content-Length")), (200, Some("0")));
    s.write_all(&request(
        "GET",
        "/v1.41/version",
        "Connection: close\r\n",
        b"",
    ))
    .unwrap();
    let r = read_reply(&mut s, &mut rest, false);
    assert_eq!(r.json()["ApiVersion"], "1.41");
    assert_eq!(r.header("Connection"), Some("close"));
    let mut tail = Vec::new();
    s.read_to_end(&mut tail).unwrap();
    assert!(tail.is_empty() && rest.is_empty());

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 3);
    assert_request(&reqs[1], "HEAD", "/_ping");
    assert_eq!(reqs[1].api_version.as_deref(), Some("1.41"));
    assert_eq!(reqs[2].route, Some(Route::Version));
}

#[test]
fn unknown_routes_and_versions() {
    let fake = builder().serve_unix().unwrap();
    let r = call(&fake, "GET", "/v1.41/nothing/here", b"");
    assert_eq!(
        (r.status, r.json()),
        (404, json!({"message": "page not found"}))
    );
    assert_eq!(r.header("Api-Version"), None);
    let r = call(&fake, "GET", "/v1.45/version", b"");
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["message"],
        "client version 1.45 is too new. Maximum supported API version is 1.41"
    );
    assert_eq!(fake.unhandled().len(), 1);
    let caught =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.assert_no_unhandled()));
    assert!(caught.is_err());
}

#[test]
fn strict_mode_reports_unhandled_requests() {
    let fake = builder().strict().serve_unix().unwrap();
    call(&fake, "GET", "/v1.41/networks", b"");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.requests()));
    let msg = caught.unwrap_err();
    let msg = msg.downcast_ref::<String>().unwrap();
    assert!(msg.contains("GET /networks"), "{msg}");
    fake.clear_requests();
    drop(fake);
}

/// The daemon's side of an S2I build, step by step as the reference drives it: create, attach
/// before start, start, stream the sources in, wait, download the artifact, commit, remove.
#[test]
fn a_whole_s2i_run() {
    let fake = builder()
        .on_command(
            "assemble",
            FakeRun::new()
                .stdout(b"---> Installing\n")
                .stderr(b"warn\n")
                .writes("/opt/app/out.bin", b"built", 0o755),
        )
        .serve_unix()
        .unwrap();
    let id = create_once_by_name(&fake);
    // Attach before start, as the reference does.
    let mut attached = attach_upgraded(&fake, &id);
    start_then_start_again(&fake, &id);
    send_sources_and_read_frames(&mut attached);
    wait_until_not_running(&fake, &id);
    check_the_run(&fake, &id);
    download_the_artifact(&fake, &id);
    commit_the_container(&fake, &id);
    kill_refused_then_remove(&fake, &id);
}

/// Creates the S2I container (`201`, a 64-hex ID); the same name again is a `409`.
fn create_once_by_name(fake: &RunningFake) -> String {
    let create = json!({
        "Image": "busybox", "OpenStdin": true, "StdinOnce": true, "AttachStdout": true,
        "Cmd": ["/bin/sh", "-c", "tar -C /tmp -xf - && /usr/libexec/s2i/assemble"],
        "HostConfig": {"ShmSize": 0}
    });
    let r = call(
        fake,
        "POST",
        "/v1.41/containers/create?name=s2i_busybox_1",
        &serde_json::to_vec(&create).unwrap(),
    );
    assert_eq!(r.status, 201);
    let id = r.json()["Id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 64);
    let again = call(
        fake,
        "POST",
        "/v1.41/containers/create?name=s2i_busybox_1",
        &serde_json::to_vec(&create).unwrap(),
    );
    assert_eq!(again.status, 409);
    id
}

/// Attaches all three streams with `Upgrade: tcp`; the stream after the `101` head.
fn attach_upgraded(fake: &RunningFake, id: &str) -> UnixStream {
    let mut a = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    a.write_all(&request(
        "POST",
        &format!("/v1.41/containers/{id}/attach?stderr=1&stdin=1&stdout=1&stream=1"),
        "Content-Type: text/plain\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n",
        b"",
    ))
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        a.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert_eq!(
        head,
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    );
    a
}

/// The first start is a `204`, a start of a running container a `304`.
fn start_then_start_again(fake: &RunningFake, id: &str) {
    assert_eq!(
        call(fake, "POST", &format!("/containers/{id}/start"), b"").status,
        204
    );
    assert_eq!(
        call(fake, "POST", &format!("/containers/{id}/start"), b"").status,
        304
    );
}

/// Writes a tar of the sources to standard input and closes it; the run's output comes back
/// as stdcopy frames and the stream ends.
fn send_sources_and_read_frames(a: &mut UnixStream) {
    a.write_all(&tar_of(&[("src/app.rb", b"puts 1\n")]))
        .unwrap();
    a.shutdown(Shutdown::Write).unwrap();
    let mut frames = Vec::new();
    a.read_to_end(&mut frames).unwrap();
    let mut want = vec![1, 0, 0, 0, 0, 0, 0, 16];
    want.extend_from_slice(b"---> Installing\n");
    want.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 5]);
    want.extend_from_slice(b"warn\n");
    assert_eq!(frames, want);
}

/// `wait` answers chunked (its head goes out before the container stops) with exit code 0.
fn wait_until_not_running(fake: &RunningFake, id: &str) {
    let w = call(
        fake,
        "POST",
        &format!("/v1.41/containers/{id}/wait?condition=not-running"),
        b"",
    );
    assert_eq!(w.header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(w.json(), json!({"Error": null, "StatusCode": 0}));
}

/// The sources were extracted where the command said; the container exited and kept the
/// daemon's default `ShmSize` for the `0` it was given.
fn check_the_run(fake: &RunningFake, id: &str) {
    assert_eq!(
        fake.container_file(id, "/tmp/src/app.rb").unwrap(),
        b"puts 1\n"
    );
    let info = fake.container("s2i_busybox_1").unwrap();
    assert_eq!((info.status.as_str(), info.exit_code), ("exited", 0));
    assert_eq!(info.host_config["ShmSize"], 67_108_864);
}

/// The run wrote its artifact: `GET .../archive` sends it as a tar with the path stat header.
fn download_the_artifact(fake: &RunningFake, id: &str) {
    let g = call(
        fake,
        "GET",
        &format!("/v1.41/containers/{id}/archive?path=/opt/app/out.bin"),
        b"",
    );
    assert_eq!(g.header("Content-Type"), Some("application/x-tar"));
    let stat = base64::engine::general_purpose::STANDARD
        .decode(g.header("X-Docker-Container-Path-Stat").unwrap())
        .unwrap();
    let stat: Value = serde_json::from_slice(&stat).unwrap();
    assert_eq!(
        (
            stat["name"].as_str(),
            stat["size"].as_u64(),
            stat["mode"].as_u64()
        ),
        (Some("out.bin"), Some(5), Some(0o755))
    );
    let mut ar = ::tar::Archive::new(&g.body[..]);
    let mut e = ar.entries().unwrap().next().unwrap().unwrap();
    let mut content = Vec::new();
    e.read_to_end(&mut content).unwrap();
    assert_eq!(content, b"built");
}

/// A commit makes an image with the request's config over the container's, and its files.
fn commit_the_container(fake: &RunningFake, id: &str) {
    let c = call(
        fake,
        "POST",
        &format!(
            "/v1.41/commit?author=&comment=&container={id}&repo=docker.io%2Flibrary%2Fapp&tag=1"
        ),
        br#"{"Cmd":["/usr/libexec/s2i/run"],"Labels":{"x":"y"}}"#,
    );
    assert_eq!(c.status, 201);
    let image = fake.image("app:1").unwrap();
    assert_eq!(c.json()["Id"], image.id);
    assert_eq!(image.config["Cmd"], json!(["/usr/libexec/s2i/run"]));
    assert_eq!(image.config["Labels"]["x"], "y");
    assert_eq!(
        fake.image_file("app:1", "/tmp/src/app.rb").unwrap(),
        b"puts 1\n"
    );
}

/// Killing a stopped container is a `409`; removing it works, and then it is gone.
fn kill_refused_then_remove(fake: &RunningFake, id: &str) {
    assert_eq!(
        call(fake, "POST", &format!("/containers/{id}/kill"), b"").status,
        409
    );
    assert_eq!(
        call(fake, "DELETE", &format!("/v1.41/containers/{id}?v=1"), b"").status,
        204
    );
    let gone = call(fake, "GET", &format!("/containers/{id}/json"), b"");
    assert_eq!(
        (gone.status, gone.json()["message"].as_str()),
        (404, Some(format!("No such container: {id}").as_str()))
    );
}

#[test]
fn faults_replace_or_damage_replies() {
    let fake = builder().serve_unix().unwrap();
    fake.fail(Route::ImageInspect, Fault::Status(500, "boom".into()))
        .times(1);
    let r = call(&fake, "GET", "/images/busybox/json", b"");
    assert_eq!(
        (r.status, r.json()["message"].as_str()),
        (500, Some("boom"))
    );
    assert_eq!(call(&fake, "GET", "/images/busybox/json", b"").status, 200);

    fake.fail(Route::Ping, Fault::MalformedHead).times(1);
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    s.write_all(&request("GET", "/_ping", "", b"")).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert!(parse_response_head(&raw).is_err());

    fake.fail(Route::Version, Fault::HangUpAfter(12)).times(1);
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    s.write_all(&request("GET", "/version", "", b"")).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert_eq!(raw, b"HTTP/1.1 200");

    fake.fail(Route::Version, Fault::TruncatedChunk).times(1);
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    s.write_all(&request("GET", "/version", "", b"")).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("Transfer-Encoding: chunked"));

    fake.fail(
        Route::ImagesCreate,
        Fault::InBand("manifest unknown".into()),
    );
    let r = call(
        &fake,
        "POST",
        "/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest",
        b"",
    );
    assert_eq!(r.status, 200);
    let text = String::from_utf8(r.body).unwrap();
    assert!(text.ends_with("{\"error\":\"manifest unknown\",\"errorDetail\":{\"message\":\"manifest unknown\"}}\r\n"), "{text}");
    fake.clear_faults();

    fake.fail(Route::Ping, Fault::Delay(Duration::from_millis(150)))
        .times(1);
    let t = std::time::Instant::now();
    assert_eq!(call(&fake, "GET", "/_ping", b"").status, 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn dropping_stops_threads_and_removes_the_directory() {
    let fake = builder()
        .on_command("sleep", FakeRun::new().delay(Duration::from_secs(60)))
        .serve_unix()
        .unwrap();
    let dir = fake.socket_path().unwrap().parent().unwrap().to_path_buf();
    let body = br#"{"Image":"busybox","Cmd":["sleep","60"]}"#;
    let id = call(&fake, "POST", "/containers/create", body).json()["Id"]
        .as_str()
        .unwrap()
        .to_string();
    call(&fake, "POST", &format!("/containers/{id}/start"), b"");
    // A wait that would block for a minute, an idle keep-alive connection, a half-read one.
    let mut w = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    w.write_all(&request("POST", &format!("/containers/{id}/wait"), "", b""))
        .unwrap();
    let _idle = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    let mut half = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    half.write_all(b"POST /build HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
        .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let t = std::time::Instant::now();
    drop(fake);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!dir.exists());
    let mut rest = Vec::new();
    let _ = w.read_to_end(&mut rest);
}

#[test]
fn debug_never_shows_registry_passwords() {
    let seed = FakeEngine::new().registry_login("registry.test", "user", "hunter2");
    let text = format!("{seed:?}");
    assert!(
        text.contains("registry.test") && !text.contains("hunter2"),
        "{text}"
    );
}

#[test]
fn bad_seeds_are_reported_not_panicked() {
    let err = FakeEngine::new()
        .image("Not Valid", FakeImage::default())
        .serve_unix()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err}");
}

mod versions;
