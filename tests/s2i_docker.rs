//! The S2I operations against a real engine, through the public API only.
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`); where none answers
//! the tests print one line and pass, except under `CI=true`. Images are built from `FROM scratch`
//! and the host's static busybox through `build_image`; every image and container a test makes is
//! removed, also when it fails.

mod common;

use std::collections::BTreeSet;
use std::io::{self, Cursor, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use common::Cleanup;
use s2i_docker::archive::{default_upload_tar_writer, tar_reader, LocalFileSystem};
use s2i_docker::user::parse_range_list;
use s2i_docker::{
    check_allowed_user, check_allowed_user_with_assemble_user, get_builder_image,
    new_engine_api_client, pull_image, stream_container_io, BuildImageOptions, Cancel, Client,
    CommitContainerOptions, Config, Docker, DockerClient, DockerConfig, Error, ErrorCode,
    PostExecutor, PullPolicy, RunCancel, RunContainerOptions,
};

// ---------------------------------------------------------------------------------------------
// Setup

/// A script that reports how it was run: its path, its user, and the sources under `$DEST`.
const REPORT: &str = r#"#!/bin/sh
echo "ran $0 uid=$(id -u) args=$*"
if [ -n "$DEST" ] && [ -d "$DEST/src" ]; then (cd "$DEST/src" && find . | sort | sed 's/^/src: /'); fi
echo "stderr of $0" >&2
"#;

const RUN: &str = r#"#!/bin/sh
echo "ran $0 uid=$(id -u)"
if [ -f /opt/app/index.txt ]; then echo "app says: $(cat /opt/app/index.txt)"; fi
echo "greeting=$GREETING"
if [ -n "$COUNT_STDIN" ]; then echo "stdin bytes: $(wc -c | tr -d ' ')"; fi
"#;

const ASSEMBLE: &str = r#"#!/bin/sh
echo "ran $0 uid=$(id -u) args=$*"
if [ -n "$DEST" ] && [ -d "$DEST/src" ]; then (cd "$DEST/src" && find . | sort | sed 's/^/src: /'); fi
if [ -n "$INSTALL" ]; then cp -R "$DEST/src/." /opt/app/ && echo "installed"; fi
echo "stderr of $0" >&2
"#;

const FAIL: &str = "#!/bin/sh\necho failing\necho 'failing on stderr' >&2\nexit 3\n";

const BASE_DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /tmp /usr/libexec/s2i /usr/bin /opt/app /opt/alt "/file:/opt/alt" && chmod 1777 /tmp && chmod 777 /opt/app && ln -s /bin/busybox /usr/bin/env
COPY assemble run usage save-artifacts fail /usr/libexec/s2i/
COPY alt-run /opt/alt/run
COPY alt-run /file:/opt/alt/run
COPY path-run /bin/run
ENV PATH=/bin
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i
USER 1001
CMD ["/bin/sh"]
"#;

/// The shared builder image; removed when the last test using it is done.
struct Base {
    tag: String,
    _cleanup: Cleanup,
}

static BASE: Mutex<Weak<Base>> = Mutex::new(Weak::new());

struct Ctx {
    client: Arc<dyn Client>,
    docker: DockerClient,
    cleanup: Cleanup,
}

/// The engine, or `None` (after one line on stderr) when none answers outside CI.
fn engine() -> Option<Ctx> {
    let host = common::engine_host()?;
    let config = DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    };
    let client: Arc<dyn Client> = Arc::new(new_engine_api_client(&config).expect("engine client"));
    let docker = DockerClient::new(client.clone(), Default::default())
        .with_pull_retry_delay(Duration::from_millis(10))
        .with_pull_retry_count(1);
    Some(Ctx {
        client,
        docker,
        cleanup: Cleanup::new(&host),
    })
}

impl Ctx {
    /// The shared builder image's tag (built on first use).
    fn base(&self) -> Arc<Base> {
        let mut slot = BASE.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(base) = slot.upgrade() {
            return base;
        }
        let tag = format!("{}:base", common::unique_name("s2i-test-builder"));
        let cleanup = Cleanup::new(&common::configured_host());
        cleanup.image(&tag);
        let context = common::build_context_tar(
            BASE_DOCKERFILE,
            &[
                ("assemble", ASSEMBLE.as_bytes(), 0o755),
                ("run", RUN.as_bytes(), 0o755),
                ("usage", REPORT.as_bytes(), 0o755),
                ("save-artifacts", REPORT.as_bytes(), 0o755),
                ("fail", FAIL.as_bytes(), 0o755),
                ("alt-run", REPORT.as_bytes(), 0o755),
                ("path-run", REPORT.as_bytes(), 0o755),
            ],
        );
        self.build(&tag, context)
            .expect("build the base builder image");
        let base = Arc::new(Base {
            tag,
            _cleanup: cleanup,
        });
        *slot = Arc::downgrade(&base);
        base
    }

    /// Builds `tag` from a context tar; returns the build output.
    fn build(&self, tag: &str, context: Vec<u8>) -> Result<String, (Error, String)> {
        let out = Buf::default();
        let built = self.docker.build_image(BuildImageOptions {
            name: tag.to_string(),
            stdin: Some(Box::new(Cursor::new(context))),
            stdout: Some(Box::new(out.clone())),
            cgroup_limits: None,
            cancel: None,
            ..Default::default()
        });
        match built {
            Ok(()) => Ok(out.text()),
            Err(e) => Err((e, out.text())),
        }
    }

    /// An image `FROM` the base with more Dockerfile lines; removed with the test.
    fn variant(&self, base: &Base, lines: &str) -> String {
        let tag = format!("{}:v", common::unique_name("s2i-test-variant"));
        self.cleanup.image(&tag);
        let dockerfile = format!("FROM {}\n{lines}\n", base.tag);
        self.build(&tag, small_context(&dockerfile, &[]))
            .unwrap_or_else(|(e, out)| panic!("build {tag}: {e:?}\n{out}"));
        tag
    }

    /// Runs with stdout and stderr captured (unless given); returns the result and both outputs.
    fn run(&self, mut opts: RunContainerOptions) -> (Result<(), Error>, String, String) {
        let (out, err) = (Buf::default(), Buf::default());
        if opts.stdout.is_none() {
            opts.stdout = Some(Box::new(out.clone()));
        }
        if opts.stderr.is_none() {
            opts.stderr = Some(Box::new(err.clone()));
        }
        let r = self.docker.run_container(opts);
        (r, out.text(), err.text())
    }

    /// Asserts the container is gone.
    fn assert_removed(&self, id: &str) {
        let e = self
            .client
            .container_inspect(id)
            .expect_err("the container must be removed");
        assert!(e.is_not_found(), "{e:?}");
    }
}

/// A build context without busybox (for images `FROM` another).
fn small_context(dockerfile: &str, files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut tar = ::tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = ::tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_entry_type(::tar::EntryType::Regular);
        tar.append_data(&mut h, path, data).expect("context entry");
    };
    add("Dockerfile", dockerfile.as_bytes(), 0o644);
    for (p, d, m) in files {
        add(p, d, *m);
    }
    tar.into_inner().expect("context")
}

/// A tar of sources as S2I uploads them: `src/...` (and `scripts/...` for external scripts).
fn sources_tar(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut tar = ::tar::Builder::new(Vec::new());
    let mut dirs = BTreeSet::new();
    for (path, _, _) in files {
        let mut p = Path::new(path).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_path_buf());
            p = d.parent();
        }
    }
    for d in dirs {
        let mut h = ::tar::Header::new_ustar();
        h.set_entry_type(::tar::EntryType::Directory);
        h.set_mode(0o777);
        h.set_size(0);
        tar.append_data(&mut h, &d, io::empty()).expect("dir entry");
    }
    for (path, data, mode) in files {
        let mut h = ::tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_entry_type(::tar::EntryType::Regular);
        tar.append_data(&mut h, path, data.as_bytes())
            .expect("file entry");
    }
    tar.into_inner().expect("sources tar")
}

fn stdin_of(data: Vec<u8>) -> Option<Box<dyn Read + Send>> {
    Some(Box::new(Cursor::new(data)))
}

fn app_sources() -> Vec<u8> {
    sources_tar(&[("src/a.txt", "a\n", 0o644), ("src/dir/b.txt", "b\n", 0o644)])
}

/// A shared in-memory writer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A pipe for a container's output, `(writer, reader)`: a socket pair, whose reader ends when
/// the run drops the writer.
fn pipe() -> (UnixStream, UnixStream) {
    UnixStream::pair().expect("a socket pair")
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let p = std::env::temp_dir().join(common::unique_name(&format!("s2i-test-{name}")));
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_file(path: &Path, content: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(path, content).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// An `on_start` hook that uploads each host path to its container path, in order (the last
/// one is the marker the container's script waits for).
fn uploader(
    docker: &DockerClient,
    uploads: Vec<(PathBuf, &'static str)>,
) -> s2i_docker::OnStartHook {
    let docker = docker.clone();
    Box::new(move |id: &str| {
        for (src, dest) in &uploads {
            docker.upload_to_container(&LocalFileSystem, src, dest, id)?;
        }
        Ok(())
    })
}

/// A `post_exec` hook that downloads `path` from the container, and the buffer the tar lands in.
fn downloader(
    docker: &DockerClient,
    path: &'static str,
) -> (Arc<Mutex<Vec<u8>>>, Box<dyn PostExecutor + Send>) {
    let docker = docker.clone();
    let downloaded = Arc::new(Mutex::new(Vec::new()));
    let into = downloaded.clone();
    let hook = move |id: &str, _: &str| -> s2i_docker::Result<()> {
        let mut tar = Vec::new();
        docker.download_from_container(path, &mut tar, id)?;
        *into.lock().unwrap() = tar;
        Ok(())
    };
    (downloaded, Box::new(hook))
}

/// The container ID `on_start` saw.
fn id_recorder() -> (Arc<Mutex<String>>, s2i_docker::OnStartHook) {
    let id = Arc::new(Mutex::new(String::new()));
    let seen = id.clone();
    (
        id,
        Box::new(move |container: &str| {
            *seen.lock().unwrap_or_else(|p| p.into_inner()) = container.to_string();
            Ok(())
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// A whole S2I build

#[test]
fn a_whole_s2i_build() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let app = TempDir::new("app");
    write_file(&app.0.join("index.txt"), "hello s2i", 0o644);
    write_file(
        &app.0.join("bin/start.sh"),
        "#!/bin/sh\necho start\n",
        0o755,
    );
    write_file(&app.0.join(".git/HEAD"), "ref: refs/heads/main\n", 0o644);

    // assemble, with the sources streamed in as a tar while it is produced, and the output
    // read line by line as S2I does.
    let (out_w, out_r) = pipe();
    let (err_w, err_r) = pipe();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let out_done = stream_container_io(out_r, None, move |l| {
        seen.lock().unwrap().push(l.trim_end().to_string())
    });
    let err_output = Arc::new(Mutex::new(String::new()));
    let err_done = stream_container_io(err_r, Some(err_output.clone()), |_| {});
    let output_tag = format!("{}:1", common::unique_name("s2i-test-app"));
    ctx.cleanup.image(&output_tag);
    let committed = Arc::new(Mutex::new(String::new()));
    let (id, on_start) = id_recorder();
    let commit = {
        let docker = ctx.docker.clone();
        let committed = committed.clone();
        let tag = output_tag.clone();
        let builder = base.tag.clone();
        move |container: &str, destination: &str| -> s2i_docker::Result<()> {
            assert_eq!(destination, "/tmp");
            let image = docker.commit_container(CommitContainerOptions {
                container_id: container.to_string(),
                repository: tag.clone(),
                user: "1001".into(),
                command: vec!["/usr/libexec/s2i/run".into()],
                env: vec!["GREETING=hi there".into()],
                labels: [
                    ("io.openshift.s2i.build.image".to_string(), builder.clone()),
                    ("test.label".to_string(), "v".to_string()),
                ]
                .into(),
                ..Default::default()
            })?;
            *committed.lock().unwrap() = image;
            Ok(())
        }
    };
    let started = Instant::now();
    let assembled = ctx.docker.run_container(RunContainerOptions {
        image: base.tag.clone(),
        command: "assemble".into(),
        env: vec!["DEST=/tmp".into(), "INSTALL=1".into()],
        stdin: Some(Box::new(tar_reader(
            Arc::new(LocalFileSystem),
            app.0.clone(),
            "src".into(),
            default_upload_tar_writer,
        ))),
        stdout: Some(Box::new(out_w)),
        stderr: Some(Box::new(err_w)),
        on_start: Some(on_start),
        post_exec: Some(Box::new(commit)),
        ..Default::default()
    });
    out_done.join().unwrap();
    err_done.join().unwrap();
    let lines = lines.lock().unwrap().clone();
    if let Err(e) = assembled {
        panic!(
            "assemble: {e:?}\nstdout: {lines:?}\nstderr: {}",
            err_output.lock().unwrap()
        );
    }
    assert_eq!(
        lines,
        [
            "ran /usr/libexec/s2i/assemble uid=1001 args=",
            "src: .",
            "src: ./bin",
            "src: ./bin/start.sh",
            "src: ./index.txt",
            "installed",
        ],
        "the .git directory is not uploaded"
    );
    assert_eq!(
        *err_output.lock().unwrap(),
        "stderr of /usr/libexec/s2i/assemble\n\n\n"
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    ctx.assert_removed(&id.lock().unwrap());
    let image_id = committed.lock().unwrap().clone();
    assert!(image_id.starts_with("sha256:"), "{image_id}");

    // The committed image: its command, environment, labels and user.
    assert_eq!(ctx.docker.get_image_id(&output_tag).unwrap(), image_id);
    // Podman 4 ignores the body of POST /commit (S2I issue #1082); the client sends the same
    // configuration as `changes` there, so the checks hold on both engines.
    let labels = ctx.docker.get_labels(&output_tag).unwrap();
    assert_eq!(labels["test.label"], "v");
    assert_eq!(labels["io.openshift.s2i.build.image"], base.tag);
    // The builder's labels are inherited.
    assert_eq!(
        labels["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );
    assert_eq!(ctx.docker.get_image_user(&output_tag).unwrap(), "1001");
    let inspect = ctx.docker.inspect_image(&output_tag).unwrap();
    let config = inspect.config.unwrap();
    assert_eq!(config.cmd, Some(vec!["/usr/libexec/s2i/run".to_string()]));
    assert!(config
        .env
        .unwrap_or_default()
        .contains(&"GREETING=hi there".to_string()));

    // Run it as it is: its own command.
    let (id, on_start) = id_recorder();
    let (r, out, _) = ctx.run(RunContainerOptions {
        image: output_tag.clone(),
        target_image: true,
        on_start: Some(on_start),
        ..Default::default()
    });
    r.expect("run the built image");
    assert_eq!(
        out,
        "ran /usr/libexec/s2i/run uid=1001\napp says: hello s2i\ngreeting=hi there\n"
    );
    ctx.assert_removed(&id.lock().unwrap());
}

// ---------------------------------------------------------------------------------------------
// Command construction: what actually runs

#[test]
fn commands_from_the_image_scripts_url() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let o = |command: &str| RunContainerOptions {
        image: base.tag.clone(),
        command: command.into(),
        env: vec!["DEST=/tmp".into()],
        ..Default::default()
    };
    let sources_listing = "src: .\nsrc: ./a.txt\nsrc: ./dir\nsrc: ./dir/b.txt\n";

    // A script without stdin: run directly.
    let (r, out, err) = ctx.run(o("run"));
    r.unwrap();
    assert_eq!(out, "ran /usr/libexec/s2i/run uid=1001\ngreeting=\n");
    assert_eq!(err, "");
    // assemble and usage with stdin: the tar is extracted into the destination first.
    for command in ["assemble", "usage"] {
        let (r, out, err) = ctx.run(RunContainerOptions {
            stdin: stdin_of(app_sources()),
            ..o(command)
        });
        r.unwrap();
        assert_eq!(
            out,
            format!("ran /usr/libexec/s2i/{command} uid=1001 args=\n{sources_listing}")
        );
        assert_eq!(err, format!("stderr of /usr/libexec/s2i/{command}\n"));
    }
    // assemble without stdin: no tar.
    let (r, out, _) = ctx.run(o("assemble"));
    r.unwrap();
    assert_eq!(out, "ran /usr/libexec/s2i/assemble uid=1001 args=\n");
    // Another script with stdin: no tar either; the script gets the raw stream.
    let sources = app_sources();
    let (r, out, _) = ctx.run(RunContainerOptions {
        stdin: stdin_of(sources.clone()),
        env: vec!["COUNT_STDIN=1".into()],
        ..o("run")
    });
    r.unwrap();
    assert!(
        out.ends_with(&format!("stdin bytes: {}\n", sources.len())),
        "{out}"
    );
    // The explicit command, verbatim.
    let (r, out, _) = ctx.run(RunContainerOptions {
        command_explicit: vec![
            "/bin/sh".into(),
            "-c".into(),
            "echo explicit $((1+2))".into(),
        ],
        stdin: stdin_of(app_sources()),
        ..o("assemble")
    });
    r.unwrap();
    assert_eq!(out, "explicit 3\n");
    // The override rewrites the tar command line.
    let (r, out, _) = ctx.run(RunContainerOptions {
        stdin: stdin_of(app_sources()),
        command_overrides: Some(Box::new(|s: &str| format!("echo overridden && {s}"))),
        ..o("assemble")
    });
    r.unwrap();
    assert_eq!(
        out,
        format!("overridden\nran /usr/libexec/s2i/assemble uid=1001 args=\n{sources_listing}")
    );
}

#[test]
fn commands_from_given_and_deprecated_scripts_urls() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let o = |image: &str| RunContainerOptions {
        image: image.to_string(),
        command: "run".into(),
        ..Default::default()
    };
    let ran = |out: &str| out.lines().next().unwrap_or_default().to_string();
    // The option beats the label; `//` and a trailing `/` are cleaned.
    let (r, out, _) = ctx.run(RunContainerOptions {
        scripts_url: "image:///opt//alt/".into(),
        ..o(&base.tag)
    });
    r.unwrap();
    assert_eq!(ran(&out), "ran /opt/alt/run uid=1001 args=");
    // A URL that is not image:// is used as a path, literally (relative to the working dir /).
    let (r, out, _) = ctx.run(RunContainerOptions {
        scripts_url: "file:///opt/alt".into(),
        ..o(&base.tag)
    });
    r.unwrap();
    assert_eq!(ran(&out), "ran file:/opt/alt/run uid=1001 args=");

    let old_label = ctx.variant(
        &base,
        "LABEL io.openshift.s2i.scripts-url=\"\" io.s2i.scripts-url=image:///opt/alt",
    );
    let (r, out, _) = ctx.run(o(&old_label));
    r.unwrap();
    assert_eq!(ran(&out), "ran /opt/alt/run uid=1001 args=");
    let env = ctx.variant(
        &base,
        "LABEL io.openshift.s2i.scripts-url=\"\"\nENV STI_SCRIPTS_URL=image:///opt/alt",
    );
    let (r, out, _) = ctx.run(o(&env));
    r.unwrap();
    assert_eq!(ran(&out), "ran /opt/alt/run uid=1001 args=");
    // No scripts URL at all: the bare script name, found on the image's PATH.
    let none = ctx.variant(&base, "LABEL io.openshift.s2i.scripts-url=\"\"");
    let (r, out, _) = ctx.run(o(&none));
    r.unwrap();
    assert_eq!(ran(&out), "ran /bin/run uid=1001 args=");
}

