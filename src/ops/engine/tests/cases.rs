//! The client core against a scripted engine: engines told apart, API versions negotiated,
//! errors named, limits kept.

use super::*;

#[test]
fn engines_by_server_header() {
    for (server, engine) in [
        ("Libpod/4.3.1 (linux)", Engine::Podman),
        ("libpod/5.0.0", Engine::Podman),
        ("Docker/20.10.24+dfsg1 (linux)", Engine::Docker),
        ("", Engine::Docker),
        ("Libpodder/1", Engine::Docker),
    ] {
        assert_eq!(Engine::from_server_header(server), engine, "{server}");
    }
}

fn engine_server(server: &'static str) -> (EngineClient, Server) {
    serve_with(false, move |r| {
        if r.path == "/_ping" {
            return (
                format!("HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nServer: {server}\r\nContent-Length: 2\r\n\r\nOK").into_bytes(),
                false,
            );
        }
        json("200 OK", "{\"Id\":\"x\"}")
    })
}

#[test]
fn the_engine_is_asked_once() {
    // Told by the version negotiation's ping, for all clones.
    let (docker, server) = engine_server("Libpod/4.3.1 (linux)");
    crate::ops::container::inspect(&docker, "abc").unwrap();
    assert_eq!(docker.engine().unwrap(), Engine::Podman);
    assert_eq!(
        docker
            .with_timeout(Duration::from_secs(1))
            .engine()
            .unwrap(),
        Engine::Podman
    );
    assert_eq!(server.requests().len(), 2, "one ping, one inspect");
    assert!(format!("{docker:?}").contains("Podman"));
    // With a pinned version, by a ping of its own when first needed.
    let (docker, server) = engine_server("Docker/20.10.24 (linux)");
    let pinned = docker.with_api_version("1.41").unwrap();
    assert_eq!(pinned.engine().unwrap(), Engine::Docker);
    assert_eq!(docker.engine().unwrap(), Engine::Docker);
    assert_eq!(server.requests().len(), 1);
    // Asked first, by the negotiation's ping.
    let (docker, server) = engine_server("Libpod/4.3.1 (linux)");
    assert_eq!(docker.engine().unwrap(), Engine::Podman);
    crate::ops::image::inspect(&docker, "app:1").unwrap();
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        ["/_ping", "/v1.41/images/docker.io/library/app:1/json"]
    );
    // Or not at all when the caller says.
    let (docker, server) = engine_server("Docker/20.10.24 (linux)");
    assert_eq!(
        docker.with_engine(Engine::Podman).engine().unwrap(),
        Engine::Podman
    );
    assert!(server.requests().is_empty());
    // An explicit ping tells it too.
    crate::ops::system::ping(&docker).unwrap();
    assert_eq!(docker.engine().unwrap(), Engine::Docker);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn api_versions() {
    assert_eq!(&*parse_api_version("v1.41").unwrap(), "1.41");
    assert_eq!(&*parse_api_version("1.30").unwrap(), "1.30");
    assert_eq!(&*parse_api_version("1.52").unwrap(), "1.52");
    for bad in ["1", "1.", ".1", "1.4x", "latest", "v1.41.0"] {
        assert!(parse_api_version(bad).is_err(), "{bad}");
    }
    // Older than the client supports: a clear error, not a request the engine answers oddly.
    assert_eq!(
        check_api_version("v1.24").unwrap_err(),
        "API version 1.24 is older than 1.30, the oldest this client supports"
    );
    assert!(parse_api_version("0.9").is_err());
    let host = "unix:///var/run/docker.sock";
    assert_eq!(&*negotiate("1.41", host).unwrap(), "1.41");
    assert_eq!(&*negotiate("1.56", host).unwrap(), MAX_API_VERSION);
    assert_eq!(&*negotiate("1.45", host).unwrap(), "1.45");
    assert_eq!(&*negotiate("", host).unwrap(), MAX_API_VERSION);
    assert_eq!(&*negotiate("1.30", host).unwrap(), "1.30");
    let e = negotiate("1.29", host).unwrap_err().to_string();
    assert!(e.contains("1.29") && e.contains(MIN_API_VERSION), "{e}");
    // Numeric, not textual, comparison.
    assert_eq!(&*negotiate("1.100", host).unwrap(), MAX_API_VERSION);
}

