//! The cases of the ssh connector's tests (see the parent module).

use super::*;

/// Answers every request head on its input with `200 OK`, until its input ends.
const HTTP_OK: &str = r#"while IFS= read -r line; do
  [ "$line" = "$(printf '\r')" ] && printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'
done"#;

fn host() -> Host {
    Host::parse("ssh://me@remote:2222", false).unwrap()
}

/// A connector whose `ssh` is a shell script with `body`, in `dir`.
fn scripted(dir: &TempDir, name: &str, body: &str) -> SshConnector {
    let path = dir.path().join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = SshConnector::new(&host()).unwrap();
    c.program = path;
    c
}

/// Connects, trying again while another test's fork still holds the new script open for
/// writing (`ETXTBSY`, a race of tests that write executables, not of the connector).
fn connect(c: &SshConnector, timeout: Duration) -> SshConnection {
    for _ in 0..50 {
        match c.spawn(timeout) {
            Ok(conn) => return conn,
            Err(e) if e.to_string().contains("Text file busy") => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("the script stayed busy");
}

fn transport(c: SshConnector) -> Transport {
    Transport::with_connector(host(), Arc::new(c))
}

/// Whether process `pid` still exists (a zombie counts).
fn exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn the_arguments_are_the_docker_clis_plus_batch_mode() {
    let c = SshConnector::new(&host()).unwrap();
    assert_eq!(
        c.args(Duration::from_millis(1500)).join(" "),
        "-o ConnectTimeout=2 -o BatchMode=yes -T -l me -p 2222 -- remote docker system dial-stdio"
    );
    let bare = SshConnector::new(&Host::parse("ssh://alias", false).unwrap()).unwrap();
    assert_eq!(
        bare.args(Duration::ZERO).join(" "),
        "-o ConnectTimeout=1 -o BatchMode=yes -T -- alias docker system dial-stdio"
    );
    assert!(SshConnector::new(&Host::Unix("/x".into())).is_none());
    assert_eq!(
        format!("{c:?}"),
        r#"SshConnector { host: "ssh://me@remote:2222" }"#
    );
}

#[test]
fn requests_go_through_the_child_and_its_connection_is_reused() {
    let dir = TempDir::new();
    let t = transport(scripted(&dir, "ssh", HTTP_OK));
    // The first script may still be busy (see `connect`): make it run once before.
    drop(connect(
        &scripted(&dir, "ssh", HTTP_OK),
        Duration::from_secs(1),
    ));
    for _ in 0..3 {
        let r = t.send(req("GET", "/_ping"), None).unwrap();
        assert_eq!(r.read_to_vec(16).unwrap(), b"OK");
    }
    assert_eq!(t.shared.idle_count(), 1, "one child for all three");
}

#[test]
fn closing_the_input_half_closes_and_the_output_is_read_to_its_end() {
    let dir = TempDir::new();
    let c = scripted(&dir, "ssh", "cat; printf ':bye'");
    let conn = connect(&c, Duration::from_secs(1));
    (&conn.socket).write_all(b"stdin data").unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match conn.read(&mut buf).unwrap() {
            0 => break,
            n => got.extend_from_slice(&buf[..n]),
        }
    }
    assert_eq!(got, b"stdin data:bye");
    assert!(conn.exit_status(Duration::from_secs(5)).unwrap().success());
}

#[test]
fn a_failing_ssh_is_a_connect_error_with_its_stderr() {
    let dir = TempDir::new();
    let c = scripted(
        &dir,
        "ssh",
        "echo 'Host key verification failed.' >&2; exit 255",
    );
    let program = c.program.display().to_string();
    drop(connect(&c, Duration::from_secs(1)));
    let t = transport(c);
    let e = t.send(req("GET", "/_ping"), None).unwrap_err();
    let Error::Connect {
        host,
        failure,
        source,
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(host, "ssh://me@remote:2222");
    assert_eq!(*failure, ConnectFailure::Other);
    assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(
        e.to_string(),
        format!(
            "error during connect: ssh://me@remote:2222: command [{program} -o ConnectTimeout=5 \
             -o BatchMode=yes -T -l me -p 2222 -- remote docker system dial-stdio] has exited \
             with exit status 255, make sure the URL is valid, and Docker 18.09 or later is \
             installed on the remote host: stderr=Host key verification failed."
        )
    );
}

#[test]
fn the_stderr_of_a_failure_is_bounded_to_its_end() {
    let dir = TempDir::new();
    let c = scripted(
        &dir,
        "ssh",
        r#"i=0; while [ $i -lt 1000 ]; do echo "complaint $i" >&2; i=$((i+1)); done
echo 'Connection closed by 10.0.0.1 port 22' >&2
exit 255"#,
    );
    drop(connect(&c, Duration::from_secs(1)));
    let t = transport(c);
    let e = t.send(req("GET", "/x"), None).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let text = e.to_string();
    let stderr = text.split_once("stderr=").unwrap().1;
    assert!(stderr.starts_with("..."), "{stderr}");
    assert!(stderr.len() <= STDERR_TAIL + 3, "{}", stderr.len());
    assert!(stderr.ends_with("complaint 999\nConnection closed by 10.0.0.1 port 22"));
    assert!(!stderr.contains("complaint 0\n"));
}

#[test]
fn after_the_first_bytes_an_end_stays_an_end_and_errors_keep_their_kind() {
    let dir = TempDir::new();
    // A head and part of its body, then ssh fails (having read the whole request: unread
    // bytes would make the end a reset): the body is cut short, as on a socket.
    let c = scripted(
        &dir,
        "ssh",
        r#"while IFS= read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
printf 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'
echo 'Connection to remote closed by remote host.' >&2
exit 255"#,
    );
    drop(connect(&c, Duration::from_secs(1)));
    let r = transport(c).send(req("GET", "/x"), None).unwrap();
    let e = r.read_to_vec(100).unwrap_err();
    assert!(!e.to_string().contains("stderr="), "{e}");

    // A write after ssh failed: a broken pipe still, with what ssh said.
    let c = scripted(&dir, "ssh2", "printf x; echo oops >&2; exit 3");
    let conn = connect(&c, Duration::from_secs(1));
    let mut buf = [0u8; 8];
    assert_eq!(conn.read(&mut buf).unwrap(), 1);
    assert!(!conn.exit_status(Duration::from_secs(5)).unwrap().success());
    let e = conn.write(b"more").unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
    let text = e.to_string();
    assert!(text.contains("has exited with exit status 3"), "{text}");
    assert!(text.ends_with("stderr=oops"), "{text}");
    assert_eq!(conn.read(&mut buf).unwrap(), 0, "the end stays an end");
}

#[test]
fn a_remote_command_that_ends_with_our_input_unread_ends_the_stream() {
    let dir = TempDir::new();
    for (name, status, ends) in [("ssh-ended", 1, true), ("ssh-failed", 255, false)] {
        // Output, then an exit without reading the input: the kernel reports a reset.
        let body = format!("printf hello; sleep 0.3; exit {status}");
        let c = scripted(&dir, name, &body);
        let conn = connect(&c, Duration::from_secs(1));
        conn.write(&[b'x'; 1000]).unwrap();
        let mut buf = [0u8; 16];
        let mut got = Vec::new();
        let end = loop {
            match conn.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Err(e),
            }
        };
        assert_eq!(got, b"hello", "{name}");
        match end {
            Ok(()) => assert!(ends, "{name}: an end, not an error"),
            Err(e) => {
                assert!(!ends, "{name}: {e}");
                assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
            }
        }
    }
}

#[test]
fn a_missing_ssh_says_so() {
    let mut c = SshConnector::new(&host()).unwrap();
    c.program = "/nonexistent/ssh".into();
    let t = transport(c);
    match t.send(req("GET", "/_ping"), None) {
        Err(
            e @ Error::Connect {
                failure: ConnectFailure::Other,
                ..
            },
        ) => {
            let text = e.to_string();
            assert!(
                text.starts_with(
                    "error during connect: ssh://me@remote:2222: cannot run [/nonexistent/ssh -o"
                ),
                "{text}"
            );
            assert!(
                text.contains("(is the OpenSSH client installed?)"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_silent_child_times_out_is_cancelled_and_is_reaped_on_drop() {
    let dir = TempDir::new();
    let c = scripted(&dir, "ssh", "exec sleep 600");
    let conn = connect(&c, Duration::from_secs(1));
    let pid = conn.child.lock().unwrap().id();
    assert!(exists(pid));
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let e = conn.read(&mut [0u8; 8]).unwrap_err();
    assert!(matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
    conn.set_nonblocking(true).unwrap();
    let e = conn.read(&mut [0u8; 8]).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    conn.set_nonblocking(false).unwrap();
    drop(conn);
    assert!(!exists(pid), "killed and reaped");

    // Through a transport: a response limit, then a cancel from another thread.
    let t = Arc::new(transport(c));
    let mut r = req("GET", "/slow");
    r.timeouts.response = Some(Duration::from_millis(100));
    assert!(matches!(t.send(r, None), Err(Error::Timeout { .. })));
    let cancel = Cancel::new();
    let waiting = {
        let (t, cancel) = (Arc::clone(&t), cancel.clone());
        std::thread::spawn(move || {
            let mut r = req("POST", "/wait");
            r.timeouts.response = None;
            t.send(r, Some(&cancel))
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    let start = Instant::now();
    cancel.cancel();
    assert!(matches!(waiting.join().unwrap(), Err(Error::Cancelled)));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "no wait for the child"
    );
    assert_eq!(t.shared.idle_count(), 0);
    assert!(children_of_this_process("sleep").is_empty());
}

#[test]
fn an_upgraded_stream_half_closes_through_the_child() {
    let dir = TempDir::new();
    let c = scripted(
        &dir,
        "ssh",
        r#"while IFS= read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
printf 'HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nhi:'
cat
printf ':bye'"#,
    );
    drop(connect(&c, Duration::from_secs(1)));
    let t = transport(c);
    let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), None).unwrap() else {
        panic!("not upgraded");
    };
    let (mut rd, mut wr) = up.split();
    wr.write_all(b"input").unwrap();
    crate::transport::StdinWriter::close_write(&mut wr).unwrap();
    let mut got = Vec::new();
    rd.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hi:input:bye");
}

/// The pids of this process's children running `name` (zombies included).
fn children_of_this_process(name: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest.split_whitespace().nth(1);
        if ppid == Some(me.as_str()) && comm.ends_with(&format!("({name}")) {
            found.extend(
                entry
                    .file_name()
                    .to_str()
                    .and_then(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}
