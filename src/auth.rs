//! Registry credentials: docker config files, credential helpers, and the `X-Registry-Auth` header.
//!
//! [`AuthConfigurations`] reads what `docker login` leaves behind: `~/.docker/config.json` (its
//! `auths`, `credsStore` and `credHelpers`) or a legacy `~/.dockercfg`.
//! [`get_image_registry_auth`] picks the credentials for an image from them, and [`encode_auth`]
//! turns credentials into the `X-Registry-Auth` header value of a pull.
//!
//! ```
//! use s2i_docker::auth::{encode_auth, get_image_registry_auth, AuthConfigurations};
//!
//! let config = r#"{"auths": {"quay.io": {"auth": "dTpw"}}, "credsStore": "desktop"}"#;
//! let auths = AuthConfigurations::new(config.as_bytes())?;
//! let quay = get_image_registry_auth(Some(&auths), "quay.io/app/builder:1.0");
//! assert_eq!((quay.username.as_str(), quay.password.as_str()), ("u", "p"));
//! assert!(encode_auth(&quay)?.starts_with("eyJ1c2VybmFtZSI6InUi"));
//! # Ok::<(), s2i_docker::Error>(())
//! ```
//!
//! # Which credentials an image gets
//!
//! The image's registry is the domain of its normalised name (`busybox` is on `docker.io`,
//! `quay.io/x/y` on `quay.io`, `localhost:5000/x` on `localhost:5000`). Registry keys are
//! compared after normalisation: the scheme (`https://`, `http://`), trailing `/` and a trailing
//! `/v1` or `/v2` are dropped and the host is lower-cased, and `docker.io`, `index.docker.io`,
//! `registry-1.docker.io` and `https://index.docker.io/v1/` are all Docker Hub.
//!
//! The sources, in the docker CLI's order: the registry's `credHelpers` entry, else the
//! `credsStore`, each run as `docker-credential-<name> get` (lazily, only for the registry asked
//! about, with a [timeout](AuthConfigurations::set_helper_timeout)); then the `auths` entry.
//! A helper that knows nothing of the registry (`credentials not found in native keychain`)
//! hands over to the `auths` entry.
//!
//! # Differences from S2I
//!
//! - Docker Hub credentials go to Docker Hub images only. The reference sent them to any
//!   registry that had no entry of its own.
//! - Keys are normalised as above; the reference matched them as exact strings, so
//!   `https://quay.io` never matched `quay.io/...` images.
//! - `credsStore` and `credHelpers` are used; the reference ignored them.
//! - Keys it does not know never break loading (`"credsStore": "desktop"` beside a legacy map
//!   was an error), and `auth` may omit its base64 padding.
//! - A failing helper (missing binary, error, timeout) costs only that registry's credentials:
//!   a warning is logged and the `auths` entry, if any, is used; otherwise the pull is anonymous.
//! - An `auth` that decodes to a value without a colon is not echoed in the error (the
//!   reference printed it; it is often a token).
//!
//! Secrets (passwords, `auth` values, tokens) never appear in errors or logs.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// The key `docker login` writes for Docker Hub, and the server URL helpers are asked about.
pub const DOCKER_HUB_SERVER: &str = "https://index.docker.io/v1/";
/// The header that carries a pull's credentials.
pub const REGISTRY_AUTH_HEADER: &str = "X-Registry-Auth";
/// How long a credential helper may take before it is killed.
pub const DEFAULT_HELPER_TIMEOUT: Duration = Duration::from_secs(10);

/// The normalised name of Docker Hub.
const HUB: &str = "docker.io";
/// Docker Hub's host names, all normalised to [`HUB`].
const HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];
/// What a credential helper prints (and exits non-zero with) for an unknown server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";
/// A docker config is a few KiB; refuse to buffer anything absurd.
const MAX_CONFIG_BYTES: u64 = 16 << 20;
/// A helper's answer is one small JSON object.
const MAX_HELPER_OUTPUT: u64 = 1 << 20;

