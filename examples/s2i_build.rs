//! A whole source-to-image build with s2i-docker, step by step.
//!
//! ```text
//! cargo run --example s2i_build                                   # the bundled sample
//! cargo run --example s2i_build -- <source-dir> <builder-image> <output-tag> [options]
//! ```
//!
//! With no arguments it needs no registry: it builds a tiny builder image from the host's static
//! busybox (`/bin/busybox`, Debian's `busybox-static`) or, when there is none, from the host's
//! `/bin/sh`, a few tools and the shared libraries they load; builds `examples/sample-app` with
//! it, runs the result once, and removes both images (unless `--keep`).
//!
//! The steps are those of S2I: check (and pull) the builder image, check its user, run its
//! `assemble` script with the sources streamed in as a tar on stdin and its output streamed out
//! live, commit the container with the `run` script as the command, then run the new image.
//!
//! The engine is `DOCKER_HOST` (default `unix:///var/run/docker.sock`); Podman's
//! Docker-compatible service works too.

use std::error::Error as StdError;
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[path = "s2i_build/host_tools.rs"]
mod host_tools;

use s2i_docker::archive::{default_upload_tar_writer, tar_reader, LocalFileSystem};
use s2i_docker::ops::image::ImageRemoveOptions;
use s2i_docker::ops::stream::JsonMessage;
use s2i_docker::user::parse_range_list;
use s2i_docker::{
    check_allowed_user_with_assemble_user, get_assemble_user, get_default_docker_config,
    new_engine_api_client, pull_image, stream_container_io, BuildImageOptions, Client,
    CommitContainerOptions, Config, Docker, DockerClient, Error, PullPolicy, RunCancel,
    RunContainerOptions,
};

const USAGE: &str = "\
usage: cargo run --example s2i_build [-- <source-dir> <builder-image> <output-tag>] [options]

With no arguments, builds the bundled sample application with a builder image made from the
host's static /bin/busybox (or, when there is none, from the host's /bin/sh, tar, env and a few
coreutils with their shared libraries), runs it, and removes the images it made.

