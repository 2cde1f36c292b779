//! Docker CLI contexts: which one the environment selects and where its engine is.
//!
//! `docker context create NAME --docker host=...,ca=...,cert=...,key=...` writes the context
//! under the CLI's configuration directory ([`dir`](super::dir)): its endpoint to
//! `contexts/meta/<sha256 of NAME>/meta.json` and copies of its certificates to
//! `contexts/tls/<sha256 of NAME>/docker/{ca,cert,key}.pem`. `docker context use NAME` records
//! the name as `currentContext` in `config.json`; `DOCKER_CONTEXT` overrides that for one
//! process. This module reads exactly those files, so a context made by the CLI works here
//! unchanged.
//!
//! Uses error and serde; nothing else of the crate.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::sha256;
use crate::error::{Error, Result};

/// The name of the context that means "no context": the engine the environment names
/// (`DOCKER_HOST`, ...) or the platform's default socket.
pub const DEFAULT_CONTEXT: &str = "default";

/// The most of a `meta.json` or `config.json` that is read.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// A context's Docker endpoint, as `docker context inspect NAME` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The context's name.
    pub name: String,
    /// `Endpoints.docker.Host`: `unix:///...`, `tcp://...` or `ssh://...`; empty means the
    /// platform's default socket, as for the docker CLI.
    pub host: String,
    /// `Endpoints.docker.SkipTLSVerify`: speak TLS without verifying the daemon's certificate.
    pub skip_tls_verify: bool,
    /// `contexts/tls/<sha256 of the name>/docker`, where `ca.pem`, `cert.pem` and `key.pem`
    /// are, each used when present.
    pub tls_dir: PathBuf,
    /// Whether `tls_dir` holds any of the three files (then the context speaks TLS).
    pub has_tls_data: bool,
}

/// Why a context is selected, for the texts of errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selected {
    /// `DOCKER_CONTEXT`.
    Variable,
    /// `currentContext` in this `config.json`.
    ConfigFile(PathBuf),
    /// Asked for by name ([`DockerConfig::from_context`](super::DockerConfig::from_context)).
    Named,
}

impl Selected {
    /// Where the name came from and how to choose another, after the text of the error.
    fn hint(&self) -> String {
        match self {
            Selected::Variable => {
                " (from DOCKER_CONTEXT); unset DOCKER_CONTEXT or set it to an existing context"
                    .to_string()
            }
            Selected::ConfigFile(file) => format!(
                " (the currentContext of {}); choose another with `docker context use NAME` \
                 (`docker context use default` for the default engine)",
                file.display()
            ),
            Selected::Named => "; `docker context ls` lists the contexts".to_string(),
        }
    }
}

/// The directory names of a context: the SHA-256 of its name in hex, as the docker CLI names
/// them.
///
/// ```
/// use s2i_docker::ops::env::context::context_dir_name;
/// // As `docker context create s2i-probe ...` names its directories:
/// assert_eq!(
///     context_dir_name("s2i-probe"),
///     "ebe3100fb779c3ec180cb9587904e14322433b46a9a8d392cdaf75e3f3abf546"
/// );
/// ```
pub fn context_dir_name(name: &str) -> String {
    sha256::hex_digest(name.as_bytes())
}

/// The context the environment selects: `DOCKER_CONTEXT`, else `currentContext` in
/// `config_dir/config.json`; `None` for [`DEFAULT_CONTEXT`] or when neither names one.
///
/// A `config.json` that does not exist selects nothing; one that cannot be read or is not JSON
/// is an error naming it (the selected engine would otherwise be guessed).
pub(crate) fn selected(
    variable: Option<String>,
    config_dir: &Path,
) -> Result<Option<(String, Selected)>> {
    let (name, why) = match variable {
        Some(name) => (name, Selected::Variable),
        None => {
            let file = config_dir.join("config.json");
            match current_context(&file)? {
                Some(name) => (name, Selected::ConfigFile(file)),
                None => return Ok(None),
            }
        }
    };
    Ok((name != DEFAULT_CONTEXT).then_some((name, why)))
}

