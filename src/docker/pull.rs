//! Pulls: an image is inspected, pulled when missing or when the policy says so, with retries,
//! progress and an inactivity limit; and the builder, rebuild and runtime images a build needs,
//! with their users checked.
//!
//! Each pull sends the credentials of its image's registry alone, as the client's
//! [`RegistryCredentials`] source answers them ([`credentials_for_image`]).
//!
//! Uses the client, ops (the pull endpoint and its JSON-lines output), auth (the pull's
//! `X-Registry-Auth`), config, image_ref and error.

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use crate::auth::{credentials_for_image, encode_auth, RegistryCredentials};
use crate::client::Client;
use crate::config::{AuthConfig, Config, Image, PullPolicy};
use crate::docker::labels::image_from_inspect;
use crate::docker::users::check_allowed_user_with_assemble_user;
use crate::docker::{Docker, DockerClient};
use crate::error::{go_duration, Error, Result};
use crate::image_ref::get_image_name;
use crate::ops::image::{ImageInspect, ImagePullOptions};
use crate::ops::stream::{JsonMessage, JsonMessages};

/// The pause between pull attempts.
pub const DEFAULT_PULL_RETRY_DELAY: Duration = Duration::from_secs(5);

/// How many times a failed pull is retried (so at most 7 attempts).
pub const DEFAULT_PULL_RETRY_COUNT: u32 = 6;

/// Texts of pull errors worth retrying, as the daemon words them (a daemon that failed to
/// reach a registry answers with such a text).
///
/// The client's own connection errors (refused, reset, aborted, a broken pipe, a connection
/// closed before the reply was complete) are retried too, whatever their text: see
/// [`Error::is_connection_error`].
pub const RETRIABLE_ERRORS: &[&str] = &[
    "ping attempt failed with error",
    "is already in progress",
    "connection reset by peer",
    "transport closed before response was received",
    "connection refused",
];

/// Whether a failed pull attempt is worth another: the client's connection failed or was cut,
/// or the error's text is one of [`RETRIABLE_ERRORS`].
fn is_retriable(err: &Error) -> bool {
    if err.is_connection_error() {
        return true;
    }
    let text = err.to_string_with_causes();
    RETRIABLE_ERRORS.iter().any(|r| text.contains(r))
}

/// A callback that receives every progress message of a pull.
pub type PullProgress = Arc<dyn Fn(&JsonMessage) + Send + Sync>;

/// What [`pull_image`] found: the image and whether it has `ONBUILD` triggers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullResult {
    /// The image has `ONBUILD` triggers.
    pub on_build: bool,
    /// The image's metadata (`None` only from a fake).
    pub image: Option<Image>,
}

/// Whether an inspect error says the image is absent.
///
/// A 404 is enough for the Docker engine; the texts cover daemons (and fakes) that say so in
/// words only: Docker's `No such image: <name>`, and Podman's own `image not known` (its
/// Docker-compatible API rewrites it into Docker's text, its native API does not).
pub(crate) fn is_no_such_image(e: &Error) -> bool {
    if e.is_not_found() {
        return true;
    }
    let text = e.to_string_with_causes();
    text.contains("No such image") || text.contains("image not known")
}

/// The display form of an image name in logs: a long digest is shortened.
fn display_name(name: &str) -> String {
    if log::log_enabled!(log::Level::Trace) {
        return name.to_string();
    }
    match name.split_once('@') {
        Some((repo, digest)) if digest.len() > 18 => {
            let cut = digest
                .char_indices()
                .nth(18)
                .map_or(digest.len(), |(i, _)| i);
            format!("{repo}@{}...", &digest[..cut])
        }
        _ => name.to_string(),
    }
}

/// The reference's `CheckAndPullImage`, keeping the raw inspect for callers that need more
/// than labels and env (`run_container` reads the entrypoint from it).
pub(crate) fn inspect_or_pull(d: &DockerClient, name: &str) -> Result<ImageInspect> {
    let name = get_image_name(name);
    let display = display_name(&name);
    match d.client.image_inspect_with_raw(&name) {
        Ok((inspect, _)) => {
            log::debug!("Using locally available image \"{display}\"");
            Ok(inspect)
        }
        Err(e) if is_no_such_image(&e) => {
            log::info!("Image \"{display}\" not available locally, pulling ...");
            pull_and_inspect(d, &name)
        }
        Err(e) => Err(Error::inspect_image(&name, e)),
    }
}