options:
  --keep               keep the images this example created (the sample's builder and output)
  --allowed-uids LIST  user IDs the builder may run as, e.g. 1- (default: any; the sample uses 1-)
  --run-timeout SECS   stop the built image's first run after SECS seconds (default 10)
  -h, --help           this text

environment:
  DOCKER_HOST          the engine (default unix:///var/run/docker.sock)
  S2I_EXAMPLE_BUSYBOX  the static busybox of the sample builder (default /bin/busybox); a path
                       with no static busybox, e.g. /nonexistent, makes the sample builder from
                       the host's /bin/sh and tools instead";

/// The sample builder's Dockerfile: busybox alone, with S2I scripts and labels.
const SAMPLE_DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /tmp /usr/libexec/s2i /usr/bin /opt/app-root && chmod 1777 /tmp && ln -s /bin/busybox /usr/bin/env && chown 1001:0 /opt/app-root
COPY assemble run usage /usr/libexec/s2i/
ENV PATH=/bin HOME=/opt/app-root
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i io.openshift.s2i.destination=/tmp io.k8s.description="A tiny S2I builder made of busybox"
USER 1001
WORKDIR /opt/app-root
CMD ["/usr/libexec/s2i/usage"]
"#;

const SAMPLE_ASSEMBLE: &str = r#"#!/bin/sh
set -e
echo "---> Installing the application sources into /opt/app-root"
cp -Rf /tmp/src/. /opt/app-root/
echo "---> (assemble writes its notes to stderr: $(find /opt/app-root -type f | wc -l) files installed)" >&2
ls -l /opt/app-root/bin
echo "---> Build finished"
"#;

/// The sample builder's Dockerfile without busybox: the host's tools and libraries (`rootfs/`),
/// and one `RUN` that uses them (`sh`, `mkdir`, `chown`). The image has no `ld.so.cache`:
/// `LD_LIBRARY_PATH` names the libraries' directories.
const HOST_TOOLS_DOCKERFILE: &str = r#"FROM scratch
COPY rootfs/ /
ENV PATH=/bin HOME=/opt/app-root LD_LIBRARY_PATH={library_path}
RUN mkdir -p -m 1777 /tmp && mkdir -p /opt/app-root && chown 1001:0 /opt/app-root
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i io.openshift.s2i.destination=/tmp io.k8s.description="A tiny S2I builder made of the host's sh and coreutils"
USER 1001
WORKDIR /opt/app-root
CMD ["/usr/libexec/s2i/usage"]
"#;

/// `assemble` without busybox: `cp` and the shell's own commands.
const HOST_TOOLS_ASSEMBLE: &str = r#"#!/bin/sh
set -e
echo "---> Installing the application sources into /opt/app-root"
cp -R /tmp/src/. /opt/app-root/
echo "---> (assemble writes its notes to stderr: installed $(cd /opt/app-root && echo *))" >&2
echo "---> Build finished"
"#;

const SAMPLE_RUN: &str = r#"#!/bin/sh
exec /opt/app-root/bin/hello
"#;

const SAMPLE_USAGE: &str = r#"#!/bin/sh
echo "This is a sample S2I builder: give it sources with a bin/hello script."
"#;

struct Args {
    source: PathBuf,
    builder: String,
    tag: String,
    sample: bool,
    keep: bool,
    allowed_uids: String,
    run_timeout: Duration,
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(why) => {
            eprintln!("error: {why}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    log::set_logger(&StderrLogger).ok();
    log::set_max_level(log::LevelFilter::Info);
    match build(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {}", describe(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut positional = Vec::new();
    let mut keep = false;
    let mut allowed_uids = None;
    let mut run_timeout = Duration::from_secs(10);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--keep" => keep = true,
            "--allowed-uids" => {
                allowed_uids = Some(it.next().ok_or("--allowed-uids needs a value")?)
            }
            "--run-timeout" => {
                let secs = it.next().ok_or("--run-timeout needs a value")?;
                let secs: u64 = secs
                    .parse()
                    .map_err(|_| format!("not a number of seconds: {secs}"))?;
                run_timeout = Duration::from_secs(secs);
            }
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            _ => positional.push(arg),
        }
    }
    let pid = std::process::id();
    match positional.len() {
        0 => Ok(Some(Args {
            source: Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/sample-app"),
            builder: format!("s2i-example-builder:{pid}"),
            tag: format!("s2i-example-app:{pid}"),
            sample: true,
            keep,
            allowed_uids: allowed_uids.unwrap_or_else(|| "1-".into()),
            run_timeout,
        })),
        3 => Ok(Some(Args {
            source: PathBuf::from(&positional[0]),
            builder: positional[1].clone(),
            tag: positional[2].clone(),
            sample: false,
            keep,
            allowed_uids: allowed_uids.unwrap_or_default(),
            run_timeout,
        })),
        n => Err(format!("expected 0 or 3 arguments, got {n}")),
    }
}

fn step(n: u32, text: &str) {
    println!("\n==> [{n}/7] {text}");
}

fn build(args: &Args) -> Result<(), Box<dyn StdError>> {
    let started = Instant::now();
    if !args.source.is_dir() {
        return Err(format!("{} is not a directory", args.source.display()).into());
    }
    let docker = connect()?;
    let mut cleanup = Cleanup {
        docker: docker.clone(),
        images: Vec::new(),
        keep: args.keep,
    };
    prepare_builder(args, &docker, &mut cleanup)?;
    let builder = check_builder(args, &docker)?;
    let assemble_user = check_user(args, &docker, builder.on_build)?;
    assemble(args, &docker, &builder, &assemble_user, &mut cleanup)?;
    run_built(args, &docker, &builder.scripts_dir)?;

    println!("\n==> Done in {:.1}s", started.elapsed().as_secs_f64());
    if args.sample && !args.keep {
        println!("    (the sample's images are removed now; pass --keep to keep them)");
    } else {
        println!("    run it again: docker run --rm {}", args.tag);
    }
    drop(cleanup);
    Ok(())
}

/// Step 1: the engine at `DOCKER_HOST`, and its version.
fn connect() -> Result<DockerClient, Box<dyn StdError>> {
    step(1, "Connecting to the engine");
    let config = get_default_docker_config();
    let client: Arc<dyn Client> = Arc::new(new_engine_api_client(&config)?);
    let docker = DockerClient::new(client.clone(), Default::default())
        .with_pull_progress(show_pull_progress);
    let version = docker.version().map_err(|e| {
        format!(
            "{}\n       (is an engine running there? set DOCKER_HOST to point elsewhere)",
            describe(&e)
        )
    })?;
    println!(
        "    {} — engine {} (API {})",
        config.endpoint, version.version, version.api_version
    );
    Ok(docker)
}

/// Step 2: the sample's builder image is built (and removed at the end); another is used as
/// given.
fn prepare_builder(
    args: &Args,
    docker: &DockerClient,
    cleanup: &mut Cleanup,
) -> Result<(), Box<dyn StdError>> {
    if args.sample {
        let source = SampleSource::find();
        step(
            2,
            &format!(
                "Building the sample builder image {} {}",
                args.builder, source
            ),
        );
        let context = match source {
            SampleSource::Busybox(path) => busybox_context(&path)?,
            SampleSource::HostTools(why) => {
                println!("    ({why})");
                host_tools_context()?
            }
        };
        build_sample_builder(docker, &args.builder, context)?;
        cleanup.images.push(args.builder.clone());
    } else {
        step(2, &format!("Builder image {}", args.builder));
        println!("    (given on the command line)");
    }
    Ok(())
}

/// What step 3 found out about the builder image.
struct Builder {
    on_build: bool,
    scripts_url: String,
    scripts_dir: String,
}

/// Step 3: the builder image is there (pulled if not) and has its S2I scripts.
fn check_builder(args: &Args, docker: &DockerClient) -> Result<Builder, Box<dyn StdError>> {
    step(
        3,
        &format!(
            "Checking the builder image {} (pulled if not present)",
            args.builder
        ),
    );
    let pulled = pull_image(&args.builder, docker, PullPolicy::IfNotPresent)?;
    let image_id = pulled.image.map(|i| i.id).unwrap_or_default();
    println!(
        "    image {image_id}{}",
        if pulled.on_build {
            " (has ONBUILD triggers)"
        } else {
            ""
        }
    );
    let scripts_url = docker.get_scripts_url(&args.builder)?;
    let Some(scripts_dir) = scripts_url
        .strip_prefix("image://")
        .filter(|d| !d.is_empty())
    else {
        return Err(format!(
            "the builder image has no io.openshift.s2i.scripts-url label with an image:// URL (found {scripts_url:?})"
        )
        .into());
    };
    println!("    S2I scripts in {scripts_dir}");
    Ok(Builder {
        on_build: pulled.on_build,
        scripts_dir: scripts_dir.to_string(),
        scripts_url: scripts_url.clone(),
    })
}

/// Step 4: the user `assemble` runs as, which must be allowed.
fn check_user(
    args: &Args,
    docker: &DockerClient,
    on_build: bool,
) -> Result<String, Box<dyn StdError>> {
    step(4, "Checking the user the build runs as");
    let s2i_config = Config {
        builder_image: args.builder.clone(),
        allowed_uids: parse_range_list(&args.allowed_uids)?,
        ..Default::default()
    };
    let assemble_user = get_assemble_user(docker, &s2i_config)?;
    check_allowed_user_with_assemble_user(
        docker,
        &args.builder,
        &s2i_config.allowed_uids,
        on_build,
        &s2i_config.assemble_user,
    )?;
    let allowed = if args.allowed_uids.is_empty() {
        "any".to_string()
    } else {
        args.allowed_uids.clone()
    };
    let shown = if assemble_user.is_empty() {
        "(image default)"
    } else {
        assemble_user.as_str()
    };
    println!("    assemble runs as {shown}; allowed user IDs: {allowed} — ok");
    Ok(assemble_user)
}

/// The commit of step 6: the `run` script as the command, and S2I's labels.
fn commit_options(args: &Args, builder: &Builder, assemble_user: &str) -> CommitContainerOptions {
    CommitContainerOptions {
        repository: args.tag.clone(),
        user: assemble_user.to_string(),
        command: vec![format!("{}/run", builder.scripts_dir.trim_end_matches('/'))],
        env: vec![format!("BUILT_FROM={}", args.builder)],
        labels: [
            ("io.openshift.s2i.build.image", args.builder.as_str()),
            (
                "io.openshift.s2i.build.source-location",
                &args.source.display().to_string(),
            ),
            ("io.openshift.s2i.scripts-url", &builder.scripts_url),
            ("io.k8s.display-name", &args.tag),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    }
}

/// Steps 5 and 6: `assemble` runs with the sources on its stdin, and its container is
/// committed.
fn assemble(
    args: &Args,
    docker: &DockerClient,
    builder: &Builder,
    assemble_user: &str,
    cleanup: &mut Cleanup,
) -> Result<(), Box<dyn StdError>> {
    step(
        5,
        &format!(
            "Running assemble with the sources of {}",
            args.source.display()
        ),
    );
    // The sources go in as a tar produced while it is sent: `src/...`, extracted under the
    // builder's destination (`tar -C /tmp -xf -` before the script runs).
    let sources = tar_reader(
        Arc::new(LocalFileSystem),
        args.source.clone(),
        "src".into(),
        default_upload_tar_writer,
    );
    let committed = Arc::new(Mutex::new(None));
    let commit = {
        let docker = docker.clone();
        let committed = committed.clone();
        let opts = commit_options(args, builder, assemble_user);
        // S2I commits the container right after assemble succeeded, before it is removed.
        move |container: &str, _destination: &str| -> s2i_docker::Result<()> {
            println!(
                "\n==> [6/7] Committing container {} as {}",
                short(container),
                opts.repository
            );
            let id = docker.commit_container(CommitContainerOptions {
                container_id: container.to_string(),
                ..opts.clone()
            })?;
            println!("    image {id}");
            *committed.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
            Ok(())
        }
    };
    let (stdout, out_done) = stream_to_terminal("    | ")?;
    let (stderr, err_done) = stream_to_terminal("    ! ")?;
    let assembled = Instant::now();
    let result = docker.run_container(RunContainerOptions {
        image: args.builder.clone(),
        command: "assemble".into(),
        user: assemble_user.to_string(),
        stdin: Some(Box::new(sources)),
        stdout: Some(Box::new(stdout)),
        stderr: Some(Box::new(stderr)),
        on_start: Some(Box::new(|id: &str| {
            println!("    container {} started; its output follows", short(id));
            Ok(())
        })),
        post_exec: Some(Box::new(commit)),
        ..Default::default()
    });
    // The output streams end with the container; wait for their last lines.
    let _ = (out_done.join(), err_done.join());
    let committed = committed.lock().map(|c| c.is_some()).unwrap_or(false);
    if committed && args.sample {
        cleanup.images.push(args.tag.clone());
    }
    result?;
    println!(
        "    assemble finished in {:.1}s",
        assembled.elapsed().as_secs_f64()
    );
    if !committed {
        return Err("the container was not committed".into());
    }
    Ok(())
}

/// Step 7: the built image runs once.
fn run_built(
    args: &Args,
    docker: &DockerClient,
    scripts_dir: &str,
) -> Result<(), Box<dyn StdError>> {
    step(7, &format!("Running {} once", args.tag));
    for (k, v) in sorted(docker.get_labels(&args.tag)?) {
        if k.starts_with("io.openshift.s2i") || k.starts_with("io.k8s") {
            println!("    label {k}={v}");
        }
    }
    let run_script = format!("{}/run", scripts_dir.trim_end_matches('/'));
    let cmd = docker
        .inspect_image(&args.tag)?
        .config
        .and_then(|c| c.cmd)
        .unwrap_or_default();
    let explicit = if cmd == [run_script.clone()] {
        None
    } else {
        // Podman 4 ignores the configuration sent with a commit (S2I issue #1082).
        println!("    note: the engine did not apply the commit's configuration (the image's command is {cmd:?});");
        println!("          starting the run script explicitly");
        Some((
            vec![run_script],
            vec![format!("BUILT_FROM={}", args.builder)],
        ))
    };
    run_once(docker, &args.tag, args.run_timeout, explicit)
}

/// Runs the built image as it is (its `run` script), showing its output; a run that is still
/// going after `timeout` (a server, say) is cancelled.
fn run_once(
    docker: &DockerClient,
    image: &str,
    timeout: Duration,
    explicit: Option<(Vec<String>, Vec<String>)>,
) -> Result<(), Box<dyn StdError>> {
    let cancel = RunCancel::new();
    let (finished_tx, finished_rx) = mpsc::channel::<()>();
    let timer = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            if finished_rx.recv_timeout(timeout) == Err(mpsc::RecvTimeoutError::Timeout) {
                cancel.cancel();
            }
        })
    };
    let (stdout, out_done) = stream_to_terminal("    | ")?;
    let (stderr, err_done) = stream_to_terminal("    ! ")?;
    let (command_explicit, env) = explicit.unwrap_or_default();
    let result = docker.run_container(RunContainerOptions {
        image: image.to_string(),
        target_image: command_explicit.is_empty(),
        command_explicit,
        env,
        stdout: Some(Box::new(stdout)),
        stderr: Some(Box::new(stderr)),
        cancel: Some(cancel),
        ..Default::default()
    });
    drop(finished_tx);
    let _ = (timer.join(), out_done.join(), err_done.join());
    match result {
        Err(e) if e.is_cancelled() => {
            println!(
                "    still running after {}s: stopped and removed (a server?)",
                timeout.as_secs()
            );
            Ok(())
        }
        other => Ok(other?),
    }
}

/// What the sample builder is made of.
enum SampleSource {
    /// A static busybox, at this path.
    Busybox(PathBuf),
    /// The host's own tools, for this reason (no static busybox).
    HostTools(String),
}

impl SampleSource {
    /// The static busybox at `S2I_EXAMPLE_BUSYBOX` (default `/bin/busybox`) if there is one,
    /// else the host's tools.
    fn find() -> SampleSource {
        let path = PathBuf::from(
            std::env::var_os("S2I_EXAMPLE_BUSYBOX").unwrap_or_else(|| "/bin/busybox".into()),
        );
        let why = match std::fs::read(&path) {
            Err(e) => format!("{}: {e}", path.display()),
            Ok(data) => match host_tools::read_elf(&data) {
                Ok(deps) if deps.is_static() => return SampleSource::Busybox(path),
                Ok(_) => format!("{} is not a static executable", path.display()),
                Err(e) => format!("{}: {e}", path.display()),
            },
        };
        SampleSource::HostTools(why)
    }
}

impl std::fmt::Display for SampleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SampleSource::Busybox(path) => write!(f, "from the static busybox {}", path.display()),
            SampleSource::HostTools(_) => f.write_str("from the host's /bin/sh and coreutils"),
        }
    }
}

