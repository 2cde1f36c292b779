//! `s2i-docker build SOURCE BUILDER [TAG]`: the reference's `s2i build`, step by step.
//!
//! 1. The builder image is checked (and pulled, by `--pull-policy`), its users checked
//!    against `--allowed-uids`; a source that is a git repository is cloned (`git.rs`).
//! 2. The scripts are found: `--scripts-url`, the sources' `.s2i/bin`, the image's
//!    `io.openshift.s2i.scripts-url` label.
//! 3. An incremental build runs the previous image's `save-artifacts` (`incremental.rs`).
//! 4. `assemble` runs in a container of the builder with the sources (and artifacts, and
//!    scripts) streamed in as a tar on its standard input, its output shown as it comes; a
//!    builder without `sh` or `tar` gets them in an image built on it instead (`layered.rs`).
//! 5. The container is committed as TAG with the `run` script as its command and the labels
//!    `assemble` asked for (`metadata.rs`); an extended build instead copies the artifacts
//!    into a container of the runtime image and commits that one (`extended.rs`).
//!
//! Every image inspect is answered once per build ([`CachingClient`]): a build of a local
//! builder with `--pull-policy never` makes 8 engine calls (ping, inspect, create, attach,
//! start, wait, commit, remove), and one more, a download, when `assemble` left labels for the
//! commit (`metadata.rs`).

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use s2i_docker::{
    check_allowed_user_with_assemble_user, get_image_registry_auth, load_image_registry_auth,
    pull_image, AuthConfig, AuthConfigurations, CommitContainerOptions, Docker, DockerClient,
    Error, ErrorCode, PullPolicy, Result, RunContainerOptions, SCRIPTS_URL_LABEL,
};

use crate::args::BuildArgs;
use crate::engine::{self, CachingClient};
use crate::git::{self, SourceInfo};
use crate::ignore::Ignore;
use crate::progress::{self, line_writer, Sink};
use crate::scripts::{scripts_dir, ScriptsDir};
use crate::sources;
use crate::temp::TempDir;
use crate::{callback, extended, incremental, inject, layered, metadata, onbuild, records};

/// What a build knows once its images and scripts are checked.
pub struct Build {
    pub args: BuildArgs,
    /// The directory whose content is built (in a clone of a repository).
    pub source: PathBuf,
    /// What the image's labels tell of the sources.
    pub source_info: SourceInfo,
    /// The sources' `.s2iignore`, if any.
    pub ignore: Option<Arc<Ignore>>,
    /// The clone of a repository, removed with the build.
    _clone: Option<git::Clone>,
    /// The scripts of `--scripts-url` that travel with the build, downloaded ones removed with
    /// it.
    _scripts_dir: Option<ScriptsDir>,
    /// The engine and the registry credentials.
    pub session: Session,
    /// The client of the builder image's registry.
    pub docker: DockerClient,
    /// The `image://` (or other) URL of the scripts in the image, `""` when none.
    pub image_scripts_url: String,
    /// Scripts that travel in the input tar, by name.
    pub local_scripts: Vec<(String, PathBuf)>,
    /// The environment of `assemble` and of the new image.
    pub env: Vec<String>,
    /// Where the commit leaves the labels it gave the image.
    pub committed_labels: Labels,
}

impl Build {
    /// Whether `script` travels in the input tar (`<destination>/scripts/<script>`).
    pub fn is_local(&self, script: &str) -> bool {
        self.local_scripts.iter().any(|(n, _)| n == script)
    }

    /// A [`DockerClient`] that pulls with the credentials for `image`.
    pub fn docker_for(&self, image: &str) -> DockerClient {
        self.session.docker_for(image)
    }

    /// How the sources are read: `--keep-symlinks`, `--exclude` and `.s2iignore`.
    pub fn walk(&self) -> sources::Walk {
        sources::Walk {
            keep_symlinks: self.args.keep_symlinks,
            exclude: self.args.exclude.clone(),
            ignore: self.ignore.clone(),
            provided: Vec::new(),
        }
    }

    /// The scripts URL a run of a script in the image uses: the `image://` flag, else the
    /// image's own label (`""`).
    pub fn run_scripts_url(&self) -> String {
        let flag = &self.args.scripts_url;
        if flag.starts_with("image://") {
            flag.clone()
        } else {
            String::new()
        }
    }
}