#[test]
fn destinations_and_external_scripts() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let listing = "src: .\nsrc: ./a.txt\nsrc: ./dir\nsrc: ./dir/b.txt\n";
    let assemble = |image: &str| RunContainerOptions {
        image: image.to_string(),
        command: "assemble".into(),
        env: vec!["DEST=/opt/app".into()],
        stdin: stdin_of(app_sources()),
        ..Default::default()
    };
    let expected = format!("ran /usr/libexec/s2i/assemble uid=1001 args=\n{listing}");
    // The option.
    let (r, out, _) = ctx.run(RunContainerOptions {
        destination: "/opt/app".into(),
        ..assemble(&base.tag)
    });
    r.unwrap();
    assert_eq!(out, expected);
    // The label, the deprecated label, the deprecated variable.
    for lines in [
        "LABEL io.openshift.s2i.destination=/opt/app",
        "LABEL io.s2i.destination=/opt/app",
        "ENV STI_LOCATION=/opt/app",
    ] {
        let image = ctx.variant(&base, lines);
        let (r, out, _) = ctx.run(assemble(&image));
        r.unwrap();
        assert_eq!(out, expected, "{lines}");
    }
    // External scripts: they come in the tar, under <destination>/scripts.
    let tar = sources_tar(&[
        (
            "scripts/assemble",
            "#!/bin/sh\necho \"external $0\"\nls /tmp/src\n",
            0o755,
        ),
        ("src/a.txt", "a\n", 0o644),
    ]);
    let (r, out, _) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        command: "assemble".into(),
        external_scripts: true,
        stdin: stdin_of(tar),
        ..Default::default()
    });
    r.unwrap();
    assert_eq!(out, "external /tmp/scripts/assemble\na.txt\n");
}