/// The reference's `PullImage` (with decision 6): attempts until success, a non-retriable
/// error, or the retry count is spent; then the image's metadata.
pub(crate) fn pull_with_retries(d: &DockerClient, name: &str) -> Result<Image> {
    let name = get_image_name(name);
    pull_and_inspect(d, &name).map(|i| image_from_inspect(&i))
}

impl DockerClient {
    /// Takes the credentials of every pull from `source`, asked with the registry of the image
    /// pulled (replacing those given to [`new`](DockerClient::new)); a build sends those of all
    /// the registries `source` lists.
    ///
    /// `source` may be an [`AuthConfigurations`](crate::AuthConfigurations) (a docker config
    /// file), a `Vec<AuthConfig>`, one [`AuthConfig`], or a closure from registry to
    /// credentials: see [`RegistryCredentials`]. Credentials whose `server_address` names
    /// another registry than the image's are never sent.
    ///
    /// # Example
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::Arc;
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::{AuthConfig, Docker, DockerClient};
    ///
    /// let for_registry = |server: &str, user: &str| AuthConfig {
    ///     username: user.into(),
    ///     password: format!("{user}-secret"),
    ///     server_address: server.into(),
    ///     ..Default::default()
    /// };
    /// let client = Arc::new(FakeClient::new());
    /// let docker = DockerClient::new(client.clone(), AuthConfig::default())
    ///     .with_registry_credentials(vec![
    ///         for_registry("quay.io", "q"),
    ///         for_registry("registry.example.com:5000", "r"),
    ///     ])
    ///     .with_pull_retry_count(0);
    /// for image in ["quay.io/org/builder", "registry.example.com:5000/runtime", "busybox"] {
    ///     let _ = docker.pull_image(image); // nothing to pull in the fake
    /// }
    /// let sent: Vec<String> = client.state().pulls.iter().map(|p| p.1.registry_auth.clone()).collect();
    /// assert_eq!(sent[0], s2i_docker::auth::encode_auth(&for_registry("quay.io", "q"))?);
    /// assert_eq!(sent[1], s2i_docker::auth::encode_auth(&for_registry("registry.example.com:5000", "r"))?);
    /// assert_eq!(sent[2], "e30K"); // Docker Hub: anonymous
    /// # }
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn with_registry_credentials(
        mut self,
        source: impl RegistryCredentials + 'static,
    ) -> DockerClient {
        self.credentials = Arc::new(source);
        self
    }

    /// The source of this client's registry credentials.
    pub fn registry_credentials(&self) -> &dyn RegistryCredentials {
        self.credentials.as_ref()
    }
}

fn pull_and_inspect(d: &DockerClient, name: &str) -> Result<ImageInspect> {
    let credentials = credentials_for_image(d.credentials.as_ref(), name);
    match (credentials.is_empty(), credentials.server_address.as_str()) {
        (true, _) => log::debug!("Pulling {name} without credentials"),
        (false, "") => log::debug!("Pulling {name} with credentials"),
        (false, server) => log::debug!("Pulling {name} with the credentials for {server}"),
    }
    let auth = encode_auth(&credentials).map_err(|e| Error::pull_image(name, e))?;
    let attempts = d.pull_retry_count.saturating_add(1);
    for attempt in 1..=attempts {
        let err = match pull_once(d, name, &auth) {
            Ok(()) => break,
            Err(e) => e,
        };
        log::info!("pulling image error : {err}");
        if !is_retriable(&err) || attempt == attempts {
            return Err(Error::pull_image(name, err));
        }
        log::info!("retrying in {} ...", go_duration(d.pull_retry_delay));
        std::thread::sleep(d.pull_retry_delay);
    }
    d.client
        .image_inspect_with_raw(name)
        .map(|(i, _)| i)
        .map_err(|e| Error::pull_image(name, e))
}