/// A build context: a tar of `(name, data, mode)` regular files, with the directories above
/// them.
fn context_tar(files: &[(String, Vec<u8>, u32)]) -> io::Result<Vec<u8>> {
    let mut context = ::tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (name, data, mode) in files {
        for dir in Path::new(name).ancestors().skip(1) {
            if !dir.as_os_str().is_empty() && dirs.insert(dir.to_path_buf()) {
                let mut header = ::tar::Header::new_ustar();
                header.set_size(0);
                header.set_mode(0o755);
                header.set_entry_type(::tar::EntryType::Directory);
                context.append_data(&mut header, dir, io::empty())?;
            }
        }
        let mut header = ::tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(*mode);
        header.set_entry_type(::tar::EntryType::Regular);
        context.append_data(&mut header, name, &data[..])?;
    }
    context.into_inner()
}

/// The sample builder's context from a static busybox.
fn busybox_context(path: &Path) -> Result<Vec<u8>, Box<dyn StdError>> {
    let busybox = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let files = [
        ("Dockerfile", SAMPLE_DOCKERFILE.as_bytes().to_vec(), 0o644),
        ("busybox", busybox, 0o755),
        ("assemble", SAMPLE_ASSEMBLE.as_bytes().to_vec(), 0o755),
        ("run", SAMPLE_RUN.as_bytes().to_vec(), 0o755),
        ("usage", SAMPLE_USAGE.as_bytes().to_vec(), 0o755),
    ];
    let files: Vec<_> = files
        .into_iter()
        .map(|(n, d, m)| (n.to_string(), d, m))
        .collect();
    Ok(context_tar(&files)?)
}