// ---------------------------------------------------------------------------------------------
// Failures, entrypoints, hooks, cancel

#[test]
fn a_failing_script_is_a_container_error() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let (id, on_start) = id_recorder();
    let (r, out, err) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        command: "fail".into(),
        stdin: stdin_of(app_sources()),
        on_start: Some(on_start),
        post_exec: Some(Box::new(|_: &str, _: &str| -> s2i_docker::Result<()> {
            panic!("post_exec must not run after a failure")
        })),
        ..Default::default()
    });
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), Some(3), "{e:?}");
    assert_eq!(e.code(), Some(ErrorCode::StiContainer));
    let id = id.lock().unwrap().clone();
    assert_eq!(e.to_string(), format!("non-zero (3) exit code from {id}"));
    let Error::Container(c) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        c.output,
        "Status: exited, Error: , OOMKilled: false, Dead: false"
    );
    assert_eq!(out, "failing\n");
    // Podman's own complaint when the attach connection goes away is not part of the output.
    assert_eq!(err, "failing on stderr\n");
    ctx.assert_removed(&id);
}

#[test]
fn an_image_entrypoint_is_overridden_for_scripts() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let image = ctx.variant(&base, "ENTRYPOINT [\"/bin/echo\", \"swallowed:\"]");
    let (r, out, _) = ctx.run(RunContainerOptions {
        image: image.clone(),
        command: "assemble".into(),
        env: vec!["DEST=/tmp".into()],
        stdin: stdin_of(app_sources()),
        ..Default::default()
    });
    r.unwrap();
    assert!(
        out.starts_with("ran /usr/libexec/s2i/assemble uid=1001 args=\nsrc: ."),
        "{out}"
    );
    // The caller's entrypoint wins.
    let (r, out, _) = ctx.run(RunContainerOptions {
        image: image.clone(),
        command: "run".into(),
        entrypoint: vec!["/bin/echo".into(), "mine:".into()],
        ..Default::default()
    });
    r.unwrap();
    assert_eq!(out, "mine: /usr/libexec/s2i/run\n");
    // Running the image as it is keeps its entrypoint.
    let (r, out, _) = ctx.run(RunContainerOptions {
        image,
        target_image: true,
        ..Default::default()
    });
    r.unwrap();
    assert!(out.starts_with("swallowed:"), "{out}");
}