/// The engine a command talks to, and the registry credentials it pulls with.
pub struct Session {
    client: Arc<CachingClient>,
    auths: Option<AuthConfigurations>,
}

impl Session {
    /// Connects to the engine of the command line, and reads the credentials of
    /// `--dockercfg-path` (or the default configuration).
    fn open(args: &BuildArgs) -> Result<Session> {
        let config = engine::docker_config(&args.global);
        progress::detail(2, format!("Docker Endpoint: {}", config.endpoint));
        let client = engine::connect(&config)?;
        records::begin(client.as_ref());
        Ok(Session {
            client,
            auths: load_auths(args.global.dockercfg_path.as_ref()),
        })
    }

    /// The engine's client.
    pub fn client(&self) -> &CachingClient {
        &self.client
    }

    /// A [`DockerClient`] that pulls with the credentials for `image`.
    fn docker_for(&self, image: &str) -> DockerClient {
        DockerClient::new(self.client.clone(), auth_for(self.auths.as_ref(), image))
            .with_pull_progress(progress::pull_progress)
    }
}

fn auth_for(auths: Option<&AuthConfigurations>, image: &str) -> AuthConfig {
    match auths {
        Some(a) => get_image_registry_auth(Some(a), image),
        None => AuthConfig::default(),
    }
}

/// The registry credentials of `--dockercfg-path`, else `$DOCKER_CONFIG/config.json` or
/// `~/.docker/config.json`, if any.
fn load_auths(path: Option<&PathBuf>) -> Option<AuthConfigurations> {
    let path = path
        .cloned()
        .unwrap_or_else(|| s2i_docker::ops::env::dir().join("config.json"));
    File::open(path).ok().and_then(load_image_registry_auth)
}

/// Runs a whole build, posts its outcome to `--callback-url`, and runs the image (`--run`).
///
/// # Errors
/// The first step that failed, with the reference's error where it has one.
pub fn run(args: BuildArgs) -> Result<()> {
    run_on(None, args)
}

/// [`run`], on an engine already reached if `session` is given.
fn run_on(session: Option<Session>, args: BuildArgs) -> Result<()> {
    let callback_url = args.callback_url.clone();
    let labels = Labels::default();
    let built = build(session, args, &labels);
    if !callback_url.is_empty() {
        let labels = labels.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for message in callback::post(&callback_url, built.is_ok(), &labels) {
            progress::warn(message);
        }
    }
    let build = built?;
    if build.args.run {
        run_image(&build)?;
    }
    Ok(())
}

/// `rebuild IMAGE [NEW_TAG]` (`args.source` and `args.tag`): builds again what built IMAGE,
/// as its labels tell it (the reference's `GenerateConfigFromLabels`): the builder, the
/// source, its context directory, the commit's ref, the scripts URL, the description and the
/// display name. A flag given on the command line wins over the label.
///
/// # Errors
/// IMAGE cannot be had (by `--pull-policy`), it lacks the label of its builder or of its
/// source, or the build fails.
pub fn rebuild(mut args: BuildArgs) -> Result<()> {
    let image = std::mem::take(&mut args.source);
    let session = Session::open(&args)?;
    let docker = session.docker_for(&image);
    check_image(&docker, &image, args.pull_policy, &args)?;
    let labels = docker.get_labels(&image)?;
    let label = |name: &str| labels.get(name).cloned().unwrap_or_default();
    let required = |name: &str| {
        labels.get(name).cloned().ok_or_else(|| {
            Error::other(format!(
                "required label {name:?} not found in image {image:?}: was it built by S2I?"
            ))
        })
    };
    args.builder = required("io.openshift.s2i.build.image")?;
    args.source = required("io.openshift.s2i.build.source-location")?;
    let scripts_url = match label(SCRIPTS_URL_LABEL) {
        u if u.is_empty() => label("io.s2i.scripts-url"),
        u => u,
    };
    for (field, value) in [
        (
            &mut args.context_dir,
            label("io.openshift.s2i.build.source-context-dir"),
        ),
        (
            &mut args.reference,
            label("io.openshift.s2i.build.commit.ref"),
        ),
        (&mut args.scripts_url, scripts_url),
        (&mut args.description, label("io.k8s.description")),
        (&mut args.display_name, label("io.k8s.display-name")),
    ] {
        if field.is_empty() {
            *field = value;
        }
    }
    run_on(Some(session), args)
}

