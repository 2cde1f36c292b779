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
//! # Credentials per image, and for builds
//!
//! A [`DockerClient`](crate::DockerClient) takes its credentials from a
//! [`RegistryCredentials`] source (one [`AuthConfig`], a list, an [`AuthConfigurations`], or a
//! closure) and asks it for the registry of each image it pulls: [`credentials_for_image`].
//! Credentials whose `server_address` names another registry are never sent. A build sends,
//! in its [`REGISTRY_CONFIG_HEADER`], the credentials of every registry the source lists, as
//! `docker build` does with all configured registries, and those of its base images'
//! registries ([`encode_registry_config`]).
//!
//! Secrets (passwords, `auth` values, tokens) never appear in errors or logs.
//!
//! Auth may use `error`, `config` (for [`AuthConfig`]) and `image_ref` (to find an image's
//! registry) only. The config files are read in `auth/config_file.rs`, the helpers run in
//! `auth/helper.rs`.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;
use serde::Serialize;

use crate::config::AuthConfig;
use crate::error::Result;

mod config_file;
#[cfg(test)]
mod fixtures;
mod helper;
mod source;

pub use config_file::docker_config_path;
pub use source::{
    credentials_for_image, encode_registry_config, RegistryCredentials, REGISTRY_CONFIG_HEADER,
};

use helper::{run_helper, server_url};

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
    ///
    /// The helper's answer is taken when it exits, even if a process it started in the
    /// background still holds its output open (that process is not waited for).
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
            let server = server_url(&registry);
            let found = run_helper(
                helper,
                &server,
                self.helper_dir.as_deref(),
                self.helper_timeout,
            )?;
            if let Some(mut creds) = found {
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
    let mut json = serde_json::to_vec(&wire(auth))?;
    json.push(b'\n');
    Ok(URL_SAFE.encode(json))
}

/// The engine's JSON form of `auth`.
fn wire(auth: &AuthConfig) -> WireAuth<'_> {
    WireAuth {
        username: &auth.username,
        password: &auth.password,
        auth: "",
        email: &auth.email,
        serveraddress: &auth.server_address,
        identitytoken: &auth.identity_token,
        registrytoken: &auth.registry_token,
    }
}

/// The `(name, value)` of the `X-Registry-Auth` header for `auth`.
///
/// # Errors
/// As [`encode_auth`].
pub fn registry_auth_header(auth: &AuthConfig) -> Result<(&'static str, String)> {
    Ok((REGISTRY_AUTH_HEADER, encode_auth(auth)?))
}

#[cfg(test)]
mod tests {
    //! Registry keys and image registries, the lookup by image, and the header encoding.
    use super::*;
    use crate::auth::fixtures::*;

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