/// One attempt: the request, then the progress stream to its end.
///
/// The stream is read on a thread of its own so that the inactivity limit holds even while a
/// read blocks: on a timeout the attempt ends at once, and the thread drops the stream (and
/// its connection) as soon as its read returns (the transport's own idle timeout ends it).
fn pull_once(d: &DockerClient, name: &str, auth: &str) -> Result<()> {
    let timed_out = || Error::Timeout {
        what: format!("pulling image \"{name}\""),
        after: d.pull_inactivity_timeout,
    };
    let options = ImagePullOptions {
        registry_auth: auth.to_string(),
        ..Default::default()
    };
    let body = d.client.image_pull(name, &options)?;
    let (tx, rx) = mpsc::sync_channel(16);
    thread::Builder::new()
        .name("s2i-pull".into())
        .spawn(move || {
            for message in JsonMessages::new(body) {
                let last = message.is_err();
                if tx.send(message).is_err() || last {
                    break;
                }
            }
        })
        .map_err(|e| Error::other(format!("cannot start the pull's reader thread: {e}")))?;
    loop {
        let message = match rx.recv_timeout(d.pull_inactivity_timeout) {
            Ok(Ok(message)) => message,
            Ok(Err(e)) if e.is_timeout() => return Err(timed_out()),
            Ok(Err(e)) => return Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => return Err(timed_out()),
            // The stream ended.
            Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        };
        log_progress(name, &message);
        if let Some(progress) = &d.pull_progress {
            progress(&message);
        }
    }
}

fn log_progress(name: &str, m: &JsonMessage) {
    match (m.id.is_empty(), m.progress.is_empty()) {
        (true, _) => log::debug!("pulling image {name}: {}", m.status),
        (false, true) => log::debug!("pulling image {name}: {}: {}", m.id, m.status),
        (false, false) => {
            log::debug!(
                "pulling image {name}: {}: {} {}",
                m.id,
                m.status,
                m.progress
            )
        }
    }
}

/// Gets an image as `policy` says, and whether it has `ONBUILD` triggers (the reference's
/// package-level `PullImage`).
///
/// | policy | what happens |
/// |---|---|
/// | [`IfNotPresent`](PullPolicy::IfNotPresent) | [`check_and_pull_image`](Docker::check_and_pull_image) |
/// | [`Always`](PullPolicy::Always) | [`pull_image`](Docker::pull_image), even if present |
/// | [`Never`](PullPolicy::Never) | [`check_image`](Docker::check_image): a missing image is an error |
///
/// Whether the image has `ONBUILD` triggers is asked after a successful pull only: the
/// reference returned a result beside its error (with one more inspect for it), which a Rust
/// `Result` has no room for.
///
/// # Errors
/// The error of the method the policy chose.
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use s2i_docker::fake::FakeDocker;
/// use s2i_docker::{pull_image, PullPolicy};
///
/// let fake = FakeDocker { pull_result: true, is_on_build_result: true, ..Default::default() };
/// let result = pull_image("builder", &fake, PullPolicy::Always)?;
/// assert!(result.on_build && result.image.is_some());
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn pull_image(name: &str, d: &dyn Docker, policy: PullPolicy) -> Result<PullResult> {
    let image = match policy {
        PullPolicy::IfNotPresent => d.check_and_pull_image(name)?,
        PullPolicy::Always => {
            log::info!("Pulling image \"{name}\" ...");
            d.pull_image(name)?
        }
        PullPolicy::Never => {
            log::info!("Checking if image \"{name}\" is available locally ...");
            d.check_image(name)?
        }
    };
    Ok(PullResult {
        on_build: d.is_image_on_build(name),
        image,
    })
}

fn pull_and_check(
    image: &str,
    d: &dyn Docker,
    policy: PullPolicy,
    config: &Config,
) -> Result<PullResult> {
    let result = pull_image(image, d, policy)?;
    check_allowed_user_with_assemble_user(
        d,
        image,
        &config.allowed_uids,
        result.on_build,
        &config.assemble_user,
    )?;
    Ok(result)
}