/// The labels of the image committed, once it is.
pub type Labels = Arc<Mutex<HashMap<String, String>>>;

/// The build itself, up to the new image.
fn build(session: Option<Session>, args: BuildArgs, labels: &Labels) -> Result<Build> {
    // A local source is checked before the engine is reached; a remote one is cloned after.
    let origin = match git::remote(&args.source)? {
        Some(remote) => Origin::Remote(remote),
        None => Origin::Dir(sources::source_dir(&args.source)?),
    };
    let session = match session {
        Some(s) => s,
        None => Session::open(&args)?,
    };
    let docker = session.docker_for(&args.builder);
    check_image(&docker, &args.builder, args.pull_policy, &args)?;
    let (source, source_info, clone) = sources_of(origin, &args)?;
    let ignore = Ignore::read(&source)?.map(Arc::new);
    let mut env = Vec::new();
    // As the reference reads it: from the sources after `.s2iignore` took its paths away, and
    // from `.sti`, the older name, when `.s2i` has none.
    let ignored = |p: &str| ignore.as_ref().is_some_and(|i| i.is_ignored(p));
    let env_file = [".s2i", ".sti"].into_iter().find(|dir| {
        let file = format!("{dir}/environment");
        !ignored(dir) && !ignored(&file) && source.join(&file).is_file()
    });
    if let Some(dir) = env_file {
        if dir == ".sti" {
            progress::warn("DEPRECATED: Use .s2i/environment instead of .sti/environment");
        }
        env.extend(sources::read_env_file(
            &source.join(dir).join("environment"),
        )?);
    }
    env.extend(args.env.iter().cloned());
    if let Some(file) = &args.environment_file {
        env.extend(sources::read_env_file(file)?);
    }
    let mut build = Build {
        source,
        source_info,
        ignore,
        _clone: clone,
        _scripts_dir: None,
        session,
        docker,
        image_scripts_url: String::new(),
        local_scripts: Vec::new(),
        env,
        args,
        committed_labels: labels.clone(),
    };
    if build.docker.is_image_on_build(&build.args.builder) {
        let dir = scripts_dir(&build.args.scripts_url)?;
        onbuild::build(&build, dir.as_ref().map(ScriptsDir::path))?;
        if !progress::quiet() {
            eprintln!("Build completed successfully");
        }
        return Ok(build);
    }
    find_scripts(&mut build)?;
    let runtime = match build.args.runtime_image.is_empty() {
        true => None,
        false => Some(extended::prepare(&build)?),
    };
    let artifacts = match build.args.incremental {
        true => incremental::save_artifacts(&build)?,
        false => None,
    };
    // As the reference: the previous image goes with --rm whether or not its artifacts were saved.
    let previous = match build.args.incremental && build.args.remove_previous {
        true => build.docker.get_image_id(&build.args.tag).ok(),
        false => None,
    };
    let image_id = match &runtime {
        None => assemble_any(&build, artifacts, Finish::Commit)?,
        Some(rt) => {
            let dir = TempDir::new("runtime")?;
            assemble_any(&build, None, Finish::Download(rt, &dir))?;
            extended::assemble_runtime(&build, rt, &dir)?
        }
    };
    if let Some(old) = previous.filter(|old| *old != image_id) {
        progress::step(format!("Removing previously-tagged image {old}"));
        if let Err(e) = build.docker.remove_image(&old) {
            progress::warn(format!("Unable to remove previous image: {e}"));
        }
    }
    if !progress::quiet() {
        eprintln!("Build completed successfully");
    }
    Ok(build)
}

/// Where the sources are.
enum Origin {
    /// A local directory, absolute.
    Dir(PathBuf),
    /// A remote repository, to clone.
    Remote(git::Remote),
}

