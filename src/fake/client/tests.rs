//! The fake's own mechanics: frames, slow lines, the attach stream's ends, the hook and the
//! `Debug` that leaves credentials out.

use super::*;

#[test]
fn frames_and_slow_lines() {
    assert_eq!(
        stdcopy_frame(2, b"hi"),
        [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']
    );
    let mut r = SlowLines {
        data: Cursor::new(b"a\nbc\nd".to_vec()),
        delay: Duration::from_millis(1),
        at_line_start: true,
    };
    let mut out = String::new();
    r.read_to_string(&mut out).unwrap();
    assert_eq!(out, "a\nbc\nd");
}

#[test]
fn debug_leaves_credentials_out_and_on_call_sees_every_call() {
    let fake = Arc::new(FakeClient::new());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (s, f) = (seen.clone(), fake.clone());
    fake.state().on_call = Some(Arc::new(move |call: &str| {
        s.lock().unwrap().push(call.to_string());
        // Without the lock held: the hook may look at the fake.
        assert!(!f.calls().is_empty());
    }));
    let options = ImagePullOptions {
        registry_auth: "eyJwYXNzd29yZCI6Imh1bnRlcjIifQo=".into(),
        ..Default::default()
    };
    fake.image_pull("quay.io/x:1", &options).unwrap();
    fake.ping().unwrap();
    assert_eq!(*seen.lock().unwrap(), ["pull", "ping"]);
    let debug = format!("{fake:?}");
    assert!(debug.contains("quay.io/x:1"), "{debug}");
    assert!(!debug.contains("eyJwYXNzd29yZCI6"), "{debug}");
}

#[test]
fn attach_holds_until_killed() {
    let fake = Arc::new(FakeClient::new());
    fake.state().run_until_killed = true;
    fake.state().attach_output = stdcopy_frame(1, b"x");
    let mut h = fake
        .container_attach("c1", &ContainerAttachOptions::default())
        .unwrap();
    let f = fake.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        f.container_kill("c1", Signal::Kill).unwrap();
    });
    let mut all = Vec::new();
    h.reader.read_to_end(&mut all).unwrap();
    t.join().unwrap();
    assert_eq!(all, stdcopy_frame(1, b"x"));
    assert!(h.writer.write_all(b"late").is_err());
    assert_eq!(fake.calls(), ["attach", "kill"]);
}

#[test]
fn attach_ends_on_shutdown_and_wait_on_removal() {
    let fake = Arc::new(FakeClient::new());
    fake.state().run_until_killed = true;
    fake.state()
        .containers
        .insert("c1".into(), Default::default());
    let mut h = fake
        .container_attach("c1", &ContainerAttachOptions::default())
        .unwrap();
    let handle = h.writer.shutdown_handle().unwrap();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        handle.shutdown();
    });
    let mut all = Vec::new();
    h.reader.read_to_end(&mut all).unwrap();
    t.join().unwrap();
    assert!(h.writer.write_all(b"late").is_err());
    // Not killed: a wait blocks until the container is removed.
    let f = fake.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        f.container_remove("c1", &ContainerRemoveOptions::default())
            .unwrap();
    });
    let waited = fake
        .container_wait("c1", WaitCondition::NotRunning)
        .unwrap();
    t.join().unwrap();
    assert_eq!(waited.status_code, KILLED_EXIT_CODE);
}