/// Gets the builder image (`config.builder_image`) as `config.builder_pull_policy` says, with
/// `config.pull_authentication` (sent only to the registry it names), and checks its users
/// against `config.allowed_uids`.
///
/// # Errors
/// Those of [`pull_image`] and
/// [`check_allowed_user_with_assemble_user`](crate::check_allowed_user_with_assemble_user).
///
/// # Example
/// ```
/// # #[cfg(feature = "fake")] {
/// use std::sync::Arc;
/// use s2i_docker::fake::FakeClient;
/// use s2i_docker::ops::container::ContainerConfig;
/// use s2i_docker::ops::image::ImageInspect;
/// use s2i_docker::user::parse_range_list;
/// use s2i_docker::{get_builder_image, Config, ErrorCode, PullPolicy};
///
/// let client = Arc::new(FakeClient::new());
/// let config = ContainerConfig { user: "root".into(), ..Default::default() };
/// let image = ImageInspect { id: "sha256:b".into(), config: Some(config), ..Default::default() };
/// client.add_image("builder:latest", image);
/// let mut config = Config {
///     builder_image: "builder".into(),
///     builder_pull_policy: PullPolicy::Never,
///     ..Default::default()
/// };
/// let pulled = get_builder_image(client.clone(), &config)?;
/// assert_eq!(pulled.image.unwrap().id, "sha256:b");
/// // With allowed UIDs, the builder's `root` user is refused.
/// config.allowed_uids = parse_range_list("1-")?;
/// let e = get_builder_image(client, &config).unwrap_err();
/// assert_eq!(e.code(), Some(ErrorCode::UserNotAllowed));
/// # }
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn get_builder_image(client: Arc<dyn Client>, config: &Config) -> Result<PullResult> {
    let d = DockerClient::new(client, config.pull_authentication.clone());
    pull_and_check(
        &config.builder_image,
        &d,
        config.builder_pull_policy,
        config,
    )
}

/// Gets the previous build's image (`config.tag`) for an incremental build, as
/// `config.builder_pull_policy` says, and checks its users.
///
/// The pull sends `config.pull_authentication` or `config.runtime_authentication`, whichever
/// names the registry of `config.tag` (the reference sent the builder's, wherever the image
/// was).
///
/// # Errors
/// As [`get_builder_image`].
pub fn get_rebuild_image(client: Arc<dyn Client>, config: &Config) -> Result<PullResult> {
    let d = DockerClient::new(client, AuthConfig::default()).with_registry_credentials(vec![
        config.pull_authentication.clone(),
        config.runtime_authentication.clone(),
    ]);
    pull_and_check(&config.tag, &d, config.builder_pull_policy, config)
}