/// The directory to build (`--context-dir` of the local directory, or of a clone of the
/// repository it is, unless `--copy`, or of the remote repository's clone), what the labels
/// tell of it, and the clone.
fn sources_of(
    origin: Origin,
    args: &BuildArgs,
) -> Result<(PathBuf, SourceInfo, Option<git::Clone>)> {
    let submodules = !args.ignore_submodules;
    let (clone, mut source) = match origin {
        Origin::Remote(r) => {
            // `--ref` wins over the URL's `#REF`.
            let reference = match args.reference.is_empty() {
                true => &r.reference,
                false => &args.reference,
            };
            (
                Some(git::clone_url(&r.url, reference, submodules)?),
                PathBuf::new(),
            )
        }
        Origin::Dir(dir) if !args.copy && git::is_repository(&dir) => {
            (Some(git::clone(&dir, &args.reference, submodules)?), dir)
        }
        Origin::Dir(dir) => (None, dir),
    };
    let mut info = match &clone {
        Some(c) => {
            source = std::fs::canonicalize(&c.path)?;
            c.info.clone()
        }
        // A copy is named by its path.
        None => SourceInfo {
            location: sources::absolute(&args.source),
            ..SourceInfo::default()
        },
    };
    info.context_dir = args.context_dir.clone();
    if !args.context_dir.is_empty() {
        source = sources::context_dir(&source, &args.context_dir)?;
    }
    Ok((source, info, clone))
}

/// Checks (and pulls, by `policy`) an image, and the users it runs as.
pub fn check_image(
    docker: &DockerClient,
    image: &str,
    policy: PullPolicy,
    args: &BuildArgs,
) -> Result<()> {
    match policy {
        PullPolicy::Always => progress::step(format!("Pulling image \"{image}\" ...")),
        PullPolicy::IfNotPresent if !docker.is_image_in_local_registry(image)? => progress::step(
            format!("Image \"{image}\" not available locally, pulling ..."),
        ),
        _ => progress::detail(
            1,
            format!("Checking if image \"{image}\" is available locally ..."),
        ),
    }
    let pulled = pull_image(image, docker, policy)?;
    let id = pulled.image.map(|i| i.id).unwrap_or_default();
    progress::step(format!("Image {image} ({})", short(&id)));
    if !args.allowed_uids.is_empty() {
        check_allowed_user_with_assemble_user(
            docker,
            image,
            &args.allowed_uids,
            pulled.on_build,
            &args.assemble_user,
        )?;
    }
    Ok(())
}

/// Step 2: where `assemble` and `run` come from; either must be found.
fn find_scripts(b: &mut Build) -> Result<()> {
    let flag = b.args.scripts_url.clone();
    let local_dir = scripts_dir(&flag)?;
    b.local_scripts = sources::local_scripts(&b.source, local_dir.as_ref().map(ScriptsDir::path));
    b._scripts_dir = local_dir;
    b.image_scripts_url = match flag.starts_with("image://") {
        true => flag,
        false => b.docker.get_scripts_url(&b.args.builder)?,
    };
    if !b.image_scripts_url.is_empty() {
        progress::detail(
            1,
            format!(
                "Image {} contains {SCRIPTS_URL_LABEL} set to {:?}",
                b.args.builder, b.image_scripts_url
            ),
        );
        return Ok(());
    }
    let missing: Vec<&str> = ["assemble", "run"]
        .into_iter()
        .filter(|s| !b.is_local(s))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::s2i(
        ErrorCode::InstallRequired,
        format!("failed to install [{}]", missing.join(" ")),
        format!("set the scripts URL parameter with the location of the S2I scripts, or check if the image has the {SCRIPTS_URL_LABEL:?} label set"),
        None,
    ))
}

/// What happens once `assemble` succeeded, while its container still exists.
#[derive(Clone, Copy)]
pub enum Finish<'a> {
    /// Commit it as the tag.
    Commit,
    /// Copy the runtime artifacts out of it (an extended build).
    Download(&'a extended::Runtime, &'a TempDir),
}

/// Where `assemble` finds the sources.
pub enum Input {
    /// In the tar on its standard input, with the previous image's artifacts if any.
    Tar(Option<File>),
    /// Already in `image`, the builder extended with them and with the scripts (`layered`);
    /// `assemble` is the one of `scripts_url`.
    Layered { image: String, scripts_url: String },
}