/// `currentContext` of a `config.json`, if the file exists and sets it.
fn current_context(file: &Path) -> Result<Option<String>> {
    #[derive(Deserialize)]
    struct ConfigFile {
        #[serde(rename = "currentContext", default)]
        current_context: String,
    }
    let Some(bytes) = read_capped(file)? else {
        return Ok(None);
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let config: ConfigFile = serde_json::from_slice(&bytes).map_err(|e| {
        Error::InvalidInput(format!(
            "cannot read the docker CLI configuration {}: {e}; fix or remove the file",
            file.display()
        ))
    })?;
    Ok(Some(config.current_context).filter(|n| !n.is_empty()))
}

/// Loads the context `name` from `config_dir/contexts`.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the context and the file looked for when it does not exist,
/// and naming the file when it cannot be read or is not a context's `meta.json`.
///
/// ```
/// use s2i_docker::ops::env::context;
///
/// let dir = std::env::temp_dir().join(format!("s2i-docker-context-doc-{}", std::process::id()));
/// let meta = dir.join("contexts/meta").join(context::context_dir_name("remote"));
/// std::fs::create_dir_all(&meta)?;
/// std::fs::write(
///     meta.join("meta.json"),
///     r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
/// )?;
/// let remote = context::load(&dir, "remote")?;
/// assert_eq!(remote.host, "tcp://10.0.0.5:2376");
/// assert!(!remote.has_tls_data);
///
/// let missing = context::load(&dir, "nope").unwrap_err().to_string();
/// assert!(missing.starts_with("docker context \"nope\" not found: "), "{missing}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn load(config_dir: &Path, name: &str) -> Result<Context> {
    load_selected(config_dir, name, &Selected::Named)
}

/// As [`load`], with the error saying why the context was selected.
pub(crate) fn load_selected(config_dir: &Path, name: &str, why: &Selected) -> Result<Context> {
    #[derive(Deserialize, Default)]
    struct Endpoint {
        #[serde(rename = "Host", default)]
        host: String,
        #[serde(rename = "SkipTLSVerify", default)]
        skip_tls_verify: bool,
    }
    #[derive(Deserialize, Default)]
    struct Endpoints {
        #[serde(default)]
        docker: Option<Endpoint>,
    }
    #[derive(Deserialize)]
    struct Meta {
        #[serde(rename = "Endpoints", default)]
        endpoints: Endpoints,
    }

    let hash = context_dir_name(name);
    let contexts = config_dir.join("contexts");
    let file = contexts.join("meta").join(&hash).join("meta.json");
    let Some(bytes) = read_capped(&file)? else {
        return Err(Error::InvalidInput(format!(
            "docker context \"{name}\" not found: {} does not exist{}",
            file.display(),
            why.hint()
        )));
    };
    let meta: Meta = serde_json::from_slice(&bytes).map_err(|e| {
        Error::InvalidInput(format!(
            "docker context \"{name}\": {} is not a context's meta.json: {e}",
            file.display()
        ))
    })?;
    let Some(endpoint) = meta.endpoints.docker else {
        return Err(Error::InvalidInput(format!(
            "docker context \"{name}\" has no docker endpoint (no Endpoints.docker in {})",
            file.display()
        )));
    };
    let tls_dir = contexts.join("tls").join(&hash).join("docker");
    let has_tls_data = ["ca.pem", "cert.pem", "key.pem"]
        .iter()
        .any(|f| super::existing(&tls_dir.join(f)).is_some());
    Ok(Context {
        name: name.to_string(),
        host: endpoint.host,
        skip_tls_verify: endpoint.skip_tls_verify,
        tls_dir,
        has_tls_data,
    })
}

/// The file's bytes (at most [`MAX_FILE_BYTES`]), `None` when it does not exist.
fn read_capped(file: &Path) -> Result<Option<Vec<u8>>> {
    let unreadable =
        |e: std::io::Error| Error::InvalidInput(format!("cannot read {}: {e}", file.display()));
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    let mut bytes = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(Error::InvalidInput(format!(
            "{} is larger than {} MiB",
            file.display(),
            MAX_FILE_BYTES >> 20
        )));
    }
    Ok(Some(bytes))
}
