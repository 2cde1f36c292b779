//! The docker CLI's config files: where `config.json` is, and reading it or a legacy
//! `.dockercfg` into [`AuthConfigurations`] (its `auths`, `credsStore` and `credHelpers`).
//!
//! Auth may use `error`, `config` and `image_ref` only; this file needs `error` and `config`.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Map, Value};

use super::AuthConfigurations;
use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// A docker config is a few KiB; refuse to buffer anything absurd.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// Standard base64, with or without padding, tolerant of non-zero trailing bits as Go is.
const AUTH_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

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
    //! Reading config files and legacy maps, malformed entries, and where the file is.
    use super::*;
    use crate::auth::fixtures::*;
    use crate::auth::load_image_registry_auth;

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
}
