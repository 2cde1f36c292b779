//! Faults between the library and a real engine: a proxy on a Unix socket (`tests/faults/`)
//! forwards every connection to the engine's socket and breaks one chosen exchange: it cuts the
//! connection after so many bytes of a request or reply, resets it, or stops forwarding (a
//! stall, which the client's five-second inactivity limit turns into a timeout).
//!
//! Every test asserts the error kind the library documents, that the call returned within
//! thirty seconds without a panic, and that no container of the test is left once the engine
//! is reached directly again (listed without the library). This file covers each step of
//! `run_container`; `engine_faults/transfers.rs` uploads, downloads, builds and pulls, and
//! `engine_faults/podman_restart.rs` a Podman service killed in the middle of a run.
//!
//! Some behaviour is as documented and asserted so: a stalled output stream is closed once the
//! container exited and its grace passed (the run succeeds, without the output withheld); a
//! removal that fails is tried again for `REMOVE_WINDOW`; wait, build and commit have no time
//! limit, so they are broken by cuts here, not by stalls, except for a stalled wait after the
//! container exited and its output ended (the run takes the exit from an inspect).
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`), Docker or
//! Podman; where none answers the tests print one line and pass, except under `CI=true`.

mod common;
mod faults;

#[path = "engine_faults/podman_restart.rs"]
mod podman_restart;
#[path = "engine_faults/transfers.rs"]
mod transfers;

use std::sync::Arc;
use std::time::Duration;

use s2i_docker::{
    CommitContainerOptions, Docker, Error, PostExecutor, Result, RunContainerOptions,
};

use common::Cleanup;
use faults::setup::{self, Base, Captured, Engine, TestImage, BOUND, TIMEOUT};
use faults::{At, Fault, Proxy};

/// One test's engine, image and cleanup (dropped in this order: containers and other
/// images first, then the test's name of the shared image, then the shared image's last user).
struct Case {
    engine: Engine,
    image: String,
    cleanup: Cleanup,
    _name: TestImage,
    _base: Arc<Base>,
}

fn case() -> Option<Case> {
    let engine = setup::engine()?;
    let base = setup::base(&engine);
    let cleanup = Cleanup::new(&engine.host);
    let name = TestImage::new(&engine, &base);
    Some(Case {
        engine,
        image: name.name.clone(),
        cleanup,
        _name: name,
        _base: base,
    })
}

/// What a run through the proxy did.
struct Ran {
    result: Result<()>,
    output: String,
    took: Duration,
    fired: usize,
    requests: Vec<String>,
}

/// Makes the `post_exec` of a run from the proxy's endpoint.
type MakePost = Box<dyn FnOnce(&str) -> Box<dyn PostExecutor + Send>>;

/// Runs `/bin/sh -c script` in the case's image through a proxy armed with `fault`, with the
/// output attached; fails the test if the run does not return within [`BOUND`] or panics, or
/// if the fault never struck. The proxy is gone when this returns.
fn run_through(case: &Case, fault: Fault, script: &str, post: Option<MakePost>) -> Ran {
    let proxy = Proxy::start(&case.engine.socket, fault);
    let docker = setup::docker(&proxy.endpoint());
    let output = Captured::default();
    let opts = RunContainerOptions {
        image: case.image.clone(),
        command_explicit: vec!["/bin/sh".into(), "-c".into(), script.into()],
        stdout: Some(Box::new(output.clone())),
        stderr: Some(Box::new(output.clone())),
        post_exec: post.map(|make| make(&proxy.endpoint())),
        ..Default::default()
    };
    let (result, took) = setup::within(BOUND, move || docker.run_container(opts));
    let ran = Ran {
        result,
        output: output.text(),
        took,
        fired: proxy.fired(),
        requests: proxy.requests(),
    };
    drop(proxy);
    assert!(
        ran.fired > 0,
        "the fault never struck; requests: {:#?}",
        ran.requests
    );
    ran
}

impl Ran {
    /// The run's error, which must be a connection failure.
    fn transport_error(self) -> Error {
        match self.result {
            Ok(()) => panic!("the run succeeded; requests: {:#?}", self.requests),
            Err(e) => {
                eprintln!("the run failed after {:?}: {e:?}", self.took);
                assert!(
                    setup::is_transport(&e),
                    "not an i/o or protocol error: {e:?}"
                );
                e
            }
        }
    }

    /// The run's error, which must be a timeout that came after the inactivity limit.
    fn timeout_error(self) -> Error {
        let took = self.took;
        let e = self.result.expect_err("the run succeeded");
        eprintln!("the run failed after {took:?}: {e:?}");
        assert!(e.is_timeout(), "not a timeout: {e:?}");
        assert!(took >= TIMEOUT, "timed out after {took:?} only");
        e
    }
}

const SHORT: &str = "echo started; sleep 1; echo done";

// ---------------------------------------------------------------------------------------------
// create

#[test]
fn create_reply_lost_fails_and_the_container_is_removed_by_name() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/containers/create");
    run_through(&case, fault, SHORT, None).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn create_reply_stalled_times_out_and_the_container_is_removed_by_name() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/containers/create").stall();
    run_through(&case, fault, SHORT, None).timeout_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn create_request_cut_fails_and_leaves_no_container() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/containers/create")
        .in_request()
        .at(At::Body(10));
    run_through(&case, fault, SHORT, None).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

// ---------------------------------------------------------------------------------------------
// attach and start

#[test]
fn attach_reset_fails_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/attach").reset();
    run_through(&case, fault, SHORT, None).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn attach_reply_stalled_times_out_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/attach").stall();
    run_through(&case, fault, SHORT, None).timeout_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn start_reply_cut_fails_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/start");
    run_through(&case, fault, SHORT, None).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn start_reply_stalled_times_out_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/start").stall();
    run_through(&case, fault, SHORT, None).timeout_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

// ---------------------------------------------------------------------------------------------
// the output stream

/// 200 lines of output in the first frames, then a pause.
const LINES: &str = "yes 0123456789 | head -n 200; sleep 1; echo done";

#[test]
fn output_cut_mid_frame_fails_or_is_completed_never_truncated() {
    let Some(case) = case() else { return };
    // Past the first frame's 8-byte header, inside its payload.
    let fault = Fault::new("POST", "/attach").at(At::Body(20));
    let ran = run_through(&case, fault, LINES, None);
    eprintln!("the run with its output cut: {:?}", ran.result);
    match &ran.result {
        // Podman's attach output is completed from the container's logs after a cut frame.
        Ok(()) => {
            let lines = ran.output.lines().filter(|l| *l == "0123456789").count();
            assert_eq!(
                lines, 200,
                "a run that succeeded lost output: {}",
                ran.output
            );
            assert!(ran.output.ends_with("done\n"), "{}", ran.output);
        }
        Err(e) => assert!(
            setup::is_transport(e),
            "not an i/o or protocol error: {e:?}"
        ),
    }
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn output_cut_between_frames_fails_or_is_completed_never_truncated() {
    let Some(case) = case() else { return };
    // Before the first frame: the stream ends cleanly while the container still runs.
    let fault = Fault::new("POST", "/attach").at(At::Body(0));
    let ran = run_through(&case, fault, LINES, None);
    eprintln!(
        "the run with its output cut between frames: {:?}",
        ran.result
    );
    match &ran.result {
        Ok(()) => {
            let lines = ran.output.lines().filter(|l| *l == "0123456789").count();
            assert_eq!(
                lines, 200,
                "a run that succeeded lost output: {:?}",
                ran.output
            );
        }
        Err(e) => assert!(
            setup::is_transport(e),
            "not an i/o or protocol error: {e:?}"
        ),
    }
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn output_stalled_ends_after_the_exit_and_its_grace() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/attach").at(At::Body(0)).stall();
    let ran = run_through(&case, fault, SHORT, None);
    // Documented (`DockerClient::with_output_grace`): once the container exited, an output
    // stream silent for the grace is closed by the run, and the exit decides the result.
    if let Err(e) = &ran.result {
        panic!("the run failed: {e:?}");
    }
    assert!(ran.took < Duration::from_secs(15), "took {:?}", ran.took);
    setup::assert_no_container(&case.engine.host, &case.image);
}

// ---------------------------------------------------------------------------------------------
// wait

#[test]
fn wait_reply_cut_fails_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/wait");
    let ran = run_through(&case, fault, "echo started; sleep 3", None);
    let e = ran.result.expect_err("the run succeeded");
    assert!(
        e.to_string().contains("waiting for container"),
        "the error does not say the wait failed: {e}"
    );
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn wait_reply_cut_fails_with_a_transport_error() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/wait");
    run_through(&case, fault, "echo started; sleep 3", None).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

// ---------------------------------------------------------------------------------------------
// commit (in post_exec) and remove

#[test]
fn commit_reply_cut_in_post_exec_fails_and_the_container_is_removed() {
    let Some(case) = case() else { return };
    let committed = format!("{}:committed", common::unique_name("s2i-test-faults"));
    case.cleanup.image(&committed);
    let repository = committed.clone();
    let post: MakePost = Box::new(move |endpoint: &str| {
        let docker = setup::docker(endpoint);
        Box::new(move |id: &str, _: &str| {
            docker
                .commit_container(CommitContainerOptions {
                    container_id: id.to_string(),
                    repository: repository.clone(),
                    ..Default::default()
                })
                .map(drop)
        })
    });
    let fault = Fault::new("POST", "/commit");
    run_through(&case, fault, "echo built > /tmp/out", Some(post)).transport_error();
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn remove_reply_cut_still_succeeds_and_no_container_is_left() {
    let Some(case) = case() else { return };
    let fault = Fault::new("DELETE", "/containers/");
    let ran = run_through(&case, fault, SHORT, None);
    // Documented (`REMOVE_WINDOW`): a removal is tried again, and a 404 means it is gone.
    if let Err(e) = &ran.result {
        panic!("the run failed: {e:?}");
    }
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn remove_request_lost_still_leaves_no_container() {
    let Some(case) = case() else { return };
    let fault = Fault::new("DELETE", "/containers/")
        .in_request()
        .reset()
        .times(2);
    let ran = run_through(&case, fault, SHORT, None);
    let left = setup::containers_of(&case.engine.host, &case.image);
    for c in &left {
        case.cleanup
            .container(c.split(' ').next().unwrap_or_default());
    }
    assert!(ran.result.is_ok(), "{:?}", ran.result);
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------------
// the input stream, and a wait that never answers

#[test]
fn input_cut_mid_stream_fails_or_keeps_all_output() {
    let Some(case) = case() else { return };
    let proxy = Proxy::start(
        &case.engine.socket,
        Fault::new("POST", "/attach")
            .in_request()
            .at(At::Body(100_000)),
    );
    let docker = setup::docker(&proxy.endpoint());
    let output = Captured::default();
    let opts = RunContainerOptions {
        image: case.image.clone(),
        command_explicit: ["/bin/sh", "-c", "wc -c; sleep 1; echo done"]
            .map(String::from)
            .to_vec(),
        stdin: Some(Box::new(std::io::Cursor::new(vec![b'x'; 1 << 20]))),
        stdout: Some(Box::new(output.clone())),
        stderr: Some(Box::new(output.clone())),
        ..Default::default()
    };
    let (result, _) = setup::within(BOUND, move || docker.run_container(opts));
    assert!(proxy.fired() > 0, "no fault: {:#?}", proxy.requests());
    drop(proxy);
    eprintln!(
        "the run with its input cut: {result:?}, output {:?}",
        output.text()
    );
    match result {
        // A container may exit 0 without reading all of its input; its output is then whole.
        Ok(()) => assert!(output.text().ends_with("done\n"), "{:?}", output.text()),
        Err(e) => assert!(
            setup::is_transport(&e),
            "not an i/o or protocol error: {e:?}"
        ),
    }
    setup::assert_no_container(&case.engine.host, &case.image);
}

#[test]
fn wait_reply_stalled_returns_once_the_container_exited() {
    let Some(case) = case() else { return };
    let fault = Fault::new("POST", "/wait").stall();
    let ran = run_through(&case, fault, SHORT, None);
    assert!(ran.result.is_ok(), "{:?}", ran.result);
    setup::assert_no_container(&case.engine.host, &case.image);
}