/// The sample builder's context from the host's tools: `rootfs/` holds each tool, library and
/// the dynamic loader at its path, and the S2I scripts.
fn host_tools_context() -> Result<Vec<u8>, Box<dyn StdError>> {
    let found = host_tools::collect().map_err(|e| {
        format!("the sample builder needs a static busybox or the host's tools: {e}")
    })?;
    let mut files = Vec::new();
    for (image_path, host) in &found.files {
        let data = std::fs::read(host).map_err(|e| format!("{}: {e}", host.display()))?;
        if image_path.as_str() == host.to_string_lossy() {
            println!("    {image_path}");
        } else {
            println!("    {image_path} (from {})", host.display());
        }
        files.push((format!("rootfs{image_path}"), data, 0o755));
    }
    for (name, script) in [
        ("assemble", HOST_TOOLS_ASSEMBLE),
        ("run", SAMPLE_RUN),
        ("usage", SAMPLE_USAGE),
    ] {
        let path = format!("rootfs/usr/libexec/s2i/{name}");
        files.push((path, script.as_bytes().to_vec(), 0o755));
    }
    let dockerfile = HOST_TOOLS_DOCKERFILE.replace("{library_path}", &found.library_dirs.join(":"));
    files.push(("Dockerfile".into(), dockerfile.into_bytes(), 0o644));
    Ok(context_tar(&files)?)
}