#[test]
fn on_start_uploads_and_post_exec_downloads() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let files = TempDir::new("inject");
    write_file(&files.0.join("data.txt"), "injected", 0o644);
    let marker = TempDir::new("marker");
    write_file(&marker.0.join("go"), "", 0o644);
    let on_start = uploader(
        &ctx.docker,
        vec![
            (files.0.clone(), "/tmp/injected"),
            (marker.0.join("go"), "/tmp/go"),
        ],
    );
    let (downloaded, post_exec) = downloader(&ctx.docker, "/tmp/out");
    let script = "while [ ! -f /tmp/go ]; do sleep 0.05; done; mkdir /tmp/out && cp /tmp/injected/data.txt /tmp/out/result && echo done";
    let (r, out, _) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        command_explicit: vec!["/bin/sh".into(), "-c".into(), script.into()],
        on_start: Some(on_start),
        post_exec: Some(post_exec),
        ..Default::default()
    });
    r.unwrap();
    assert_eq!(out, "done\n");
    let tar = downloaded.lock().unwrap().clone();
    let mut found = Vec::new();
    for entry in ::tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut content = String::new();
        entry.read_to_string(&mut content).unwrap();
        let path = entry.path().unwrap().display().to_string();
        found.push((path.trim_end_matches('/').to_string(), content));
    }
    assert_eq!(
        found,
        [
            ("out".to_string(), String::new()),
            ("out/result".to_string(), "injected".to_string())
        ]
    );
    // An on_start error is the run's error (the container succeeded).
    let (r, _, _) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        command: "run".into(),
        on_start: Some(Box::new(|id: &str| {
            Err(Error::other(format!("hook failed for {}", &id[..12])))
        })),
        ..Default::default()
    });
    assert!(r.unwrap_err().to_string().starts_with("hook failed for "));
}

