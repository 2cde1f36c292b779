//! Faults during an upload (`upload_to_container` of a directory), a download
//! (`download_from_container`), a build (`build_image` of a `FROM scratch` context) and a pull
//! from the test registry (`pull_image`, only where `S2I_TEST_REGISTRY` is set).

use std::io::{self, Cursor};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use s2i_docker::archive::LocalFileSystem;
use s2i_docker::auth::encode_auth;
use s2i_docker::ops::image::ImagePushOptions;
use s2i_docker::ops::stream;
use s2i_docker::{AuthConfig, BuildImageOptions, Docker, Error, ErrorCode};

use crate::common::{self, raw_request};
use crate::faults::setup::{self, Captured, BOUND, TIMEOUT};
use crate::faults::{At, Fault, Proxy};
use crate::Case;

/// A running container of the case's image, removed by the case's cleanup; its name.
fn running_container(case: &Case) -> String {
    let name = common::unique_name("s2i_faults_");
    case.cleanup.container(&name);
    let body = format!(r#"{{"Image":"{}","Cmd":["/bin/sleep","60"]}}"#, case.image);
    let path = format!("/containers/create?name={name}");
    let created = raw_request(
        &case.engine.host,
        "POST",
        &path,
        Some("application/json"),
        body.as_bytes(),
    )
    .expect("create a container");
    assert_eq!(
        created.status,
        201,
        "{}",
        String::from_utf8_lossy(&created.body)
    );
    let path = format!("/containers/{name}/start");
    let started = raw_request(&case.engine.host, "POST", &path, None, &[]).expect("start it");
    assert!(started.status < 300, "start {name}: {}", started.status);
    name
}

/// A directory with a 4 MiB file (more than the sockets buffer), removed when dropped.
struct SourceDir(PathBuf);

impl SourceDir {
    fn new() -> SourceDir {
        let dir = std::env::temp_dir().join(common::unique_name("s2i-test-faults-src"));
        std::fs::create_dir_all(&dir).expect("create the source directory");
        let mut data = vec![0u8; 4 << 20];
        let mut x: u32 = 0x9e37_79b9;
        for b in data.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        std::fs::write(dir.join("big.bin"), &data).expect("write the source file");
        SourceDir(dir)
    }
}

impl Drop for SourceDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Uploads a 4 MiB directory through a proxy armed with `fault`; the result and time taken.
fn upload_through(case: &Case, fault: Fault) -> (s2i_docker::Result<()>, Duration) {
    let container = running_container(case);
    let src = SourceDir::new();
    let proxy = Proxy::start(&case.engine.socket, fault);
    let docker = setup::docker(&proxy.endpoint());
    let path = src.0.clone();
    let outcome = setup::within(BOUND, move || {
        docker.upload_to_container(&LocalFileSystem, &path, "/tmp/up", &container)
    });
    assert!(proxy.fired() > 0, "no fault: {:#?}", proxy.requests());
    outcome
}

#[test]
fn upload_cut_mid_body_fails() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("PUT", "/archive")
        .in_request()
        .at(At::Body(100_000));
    let (result, _) = upload_through(&case, fault);
    let e = result.expect_err("the upload succeeded");
    eprintln!("the upload cut: {e:?}");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
}

#[test]
fn upload_reset_mid_body_fails() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("PUT", "/archive")
        .in_request()
        .at(At::Body(100_000))
        .reset();
    let (result, _) = upload_through(&case, fault);
    let e = result.expect_err("the upload succeeded");
    eprintln!("the upload reset: {e:?}");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
}

#[test]
fn upload_stalled_times_out() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("PUT", "/archive")
        .in_request()
        .at(At::Body(100_000))
        .stall();
    let (result, took) = upload_through(&case, fault);
    let e = result.expect_err("the upload succeeded");
    assert!(e.is_timeout(), "not a timeout: {e:?}");
    assert!(took >= TIMEOUT, "timed out after {took:?} only");
}

/// Downloads `/bin/busybox` through a proxy armed with `fault`; the result and time taken.
fn download_through(case: &Case, fault: Fault) -> (s2i_docker::Result<()>, Duration) {
    let container = running_container(case);
    let proxy = Proxy::start(&case.engine.socket, fault);
    let docker = setup::docker(&proxy.endpoint());
    let outcome = setup::within(BOUND, move || {
        docker.download_from_container("/bin/busybox", &mut io::sink(), &container)
    });
    assert!(proxy.fired() > 0, "no fault: {:#?}", proxy.requests());
    outcome
}

#[test]
fn download_cut_mid_body_fails() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("GET", "/archive").at(At::Body(50_000));
    let (result, _) = download_through(&case, fault);
    let e = result.expect_err("the download succeeded");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
}