/// Builds the sample builder image from its context.
fn build_sample_builder(
    docker: &DockerClient,
    tag: &str,
    context: Vec<u8>,
) -> Result<(), Box<dyn StdError>> {
    let (output, done) = stream_to_terminal("    | ")?;
    let built = docker.build_image(BuildImageOptions {
        name: tag.to_string(),
        stdin: Some(Box::new(io::Cursor::new(context))),
        stdout: Some(Box::new(BuildOutput::new(output))),
        cgroup_limits: None,
        cancel: None,
        ..Default::default()
    });
    let _ = done.join();
    Ok(built?)
}

/// Shows a build's JSON-lines output as the text it carries.
struct BuildOutput<W: Write> {
    out: W,
    partial: Vec<u8>,
}

impl<W: Write> BuildOutput<W> {
    fn new(out: W) -> Self {
        BuildOutput {
            out,
            partial: Vec::new(),
        }
    }
}

impl<W: Write> Write for BuildOutput<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.partial.extend_from_slice(buf);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            match serde_json::from_slice::<JsonMessage>(&line) {
                Ok(m) if !m.stream.is_empty() => self.out.write_all(m.stream.as_bytes())?,
                Ok(m) if !m.error.is_empty() => writeln!(self.out, "{}", m.error)?,
                Ok(m) if !m.status.is_empty() => writeln!(self.out, "{}", m.status)?,
                Ok(_) => {}
                Err(_) => self.out.write_all(&line)?,
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn show_pull_progress(m: &JsonMessage) {
    // Progress bars would flood the terminal; the status changes are enough.
    if m.progress.is_empty() && !m.status.is_empty() {
        match m.id.is_empty() {
            true => println!("    pull: {}", m.status),
            false => println!("    pull: {}: {}", m.id, m.status),
        }
    }
}

/// A writer whose lines are printed with `prefix` as they arrive (through
/// `stream_container_io`, as S2I shows a container's output); join the handle after the
/// writer was dropped to see the last line.
///
/// The writer and the reader are a socket pair, which works as a pipe: the reader's stream
/// ends when the run drops the writer.
fn stream_to_terminal(prefix: &'static str) -> io::Result<(UnixStream, JoinHandle<()>)> {
    let (writer, reader) = UnixStream::pair()?;
    let done = stream_container_io(reader, None, move |line| {
        let end = if line.ends_with('\n') { "" } else { "\n" };
        print!("{prefix}{line}{end}");
        let _ = io::stdout().flush();
    });
    Ok((writer, done))
}

/// Removes the images this example created, also when a step failed.
struct Cleanup {
    docker: DockerClient,
    images: Vec<String>,
    keep: bool,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if self.images.is_empty() {
            return;
        }
        if self.keep {
            println!("    kept: {}", self.images.join(", "));
            return;
        }
        // Not `Docker::remove_image`: it keeps the untagged parents (`noprune=1`, as S2I does),
        // and the sample builder's build steps are such parents.
        let prune = ImageRemoveOptions {
            force: false,
            no_prune: false,
        };
        for image in self.images.iter().rev() {
            match self.docker.client().image_remove(image, &prune).map(|_| ()) {
                Ok(()) => println!("    removed image {image}"),
                Err(e) => eprintln!("    could not remove image {image}: {}", describe(&e)),
            }
        }
    }
}

/// An error with its causes (S2I errors print their message alone).
fn describe(e: &(dyn StdError + 'static)) -> String {
    if let Some(e) = e.downcast_ref::<Error>() {
        let mut text = e.to_string_with_causes();
        if let Error::Container(c) = e {
            text.push_str(&format!(" ({})", c.output));
        }
        if let Some(s) = e.suggestion() {
            text.push_str(&format!("\n       suggestion: {s}"));
        }
        return text;
    }
    e.to_string()
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

fn sorted(labels: std::collections::HashMap<String, String>) -> Vec<(String, String)> {
    let mut v: Vec<_> = labels.into_iter().collect();
    v.sort();
    v
}

/// Shows the library's messages (pulls, deprecation warnings) on stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info && m.target().starts_with("s2i_docker")
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                log::Level::Error => "error: ",
                log::Level::Warn => "warning: ",
                _ => "",
            };
            eprintln!("    [s2i] {level}{}", record.args());
        }
    }

    fn flush(&self) {}
}