#[test]
fn cancel_from_another_thread() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let cancel = RunCancel::new();
    let (tx, rx) = mpsc::channel::<String>();
    let canceller = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let id = rx.recv().expect("the container started");
            // Let the container run (and the stdin copy block) for a moment.
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
            (id, Instant::now())
        })
    };
    let out = Buf::default();
    let r = ctx.docker.run_container(RunContainerOptions {
        image: base.tag.clone(),
        command_explicit: vec!["/bin/sh".into(), "-c".into(), "echo up; sleep 300".into()],
        // Endless input that the container never reads: the copy blocks until the cancel.
        stdin: Some(Box::new(io::repeat(b'x'))),
        stdout: Some(Box::new(out.clone())),
        on_start: Some(Box::new(move |id: &str| {
            tx.send(id.to_string()).ok();
            Ok(())
        })),
        cancel: Some(cancel),
        ..Default::default()
    });
    let returned = Instant::now();
    let (id, cancelled_at) = canceller.join().unwrap();
    let e = r.unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    let took = returned.duration_since(cancelled_at);
    assert!(took < Duration::from_secs(10), "cancel took {took:?}");
    assert_eq!(out.text(), "up\n");
    ctx.assert_removed(&id);
}

#[test]
fn streams_only_stderr_or_only_stdin() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    // Only stderr attached: still streamed (the reference streamed only with stdout).
    let err = Buf::default();
    ctx.docker
        .run_container(RunContainerOptions {
            image: base.tag.clone(),
            command: "usage".into(),
            stderr: Some(Box::new(err.clone())),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(err.text(), "stderr of /usr/libexec/s2i/usage\n");
    // Only stdin: the tar arrives, and the run ends when the container does.
    ctx.docker
        .run_container(RunContainerOptions {
            image: base.tag.clone(),
            command: "assemble".into(),
            env: vec!["DEST=/tmp".into()],
            stdin: stdin_of(app_sources()),
            ..Default::default()
        })
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Images: builds, pulls, users

#[test]
fn a_failing_build_is_an_error_after_its_output() {
    let Some(ctx) = engine() else { return };
    let tag = format!("{}:broken", common::unique_name("s2i-test-broken"));
    ctx.cleanup.image(&tag);
    let context = common::build_context_tar(
        "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo building; exit 7\"]\n",
        &[],
    );
    let (e, output) = ctx.build(&tag, context).unwrap_err();
    // The steps that succeeded stay behind as untagged images: `---> <id>` (Docker) or
    // `--> <id>` (Podman, 11 digits) in the output.
    for word in output.split(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        if word.len() >= 11 && word.len() <= 64 && word.bytes().all(|b| b.is_ascii_hexdigit()) {
            ctx.cleanup.image(word);
        }
    }
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
    assert!(output.contains("building"), "{output}");
    assert!(
        output.contains(&e.to_string()) || output.contains("error"),
        "{output}"
    );
    assert!(!ctx.docker.is_image_in_local_registry(&tag).unwrap());
}

#[test]
fn pulls_of_unreachable_registries_retry_then_fail() {
    let Some(ctx) = engine() else { return };
    let name = format!("127.0.0.1:9/{}:1", common::unique_name("s2i-test-nothing"));
    assert!(!ctx.docker.is_image_in_local_registry(&name).unwrap());
    let started = Instant::now();
    let e = ctx.docker.check_and_pull_image(&name).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{e:?}");
    assert_eq!(e.to_string(), format!("unable to get {name}"));
    assert!(
        e.to_string_with_causes().contains("connection refused"),
        "{}",
        e.to_string_with_causes()
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    // `never` does not pull.
    let e = pull_image(&name, &ctx.docker, PullPolicy::Never).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::InspectImage));
    // A present image is used as it is.
    let base = ctx.base();
    let r = pull_image(&base.tag, &ctx.docker, PullPolicy::IfNotPresent).unwrap();
    assert!(!r.on_build);
    let labels = r.image.unwrap().config.unwrap().labels.unwrap();
    assert_eq!(
        labels["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );
    // And run_container with pull_image checks it without pulling.
    let (r, _, _) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        pull_image: true,
        command: "run".into(),
        ..Default::default()
    });
    r.unwrap();
}

#[test]
fn user_checks() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let allowed = parse_range_list("1000-2000").unwrap();
    let d: &dyn Docker = &ctx.docker;
    // The base runs as 1001.
    check_allowed_user(d, &base.tag, &allowed, false).unwrap();
    let root = ctx.variant(&base, "USER root");
    let e = check_allowed_user(d, &root, &allowed, false).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("image \"{root}\" must specify a user that is numeric and within the range of allowed users")
    );
    let with_group = ctx.variant(&base, "USER 1500:0");
    check_allowed_user(d, &with_group, &allowed, false).unwrap();
    // The assemble-user label replaces the image user.
    let label_ok = ctx.variant(
        &base,
        "USER root\nLABEL io.openshift.s2i.assemble-user=\"1002:0\"",
    );
    check_allowed_user(d, &label_ok, &allowed, false).unwrap();
    let label_bad = ctx.variant(&base, "LABEL io.openshift.s2i.assemble-user=\"0\"");
    let e = check_allowed_user(d, &label_bad, &allowed, false).unwrap_err();
    assert!(
        e.to_string().contains("io.openshift.s2i.assemble-user"),
        "{e}"
    );
    // A configured assemble user replaces both.
    check_allowed_user_with_assemble_user(d, &root, &allowed, false, "1001").unwrap();
    assert!(check_allowed_user_with_assemble_user(d, &base.tag, &allowed, false, "root").is_err());
    let config = Config {
        builder_image: base.tag.clone(),
        builder_pull_policy: PullPolicy::Never,
        allowed_uids: allowed.clone(),
        ..Default::default()
    };
    let r = get_builder_image(ctx.client.clone(), &config).unwrap();
    assert!(!r.on_build && r.image.is_some());
    if common::is_podman() {
        // Podman's API does not report ONBUILD triggers.
        return;
    }
    // ONBUILD triggers: what the builder's children would run as.
    let onbuild = ctx.variant(&base, "ONBUILD USER root\nONBUILD RUN echo child");
    assert!(
        d.is_image_on_build(&onbuild),
        "ONBUILD triggers must be kept by the build"
    );
    assert_eq!(
        d.get_on_build(&onbuild).unwrap(),
        ["USER root", "RUN echo child"]
    );
    let e = check_allowed_user(d, &onbuild, &allowed, true).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("image \"{onbuild}\" includes at least one ONBUILD instruction that sets the user to a user that is not allowed")
    );
    // The whole check as a build does it.
    let config = Config {
        builder_image: onbuild.clone(),
        ..config
    };
    let e = get_builder_image(ctx.client.clone(), &config).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::UserNotAllowed));
}