#[test]
fn client_is_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<EngineClient>();
}

fn negotiating_server(offer: &'static str) -> (EngineClient, Server) {
    serve_with(false, move |r| {
        if r.path == "/_ping" {
            let header = if offer.is_empty() {
                String::new()
            } else {
                format!("Api-Version: {offer}\r\n")
            };
            return (
                format!("HTTP/1.1 200 OK\r\n{header}Content-Length: 2\r\n\r\nOK").into_bytes(),
                false,
            );
        }
        if r.path.ends_with("/gone/json") {
            return (
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
                false,
            );
        }
        json("200 OK", "{\"Id\":\"x\"}")
    })
}

#[test]
fn negotiates_once_and_prefixes_paths() {
    for (offer, used) in [
        ("1.43", "1.43"),
        ("1.99", MAX_API_VERSION),
        ("", MAX_API_VERSION),
    ] {
        let (docker, server) = negotiating_server(offer);
        for _ in 0..3 {
            crate::ops::container::inspect(&docker, "abc").unwrap();
        }
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        let want = format!("/v{used}/containers/abc/json");
        // A newer engine is asked for its oldest version (this one does not tell).
        let mut expected = vec!["/_ping".to_string()];
        if offer == "1.99" {
            expected.push("/v1.99/version".into());
        }
        expected.extend([want.clone(), want.clone(), want.clone()]);
        assert_eq!(paths, expected, "offer {offer:?}");
        assert_eq!(docker.api_version().unwrap(), used);
        // A clone shares the negotiated version: no second ping.
        crate::ops::container::inspect(&docker.with_timeout(Duration::from_secs(5)), "abc")
            .unwrap();
        assert_eq!(server.requests().len(), expected.len() + 1);
    }
}

#[test]
fn refuses_old_engines_naming_both_versions() {
    let (docker, server) = negotiating_server("1.25");
    let e = crate::ops::container::inspect(&docker, "abc").unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    let text = e.to_string();
    assert!(text.contains("1.25") && text.contains("1.30"), "{text}");
    assert_eq!(server.requests().len(), 1, "only the ping went out");
    // A pinned version skips negotiation altogether.
    let pinned = docker.with_api_version("v1.30").unwrap();
    crate::ops::container::inspect(&pinned, "abc").unwrap();
    assert_eq!(server.requests()[1].path, "/v1.30/containers/abc/json");
    assert!(docker.with_api_version("1.24").is_err());
}

/// An engine newer than the client, offering `offer` and answering `/version` with
/// `MinAPIVersion: minimum` (no such field when empty, a 404 for `-`).
fn newer_server(offer: &'static str, minimum: &'static str) -> (EngineClient, Server) {
    serve_with(false, move |r| {
        if r.path == "/_ping" {
            return (
                format!("HTTP/1.1 200 OK\r\nApi-Version: {offer}\r\nContent-Length: 2\r\n\r\nOK")
                    .into_bytes(),
                false,
            );
        }
        if r.path.ends_with("/version") {
            return match minimum {
                "-" => json("404 Not Found", "{\"message\":\"page not found\"}"),
                "" => json("200 OK", "{\"ApiVersion\":\"1.52\"}"),
                m => json(
                    "200 OK",
                    &format!("{{\"ApiVersion\":\"{offer}\",\"MinAPIVersion\":\"{m}\"}}"),
                ),
            };
        }
        json("200 OK", "{\"Id\":\"x\"}")
    })
}