/// Gets the runtime image of an extended build (`config.runtime_image`) as
/// `config.runtime_image_pull_policy` says, and checks its users (the assemble user too).
///
/// # Errors
/// As [`get_builder_image`].
pub fn get_runtime_image(config: &Config, docker: &dyn Docker) -> Result<()> {
    pull_and_check(
        &config.runtime_image,
        docker,
        config.runtime_image_pull_policy,
        config,
    )
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::fake::testing::docker::*;
    use crate::fake::{FakeClient, FakeDocker};
    use crate::user::parse_range_list;
    use crate::ErrorCode;

    fn refused() -> Error {
        Error::other("dial tcp 127.0.0.1:5000: connect: connection refused")
    }

    #[test]
    fn retries_retriable_errors_then_succeeds() {
        let (fake, d) = setup();
        {
            let mut s = fake.state();
            s.pull_failures
                .extend([refused(), Error::other("x is already in progress")]);
            s.registry
                .insert("remote:latest".into(), image("sha256:r", &[], &[]));
        }
        let img = d.pull_image("remote").unwrap().unwrap();
        assert_eq!(img.id, "sha256:r");
        assert_eq!(fake.calls(), ["pull", "pull", "pull", "inspect_image"]);
    }

    #[test]
    fn a_non_retriable_error_returns_at_once() {
        let (fake, d) = setup();
        fake.state().pull_fail = Some(Error::api(404, "manifest unknown"));
        let e = d.pull_image("remote").unwrap_err();
        assert_eq!(e.to_string(), "unable to get remote:latest");
        assert_eq!(e.code(), Some(ErrorCode::PullImage));
        assert!(e.to_string_with_causes().contains("manifest unknown"));
        assert_eq!(fake.calls(), ["pull"]);
    }

    #[test]
    fn the_retry_decision_is_per_attempt_decision_6() {
        // The reference kept retrying once any attempt had been retriable.
        let (fake, d) = setup();
        fake.state()
            .pull_failures
            .extend([refused(), Error::api(401, "unauthorized")]);
        let e = d.pull_image("remote").unwrap_err();
        assert!(e.to_string_with_causes().contains("unauthorized"));
        assert_eq!(fake.calls(), ["pull", "pull"]);
    }

    #[test]
    fn exhausted_retries_return_the_last_error_without_a_last_sleep() {
        let fake = Arc::new(FakeClient::new());
        fake.state().pull_failures.extend([
            Error::other("connection reset by peer (1)"),
            Error::other("connection reset by peer (2)"),
        ]);
        let d = DockerClient::new(fake.clone(), auth())
            .with_pull_retry_count(1)
            .with_pull_retry_delay(Duration::from_millis(300));
        let started = Instant::now();
        let (e, logs) = logs_of(|| d.pull_image("remote").unwrap_err());
        let took = started.elapsed();
        assert_eq!(e.code(), Some(ErrorCode::PullImage));
        assert!(
            e.to_string_with_causes()
                .ends_with("connection reset by peer (2)"),
            "{e:?}"
        );
        assert_eq!(fake.calls(), ["pull", "pull"]);
        // One pause between the two attempts, none after the last.
        assert!(took >= Duration::from_millis(300), "{took:?}");
        assert!(took < Duration::from_millis(580), "{took:?}");
        assert_logged(&logs, log::Level::Info, "retrying in 300ms ...");
        assert_logged(
            &logs,
            log::Level::Info,
            "pulling image error : connection reset by peer (1)",
        );
    }

    #[test]
    fn the_clients_own_connection_errors_are_retried() {
        // The crate's I/O errors display as the OS says ("Connection reset by peer (os error
        // 104)"), which no text of RETRIABLE_ERRORS matches.
        for failure in [
            io::Error::from(io::ErrorKind::ConnectionReset),
            io::Error::from_raw_os_error(104),
            io::Error::from(io::ErrorKind::ConnectionAborted),
            io::Error::from(io::ErrorKind::BrokenPipe),
            io::Error::new(io::ErrorKind::UnexpectedEof, "closed before answering"),
        ] {
            let fake = Arc::new(FakeClient::new());
            fake.state().pull_failures.push_back(Error::Io(failure));
            fake.state()
                .registry
                .insert("remote:latest".into(), builder());
            let d = DockerClient::new(fake.clone(), auth()).with_pull_retry_delay(Duration::ZERO);
            d.pull_image("remote").unwrap();
            assert_eq!(fake.calls(), ["pull", "pull", "inspect_image"]);
        }
    }

    #[test]
    fn a_pull_cut_by_the_engine_is_retried() {
        use crate::fake::engine::{FakeEngine, FakeImage, Fault, Route};
        let fake = FakeEngine::new()
            .registry_image("remote:latest", FakeImage::default())
            .serve_in_memory()
            .unwrap();
        // The first attempt's connection closes before any reply.
        fake.fail(Route::ImagesCreate, Fault::HangUpAfter(0))
            .times(1);
        let client = Arc::new(fake.client().unwrap());
        let d = DockerClient::new(client, auth()).with_pull_retry_delay(Duration::ZERO);
        d.pull_image("remote").unwrap().unwrap();
        let pulls = fake
            .requests()
            .iter()
            .filter(|r| r.path == "/images/create")
            .count();
        assert_eq!(pulls, 2);
    }

    #[test]
    fn in_band_errors_fail_the_pull_decision_7() {
        for stream in [
            "{\"status\":\"Pulling\"}\n{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\n",
            "{\"status\":\"Pulling\"}\n{\"error\":\"manifest unknown\"}\n",
        ] {
            let (fake, d) = setup();
            fake.state().pull_output = stream.as_bytes().to_vec();
            fake.state().registry.insert("remote:latest".into(), builder());
            let e = d.pull_image("remote").unwrap_err();
            assert_eq!(e.code(), Some(ErrorCode::PullImage));
            assert!(e.to_string_with_causes().contains("manifest unknown"), "{e:?}");
            assert_eq!(fake.calls(), ["pull"]);
        }
    }

    #[test]
    fn progress_goes_to_the_callback() {
        let fake = Arc::new(FakeClient::new());
        fake.state().pull_output =
            b"{\"status\":\"Pulling fs layer\",\"id\":\"abc\"}\n{\"status\":\"Done\"}\n".to_vec();
        fake.state().registry.insert("r:1".into(), builder());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let d = DockerClient::new(fake.clone(), auth())
            .with_pull_progress(move |m| s.lock().unwrap().push(m.status.clone()));
        d.pull_image("r:1").unwrap();
        assert_eq!(*seen.lock().unwrap(), ["Pulling fs layer", "Done"]);
    }

    #[test]
    fn a_silent_progress_stream_times_out() {
        let fake = Arc::new(FakeClient::new());
        fake.state().pull_output = b"{\"status\":\"a\"}\n{\"status\":\"b\"}\n".to_vec();
        fake.state().pull_line_delay = Duration::from_millis(60);
        let d = DockerClient::new(fake.clone(), auth())
            .with_pull_inactivity_timeout(Duration::from_millis(20));
        let e = d.pull_image("slow").unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::PullImage));
        assert!(e.is_timeout());
        assert!(e
            .to_string_with_causes()
            .ends_with("pulling image \"slow:latest\" timed out after 20ms"));
        // Not retriable.
        assert_eq!(fake.calls(), ["pull"]);
    }

    #[test]
    fn a_blocked_read_of_the_progress_stream_times_out_too() {
        // The first line comes only after 10 s: the attempt must not wait for it.
        let fake = Arc::new(FakeClient::new());
        fake.state().pull_output = b"{\"status\":\"a\"}\n".to_vec();
        fake.state().pull_line_delay = Duration::from_secs(10);
        let d = DockerClient::new(fake.clone(), auth())
            .with_pull_inactivity_timeout(Duration::from_millis(50));
        let started = Instant::now();
        let e = d.pull_image("stuck").unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn credentials_are_sent_with_every_pull() {
        let fake = Arc::new(FakeClient::new());
        fake.state().registry.insert("r:1".into(), builder());
        let d = DockerClient::new(
            fake.clone(),
            crate::AuthConfig {
                username: "u".into(),
                password: "p".into(),
                ..Default::default()
            },
        );
        d.pull_image("r:1").unwrap();
        let expected = crate::auth::encode_auth(&crate::AuthConfig {
            username: "u".into(),
            password: "p".into(),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(fake.state().pulls[0].1.registry_auth, expected);
    }

    #[test]
    fn credentials_go_to_their_own_registry_only() {
        let fake = Arc::new(FakeClient::new());
        for name in ["quay.io/a:1", "other.io/b:1", "busybox:latest"] {
            fake.state().registry.insert(name.into(), builder());
        }
        let quay = crate::AuthConfig {
            username: "q".into(),
            password: "p".into(),
            server_address: "https://quay.io/v2/".into(),
            ..Default::default()
        };
        let d = DockerClient::new(fake.clone(), quay.clone());
        for name in ["quay.io/a:1", "other.io/b:1", "busybox"] {
            d.pull_image(name).unwrap();
        }
        let sent: Vec<String> = fake
            .state()
            .pulls
            .iter()
            .map(|p| p.1.registry_auth.clone())
            .collect();
        assert_eq!(
            sent,
            [encode_auth(&quay).unwrap(), "e30K".into(), "e30K".into()]
        );
    }

    #[test]
    fn a_rebuild_pulls_with_the_credentials_of_its_tags_registry() {
        let fake = Arc::new(FakeClient::new());
        fake.state()
            .registry
            .insert("127.0.0.1:5001/app:latest".into(), builder());
        let for_registry = |server: &str| crate::AuthConfig {
            username: server.into(),
            password: "p".into(),
            server_address: server.into(),
            ..Default::default()
        };
        let config = Config {
            tag: "127.0.0.1:5001/app".into(),
            builder_pull_policy: PullPolicy::Always,
            pull_authentication: for_registry("127.0.0.1:5000"),
            runtime_authentication: for_registry("127.0.0.1:5001"),
            ..Default::default()
        };
        get_rebuild_image(fake.clone(), &config).unwrap();
        assert_eq!(
            fake.state().pulls[0].1.registry_auth,
            encode_auth(&for_registry("127.0.0.1:5001")).unwrap()
        );
    }

    #[test]
    fn check_and_pull() {
        let (fake, d) = setup();
        assert!(d.check_and_pull_image("builder").unwrap().is_some());
        assert_eq!(fake.calls(), ["inspect_image"]);
        // Another inspect error is not "missing": no pull.
        fake.state().inspect_image_err = Some(Error::api(500, "daemon on fire"));
        let e = d.check_and_pull_image("builder").unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::InspectImage));
        assert_eq!(fake.calls(), ["inspect_image", "inspect_image"]);
        // Missing and not pullable: a pull error.
        let (fake, d) = setup();
        let e = d.check_and_pull_image("missing").unwrap_err();
        assert_eq!(e.to_string(), "unable to get missing:latest");
        assert_eq!(fake.calls(), ["inspect_image", "pull", "inspect_image"]);
    }

    #[test]
    fn absence_is_recognised_in_docker_and_podman_words() {
        assert!(is_no_such_image(&Error::api(404, "whatever")));
        assert!(is_no_such_image(&Error::inspect_image(
            "x",
            Error::api(404, "No such image: x")
        )));
        assert!(is_no_such_image(&Error::other("No such image: \"x\"")));
        assert!(is_no_such_image(&Error::api(500, "x: image not known")));
        assert!(!is_no_such_image(&Error::api(500, "boom")));
    }

    #[test]
    fn display_names_shorten_long_digests() {
        let long = format!("repo@sha256:{}", "a".repeat(64));
        // The capture logger enables trace; the shortening applies below it.
        let short = if log::log_enabled!(log::Level::Trace) {
            long.clone()
        } else {
            "repo@sha256:aaaaaaaaaaa...".to_string()
        };
        assert_eq!(display_name(&long), short);
        assert_eq!(display_name("repo:tag"), "repo:tag");
    }

    #[test]
    fn package_pull_image_policies() {
        let fake = FakeDocker {
            pull_result: true,
            is_on_build_result: true,
            ..Default::default()
        };
        let r = pull_image("b", &fake, PullPolicy::IfNotPresent).unwrap();
        assert!(r.on_build && r.image.is_some());
        assert_eq!(fake.is_on_build_image.get(), "b");
        let r = pull_image("b", &fake, PullPolicy::Always).unwrap();
        assert!(r.image.is_some());
        // Never only checks; the fake's check answers no image.
        let r = pull_image("b", &fake, PullPolicy::Never).unwrap();
        assert_eq!(r.image, None);
        let failing = FakeDocker {
            pull_error: Some(Error::pull_image("b:latest", refused())),
            ..Default::default()
        };
        let e = pull_image("b", &failing, PullPolicy::Always).unwrap_err();
        assert_eq!(e.to_string(), "unable to get b:latest");
        // With the real Docker: never on a missing image.
        let (_fake, d) = setup();
        let e = pull_image("missing", &d, PullPolicy::Never).unwrap_err();
        assert_eq!(e.to_string(), "unable to get metadata for missing:latest");
    }

    #[test]
    fn builder_rebuild_and_runtime_images() {
        let fake = Arc::new(FakeClient::new());
        let mut img = builder();
        if let Some(c) = img.config.as_mut() {
            c.user = "1001".into();
        }
        fake.add_image("builder:latest", img);
        let mut root = builder();
        if let Some(c) = root.config.as_mut() {
            c.user = "root".into();
        }
        fake.add_image("app:latest", root);
        let mut config = Config {
            builder_image: "builder".into(),
            tag: "app".into(),
            allowed_uids: parse_range_list("1000-2000").unwrap(),
            ..Default::default()
        };
        let r = get_builder_image(fake.clone(), &config).unwrap();
        assert!(!r.on_build);
        assert_eq!(r.image.unwrap().id, "sha256:builder");
        let e = get_rebuild_image(fake.clone(), &config).unwrap_err();
        assert_eq!(
            e.to_string(),
            "image \"app\" must specify a user that is numeric and within the range of allowed users"
        );
        // The assemble user replaces the image's user in the check.
        config.assemble_user = "1500".into();
        get_rebuild_image(fake.clone(), &config).unwrap();
        let docker = DockerClient::new(fake.clone(), auth());
        config.runtime_image = "app".into();
        get_runtime_image(&config, &docker).unwrap();
        config.assemble_user = "0".into();
        let e = get_runtime_image(&config, &docker).unwrap_err();
        assert_eq!(
            e.to_string(),
            "assemble user must be numeric and within the range of allowed users"
        );
    }
}