#[test]
fn download_stalled_times_out() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("GET", "/archive").at(At::Body(50_000)).stall();
    let (result, took) = download_through(&case, fault);
    let e = result.expect_err("the download succeeded");
    assert!(e.is_timeout(), "not a timeout: {e:?}");
    assert!(took >= TIMEOUT, "timed out after {took:?} only");
}

/// Builds a `FROM scratch` image whose `RUN` step takes two seconds, through a proxy armed
/// with `fault`; the result, and the label its build containers and the images of its steps
/// carry (the label comes first, so even a build cut after a step leaves only labelled images).
fn build_through(case: &Case, fault: Fault, tag: &str) -> (s2i_docker::Result<()>, String) {
    let label = common::unique_name("s2i-test-faults-build");
    let dockerfile = format!(
        "FROM scratch\nLABEL s2i-test-faults={label}\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\",\"sleep\",\"2\"]\n"
    );
    let context = common::build_context_tar(&dockerfile, &[]);
    let proxy = Proxy::start(&case.engine.socket, fault);
    let docker = setup::docker(&proxy.endpoint());
    let opts = BuildImageOptions {
        name: tag.to_string(),
        stdin: Some(Box::new(Cursor::new(context))),
        stdout: Some(Box::new(Captured::default())),
        cgroup_limits: None,
        cancel: None,
        ..Default::default()
    };
    let (result, _) = setup::within(BOUND, move || docker.build_image(opts));
    assert!(proxy.fired() > 0, "no fault: {:#?}", proxy.requests());
    (result, label)
}

/// Waits until no container carries the build label (the engine ended or cancelled the
/// build), then a moment more for a tag the build may still write; fails after 20 s.
fn wait_for_the_build_to_end(host: &str, label: &str) {
    let path = format!(
        "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22s2i-test-faults%3D{label}%22%5D%7D"
    );
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let r = raw_request(host, "GET", &path, None, &[]).expect("list containers");
        let left = String::from_utf8_lossy(&r.body).into_owned();
        if r.status == 200 && left.trim() == "[]" {
            break;
        }
        assert!(Instant::now() < until, "build containers left: {left}");
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(2));
    remove_step_images(host, label);
}