#[test]
fn engines_that_dropped_old_versions_are_spoken_to_in_one_they_accept() {
    for (offer, minimum, used) in [
        // Docker 29: 1.44 to 1.52; the client's newest is accepted.
        ("1.52", "1.44", MAX_API_VERSION),
        ("1.52", "1.12", MAX_API_VERSION),
        // An engine that accepts nothing this old: its oldest.
        ("1.60", "1.50", "1.50"),
        // It does not tell, or tells nonsense: the client's newest, and the engine decides.
        ("1.60", "", MAX_API_VERSION),
        ("1.60", "-", MAX_API_VERSION),
        ("1.60", "x", MAX_API_VERSION),
        ("1.60", "1.70", MAX_API_VERSION),
    ] {
        let (docker, server) = newer_server(offer, minimum);
        crate::ops::container::inspect(&docker, "abc").unwrap();
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                "/_ping".to_string(),
                format!("/v{offer}/version"),
                format!("/v{used}/containers/abc/json")
            ],
            "{offer} {minimum}"
        );
        assert_eq!(docker.api_version().unwrap(), used);
    }
    // An engine no newer than the client needs no second question.
    let (docker, server) = newer_server(MAX_API_VERSION, "1.50");
    crate::ops::container::inspect(&docker, "abc").unwrap();
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn permission_errors_say_how_to_get_the_permission() {
    let denied = |host: &str| Error::Connect {
        host: host.into(),
        failure: ConnectFailure::PermissionDenied,
        source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
    };
    let e = with_permission_hint(denied("unix:///var/run/docker.sock"));
    assert!(matches!(
        e,
        Error::Connect {
            failure: ConnectFailure::PermissionDenied,
            ..
        }
    ));
    assert_eq!(
        e.to_string(),
        "permission denied while trying to connect to the docker API at \
         unix:///var/run/docker.sock; add the user to the `docker` group (`sudo usermod -aG \
         docker $USER`, then log in again), or set DOCKER_HOST to a socket the user may open, \
         such as rootless Docker's unix://$XDG_RUNTIME_DIR/docker.sock or Podman's \
         unix://$XDG_RUNTIME_DIR/podman/podman.sock"
    );
    // Once only, and only for sockets.
    assert_eq!(
        with_permission_hint(e)
            .to_string()
            .matches("usermod")
            .count(),
        1
    );
    let tcp = with_permission_hint(denied("tcp://10.0.0.1:2375")).to_string();
    assert!(!tcp.contains("usermod"), "{tcp}");
    let refused = with_permission_hint(Error::Connect {
        host: "unix:///var/run/docker.sock".into(),
        failure: ConnectFailure::NotRunning,
        source: std::io::ErrorKind::ConnectionRefused.into(),
    });
    assert!(!refused.to_string().contains("usermod"));

    // Through the client: a socket this user may not open. Root opens any file, so the
    // operating system's answer cannot be staged for every user; run it where it can be.
    let dir = TempDir::new();
    let path = dir.path().join("docker.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::os::unix::net::UnixStream::connect(&path).is_ok() {
        return;
    }
    let docker = new_engine_api_client(&DockerConfig {
        endpoint: format!("unix://{}", path.display()),
        ..Default::default()
    })
    .unwrap();
    let text = crate::ops::system::ping(&docker).unwrap_err().to_string();
    assert!(text.contains("`docker` group"), "{text}");
}

#[test]
fn empty_error_bodies_name_the_route() {
    let (docker, _server) = serve(|r| {
        assert!(r.path.ends_with("/json"));
        (
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
            false,
        )
    });
    let e = crate::ops::container::inspect(&docker, "gone").unwrap_err();
    assert!(e.is_not_found());
    let host = docker.host().to_string();
    assert_eq!(
        e.to_string(),
        format!("Error response from daemon: request returned Not Found for API route and version {host}/v1.41/containers/gone/json, check if the server supports the requested API version")
    );
}

#[test]
fn unreachable_engines_fail_to_connect() {
    let config = DockerConfig {
        endpoint: "unix:///nonexistent/s2i-docker/docker.sock".into(),
        ..Default::default()
    };
    let docker = new_engine_api_client(&config).unwrap();
    let e = crate::ops::system::ping(&docker).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let e = crate::ops::container::inspect(&docker, "abc").unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
}

