//! The `s2i-docker` binary, run as a user runs it, against a real engine: plain, incremental and
//! extended builds, a failing `assemble`, missing scripts, symbolic links in the sources,
//! `--exclude`, injected files, `usage`, and bad command lines; labels a script asks for and
//! `--callback-url` in `labels.rs`, git repositories and URLs as sources in `git.rs`, `--use-config` and
//! `--save-temp-dir` in `config.rs`, interrupted and killed builds in `interrupts.rs`, `.s2iignore` in
//! `ignore.rs`, `create` in `create.rs`, builders with `ONBUILD` instructions in `onbuild.rs`,
//! builders without `sh` in `layered.rs`, scripts from an HTTP URL in `scripts_url.rs`.
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`; `.ci/test`
//! runs this target on Podman too); where none answers the engine tests print one line and pass,
//! except under `CI=true`. The builder image is built from `FROM scratch` and the host's static
//! busybox; every image a test makes is removed, also when it fails, and each test checks that
//! the binary left no container behind. The builds use `--network none`: they need no network.
//! `S2I_CLI_BIN` names another build of the binary to run (`.ci/run` runs the suite once more on
//! the static executable it ships); by default it is the one cargo built for the tests.

#[path = "../common/mod.rs"]
mod common;

/// The engine, the builder and a cleanup for a test, or a return from it where no engine
/// answers (outside CI).
macro_rules! setup_or_return {
    () => {
        match setup() {
            Some(s) => s,
            None => return,
        }
    };
}

mod config;
mod create;
mod git;
mod ignore;
mod interrupts;
mod labels;
mod layered;
mod onbuild;
mod scripts_url;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, Weak};

use common::{raw_request, Cleanup};

const ASSEMBLE: &str = r#"#!/bin/sh
set -e
if [ -f /tmp/src/fail ]; then echo "assemble failed on purpose" >&2; exit 3; fi
mkdir -p /tmp/app
if [ -d /tmp/artifacts ]; then echo "restoring artifacts: $(cd /tmp/artifacts && ls | tr '\n' ' ')"; cp -R /tmp/artifacts/. /tmp/app/; fi
cp -R /tmp/src/. /tmp/app/
echo "assembled as $(id -u) with GREETING=$GREETING"
"#;

const RUN: &str = r#"#!/bin/sh
cat /tmp/app/hello.txt 2>/dev/null || cat /opt/app-root/lib/app/hello.txt
"#;

const SAVE_ARTIFACTS: &str = "#!/bin/sh\ncd /tmp/app && tar -cf - cache\n";

const USAGE: &str = "#!/bin/sh\necho \"this builder copies /tmp/src to /tmp/app\"\n";

const ASSEMBLE_RUNTIME: &str = "#!/bin/sh\necho \"runtime has: $(ls /opt/app-root)\"\n";

const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /tmp /usr/libexec/s2i /usr/libexec/s2i-min /usr/bin /opt/app-root && chmod 1777 /tmp && chown 1001 /opt/app-root && ln -s /bin/busybox /usr/bin/env
COPY assemble run save-artifacts usage assemble-runtime /usr/libexec/s2i/
COPY assemble run /usr/libexec/s2i-min/
ENV PATH=/bin
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i io.k8s.display-name="the builder"
USER 1001
WORKDIR /opt/app-root
CMD ["/bin/sh"]
"#;

/// The shared builder image; removed when the last test using it is done.
struct Builder {
    tag: String,
    _cleanup: Cleanup,
}

static BUILDER: Mutex<Weak<Builder>> = Mutex::new(Weak::new());

fn build_image(host: &str, tag: &str, context: &[u8]) {
    let r = raw_request(
        host,
        "POST",
        &format!("/build?t={tag}&rm=1&forcerm=1&nocache=1&networkmode=none"),
        Some("application/x-tar"),
        context,
    )
    .expect("POST /build");
    let progress = String::from_utf8_lossy(&r.body);
    assert!(
        r.status == 200 && !progress.contains("\"error"),
        "build {tag}: {} {progress}",
        r.status
    );
}

fn builder(host: &str) -> Arc<Builder> {
    let mut slot = BUILDER.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(b) = slot.upgrade() {
        return b;
    }
    let tag = format!("{}:1", common::unique_name("s2i-test-cli-builder"));
    let cleanup = Cleanup::new(host);
    cleanup.image(&tag);
    let context = common::build_context_tar(
        DOCKERFILE,
        &[
            ("assemble", ASSEMBLE.as_bytes(), 0o755),
            ("run", RUN.as_bytes(), 0o755),
            ("save-artifacts", SAVE_ARTIFACTS.as_bytes(), 0o755),
            ("usage", USAGE.as_bytes(), 0o755),
            ("assemble-runtime", ASSEMBLE_RUNTIME.as_bytes(), 0o755),
        ],
    );
    build_image(host, &tag, &context);
    let b = Arc::new(Builder {
        tag,
        _cleanup: cleanup,
    });
    *slot = Arc::downgrade(&b);
    b
}

/// A builder named after `prefix`, built `FROM` the test's builder `base` with `instructions`
/// after, and removed with `cleanup`.
fn builder_from(
    host: &str,
    base: &str,
    cleanup: &Cleanup,
    prefix: &str,
    instructions: &str,
) -> String {
    let tag = format!("{}:1", common::unique_name(prefix));
    cleanup.image(&tag);
    let dockerfile = format!("FROM {base}\n{instructions}");
    build_image(host, &tag, &common::build_context_tar(&dockerfile, &[]));
    tag
}

/// A source directory, removed when dropped.
struct App(PathBuf);

impl App {
    fn new(files: &[(&str, &str)]) -> App {
        let dir = std::env::temp_dir().join(common::unique_name("s2i-test-cli-app"));
        for (name, content) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        App(dir)
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The binary under test: `S2I_CLI_BIN`, else cargo's build of it.
fn binary() -> PathBuf {
    match std::env::var_os("S2I_CLI_BIN") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_s2i-docker")),
    }
}

/// Runs the binary against `host` with `args`; asserts it left no container behind (the
/// library labels its containers with their creator's pid).
fn s2i(host: &str, args: &[&str]) -> Output {
    s2i_in(host, None, args)
}

/// As [`s2i`], in the directory `cwd` when given.
fn s2i_in(host: &str, cwd: Option<&std::path::Path>, args: &[&str]) -> Output {
    s2i_with(host, cwd, &[], args)
}

/// As [`s2i_in`], with the variables `env` set.
fn s2i_with(
    host: &str,
    cwd: Option<&std::path::Path>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut command = Command::new(binary());
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    let child = command
        .args(args)
        .envs(env.iter().copied())
        .env("DOCKER_HOST", host)
        .env_remove("DOCKER_TLS_VERIFY")
        .env_remove("DOCKER_TLS")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run s2i-docker");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait for s2i-docker");
    assert_no_container_of(host, pid, &out);
    out
}

fn assert_no_container_of(host: &str, pid: u32, out: &Output) {
    let left = containers_of(host, pid);
    assert!(
        left.is_empty(),
        "s2i-docker left a container: {left:?}\n{}",
        text(out)
    );
}

/// The IDs of the containers that process `pid` of this host created (as their label says).
fn containers_of(host: &str, pid: u32) -> Vec<String> {
    let label = "io.github.s2i-docker.created-by";
    let r = raw_request(
        host,
        "GET",
        &format!("/containers/json?all=1&filters=%7B%22label%22%3A%5B%22{label}%22%5D%7D"),
        None,
        &[],
    )
    .expect("list containers");
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("a list");
    listed
        .iter()
        .filter(|c| {
            c["Labels"][label]
                .as_str()
                .is_some_and(|v| v.starts_with(&format!("{pid}:")))
        })
        .map(|c| c["Id"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn image_config(host: &str, tag: &str) -> String {
    let r = raw_request(host, "GET", &format!("/images/{tag}/json"), None, &[]).expect("inspect");
    assert_eq!(r.status, 200, "{tag}: {}", String::from_utf8_lossy(&r.body));
    String::from_utf8_lossy(&r.body).into_owned()
}

fn setup() -> Option<(String, Arc<Builder>, Cleanup)> {
    let host = common::engine_host()?;
    let b = builder(&host);
    let cleanup = Cleanup::new(&host);
    Some((host, b, cleanup))
}

/// `build SOURCE BUILDER TAG` with the builder as it is (`-p never`) and no network, then
/// `extra`.
fn build_args<'a>(
    source: &'a str,
    builder: &'a str,
    tag: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec![
        "build",
        source,
        builder,
        tag,
        "-p",
        "never",
        "--network",
        "none",
    ];
    args.extend_from_slice(extra);
    args
}

/// The flags of an extended build on the test's builder as the runtime image, copying
/// `/tmp/app` into `lib`, then `extra`.
fn extended_args<'a>(builder: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--runtime-image",
        builder,
        "--runtime-pull-policy",
        "never",
        "--runtime-artifact",
        "/tmp/app:lib",
    ];
    args.extend_from_slice(extra);
    args
}

fn out_tag(cleanup: &Cleanup) -> String {
    let tag = format!("{}:1", common::unique_name("s2i-test-cli-out"));
    cleanup.image(&tag);
    tag
}

#[test]
fn a_plain_build_runs_assemble_commits_and_runs_the_image() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "hello from the app\n"), ("a/b.txt", "b")]);
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(app.path(), &b.tag, &tag, &["-e", "GREETING=hi", "--run"]),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("assembled as 1001 with GREETING=hi"), "{t}");
    assert!(t.contains("Build completed successfully"), "{t}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from the app"),
        "{t}"
    );
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains("\"/usr/libexec/s2i/run\""), "{config}");
    assert!(config.contains("\"GREETING=hi\""), "{config}");
    assert!(
        config.contains("\"io.openshift.s2i.build.image\":\"") && config.contains(&b.tag),
        "{config}"
    );
    // S2I's labels win over the builder's.
    let labels = labels_of(&config);
    assert_eq!(labels["io.k8s.display-name"], tag.as_str(), "{config}");
    assert_eq!(
        labels["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );

    // Quiet: nothing but errors.
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &["-q"]));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        out.stderr.is_empty() && out.stdout.is_empty(),
        "{}",
        text(&out)
    );
    // The second build's image took the tag; the first one's is removed with the test.
}

#[test]
fn the_older_sti_directory_is_read_with_a_warning() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[
        ("hello.txt", "hello"),
        (".sti/environment", "GREETING=from-sti\n"),
        (
            ".sti/bin/assemble",
            "#!/bin/sh\necho \"sti assemble with GREETING=$GREETING\"\n",
        ),
    ]);
    let assemble = app.0.join(".sti/bin/assemble");
    std::fs::set_permissions(
        &assemble,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let tag = out_tag(&cleanup);
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &[]));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("DEPRECATED: Use .s2i/bin instead of .sti/bin"),
        "{t}"
    );
    assert!(
        t.contains("DEPRECATED: Use .s2i/environment instead of .sti/environment"),
        "{t}"
    );
    assert!(t.contains("sti assemble with GREETING=from-sti"), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));
}

/// An `assemble` that says what the link `hello.txt` of the sources arrived as.
const ASSEMBLE_LINKS: &str = r#"#!/bin/sh
if [ -L /tmp/src/hello.txt ]; then echo "hello.txt arrived as a link"; else echo "hello.txt arrived as: $(cat /tmp/src/hello.txt)"; fi
echo "a.txt: $(cat /tmp/src/a.txt 2>/dev/null || echo left out)"
"#;

#[test]
fn symbolic_links_are_followed_unless_kept_and_exclude_leaves_out() {
    let (host, b, cleanup) = setup_or_return!();
    let outside = App::new(&[("shared.txt", "shared through a link")]);
    let app = App::new(&[(".s2i/bin/assemble", ASSEMBLE_LINKS), ("a.txt", "a")]);
    std::os::unix::fs::symlink(outside.0.join("shared.txt"), app.0.join("hello.txt")).unwrap();
    let tag = out_tag(&cleanup);
    let build = |extra: &[&str]| {
        let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, extra));
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        cleanup.image(&image_id(&image_config(&host, &tag)));
        t
    };
    // As the reference copies the sources: the link gives its target's content.
    let t = build(&[]);
    assert!(
        t.contains("hello.txt arrived as: shared through a link"),
        "{t}"
    );
    assert!(t.contains("a.txt: a"), "{t}");
    // And --exclude leaves out what it matches (the path relative to the sources).
    let t = build(&["--keep-symlinks", "--exclude", r"^a\.txt$"]);
    assert!(t.contains("hello.txt arrived as a link"), "{t}");
    assert!(t.contains("a.txt: left out"), "{t}");
}

/// An `assemble` that reads the injected files, and a `run` that shows what is left of them.
const ASSEMBLE_INJECTED: &str = r#"#!/bin/sh
echo "during assemble: token=$(cat /tmp/secrets/token) nested=$(cat /tmp/secrets/sub/n) settings=$(cat /opt/app-root/settings.xml)"
"#;
const RUN_INJECTED: &str = r#"#!/bin/sh
echo "in the image: token=[$(cat /tmp/secrets/token)] nested=[$(cat /tmp/secrets/sub/n)] settings=[$(cat /opt/app-root/settings.xml)] script=[$(cat /tmp/rm-injections)]"
"#;

#[test]
fn injected_files_are_read_by_assemble_and_empty_in_the_image() {
    let (host, b, cleanup) = setup_or_return!();
    let secrets = App::new(&[
        ("token", "s3cret"),
        ("sub/n", "nested"),
        ("settings.xml", "<settings/>"),
    ]);
    let app = App::new(&[
        (".s2i/bin/assemble", ASSEMBLE_INJECTED),
        (".s2i/bin/run", RUN_INJECTED),
        ("a.txt", "a"),
    ]);
    let dir = format!("{}:/tmp/secrets", secrets.path());
    // A relative destination is in the builder's working directory (/opt/app-root).
    let file = format!("{}/settings.xml:settings.xml", secrets.path());
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(
            app.path(),
            &b.tag,
            &tag,
            &["-i", &dir, "--inject", &file, "--run"],
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));
    assert!(
        t.contains("during assemble: token=s3cret nested=nested settings=<settings/>"),
        "{t}"
    );
    assert!(
        t.contains("in the image: token=[] nested=[] settings=[] script=[]"),
        "{t}"
    );

    // A destination whose directory the image lacks fails the build, naming the injection.
    let bad = format!("{}:/no/such/dir/secrets", secrets.path());
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &["-i", &bad]));
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("cannot inject") && t.contains("/no/such/dir/secrets"),
        "{t}"
    );
}

/// The labels of an image inspect's JSON (`Config.Labels`).
fn labels_of(config: &str) -> serde_json::Value {
    let image: serde_json::Value = serde_json::from_str(config).expect("inspect JSON");
    image["Config"]["Labels"].clone()
}

/// The `Id` of an image inspect's JSON.
fn image_id(config: &str) -> String {
    let id = config
        .split("\"Id\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next());
    id.expect("an image ID").to_string()
}

#[test]
fn an_incremental_build_restores_the_artifacts_and_falls_back_without_save_artifacts() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "v1\n"), ("cache/dep.txt", "a dependency")]);
    let tag = out_tag(&cleanup);
    let build = |extra: &[&str]| {
        let args = build_args(app.path(), &b.tag, &tag, &["--incremental"]);
        s2i(&host, &[&args[..], extra].concat())
    };
    let first = build(&[]);
    let t = text(&first);
    assert!(first.status.success(), "{t}");
    assert!(t.contains("Clean build will be performed"), "{t}");
    assert!(!t.contains("restoring artifacts"), "{t}");
    let first_id = image_id(&image_config(&host, &tag));
    cleanup.image(&first_id);

    // The previous image's save-artifacts output arrives as /tmp/artifacts; --rm removes it.
    let second = build(&["--rm"]);
    let t = text(&second);
    assert!(second.status.success(), "{t}");
    assert!(t.contains("restoring artifacts: cache"), "{t}");
    assert!(t.contains("Removing previously-tagged image"), "{t}");
    assert!(!t.contains("Unable to remove previous image"), "{t}");
    let second_id = image_id(&image_config(&host, &tag));
    cleanup.image(&second_id);
    let r = raw_request(&host, "GET", &format!("/images/{first_id}/json"), None, &[]).unwrap();
    assert_eq!(r.status, 404, "the previous image is removed");

    // Scripts without save-artifacts: a clean build, with a warning; --rm still removes the
    // previous image, as the reference does.
    let third = build(&["--rm", "-s", "image:///usr/libexec/s2i-min"]);
    let t = text(&third);
    assert!(third.status.success(), "{t}");
    assert!(
        t.contains(
            "Clean build will be performed because of error saving previous build artifacts"
        ),
        "{t}"
    );
    assert!(!t.contains("restoring artifacts"), "{t}");
    let r = raw_request(
        &host,
        "GET",
        &format!("/images/{second_id}/json"),
        None,
        &[],
    )
    .unwrap();
    assert_eq!(
        r.status, 404,
        "the previous image is removed after a clean build too"
    );
}

#[test]
fn an_extended_build_copies_the_artifacts_into_the_runtime_image() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "hello from the runtime image\n")]);
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(app.path(), &b.tag, &tag, &extended_args(&b.tag, &["--run"])),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("runtime has: lib"), "{t}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from the runtime image"),
        "{t}"
    );

    // Without artifacts named by a flag or the image's label: the reference's error.
    let out = s2i(
        &host,
        &build_args(
            app.path(),
            &b.tag,
            &tag,
            &["--runtime-image", &b.tag, "--runtime-pull-policy", "never"],
        ),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("no runtime artifacts to copy were specified"),
        "{t}"
    );
}

#[test]
fn a_failing_assemble_is_an_error_with_its_output() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("fail", "")]);
    let tag = out_tag(&cleanup);
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains(&format!(
            "ERROR: An error occurred: non-zero (3) exit code from {}",
            b.tag
        )),
        "{t}"
    );
    assert!(t.contains("assemble failed on purpose"), "{t}");
    let r = raw_request(&host, "GET", &format!("/images/{tag}/json"), None, &[]).unwrap();
    assert_eq!(r.status, 404, "no image is committed");
}

#[test]
fn missing_scripts_and_images_are_the_references_errors() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "x")]);
    let tag = out_tag(&cleanup);
    // A builder whose scripts-url label is empty: nothing says where assemble and run are.
    let bare = format!("{}:1", common::unique_name("s2i-test-cli-bare"));
    cleanup.image(&bare);
    let dockerfile = format!("FROM {}\nLABEL io.openshift.s2i.scripts-url=\"\"\n", b.tag);
    let mut context = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(dockerfile.len() as u64);
    h.set_mode(0o644);
    context
        .append_data(&mut h, "Dockerfile", dockerfile.as_bytes())
        .unwrap();
    build_image(&host, &bare, &context.into_inner().unwrap());
    let out = s2i(&host, &build_args(app.path(), &bare, &tag, &[]));
    let t = text(&out);
    assert_eq!(out.status.code(), Some(11), "{t}");
    assert!(t.contains("failed to install [assemble run]"), "{t}");

    // The sources' .s2i/bin provides them instead.
    let with_scripts = App::new(&[
        ("hello.txt", "from .s2i/bin\n"),
        (".s2i/bin/assemble", "#!/bin/sh\nmkdir -p /tmp/app && cp /tmp/src/hello.txt /tmp/app/ && echo 'own assemble'\n"),
        (".s2i/bin/run", "#!/bin/sh\ncat /tmp/app/hello.txt\n"),
    ]);
    let out = s2i(&host, &build_args(with_scripts.path(), &bare, &tag, &[]));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("own assemble"), "{t}");
    assert!(image_config(&host, &tag).contains("\"/tmp/scripts/run\""));

    let out = s2i(
        &host,
        &build_args(app.path(), "s2i-test-cli-missing:1", &tag, &[]),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("unable to get metadata for s2i-test-cli-missing:1"),
        "{t}"
    );
    assert!(t.contains("Suggested solution: check image name"), "{t}");
}

#[test]
fn usage_prints_the_builders_usage() {
    let Some((host, b, _cleanup)) = setup() else {
        return;
    };
    let out = s2i(
        &host,
        &["usage", &b.tag, "-p", "never", "--network", "none"],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "this builder copies /tmp/src to /tmp/app",
        "{t}"
    );
}

#[test]
fn bad_command_lines_say_what_to_fix() {
    let run = |args: &[&str]| {
        Command::new(binary())
            .args(args)
            .output()
            .expect("run s2i-docker")
    };
    for (args, expected) in [
        (&["build", "--foo"][..], "unknown flag: --foo"),
        (
            &["build", "."][..],
            "Required value not specified for \"builderImage\"",
        ),
        (
            &["build", ".", "b", "t", "-p", "bogus"][..],
            "valid values are: always, never or if-not-present",
        ),
        (
            &["build", "ftp://example.com/x", "b", "t"][..],
            "unsupported protocol specified: \"ftp\"",
        ),
        (
            &["build", "/nonexistent/src", "b", "t"][..],
            "Local filesystem source path does not exist: /nonexistent/src",
        ),
    ] {
        let out = run(args);
        let t = text(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {t}");
        assert!(t.contains(expected), "{args:?}: {t}");
    }
    let out = run(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("s2i-docker build SOURCE BUILDER"));
}

#[test]
fn a_builder_in_an_authenticated_registry_is_pulled_with_the_docker_config() {
    use base64::Engine as _;
    use s2i_docker::auth::encode_auth;
    use s2i_docker::ops::image::{ImagePushOptions, ImageRemoveOptions};
    use s2i_docker::{new_engine_api_client, AuthConfig, Client, DockerConfig};

    let (host, b, cleanup) = setup_or_return!();
    let Some(registry) = common::env_or_skip("S2I_TEST_REGISTRY") else {
        return;
    };
    let Some(user) = common::env_or_skip("S2I_TEST_REGISTRY_USER") else {
        return;
    };
    let Some(password) = common::env_or_skip("S2I_TEST_REGISTRY_PASSWORD") else {
        return;
    };
    let docker = new_engine_api_client(&DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    })
    .expect("engine client");
    let remote = format!(
        "{registry}/{}:1",
        common::unique_name("s2i-test-cli-pushed")
    );
    cleanup.image(&remote);
    docker
        .image_tag(&b.tag, &remote)
        .expect("tag for the registry");
    let credentials = AuthConfig {
        username: user.clone(),
        password: password.clone(),
        server_address: registry.clone(),
        ..Default::default()
    };
    let options = ImagePushOptions {
        registry_auth: encode_auth(&credentials).expect("encode credentials"),
        tls_verify: Some(false),
    };
    let progress = docker.image_push(&remote, &options).expect("push");
    s2i_docker::ops::stream::consume(progress, |_| {}).expect("the push succeeds");
    docker
        .image_remove(&remote, &ImageRemoveOptions::default())
        .expect("remove the local tag");

    let app = App::new(&[("hello.txt", "pulled\n")]);
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let config_json = format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#);
    let config = App::new(&[("config.json", &config_json)]);
    let config_path = format!("{}/config.json", config.path());
    let tag = out_tag(&cleanup);

    // Without credentials: the reference's pull error, and its code.
    let out = s2i(
        &host,
        &[
            "build",
            app.path(),
            &remote,
            &tag,
            "--dockercfg-path",
            "/nonexistent/config.json",
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains(&format!("unable to get {remote}")), "{t}");

    let out = s2i(
        &host,
        &[
            "build",
            app.path(),
            &remote,
            &tag,
            "--dockercfg-path",
            &config_path,
            "--network",
            "none",
        ],
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "Image \"{remote}\" not available locally, pulling"
        )),
        "{t}"
    );
    assert!(t.contains("Build completed successfully"), "{t}");
    // The pull's progress: its status lines, indented under the step.
    assert!(
        t.lines()
            .any(|l| l.starts_with("     ") && !l.trim().is_empty()),
        "{t}"
    );
}