/// Standard base64, with or without padding, tolerant of non-zero trailing bits as Go is.
const AUTH_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The registry credentials of a docker config file (the reference's `AuthConfigurations`).
///
/// `configs` holds the file's `auths` entries under their keys as written. The credential
/// helpers named by the file are run only when [`get_registry_auth`](Self::get_registry_auth)
/// (or [`get_image_registry_auth`]) asks about a registry they serve.
#[derive(Debug, Clone)]
pub struct AuthConfigurations {
    /// The `auths` entries with credentials, by registry key as written in the file.
    pub configs: HashMap<String, AuthConfig>,
    creds_store: Option<String>,
    cred_helpers: HashMap<String, String>,
    /// Where helpers are looked up; `None` is `$PATH`.
    helper_dir: Option<PathBuf>,
    helper_timeout: Duration,
}

impl Default for AuthConfigurations {
    fn default() -> Self {
        AuthConfigurations {
            configs: HashMap::new(),
            creds_store: None,
            cred_helpers: HashMap::new(),
            helper_dir: None,
            helper_timeout: DEFAULT_HELPER_TIMEOUT,
        }
    }
}

impl AuthConfigurations {
    /// Reads a docker `config.json` or a legacy `.dockercfg` (the reference's
    /// `NewAuthConfigurations`).
    ///
    /// A document with an `auths` key is a `config.json`; without one, its top-level objects
    /// that have an `auth` are legacy entries. Each entry's `auth` is base64 of `user:password`
    /// (padding optional); `identitytoken`, `email`, and the plain `username`/`password` fields
    /// the docker CLI also reads are kept. Entries without any credentials are skipped, and keys
    /// other than `auths`, `credsStore` and `credHelpers` are ignored, whatever their type.
    /// Key names match case-insensitively, as Go's JSON decoding does.
    ///
    /// # Errors
    /// The document is not a JSON object, or an entry is malformed: the error names the registry
    /// and what is wrong, never the secret: for an `auth` without a colon, the reference's
    /// `cannot parse username/password from [...]` with the decoded value replaced by its
    /// length (such a value is usually a token).
    ///
    /// # Example
    /// ```
    /// use s2i_docker::AuthConfigurations;
    ///
    /// // base64("user:pass")
    /// let config = r#"{"auths": {"https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"}}}"#;
    /// let auths = AuthConfigurations::new(config.as_bytes())?;
    /// let hub = &auths.configs["https://index.docker.io/v1/"];
    /// assert_eq!((hub.username.as_str(), hub.password.as_str()), ("user", "pass"));
    /// assert!(AuthConfigurations::new(&b"not json"[..]).is_err());
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn new(reader: impl Read) -> Result<AuthConfigurations> {
        let mut doc = Vec::new();
        reader.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut doc)?;
        if doc.len() as u64 > MAX_CONFIG_BYTES {
            return Err(Error::InvalidInput(format!(
                "docker config: larger than {MAX_CONFIG_BYTES} bytes"
            )));
        }
        parse_config(&doc)
    }

    /// Reads the file at `path`; `Ok(None)` when it does not exist.
    ///
    /// # Errors
    /// The file cannot be read, or as [`new`](Self::new).
    pub fn from_file(path: &Path) -> Result<Option<AuthConfigurations>> {
        match std::fs::File::open(path) {
            Ok(f) => AuthConfigurations::new(f).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io(io::Error::new(
                e.kind(),
                format!("open {}: {e}", path.display()),
            ))),
        }
    }

    /// Reads the docker CLI's config file at [`docker_config_path`]; `Ok(None)` when there is
    /// none.
    ///
    /// # Errors
    /// As [`from_file`](Self::from_file).
    pub fn from_default_location() -> Result<Option<AuthConfigurations>> {
        AuthConfigurations::from_file(&docker_config_path())
    }

    /// The `credsStore` helper's name (e.g. `desktop`, `pass`), if the file sets one.
    pub fn creds_store(&self) -> Option<&str> {
        self.creds_store.as_deref()
    }

    /// The `credHelpers` map: registry key as written → helper name.
    pub fn cred_helpers(&self) -> &HashMap<String, String> {
        &self.cred_helpers
    }

    /// How long a credential helper may run before it is killed (default
    /// [`DEFAULT_HELPER_TIMEOUT`]).
    pub fn set_helper_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.helper_timeout = timeout;
        self
    }

    /// Looks helpers up in `dir` instead of `$PATH`.
    #[cfg(test)] // the tests must not change the process's PATH
    pub(crate) fn set_helper_dir(&mut self, dir: PathBuf) -> &mut Self {
        self.helper_dir = Some(dir);
        self
    }

    /// The credentials for `registry` (a host such as `quay.io`, or any key form such as
    /// `https://index.docker.io/v1/`), running its credential helper if it has one.
    ///
    /// `Ok(None)` means anonymous: no helper knows the registry and the file has no entry.
    ///
    /// # Errors
    /// The registry's credential helper is missing, fails or times out (unlike
    /// [`get_image_registry_auth`], which logs that and falls back to the file's entry).
    pub fn get_registry_auth(&self, registry: &str) -> Result<Option<AuthConfig>> {
        let registry = normalize_registry(registry);
        let entry = self.entry(&registry);
        if let Some(helper) = self.helper_for(&registry) {
            if let Some(mut creds) = self.run_helper(helper, &server_url(&registry))? {
                if let Some(e) = entry {
                    creds.email = e.email.clone();
                }
                return Ok(Some(creds));
            }
        }
        Ok(entry.cloned())
    }

    /// The `auths` entry for a normalised registry. Several keys may name the same registry
    /// (`docker.io` and `https://index.docker.io/v1/`): the one spelled like the registry wins,
    /// then the Docker Hub key, then the smallest, so the choice never depends on map order.
    fn entry(&self, registry: &str) -> Option<&AuthConfig> {
        self.configs
            .iter()
            .filter(|(k, _)| normalize_registry(k) == registry)
            .min_by_key(|(k, _)| (k.as_str() != registry, k.as_str() != DOCKER_HUB_SERVER, *k))
            .map(|(_, v)| v)
    }

    fn helper_for(&self, registry: &str) -> Option<&str> {
        self.cred_helpers
            .iter()
            .filter(|(k, _)| normalize_registry(k) == registry)
            .min_by_key(|(k, _)| (k.as_str() != registry, *k))
            .map(|(_, v)| v.as_str())
            .or(self.creds_store.as_deref())
    }

    /// Runs `docker-credential-<name> get` with `server` on stdin; `Ok(None)` when the helper
    /// has no credentials for it.
    fn run_helper(&self, name: &str, server: &str) -> Result<Option<AuthConfig>> {
        if name.is_empty() || name.contains('/') || name.contains('\0') {
            return Err(Error::InvalidInput(format!(
                "invalid credential helper name {name:?}"
            )));
        }
        let program = format!("docker-credential-{name}");
        let path = match &self.helper_dir {
            Some(dir) => dir.join(&program),
            None => PathBuf::from(&program),
        };
        let mut child = Command::new(&path)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    Error::other(format!(
                        "credential helper {program}: executable file not found"
                    ))
                } else {
                    Error::other(format!("credential helper {program}: {e}"))
                }
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading its input is judged by its answer below.
            let _ = stdin.write_all(server.as_bytes());
        }
        // Read stdout on a thread so that a chatty helper cannot block on a full pipe while
        // this thread waits for it to exit.
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            let reader = thread::Builder::new()
                .name("credential-helper".into())
                .spawn(move || {
                    let mut out = Vec::new();
                    let _ = stdout.take(MAX_HELPER_OUTPUT).read_to_end(&mut out);
                    let _ = tx.send(out);
                });
            if let Err(e) = reader {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::other(format!("credential helper {program}: {e}")));
            }
        }
        let timeout = self.helper_timeout;
        let timed_out = || Error::Timeout {
            what: format!("credential helper {program}"),
            after: timeout,
        };
        // `None`: a timeout too long to be a point in time, i.e. none.
        let deadline = Instant::now().checked_add(timeout);
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) => {}
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(Error::other(format!("credential helper {program}: {e}")));
                }
            }
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if left.is_some_and(|l| l.is_zero()) {
                let _ = child.kill();
                let _ = child.wait();
                return Err(timed_out());
            }
            thread::sleep(left.map_or(pause, |l| pause.min(l)));
            pause = (pause * 2).min(Duration::from_millis(20));
        };
        // The pipe closes when the helper exits, unless a process it started keeps it open:
        // wait only as long as the deadline allows.
        let out = match deadline {
            Some(d) => {
                let wait = d
                    .saturating_duration_since(Instant::now())
                    .max(Duration::from_millis(100));
                rx.recv_timeout(wait).map_err(|_| timed_out())?
            }
            None => rx.recv().map_err(|_| timed_out())?,
        };
        parse_helper_output(&program, server, status.success(), &out)
    }
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
struct HelperCredentials {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

fn parse_helper_output(
    program: &str,
    server: &str,
    success: bool,
    out: &[u8],
) -> Result<Option<AuthConfig>> {
    if !success {
        let message = String::from_utf8_lossy(out).trim().to_string();
        if message == HELPER_NOT_FOUND {
            return Ok(None);
        }
        // The message goes into errors and logs: a helper that printed credentials and then
        // failed must not leak them there.
        let message = if message.contains("\"Secret\"") {
            "(its output is not shown: it holds a secret)".to_string()
        } else {
            message
        };
        return Err(Error::other(format!(
            "error getting credentials from {program}: {message}"
        )));
    }
    // The output holds the secret: report where it is malformed, never what it says.
    let creds: HelperCredentials = serde_json::from_slice(out).map_err(|e| {
        Error::other(format!(
            "credential helper {program} printed malformed JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if creds.username.is_empty() && creds.secret.is_empty() {
        return Ok(None);
    }
    let mut auth = AuthConfig {
        server_address: server.to_string(),
        ..AuthConfig::default()
    };
    // Helpers store identity tokens under the user name `<token>` (docker CLI convention).
    if creds.username == "<token>" {
        auth.identity_token = creds.secret;
    } else {
        auth.username = creds.username;
        auth.password = creds.secret;
    }
    Ok(Some(auth))
}

/// The server URL a helper is asked about: Docker Hub's key for Hub, else the registry host.
fn server_url(registry: &str) -> String {
    if registry == HUB {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    }
}

/// A registry key in comparable form: no scheme, no trailing `/`, `/v1` or `/v2`, the host
/// lower-cased, and every Docker Hub name as `docker.io`.
pub(crate) fn normalize_registry(key: &str) -> String {
    let mut k = key.trim();
    for scheme in ["https://", "http://"] {
        // `get`, not indexing: the key is read from a file and may hold any character.
        if let Some(rest) = k
            .get(..scheme.len())
            .filter(|p| p.eq_ignore_ascii_case(scheme))
            .and_then(|_| k.get(scheme.len()..))
        {
            k = rest;
            break;
        }
    }
    k = k.trim_end_matches('/');
    for version in ["/v1", "/v2"] {
        if let Some(rest) = k.strip_suffix(version) {
            k = rest.trim_end_matches('/');
            break;
        }
    }
    let (host, path) = match k.find('/') {
        Some(i) => (&k[..i], &k[i..]),
        None => (k, ""),
    };
    let host = host.to_ascii_lowercase();
    if path.is_empty() && HUB_ALIASES.contains(&host.as_str()) {
        return HUB.to_string();
    }
    format!("{host}{path}")
}

/// The normalised registry an image is pulled from; `Ok(None)` when its name has no domain.
///
/// # Errors
/// The name is not a valid image reference.
fn image_registry(image: &str) -> Result<Option<String>> {
    let r = crate::image_ref::parse_normalized_named(image)?;
    if r.domain.is_empty() {
        return Ok(None);
    }
    Ok(Some(normalize_registry(&r.domain)))
}

fn parse_config(doc: &[u8]) -> Result<AuthConfigurations> {
    let value: Value = serde_json::from_slice(doc).map_err(|e| Error::Decode {
        what: "docker config".into(),
        source: e,
    })?;
    let Value::Object(top) = value else {
        return Err(Error::InvalidInput(
            "docker config: the document is not a JSON object".into(),
        ));
    };
    let mut out = AuthConfigurations::default();
    match get_ci(&top, "auths") {
        Some(Value::Object(auths)) => {
            for (registry, entry) in auths {
                add_entry(&mut out.configs, registry, entry)?;
            }
        }
        Some(Value::Null) => {}
        Some(_) => {
            return Err(Error::InvalidInput(
                "docker config: \"auths\" is not an object".into(),
            ))
        }
        None => {
            // A legacy `.dockercfg`: the registries are the top-level keys.
            for (registry, entry) in &top {
                if let Value::Object(fields) = entry {
                    if get_ci(fields, "auth").is_some() {
                        add_entry(&mut out.configs, registry, entry)?;
                    }
                }
            }
        }
    }
    match get_ci(&top, "credsStore") {
        Some(Value::String(s)) if !s.is_empty() => out.creds_store = Some(s.clone()),
        Some(Value::String(_)) | Some(Value::Null) | None => {}
        Some(_) => log::warn!("docker config: ignoring \"credsStore\": not a string"),
    }
    match get_ci(&top, "credHelpers") {
        Some(Value::Object(helpers)) => {
            for (registry, helper) in helpers {
                match helper {
                    Value::String(h) if !h.is_empty() => {
                        out.cred_helpers.insert(registry.clone(), h.clone());
                    }
                    _ => log::warn!(
                        "docker config: ignoring the credential helper of registry {registry:?}: not a name"
                    ),
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => log::warn!("docker config: ignoring \"credHelpers\": not an object"),
    }
    Ok(out)
}

/// A key of a JSON object, matched exactly or else case-insensitively (as Go's decoder does).
fn get_ci<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn entry_error(registry: &str, what: impl std::fmt::Display) -> Error {
    Error::InvalidInput(format!("docker config: registry {registry:?}: {what}"))
}

fn add_entry(
    configs: &mut HashMap<String, AuthConfig>,
    registry: &str,
    entry: &Value,
) -> Result<()> {
    let Value::Object(fields) = entry else {
        return Err(entry_error(registry, "the entry is not an object"));
    };
    let field = |name: &str| -> Result<String> {
        match get_ci(fields, name) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(_) => Err(entry_error(registry, format!("{name:?} is not a string"))),
        }
    };
    let auth = field("auth")?;
    let email = field("email")?;
    let identity_token = field("identitytoken")?;
    let (username, password) = if auth.is_empty() {
        (field("username")?, field("password")?)
    } else {
        decode_auth(registry, &auth)?
    };
    if username.is_empty() && password.is_empty() && identity_token.is_empty() {
        return Ok(());
    }
    configs.insert(
        registry.to_string(),
        AuthConfig {
            username,
            password,
            email,
            server_address: registry.to_string(),
            identity_token,
            registry_token: String::new(),
        },
    );
    Ok(())
}

/// `base64(user:password)` → `(user, password)`, split at the first colon.
fn decode_auth(registry: &str, auth: &str) -> Result<(String, String)> {
    // Go's decoder skips line breaks inside the data.
    let compact: String = auth.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    let bytes = AUTH_BASE64.decode(compact.as_bytes()).map_err(|e| {
        entry_error(
            registry,
            format!("cannot decode \"auth\": {}", base64_error(&e)),
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    match text.split_once(':') {
        Some((user, password)) => Ok((user.to_string(), password.to_string())),
        // Without a colon the whole value may be the secret (a token pasted without a user
        // name): the reference printed it; only its length is shown here.
        None => Err(entry_error(
            registry,
            format!(
                "cannot parse username/password from [<redacted {} bytes>]",
                bytes.len()
            ),
        )),
    }
}

/// A base64 error without the offending byte (which is part of the secret).
fn base64_error(e: &base64::DecodeError) -> String {
    match e {
        base64::DecodeError::InvalidByte(offset, _)
        | base64::DecodeError::InvalidLastSymbol(offset, _) => {
            format!("illegal base64 data at input byte {offset}")
        }
        base64::DecodeError::InvalidLength(_) => "illegal base64 data: invalid length".into(),
        base64::DecodeError::InvalidPadding => "illegal base64 data: invalid padding".into(),
    }
}

/// Reads a docker config, or logs why it could not and returns `None` (the reference's
/// `LoadImageRegistryAuth`).
///
/// The log line is the reference's `Unable to load docker config: <err>`, at error level (the
/// reference's `error: ` prefix is the level here).
///
/// # Example
/// ```
/// use s2i_docker::load_image_registry_auth;
///
/// assert!(load_image_registry_auth(&br#"{"auths": {}}"#[..]).is_some());
/// assert!(load_image_registry_auth(&b"not json"[..]).is_none());
/// ```
pub fn load_image_registry_auth(reader: impl Read) -> Option<AuthConfigurations> {
    match AuthConfigurations::new(reader) {
        Ok(a) => Some(a),
        Err(e) => {
            log::error!("Unable to load docker config: {e}");
            None
        }
    }
}

/// The credentials to pull `image_name` with (the reference's `GetImageRegistryAuth`).
///
/// Anonymous (empty) when `auths` is `None`, when the name does not parse (logged as
/// `Failed to parse docker reference <name>` at error level), or when nothing matches the image's
/// registry; see the [module docs](self) for the matching. A credential helper that fails is
/// logged as a warning and costs only this registry's helper credentials.
///
/// # Example
/// ```
/// use s2i_docker::{get_image_registry_auth, AuthConfigurations};
///
/// // base64("user:pass") for Docker Hub, base64("q:p") for quay.io.
/// let config = r#"{"auths": {"docker.io": {"auth": "dXNlcjpwYXNz"},
///                            "https://quay.io": {"auth": "cTpw"}}}"#;
/// let auths = AuthConfigurations::new(config.as_bytes())?;
/// assert_eq!(get_image_registry_auth(Some(&auths), "busybox").username, "user");
/// assert_eq!(get_image_registry_auth(Some(&auths), "quay.io/org/app:1").username, "q");
/// // No entry for this registry, and Docker Hub's credentials stay with Docker Hub.
/// assert!(get_image_registry_auth(Some(&auths), "registry.example.com/app").is_empty());
/// assert!(get_image_registry_auth(None, "busybox").is_empty());
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn get_image_registry_auth(auths: Option<&AuthConfigurations>, image_name: &str) -> AuthConfig {
    let Some(auths) = auths else {
        return AuthConfig::default();
    };
    let registry = match image_registry(image_name) {
        Ok(Some(r)) => r,
        Ok(None) => return AuthConfig::default(),
        Err(_) => {
            log::error!("Failed to parse docker reference {image_name}");
            return AuthConfig::default();
        }
    };
    match auths.get_registry_auth(&registry) {
        Ok(found) => found.unwrap_or_default(),
        Err(e) => {
            log::warn!("Cannot get the credentials of registry {registry} for {image_name}: {e}");
            auths.entry(&registry).cloned().unwrap_or_default()
        }
    }
}

/// The engine's JSON form of credentials, field names and order as the Engine API has them.
#[derive(Serialize)]
struct WireAuth<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    username: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    password: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    auth: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    email: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    serveraddress: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    identitytoken: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    registrytoken: &'a str,
}

/// The `X-Registry-Auth` value for `auth`: URL-safe base64, with padding, of its JSON followed
/// by a newline (as Go's JSON stream encoder writes it). Empty fields are left out, so no
/// credentials encode to `e30K` (`{}` and a newline).
///
/// ```
/// use s2i_docker::{auth::encode_auth, AuthConfig};
/// let auth = AuthConfig {
///     username: "u".into(),
///     password: "p".into(),
///     email: "e".into(),
///     server_address: "quay.io".into(),
///     ..Default::default()
/// };
/// assert_eq!(
///     encode_auth(&auth)?,
///     "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJlbWFpbCI6ImUiLCJzZXJ2ZXJhZGRyZXNzIjoicXVheS5pbyJ9Cg=="
/// );
/// assert_eq!(encode_auth(&AuthConfig::default())?, "e30K");
/// # Ok::<(), s2i_docker::Error>(())
/// ```
///
/// # Errors
/// Only if JSON encoding fails, which it does not for strings.
pub fn encode_auth(auth: &AuthConfig) -> Result<String> {
    let wire = WireAuth {
        username: &auth.username,
        password: &auth.password,
        auth: "",
        email: &auth.email,
        serveraddress: &auth.server_address,
        identitytoken: &auth.identity_token,
        registrytoken: &auth.registry_token,
    };
    let mut json = serde_json::to_vec(&wire)?;
    json.push(b'\n');
    Ok(URL_SAFE.encode(json))
}

/// The `(name, value)` of the `X-Registry-Auth` header for `auth`.
///
/// # Errors
/// As [`encode_auth`].
pub fn registry_auth_header(auth: &AuthConfig) -> Result<(&'static str, String)> {
    Ok((REGISTRY_AUTH_HEADER, encode_auth(auth)?))
}

/// Where the docker CLI keeps its config: `$DOCKER_CONFIG/config.json` when `DOCKER_CONFIG` is
/// set, else `~/.docker/config.json`.
///
/// The home directory is `$HOME`, or the current user's entry in `/etc/passwd` when `HOME` is
/// unset or empty.
pub fn docker_config_path() -> PathBuf {
    config_path(
        std::env::var_os("DOCKER_CONFIG"),
        std::env::var_os("HOME"),
        passwd_home,
    )
}

fn config_path(
    docker_config: Option<OsString>,
    home: Option<OsString>,
    passwd_home: impl FnOnce() -> Option<PathBuf>,
) -> PathBuf {
    let dir = match docker_config.filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let home = match home.filter(|h| !h.is_empty()) {
                Some(h) => PathBuf::from(h),
                None => passwd_home().unwrap_or_default(),
            };
            home.join(".docker")
        }
    };
    dir.join("config.json")
}

/// The home directory of the process's real user, from `/etc/passwd`.
fn passwd_home() -> Option<PathBuf> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status_uid(&status)?;
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    home_of_uid(&passwd, uid)
}

/// The real UID from `/proc/self/status` (`Uid:\treal\teffective\tsaved\tfs`).
fn status_uid(status: &str) -> Option<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|uid| uid.parse().ok())
}

/// The home field of the first `/etc/passwd` line with `uid`.
fn home_of_uid(passwd: &str, uid: u32) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [_, _, u, _, _, home, ..] if u.parse() == Ok(uid) && !home.is_empty() => {
                Some(PathBuf::from(home))
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn load(doc: &str) -> Result<AuthConfigurations> {
        AuthConfigurations::new(doc.as_bytes())
    }

    fn creds(a: &AuthConfig) -> (&str, &str, &str, &str) {
        (
            a.username.as_str(),
            a.password.as_str(),
            a.email.as_str(),
            a.server_address.as_str(),
        )
    }

    const TWO: &str = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw","email":"e@x"},"quay.io":{"auth":"cXU6cXA6ZXh0cmE="}}}"#;

    #[test]
    fn parse_table() {
        // §5.2's verified cases.
        let a = load(TWO).unwrap();
        assert_eq!(a.configs.len(), 2);
        assert_eq!(
            creds(&a.configs["https://index.docker.io/v1/"]),
            ("u", "p", "e@x", "https://index.docker.io/v1/")
        );
        assert_eq!(
            creds(&a.configs["quay.io"]),
            ("qu", "qp:extra", "", "quay.io")
        );

        let legacy =
            load(r#"{"https://index.docker.io/v1/":{"auth":"dTpw","email":"e@x"}}"#).unwrap();
        assert_eq!(legacy.configs.len(), 1);
        assert_eq!(
            creds(&legacy.configs["https://index.docker.io/v1/"]),
            ("u", "p", "e@x", "https://index.docker.io/v1/")
        );

        assert!(load(r#"{"auths":{}}"#).unwrap().configs.is_empty());

        let only_email =
            load(r#"{"auths":{"x":{"email":"only"}},"credsStore":"desktop"}"#).unwrap();
        assert!(only_email.configs.is_empty());
        assert_eq!(only_email.creds_store(), Some("desktop"));

        // Changed by decision 8: the reference failed here (a string where it wanted an
        // entry); the legacy entry is read and the helper name kept.
        let mixed = load(r#"{"x":{"auth":"YTpi"},"credsStore":"desktop"}"#).unwrap();
        assert_eq!(creds(&mixed.configs["x"]), ("a", "b", "", "x"));
        assert_eq!(mixed.creds_store(), Some("desktop"));

        // The decoded value (`nocolon`) may be a token: never shown, in Display or Debug.
        let e = load(r#"{"auths":{"x":{"auth":"bm9jb2xvbg=="}}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"docker config: registry "x": cannot parse username/password from [<redacted 7 bytes>]"#
        );
        assert!(!format!("{e:?}").contains("nocolon"), "{e:?}");

        let e = load(r#"{"auths":{"x":{"auth":"!!notbase64"}}}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"docker config: registry "x": cannot decode "auth": illegal base64 data at input byte 0"#
        );

        let e = load("not json").unwrap_err();
        assert!(matches!(e, Error::Decode { .. }), "{e:?}");
        assert!(
            e.to_string().starts_with("cannot decode docker config"),
            "{e}"
        );
    }

    #[test]
    fn parse_more() {
        // Unpadded and line-wrapped base64 (the reference required padding).
        let a = load(r#"{"auths":{"r":{"auth":"dXNlcjpwdw"},"s":{"auth":"dXNl\r\ncjpwdw=="}}}"#)
            .unwrap();
        assert_eq!(creds(&a.configs["r"]).0, "user");
        assert_eq!(creds(&a.configs["s"]).1, "pw");

        // Everything a modern docker writes beside `auths` is ignored.
        let full = r#"{
            "auths": {"quay.io": {"auth": "dTpw"}, "https://index.docker.io/v1/": {}},
            "HttpHeaders": {"User-Agent": "Docker-Client/19.03"},
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud", "bad": 5},
            "experimental": "enabled",
            "plugins": {"x": {"y": "z"}},
            "psFormat": "table {{.ID}}",
            "currentContext": "default",
            "detachKeys": 1
        }"#;
        let a = load(full).unwrap();
        assert_eq!(a.configs.keys().collect::<Vec<_>>(), ["quay.io"]);
        assert_eq!(a.creds_store(), Some("desktop"));
        assert_eq!(a.cred_helpers().len(), 1);
        assert_eq!(a.cred_helpers()["gcr.io"], "gcloud");

        // Identity tokens, plain username/password fields, case-insensitive keys.
        let a = load(
            r#"{"AUTHS":{"t.io":{"identitytoken":"tok"},"p.io":{"username":"pu","password":"pp"},"c.io":{"Auth":"YTpi","EMAIL":"m"}}}"#,
        )
        .unwrap();
        assert_eq!(a.configs["t.io"].identity_token, "tok");
        assert_eq!(a.configs["t.io"].username, "");
        assert_eq!(creds(&a.configs["p.io"]), ("pu", "pp", "", "p.io"));
        assert_eq!(creds(&a.configs["c.io"]), ("a", "b", "m", "c.io"));

        // Legacy maps: only objects with `auth` are entries.
        let a = load(r#"{"r.io":{"auth":"YTpi"},"HttpHeaders":{"X":"y"},"other":{"email":"e"}}"#)
            .unwrap();
        assert_eq!(a.configs.keys().collect::<Vec<_>>(), ["r.io"]);

        // `null` auths is an empty config.
        assert!(load(r#"{"auths":null}"#).unwrap().configs.is_empty());
    }

    #[test]
    fn malformed_entries_name_the_registry_not_the_secret() {
        // base64("user:hunter2")
        let cases: &[(&str, &str)] = &[
            (
                r#"{"auths":{"r.io":{"auth":"dXNlcjpodW50ZXIy","email":5}}}"#,
                r#"docker config: registry "r.io": "email" is not a string"#,
            ),
            (
                r#"{"auths":{"r.io":{"auth":7}}}"#,
                r#"docker config: registry "r.io": "auth" is not a string"#,
            ),
            (
                r#"{"auths":{"r.io":"dXNlcjpodW50ZXIy"}}"#,
                r#"docker config: registry "r.io": the entry is not an object"#,
            ),
            (
                r#"{"auths":{"r.io":{"auth":"dXNlcjpodW50ZXIy!"}}}"#,
                r#"docker config: registry "r.io": cannot decode "auth": illegal base64 data at input byte 16"#,
            ),
            (
                r#"{"auths":{"r.io":{"auth":"dXNlcjpodW50ZXIyA"}}}"#,
                r#"docker config: registry "r.io": cannot decode "auth": illegal base64 data: invalid length"#,
            ),
            (
                r#"{"auths":"x"}"#,
                r#"docker config: "auths" is not an object"#,
            ),
            ("[1]", "docker config: the document is not a JSON object"),
        ];
        for &(doc, want) in cases {
            let e = load(doc).unwrap_err();
            let text = e.to_string();
            assert_eq!(text, want, "{doc}");
            assert!(!text.contains("hunter2") && !text.contains("dXNlcjpodW50ZXIy"));
            assert!(load_image_registry_auth(doc.as_bytes()).is_none());
        }
        assert!(load_image_registry_auth(TWO.as_bytes()).is_some());
    }

    #[test]
    fn too_large_configs_are_refused() {
        let big = io::repeat(b' ').take(MAX_CONFIG_BYTES + 10);
        let e = AuthConfigurations::new(big).unwrap_err();
        assert!(e.to_string().contains("larger than"), "{e}");
    }

    #[test]
    fn registry_normalisation() {
        let cases: &[(&str, &str)] = &[
            ("https://index.docker.io/v1/", "docker.io"),
            ("index.docker.io", "docker.io"),
            ("registry-1.docker.io", "docker.io"),
            ("docker.io", "docker.io"),
            ("http://docker.io/", "docker.io"),
            ("HTTPS://Index.Docker.IO/v1", "docker.io"),
            ("https://quay.io", "quay.io"),
            ("quay.io/", "quay.io"),
            ("https://quay.io/v2/", "quay.io"),
            ("quay.io/v1", "quay.io"),
            ("QUAY.IO", "quay.io"),
            ("localhost:5000", "localhost:5000"),
            ("http://localhost:5000/v2/", "localhost:5000"),
            ("quay.io/org", "quay.io/org"),
            // Docker Desktop's token keys are not the Hub entry.
            (
                "https://index.docker.io/v1/access-token",
                "index.docker.io/v1/access-token",
            ),
        ];
        for &(key, want) in cases {
            assert_eq!(normalize_registry(key), want, "{key:?}");
        }
        // Keys come from a file: a multi-byte character where a scheme would end is no scheme.
        assert_eq!(normalize_registry("https:/\u{e9}x"), "https:/\u{e9}x");
        assert_eq!(normalize_registry("http:/\u{e9}"), "http:/\u{e9}");
        let doc = "{\"auths\":{\"https:/\u{e9}x\":{\"auth\":\"dTpw\"}}}";
        let auths = load(doc).unwrap();
        assert_eq!(auths.get_registry_auth("quay.io").unwrap(), None);
    }

    #[test]
    fn image_registries() {
        // §5.3's derivation table.
        let digest = format!("foo@sha256:{}", "a".repeat(64));
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("busybox", Some("docker.io")),
            ("library/busybox", Some("docker.io")),
            ("docker.io/busybox", Some("docker.io")),
            ("index.docker.io/busybox", Some("docker.io")),
            ("foo/bar/baz", Some("docker.io")),
            ("quay.io/foo/bar:tag", Some("quay.io")),
            ("quay.io/bar", Some("quay.io")),
            ("localhost/foo", Some("localhost")),
            ("localhost:5000/foo/bar", Some("localhost:5000")),
            ("myreg:5000/a/b/c:t", Some("myreg:5000")),
            ("registry.example.com/a/b/c", Some("registry.example.com")),
            (&digest, Some("docker.io")),
            // Changed by decision 8: the reference saw no registry here and fell back to the
            // Hub entry; the engine pulls from host `Foo`, so that is the registry.
            ("Foo/bar", Some("foo")),
        ];
        for (image, want) in cases {
            assert_eq!(image_registry(image).unwrap().as_deref(), want, "{image:?}");
        }
        for bad in ["BUSYBOX", "foo/Bar", "", "foo:", "https://quay.io/foo"] {
            assert!(image_registry(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lookup_table() {
        let a = load(TWO).unwrap();
        let get = |image: &str| get_image_registry_auth(Some(&a), image);
        assert_eq!(
            creds(&get("busybox")),
            ("u", "p", "e@x", "https://index.docker.io/v1/")
        );
        assert_eq!(get("docker.io/library/busybox:1"), get("busybox"));
        assert_eq!(
            creds(&get("quay.io/foo/bar")),
            ("qu", "qp:extra", "", "quay.io")
        );
        // Changed by decision 8: the reference sent the Hub credentials here.
        assert!(get("registry.example.com/x").is_empty());
        assert!(get("localhost:5000/x").is_empty());
        assert!(get("Foo/bar").is_empty());
        // Parse errors are anonymous.
        for bad in ["BUSYBOX", "foo/Bar", "", "https://quay.io/foo"] {
            assert!(get(bad).is_empty(), "{bad:?}");
        }
        assert!(get_image_registry_auth(None, "busybox").is_empty());

        let b =
            load(r#"{"auths":{"docker.io":{"auth":"aDpw"},"https://quay.io":{"auth":"cTpw"}}}"#)
                .unwrap();
        assert_eq!(get_image_registry_auth(Some(&b), "busybox").username, "h");
        // Changed by decision 8: `https://quay.io` now matches quay.io images.
        assert_eq!(
            get_image_registry_auth(Some(&b), "quay.io/foo/bar").username,
            "q"
        );
        // ... and only them.
        assert!(get_image_registry_auth(Some(&b), "quay.io.evil.com/foo").is_empty());
    }

    #[test]
    fn several_keys_for_one_registry_choose_deterministically() {
        let doc = r#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"aHViOnA="},
            "docker.io":{"auth":"ZGlvOnA="},
            "index.docker.io":{"auth":"aWR4OnA="}}}"#;
        for _ in 0..20 {
            let a = load(doc).unwrap();
            assert_eq!(get_image_registry_auth(Some(&a), "busybox").username, "dio");
        }
        let doc = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"aHViOnA="},"index.docker.io":{"auth":"aWR4OnA="}}}"#;
        let a = load(doc).unwrap();
        assert_eq!(
            a.get_registry_auth("docker.io").unwrap().unwrap().username,
            "hub"
        );
    }

    #[test]
    fn encoding() {
        let auth = AuthConfig {
            username: "u".into(),
            password: "p".into(),
            email: "e".into(),
            server_address: "quay.io".into(),
            ..Default::default()
        };
        assert_eq!(
            encode_auth(&auth).unwrap(),
            "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJlbWFpbCI6ImUiLCJzZXJ2ZXJhZGRyZXNzIjoicXVheS5pbyJ9Cg=="
        );
        assert_eq!(encode_auth(&AuthConfig::default()).unwrap(), "e30K");
        // URL-safe alphabet: `???>>>` encodes to `/` and `+` in the standard one.
        let tricky = AuthConfig {
            password: "???>>>~~~".into(),
            identity_token: "t".into(),
            registry_token: "r".into(),
            ..Default::default()
        };
        let enc = encode_auth(&tricky).unwrap();
        assert!(!enc.contains('+') && !enc.contains('/'), "{enc}");
        let json = URL_SAFE.decode(&enc).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            "{\"password\":\"???>>>~~~\",\"identitytoken\":\"t\",\"registrytoken\":\"r\"}\n"
        );
        let std_enc = base64::engine::general_purpose::STANDARD.encode(
            b"{\"password\":\"???>>>~~~\",\"identitytoken\":\"t\",\"registrytoken\":\"r\"}\n",
        );
        assert!(std_enc.contains('/') || std_enc.contains('+'), "{std_enc}");
        let (name, value) = registry_auth_header(&auth).unwrap();
        assert_eq!(name, "X-Registry-Auth");
        assert_eq!(value, encode_auth(&auth).unwrap());
    }

    #[test]
    fn config_location() {
        let none = || -> Option<PathBuf> { panic!("passwd must not be read") };
        assert_eq!(
            config_path(Some("/cfg".into()), Some("/home/u".into()), none),
            Path::new("/cfg/config.json")
        );
        assert_eq!(
            config_path(Some("".into()), Some("/home/u".into()), none),
            Path::new("/home/u/.docker/config.json")
        );
        assert_eq!(
            config_path(None, Some("/home/u".into()), none),
            Path::new("/home/u/.docker/config.json")
        );
        assert_eq!(
            config_path(None, Some("".into()), || Some("/root".into())),
            Path::new("/root/.docker/config.json")
        );
        assert_eq!(
            config_path(None, None, || None),
            Path::new(".docker/config.json")
        );
        assert_eq!(
            status_uid("Name:\tx\nUid:\t1000\t1001\t1000\t1000\nGid:\t5\n"),
            Some(1000)
        );
        assert_eq!(status_uid("Name:\tx\n"), None);
        let passwd = "# comment\nroot:x:0:0:root:/root:/bin/bash\nbad line\nu:x:1000:1000::/home/u:/bin/sh\nnohome:x:7:7:::\n";
        assert_eq!(home_of_uid(passwd, 0), Some(PathBuf::from("/root")));
        assert_eq!(home_of_uid(passwd, 1000), Some(PathBuf::from("/home/u")));
        assert_eq!(home_of_uid(passwd, 7), None);
        assert_eq!(home_of_uid(passwd, 42), None);
        // The real lookup works on this machine (whatever user runs the tests).
        assert!(passwd_home().is_some());
        assert!(docker_config_path().ends_with("config.json"));
    }

    #[test]
    fn files() {
        let dir = TempDir::new("files");
        assert!(AuthConfigurations::from_file(&dir.0.join("missing.json"))
            .unwrap()
            .is_none());
        let p = dir.0.join("config.json");
        std::fs::write(&p, TWO).unwrap();
        let a = AuthConfigurations::from_file(&p).unwrap().unwrap();
        assert_eq!(a.configs.len(), 2);
        // A directory cannot be read as a file.
        assert!(AuthConfigurations::from_file(&dir.0).is_err());
    }

    // ---- credential helpers

    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "s2i-auth-test-{}-{tag}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }

        /// Installs `docker-credential-<name>` with `body` as its shell script.
        ///
        /// The file is written by a child process: if this process held it open for writing
        /// while another test thread forks, running it could fail with "text file busy".
        fn helper(&self, name: &str, body: &str) {
            let path = self.0.join(format!("docker-credential-{name}"));
            let script = format!("#!/bin/sh\n{body}\n");
            let ok = Command::new("sh")
                .arg("-c")
                .arg("printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"")
                .arg("sh")
                .arg(script)
                .arg(&path)
                .status()
                .unwrap()
                .success();
            assert!(ok);
        }

        /// What the helpers recorded: one `name:stdin` line per call.
        fn calls(&self) -> Vec<String> {
            std::fs::read_to_string(self.0.join("calls"))
                .unwrap_or_default()
                .lines()
                .map(String::from)
                .collect()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A helper that records its call and answers `user`/`secret`.
    fn answering(name: &str, user: &str, secret: &str) -> String {
        format!(
            r#"[ "$1" = get ] || exit 9
url=$(cat)
printf '{name}:%s\n' "$url" >> "$(dirname "$0")/calls"
printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{secret}"}}' "$url""#
        )
    }

    fn with_helpers(doc: &str, dir: &TempDir) -> AuthConfigurations {
        let mut a = load(doc).unwrap();
        a.set_helper_dir(dir.0.clone());
        a.set_helper_timeout(Duration::from_secs(20));
        a
    }

    #[test]
    fn helpers_are_asked_lazily_and_only_about_their_registry() {
        let dir = TempDir::new("helpers");
        dir.helper("quay", &answering("quay", "qu", "qsecret"));
        dir.helper("store", &answering("store", "su", "ssecret"));
        dir.helper("token", &answering("token", "<token>", "idtok"));
        let doc = r#"{
            "auths": {"r.io": {"auth": "ZmlsZTpmcA==", "email": "m@r"}, "file.io": {"auth": "ZmlsZTpmcA=="}},
            "credsStore": "store",
            "credHelpers": {"https://quay.io": "quay", "t.io": "token", "file.io": "missing"}
        }"#;
        let a = with_helpers(doc, &dir);
        assert!(dir.calls().is_empty(), "loading runs no helper");

        // credHelpers first, asked with exactly the registry host.
        let q = get_image_registry_auth(Some(&a), "quay.io/app/x:1");
        assert_eq!(creds(&q), ("qu", "qsecret", "", "quay.io"));
        assert_eq!(dir.calls(), ["quay:quay.io"]);

        // credsStore for everything else, Docker Hub asked as its canonical server URL; the
        // file's email is kept beside the helper's credentials.
        let hub = get_image_registry_auth(Some(&a), "busybox");
        assert_eq!(creds(&hub), ("su", "ssecret", "", DOCKER_HUB_SERVER));
        let r = get_image_registry_auth(Some(&a), "r.io/x");
        assert_eq!(creds(&r), ("su", "ssecret", "m@r", "r.io"));
        assert_eq!(
            dir.calls(),
            [
                "quay:quay.io",
                &format!("store:{DOCKER_HUB_SERVER}"),
                "store:r.io"
            ]
        );

        // `<token>` is an identity token.
        let t = a.get_registry_auth("t.io").unwrap().unwrap();
        assert_eq!(
            (t.username.as_str(), t.identity_token.as_str()),
            ("", "idtok")
        );
        assert!(t.password.is_empty());

        // A missing helper: an error from get_registry_auth, the file's entry from
        // get_image_registry_auth.
        let e = a.get_registry_auth("file.io").unwrap_err();
        assert!(e.to_string().contains("docker-credential-missing"), "{e}");
        let f = get_image_registry_auth(Some(&a), "file.io/x");
        assert_eq!(creds(&f), ("file", "fp", "", "file.io"));
        assert_eq!(dir.calls().len(), 4);
    }

    #[test]
    fn helper_failures_cost_only_their_registry() {
        let dir = TempDir::new("failing");
        dir.helper(
            "notfound",
            "cat > /dev/null\necho 'credentials not found in native keychain'\nexit 1",
        );
        dir.helper(
            "broken",
            "cat > /dev/null\necho 'boom: keychain locked'\nexit 3",
        );
        dir.helper(
            "garbage",
            "cat > /dev/null\necho '{\"Username\": \"u\", \"Secret\": \"s3cr3t\"'",
        );
        dir.helper(
            "leaky",
            "cat > /dev/null\necho '{\"Username\": \"u\", \"Secret\": \"s3cr3t\"}'\nexit 1",
        );
        dir.helper("empty", "cat > /dev/null\necho '{}'");
        dir.helper("slow", "exec sleep 30");
        dir.helper("good", &answering("good", "gu", "gs"));
        let doc = r#"{
            "auths": {"nf.io": {"auth": "ZmlsZTpmcA=="}},
            "credHelpers": {"nf.io": "notfound", "nf2.io": "notfound", "broken.io": "broken",
                            "garbage.io": "garbage", "leaky.io": "leaky", "empty.io": "empty",
                            "slow.io": "slow",
                            "nope.io": "nope", "good.io": "good", "evil.io": "../good"}
        }"#;
        let mut a = with_helpers(doc, &dir);
        a.set_helper_timeout(Duration::from_millis(300));

        // Not found: the file's entry, or anonymous; neither is an error.
        assert_eq!(
            a.get_registry_auth("nf.io").unwrap().unwrap().username,
            "file"
        );
        assert!(a.get_registry_auth("nf2.io").unwrap().is_none());

        let e = a.get_registry_auth("broken.io").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error getting credentials from docker-credential-broken: boom: keychain locked"
        );
        let e = a.get_registry_auth("garbage.io").unwrap_err();
        assert!(e.to_string().contains("malformed JSON"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        let e = a.get_registry_auth("leaky.io").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(e.to_string().contains("docker-credential-leaky"), "{e}");
        assert!(a.get_registry_auth("empty.io").unwrap().is_none());
        let e = a.get_registry_auth("nope.io").unwrap_err();
        assert!(e.to_string().contains("executable file not found"), "{e}");
        let e = a.get_registry_auth("evil.io").unwrap_err();
        assert!(
            e.to_string().contains("invalid credential helper name"),
            "{e}"
        );

        let started = Instant::now();
        let e = a.get_registry_auth("slow.io").unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-slow timed out after 300ms"
        );
        assert!(started.elapsed() < Duration::from_secs(5));

        // Through get_image_registry_auth every failure is anonymous, and other registries
        // are unaffected.
        for image in [
            "broken.io/x",
            "garbage.io/x",
            "slow.io/x",
            "nope.io/x",
            "evil.io/x",
        ] {
            assert!(
                get_image_registry_auth(Some(&a), image).is_empty(),
                "{image}"
            );
        }
        assert_eq!(
            get_image_registry_auth(Some(&a), "good.io/x").username,
            "gu"
        );
        assert_eq!(dir.calls(), ["good:good.io"]);
        // A timeout too long to add to the clock is no limit, not an overflow.
        a.set_helper_timeout(Duration::MAX);
        assert_eq!(
            a.get_registry_auth("good.io").unwrap().unwrap().username,
            "gu"
        );
    }

    #[test]
    fn debug_shows_no_secret() {
        let a = load(r#"{"auths":{"r.io":{"auth":"dXNlcjpodW50ZXIy","identitytoken":"idtok"}}}"#)
            .unwrap();
        let d = format!("{a:?}");
        assert!(
            !d.contains("hunter2") && !d.contains("idtok") && !d.contains("dXNlcjpodW50ZXIy"),
            "{d}"
        );
    }
}