#[test]
fn json_replies_are_capped() {
    let (docker, _server) =
        serve(|_| json("200 OK", &format!("{{\"Id\":\"{}\"}}", "a".repeat(4096))));
    assert!(crate::ops::container::inspect(&docker, "abc").is_ok());
    let small = docker.with_json_limit(1024);
    assert!(crate::ops::container::inspect(&small, "abc").is_err());
    // The clone's limit does not leak into the original.
    assert!(crate::ops::container::inspect(&docker, "abc").is_ok());
}

/// Runs `f` on a thread and fails the test if it has not returned within `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("still running after {limit:?}"))
}

/// An engine that answers a build with a 200 and a first line, an attach with a `101`, and
/// then stays silent; a commit or a wait gets no answer at all.
fn silent_engine() -> (EngineClient, Server) {
    serve(|r| {
        let reply: &[u8] = if r.path.ends_with("/build") {
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{\"stream\":\"x\"}\n\r\n"
        } else if r.path.ends_with("/attach") {
            b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
        } else {
            b""
        };
        (reply.to_vec(), false)
    })
}

#[test]
fn builds_and_commits_fail_after_their_silence_limit() {
    let (docker, _server) = silent_engine();
    assert!(format!("{docker:?}").contains("build_timeout: Some(1800s)"));
    let limit = Duration::from_millis(300);
    let docker = docker.with_build_timeout(Some(limit));
    let d = docker.clone();
    let e = within(Duration::from_secs(5), move || {
        let mut context = std::io::Cursor::new(b"tar".to_vec());
        let body = ops::image::build(&d, &mut context, &Default::default())?;
        body.read_to_vec(1 << 20)
    })
    .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    let e = within(Duration::from_secs(5), move || {
        ops::container::commit(&docker, "abc", &Default::default())
    })
    .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
}

#[test]
fn waits_and_attached_streams_have_a_limit_only_when_asked() {
    use std::io::Read;
    let (docker, _server) = silent_engine();
    // A wait: no limit by default, but a cancel ends it; a limit when one is set.
    let cancel = Cancel::new();
    let d = docker.with_cancel(cancel.clone());
    let waiting = std::thread::spawn(move || {
        ops::container::wait(&d, "abc", ops::container::WaitCondition::NotRunning)
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(!waiting.is_finished(), "a wait has no limit by default");
    cancel.cancel();
    let e = within(Duration::from_secs(5), move || waiting.join().unwrap()).unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    let d = docker.with_wait_timeout(Some(Duration::from_millis(300)));
    let e = within(Duration::from_secs(5), move || {
        ops::container::wait(&d, "abc", ops::container::WaitCondition::NotRunning)
    })
    .unwrap_err();
    assert!(e.is_timeout(), "{e:?}");
    // An attached stream: the same.
    let options = ops::container::ContainerAttachOptions {
        stream: true,
        stdout: true,
        ..Default::default()
    };
    let cancel = Cancel::new();
    let d = docker.with_cancel(cancel.clone());
    let mut attached = ops::container::attach(&d, "abc", &options).unwrap();
    let reading = std::thread::spawn(move || attached.reader.read(&mut [0u8; 8]));
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !reading.is_finished(),
        "an attached stream has no limit by default"
    );
    cancel.cancel();
    let e = within(Duration::from_secs(5), move || reading.join().unwrap()).unwrap_err();
    assert!(Error::from(e).is_cancelled());
    let d = docker.with_attach_timeout(Some(Duration::from_millis(300)));
    let mut attached = ops::container::attach(&d, "abc", &options).unwrap();
    let e = within(Duration::from_secs(5), move || {
        attached.reader.read(&mut [0u8; 8])
    })
    .unwrap_err();
    assert!(Error::from(e).is_timeout());
}

#[test]
fn any_json_limit_is_accepted() {
    let (docker, _server) = serve(|_| json("200 OK", "{\"Id\":\"abc\"}"));
    for limit in [usize::MAX, usize::MAX - 1, u32::MAX as usize, 0] {
        let r = crate::ops::container::inspect(&docker.with_json_limit(limit), "abc");
        assert_eq!(r.is_ok(), limit > 0, "limit {limit}: {r:?}");
    }
}