/// Step 4 (see [`assemble`]), by the layered build when the builder lacks `sh` or `tar`.
fn assemble_any(b: &Build, artifacts: Option<File>, finish: Finish<'_>) -> Result<String> {
    let had_artifacts = artifacts.is_some();
    match assemble(b, Input::Tar(artifacts), finish) {
        Err(e) if layered::missing_requirements(&e) => layered::build(b, had_artifacts, finish),
        done => done,
    }
}

/// Step 4: runs `assemble` on `input`; returns the committed image's ID (`""` for an extended
/// build, whose image comes later).
pub fn assemble(b: &Build, input: Input, finish: Finish<'_>) -> Result<String> {
    let builder = &b.args.builder;
    match b.args.assemble_user.as_str() {
        "" => progress::step(format!("Running \"assemble\" in \"{builder}\"")),
        user => progress::step(format!(
            "Running \"assemble\" in \"{builder}\" as \"{user}\" user"
        )),
    }
    let committed = Arc::new(Mutex::new(String::new()));
    // After `assemble`, its command line says whether it left labels for the commit; a
    // layered build's has no shell to say it.
    let layered = matches!(input, Input::Layered { .. });
    let (watch, found) = match layered {
        false => {
            let (watch, found) = metadata::watch();
            (Some(watch), found)
        }
        true => (None, metadata::unknown()),
    };
    let mut steps = Vec::new();
    let (post_exec, watch): (Box<dyn s2i_docker::PostExecutor + Send>, _) = match finish {
        Finish::Commit => {
            if !layered {
                steps.push(found.shell_step());
            }
            let opts = commit_options(b, builder, &b.image_scripts_url, None)?;
            let docker = b.docker.clone();
            let committed = committed.clone();
            let image = builder.clone();
            let labels = b.committed_labels.clone();
            let post_exec = Box::new(move |container: &str, destination: &str| -> Result<()> {
                let mut opts =
                    labelled_commit(&docker, &found, &labels, &image, container, opts.clone())?;
                if opts.command.is_empty() {
                    opts.command =
                        vec![format!("{}/scripts/run", destination.trim_end_matches('/'))];
                }
                progress::step(format!(
                    "Committing container as {}",
                    shown_tag(&opts.repository)
                ));
                let id = docker.commit_container(opts)?;
                *committed.lock().unwrap_or_else(|p| p.into_inner()) = id;
                Ok(())
            });
            (post_exec, watch)
        }
        // As the reference: the builder's container of an extended build is not committed,
        // and its labels file is not read.
        Finish::Download(rt, dir) => (extended::downloader(b, rt, dir), None),
    };
    let (image, external_scripts, scripts_url, stdin) = match input {
        Input::Tar(artifacts) => {
            let tar = sources::input_tar(
                b.source.clone(),
                b.local_scripts.clone(),
                artifacts,
                b.walk(),
            );
            let stdin: Box<dyn std::io::Read + Send> = Box::new(tar);
            let (local, url) = (b.is_local("assemble"), b.run_scripts_url());
            (builder.clone(), local, url, Some(stdin))
        }
        Input::Layered { image, scripts_url } => (image, false, scripts_url, None),
    };
    let mut opts = RunContainerOptions {
        image,
        command: "assemble".into(),
        user: b.args.assemble_user.clone(),
        env: b.env.clone(),
        external_scripts,
        scripts_url,
        destination: b.args.destination.clone(),
        network_mode: b.args.network.clone(),
        cap_drop: b.args.cap_drop.clone(),
        binds: b.args.volumes.clone(),
        add_host: b.args.add_hosts.clone(),
        stdin,
        post_exec: Some(post_exec),
        cancel: crate::signals::handle(),
        ..Default::default()
    };
    let injected = inject::apply(&b.docker, builder, &b.args.injections, &mut opts)?;
    if injected.is_some() {
        steps.insert(0, inject::shell_step());
    }
    if !steps.is_empty() {
        opts.command_overrides = Some(Box::new(move |line: &str| metadata::then(line, &steps)));
    }
    inject::outcome(
        injected.as_ref(),
        run_script(&b.docker, builder, opts, watch),
    )?;
    let id = committed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    if !id.is_empty() {
        progress::step(format!("Built {} ({})", shown_tag(&b.args.tag), short(&id)));
    }
    Ok(id)
}