// ---------------------------------------------------------------------------------------------
// Uploads and downloads of a tree

#[test]
fn upload_and_download_a_tree() {
    use std::os::unix::fs::symlink;
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let tree = TempDir::new("tree");
    let root = tree.0.join("code");
    let long_name = format!("{}.txt", "l".repeat(146));
    assert_eq!(long_name.len(), 150);
    write_file(&root.join("sub/dir/file.txt"), "nested", 0o644);
    write_file(&root.join("bin/tool"), "#!/bin/sh\necho tool ran\n", 0o755);
    write_file(&root.join(&long_name), "long", 0o600);
    write_file(&root.join(".git/config"), "x", 0o644);
    write_file(&root.join("sub/.git/HEAD"), "x", 0o644);
    std::fs::create_dir_all(root.join("empty")).unwrap();
    symlink("sub/dir/file.txt", root.join("link")).unwrap();
    let marker = TempDir::new("marker");
    write_file(&marker.0.join("done"), "", 0o644);

    let on_start = uploader(
        &ctx.docker,
        vec![
            (root.clone(), "/tmp/uploaded"),
            (marker.0.join("done"), "/tmp/upload-done"),
        ],
    );
    let (downloaded, post_exec) = downloader(&ctx.docker, "/tmp/uploaded");
    let script = "while [ ! -f /tmp/upload-done ]; do sleep 0.05; done; cd /tmp/uploaded && find . -mindepth 1 | sort | while read f; do stat -c '%n|%a|%F' \"$f\"; done; readlink link; ./bin/tool";
    let (r, out, err) = ctx.run(RunContainerOptions {
        image: base.tag.clone(),
        command_explicit: vec!["/bin/sh".into(), "-c".into(), script.into()],
        on_start: Some(on_start),
        post_exec: Some(post_exec),
        ..Default::default()
    });
    r.unwrap_or_else(|e| panic!("{e:?}\n{out}\n{err}"));
    let expected = [
        "./bin|777|directory".to_string(),
        "./bin/tool|777|regular file".to_string(),
        "./empty|777|directory".to_string(),
        "./link|777|symbolic link".to_string(),
        format!("./{long_name}|666|regular file"),
        "./sub|777|directory".to_string(),
        "./sub/dir|777|directory".to_string(),
        "./sub/dir/file.txt|666|regular file".to_string(),
        "sub/dir/file.txt".to_string(),
        "tool ran".to_string(),
    ];
    assert_eq!(out.lines().collect::<Vec<_>>(), expected, "stderr: {err}");

    // The same tree, downloaded: names, types, modes, link target, contents.
    let tar = downloaded.lock().unwrap().clone();
    let mut entries = Vec::new();
    for entry in ::tar::Archive::new(&tar[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().display().to_string();
        let h = entry.header();
        let kind = h.entry_type();
        let mode = h.mode().unwrap() & 0o777;
        let link = h
            .link_name()
            .unwrap()
            .map(|l| l.display().to_string())
            .unwrap_or_default();
        let mut content = String::new();
        if kind.is_file() {
            entry.read_to_string(&mut content).unwrap();
        }
        entries.push((path, kind.is_dir(), mode, link, content));
    }
    entries.sort();
    let find = |name: &str| {
        entries
            .iter()
            .find(|e| e.0.trim_end_matches('/') == name)
            .unwrap_or_else(|| panic!("{name} in {entries:?}"))
            .clone()
    };
    assert_eq!(find("uploaded/bin/tool").2, 0o777);
    assert_eq!(find("uploaded/bin/tool").4, "#!/bin/sh\necho tool ran\n");
    assert_eq!(find(&format!("uploaded/{long_name}")).4, "long");
    assert_eq!(find("uploaded/link").3, "sub/dir/file.txt");
    assert!(find("uploaded/empty").1);
    assert_eq!(find("uploaded/sub/dir/file.txt").2, 0o666);
    assert!(entries.iter().all(|e| !e.0.contains(".git")), "{entries:?}");
    assert_eq!(
        entries.len(),
        9,
        "the root, 8 entries below it and no .git: {entries:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Pulls from an authenticated registry (`bash .ci/run` starts one and sets S2I_TEST_REGISTRY*)

/// Pushes `name:tag` with credentials, through a request of its own (pushing is not part of
/// the S2I operations).
fn push(name: &str, tag: &str, registry_auth: &str) {
    let reply = common::raw_request_with_headers(
        &common::configured_host(),
        "POST",
        &format!("/images/{name}/push?tag={tag}"),
        &[("X-Registry-Auth", registry_auth)],
        &[],
    )
    .expect("push");
    let progress = String::from_utf8_lossy(&reply.body);
    assert_eq!(reply.status, 200, "push: {progress}");
    assert!(!progress.contains("errorDetail"), "push: {progress}");
}

#[test]
fn pulls_from_an_authenticated_registry() {
    let Some(ctx) = engine() else { return };
    let Some(registry) = common::env_or_skip("S2I_TEST_REGISTRY") else {
        return;
    };
    let user = std::env::var("S2I_TEST_REGISTRY_USER").unwrap_or_default();
    let password = std::env::var("S2I_TEST_REGISTRY_PASSWORD").unwrap_or_default();
    let base = ctx.base();
    let repo = format!("{registry}/{}", common::unique_name("s2i-test-pulled"));
    let name = format!("{repo}:1");
    ctx.cleanup.image(&name);
    ctx.build(
        &name,
        small_context(
            &format!("FROM {}\nLABEL pulled=yes\nUSER 1001\n", base.tag),
            &[],
        ),
    )
    .unwrap_or_else(|(e, out)| panic!("{e:?}\n{out}"));
    let auth = s2i_docker::AuthConfig {
        username: user,
        password,
        server_address: registry.clone(),
        ..Default::default()
    };
    push(&repo, "1", &s2i_docker::auth::encode_auth(&auth).unwrap());
    // Pruned: `Docker::remove_image` keeps untagged parents (as S2I does), which would leave
    // this build's intermediate layer behind.
    let prune = s2i_docker::ops::image::ImageRemoveOptions::default();
    ctx.client.image_remove(&name, &prune).unwrap();
    assert!(!ctx.docker.is_image_in_local_registry(&name).unwrap());

    // Without credentials: refused, and not retried.
    let e = ctx.docker.check_and_pull_image(&name).unwrap_err();
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{e:?}");
    assert!(e.is_unauthorized(), "{}", e.to_string_with_causes());
    // With them: pulled, with progress.
    let progress = Arc::new(Mutex::new(Vec::new()));
    let seen = progress.clone();
    let docker = DockerClient::new(ctx.client.clone(), auth.clone())
        .with_pull_progress(move |m| seen.lock().unwrap().push(m.status.clone()));
    let image = docker.check_and_pull_image(&name).unwrap().unwrap();
    assert_eq!(image.config.unwrap().labels.unwrap()["pulled"], "yes");
    assert!(!progress.lock().unwrap().is_empty());
    // As a build gets its builder: always pulled, then the user checked.
    let config = Config {
        builder_image: name.clone(),
        builder_pull_policy: PullPolicy::Always,
        allowed_uids: parse_range_list("1000-").unwrap(),
        pull_authentication: auth,
        ..Default::default()
    };
    let r = get_builder_image(ctx.client.clone(), &config).unwrap();
    assert!(r.image.is_some());
}

/// Runs `run_container` on a thread; panics if it has not returned within `limit`.
fn run_within(
    docker: &DockerClient,
    opts: RunContainerOptions,
    limit: Duration,
) -> Result<(), Error> {
    let docker = docker.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(docker.run_container(opts));
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("run_container still running after {limit:?}"))
}

#[test]
fn an_engine_client_cancel_still_removes_the_container() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    let host = common::configured_host();
    // With the output attached (the attach stream is cut) and with nothing attached (the wait
    // is cut).
    for attached in [true, false] {
        let cancel = Cancel::new();
        let config = DockerConfig {
            endpoint: host.clone(),
            ..Default::default()
        };
        let client = new_engine_api_client(&config)
            .expect("engine client")
            .with_cancel(cancel.clone());
        let docker = DockerClient::new(Arc::new(client), Default::default());
        let (tx, rx) = mpsc::channel::<String>();
        let canceller = std::thread::spawn(move || {
            let id = rx.recv().expect("the container started");
            std::thread::sleep(Duration::from_millis(300));
            cancel.cancel();
            id
        });
        let out = Buf::default();
        let r = run_within(
            &docker,
            RunContainerOptions {
                image: base.tag.clone(),
                command_explicit: vec!["/bin/sh".into(), "-c".into(), "echo up; sleep 300".into()],
                stdout: attached.then(|| Box::new(out.clone()) as Box<dyn Write + Send>),
                on_start: Some(Box::new(move |id: &str| {
                    tx.send(id.to_string()).ok();
                    Ok(())
                })),
                ..Default::default()
            },
            Duration::from_secs(30),
        );
        let id = canceller.join().unwrap();
        ctx.cleanup.container(&id);
        let e = r.unwrap_err();
        assert!(e.is_cancelled(), "attached {attached}: {e:?}");
        ctx.assert_removed(&id);
    }
}

#[test]
fn a_container_that_ignores_its_stdin_ends_the_run_promptly() {
    let Some(ctx) = engine() else { return };
    let base = ctx.base();
    // A long grace for the output of the exited container: the input must end on its own,
    // not by the close of a silent output stream.
    let docker = ctx
        .docker
        .clone()
        .with_output_grace(Duration::from_secs(60));
    // With the output attached too, and with stdin alone.
    for attached in [true, false] {
        let (tx, rx) = mpsc::channel::<String>();
        let out = Buf::default();
        let started = Instant::now();
        let r = run_within(
            &docker,
            RunContainerOptions {
                image: base.tag.clone(),
                command_explicit: vec!["/bin/sh".into(), "-c".into(), "sleep 1; exit 0".into()],
                // Endless input that the container never reads.
                stdin: Some(Box::new(io::repeat(b'x'))),
                stdout: attached.then(|| Box::new(out.clone()) as Box<dyn Write + Send>),
                on_start: Some(Box::new(move |id: &str| {
                    tx.send(id.to_string()).ok();
                    Ok(())
                })),
                ..Default::default()
            },
            Duration::from_secs(120),
        );
        let took = started.elapsed();
        let id = rx.recv().expect("the container started");
        ctx.cleanup.container(&id);
        r.unwrap_or_else(|e| panic!("attached {attached}: {e:?}"));
        assert!(
            took < Duration::from_secs(10),
            "attached {attached}: the run took {took:?}"
        );
        ctx.assert_removed(&id);
    }
}