/// Removes the images of the steps a cut build finished (the engine keeps them untagged, as
/// its build cache), found by the build's label.
fn remove_step_images(host: &str, label: &str) {
    let path = format!(
        "/images/json?all=1&filters=%7B%22label%22%3A%5B%22s2i-test-faults%3D{label}%22%5D%7D"
    );
    let r = raw_request(host, "GET", &path, None, &[]).expect("list images");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let listed: serde_json::Value = serde_json::from_slice(&r.body).expect("image list");
    let ids = listed.as_array().into_iter().flatten();
    for id in ids.filter_map(|i| i["Id"].as_str()) {
        let r = raw_request(host, "DELETE", &format!("/images/{id}?force=1"), None, &[])
            .expect("remove image");
        assert!(
            r.status == 200 || r.status == 404,
            "removing {id}: {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
}

#[test]
fn build_context_cut_fails_and_builds_nothing() {
    let Some(case) = crate::case() else { return };
    let tag = format!("{}:built", common::unique_name("s2i-test-faults"));
    case.cleanup.image(&tag);
    let fault = Fault::new("POST", "/build")
        .in_request()
        .at(At::Body(100_000));
    let (result, label) = build_through(&case, fault, &tag);
    let e = result.expect_err("the build succeeded");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
    wait_for_the_build_to_end(&case.engine.host, &label);
    let path = format!("/images/{tag}/json");
    let r = raw_request(&case.engine.host, "GET", &path, None, &[]).expect("inspect");
    assert_eq!(r.status, 404, "the cut build made {tag}");
}

#[test]
fn build_output_cut_fails_and_leaves_no_build_container() {
    let Some(case) = crate::case() else { return };
    let tag = format!("{}:built", common::unique_name("s2i-test-faults"));
    case.cleanup.image(&tag);
    // Inside the first chunk of output.
    let fault = Fault::new("POST", "/build").at(At::Body(3));
    let (result, label) = build_through(&case, fault, &tag);
    let e = result.expect_err("the build succeeded");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
    wait_for_the_build_to_end(&case.engine.host, &label);
}

/// The test registry's address and credentials, or `None` (after the harness's skip line).
fn registry() -> Option<(String, AuthConfig)> {
    let addr = common::env_or_skip("S2I_TEST_REGISTRY")?;
    let auth = AuthConfig {
        username: common::env_or_skip("S2I_TEST_REGISTRY_USER")?,
        password: common::env_or_skip("S2I_TEST_REGISTRY_PASSWORD")?,
        server_address: addr.clone(),
        ..Default::default()
    };
    Some((addr, auth))
}

/// Builds an image of its own (the case's image with a label; not the shared image, whose names
/// other tests change) as `<registry>/<unique>:1`, pushes it and removes it locally.
fn push_image(case: &Case, addr: &str, auth: &AuthConfig) -> (String, String) {
    let repo = common::unique_name("s2i-test-faults");
    let name = format!("{addr}/{repo}:1");
    case.cleanup.image(&name);
    let dockerfile = format!("FROM {}\nLABEL s2i-test-faults-pull={repo}\n", case.image);
    let context = common::build_context_tar(&dockerfile, &[]);
    let path = format!("/build?t={name}&rm=1&forcerm=1&networkmode=none");
    let built = raw_request(
        &case.engine.host,
        "POST",
        &path,
        Some("application/x-tar"),
        &context,
    )
    .expect("build the image to push");
    let out = String::from_utf8_lossy(&built.body);
    assert!(
        built.status == 200 && !out.contains("errorDetail"),
        "build of {name}: {out}"
    );
    let direct = setup::client(&case.engine.host);
    let options = ImagePushOptions {
        registry_auth: encode_auth(auth).expect("encode the credentials"),
        tls_verify: Some(false),
    };
    let pushed = direct.image_push(&name, &options).expect("push");
    stream::consume(pushed, |_| {}).expect("the push succeeds");
    // Docker can store a pull cut in the middle (without its name) a moment after its client
    // is gone: the cleanup removes the image by its ID too.
    let inspected = raw_request(
        &case.engine.host,
        "GET",
        &format!("/images/{name}/json"),
        None,
        &[],
    )
    .expect("inspect the image to push");
    let inspected: serde_json::Value =
        serde_json::from_slice(&inspected.body).expect("image inspect");
    let id = inspected["Id"]
        .as_str()
        .expect("the image's ID")
        .to_string();
    case.cleanup.image(&id);
    let r = raw_request(
        &case.engine.host,
        "DELETE",
        &format!("/images/{name}"),
        None,
        &[],
    )
    .expect("remove the local image");
    assert!(r.status < 300, "remove {name}: {}", r.status);
    (name, id)
}

/// Pushes an image to the registry and pulls it through a proxy armed with `fault`; the
/// pull's result and time.
fn pull_through(case: &Case, fault: Fault) -> Option<(s2i_docker::Result<()>, Duration)> {
    let (addr, auth) = registry()?;
    let (name, id) = push_image(case, &addr, &auth);
    let proxy = Proxy::start(&case.engine.socket, fault);
    let client = std::sync::Arc::new(setup::client(&proxy.endpoint()));
    let docker = s2i_docker::DockerClient::new(client, auth)
        .with_pull_retry_count(0)
        .with_pull_inactivity_timeout(TIMEOUT);
    let pulled = name.clone();
    let outcome = setup::within(BOUND, move || docker.pull_image(&pulled).map(drop));
    assert!(proxy.fired() > 0, "no fault: {:#?}", proxy.requests());
    drop(proxy);
    if common::is_podman() {
        // Podman goes on pulling when its client is gone, to the end.
        assert!(
            wait_for_image(&case.engine.host, &name, Duration::from_secs(20)),
            "{name} never arrived"
        );
    } else {
        // Docker may still store what it had pulled, a moment later, without the name.
        wait_for_image(&case.engine.host, &id, Duration::from_secs(3));
    }
    Some(outcome)
}

/// Waits (up to `limit`) for the image `name` (or ID) to be there, so that the cleanup finds
/// it; whether it came.
fn wait_for_image(host: &str, name: &str, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    let path = format!("/images/{name}/json");
    while !matches!(raw_request(host, "GET", &path, None, &[]), Ok(r) if r.status == 200) {
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    true
}

#[test]
fn pull_cut_mid_stream_fails_as_a_pull_error() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("POST", "/images/create").at(At::Body(5));
    let Some((result, _)) = pull_through(&case, fault) else {
        return;
    };
    let e: Error = result.expect_err("the pull succeeded");
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{e:?}");
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
}

#[test]
fn pull_stalled_times_out_as_a_pull_error() {
    let Some(case) = crate::case() else { return };
    let fault = Fault::new("POST", "/images/create").at(At::Body(0)).stall();
    let Some((result, took)) = pull_through(&case, fault) else {
        return;
    };
    let e: Error = result.expect_err("the pull succeeded");
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{e:?}");
    assert!(e.is_timeout(), "not a timeout: {e:?}");
    assert!(took >= TIMEOUT, "timed out after {took:?} only");
}