/// Runs a script with its output shown as it comes (less the marker of `watch`); a non-zero
/// exit is the reference's container error, named after `image`, with the script's standard
/// error.
pub fn run_script(
    docker: &DockerClient,
    image: &str,
    mut opts: RunContainerOptions,
    watch: Option<metadata::Watch>,
) -> Result<()> {
    let stderr_text = Arc::new(Mutex::new(String::new()));
    let out_sink = if opts.command == "usage" {
        Sink::Stdout
    } else {
        Sink::Log
    };
    let out_done = match opts.stdout {
        Some(_) => None,
        None => {
            let (out, done) = line_writer(out_sink, None, None)?;
            opts.stdout = Some(Box::new(out));
            Some(done)
        }
    };
    let (err, err_done) = line_writer(Sink::Log, Some(stderr_text.clone()), watch)?;
    opts.stderr = Some(Box::new(err));
    let result = docker.run_container(opts);
    if let Some(done) = out_done {
        let _ = done.join();
    }
    let _ = err_done.join();
    match result {
        Err(Error::Container(c)) => {
            let text = stderr_text
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Err(Error::container(
                image,
                c.exit_code,
                format!("{text}{}", c.output),
            ))
        }
        other => other,
    }
}

/// The commit of the new image: the `run` script as its command (`None`: found from the
/// destination when the script travels in the input), the base image's user and entrypoint,
/// the build's environment, and the base image's labels with S2I's own over them (as S2I
/// merges them since 1.1.10: 1.1.7 let the base image's win, so that an image built on a
/// builder S2I had built took the builder's commit labels); the labels a script asks for
/// come over both, at the commit.
pub fn commit_options(
    b: &Build,
    base: &str,
    scripts_url: &str,
    run_command: Option<String>,
) -> Result<CommitContainerOptions> {
    let command = match run_command {
        Some(c) => vec![c],
        None if b.is_local("run") => Vec::new(),
        None => vec![format!(
            "{}/run",
            scripts_url
                .strip_prefix("image://")
                .unwrap_or(scripts_url)
                .trim_end_matches('/')
        )],
    };
    let a = &b.args;
    let display = if a.display_name.is_empty() {
        &a.tag
    } else {
        &a.display_name
    };
    let generated = [
        ("io.k8s.display-name", display.as_str()),
        ("io.k8s.description", a.description.as_str()),
        ("io.openshift.s2i.build.image", a.builder.as_str()),
    ];
    let mut labels: HashMap<String, String> = b.docker.get_labels(base)?;
    labels.extend(
        generated
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .chain(b.source_info.labels()),
    );
    Ok(CommitContainerOptions {
        container_id: String::new(),
        repository: a.tag.clone(),
        user: b.docker.get_image_user(base)?,
        command,
        env: b.env.clone(),
        entrypoint: b.docker.get_image_entrypoint(base)?,
        labels,
    })
}

/// The commit of `container` (of `image`, named in errors) by `opts`, with the labels its
/// script asked for (see [`metadata::add_labels`]), which are also left in `committed` for the
/// callback.
///
/// # Errors
/// As [`metadata::add_labels`].
pub fn labelled_commit(
    docker: &DockerClient,
    found: &metadata::Found,
    committed: &Labels,
    image: &str,
    container: &str,
    mut opts: CommitContainerOptions,
) -> Result<CommitContainerOptions> {
    opts.container_id = container.to_string();
    metadata::add_labels(docker, found, container, image, &mut opts.labels)?;
    *committed.lock().unwrap_or_else(|p| p.into_inner()) = opts.labels.clone();
    Ok(opts)
}

/// `--run`: the new image runs as it is, its output on standard output.
fn run_image(b: &Build) -> Result<()> {
    progress::step(format!("Running {}", b.args.tag));
    let (out, done) = line_writer(Sink::Stdout, None, None)?;
    let opts = RunContainerOptions {
        image: b.args.tag.clone(),
        target_image: true,
        network_mode: b.args.network.clone(),
        stdout: Some(Box::new(out)),
        cancel: crate::signals::handle(),
        ..Default::default()
    };
    let r = run_script(&b.docker, &b.args.tag, opts, None);
    let _ = done.join();
    r
}

pub fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

fn shown_tag(tag: &str) -> &str {
    if tag.is_empty() {
        "an untagged image"
    } else {
        tag
    }
}
