//! Image references and registries: names normalised the way the daemon normalises them
//! (`busybox` is `docker.io/library/busybox:latest`), registry hosts, and the credentials in
//! `X-Registry-Auth`.
//!
//! Text rules only: it uses nothing else of the fake or of the crate.

use base64::Engine as _;
use serde_json::Value;

/// A parsed image reference, normalised the way the daemon does (`busybox` is
/// `docker.io/library/busybox:latest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) domain: String,
    pub(crate) path: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && !c.starts_with(['.', '_', '-'])
        })
}

/// Parses `[domain/]path[:tag][@algo:hex]`; `None` for what the daemon calls an invalid
/// reference format.
pub(crate) fn parse_reference(s: &str) -> Option<Reference> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => {
            let (algo, hex) = d.split_once(':')?;
            if algo.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            (n, Some(d.to_string()))
        }
        None => (s, None),
    };
    let (name, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return None;
        }
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first != first.to_lowercase() =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    if !valid_path(&path) || domain.is_empty() {
        return None;
    }
    Some(Reference {
        domain,
        path,
        tag: tag.map(str::to_string),
        digest,
    })
}

impl Reference {
    /// `docker.io/library/busybox`.
    pub(crate) fn repo(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox` (the daemon's familiar form of the repository).
    pub(crate) fn familiar_repo(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repo()
        }
    }

    fn suffix(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("@{d}"),
            (None, Some(t)) => format!(":{t}"),
            (None, None) => ":latest".to_string(),
        }
    }

    /// `docker.io/library/busybox:latest`: the key of the tag index.
    pub(crate) fn canonical(&self) -> String {
        format!("{}{}", self.repo(), self.suffix())
    }

    /// `busybox:latest`: what `RepoTags` and messages show.
    pub(crate) fn familiar(&self) -> String {
        format!("{}{}", self.familiar_repo(), self.suffix())
    }

    /// The tag, `latest` by default.
    pub(crate) fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }
}

/// `https://index.docker.io/v1/` → `docker.io`, `http://127.0.0.1:5000/` → `127.0.0.1:5000`.
pub(crate) fn registry_host(s: &str) -> String {
    let s = s
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        other => other.to_string(),
    }
}

/// The user name and password in an `X-Registry-Auth` value (base64url JSON, padded or not;
/// `auth` is `base64(user:password)` when the fields are empty).
pub(crate) fn decode_registry_auth(value: &str) -> Option<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    let bytes = URL_SAFE
        .decode(value)
        .or_else(|_| URL_SAFE_NO_PAD.decode(value))
        .or_else(|_| STANDARD.decode(value))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (user, pass) = (field("username"), field("password"));
    if !user.is_empty() || !pass.is_empty() {
        return Some((user, pass));
    }
    let auth = STANDARD.decode(field("auth")).ok()?;
    let auth = String::from_utf8(auth).ok()?;
    let (user, pass) = auth.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_the_daemon() {
        for (input, canonical, familiar) in [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "index.docker.io/foo/bar",
                "docker.io/foo/bar:latest",
                "foo/bar:latest",
            ),
            (
                "127.0.0.1:5000/x:1",
                "127.0.0.1:5000/x:1",
                "127.0.0.1:5000/x:1",
            ),
            (
                "localhost/a/b",
                "localhost/a/b:latest",
                "localhost/a/b:latest",
            ),
        ] {
            let r = parse_reference(input).unwrap();
            assert_eq!(r.canonical(), canonical, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        for bad in [
            "",
            "Busybox",
            "a b",
            "foo:",
            "foo:-x",
            "x@sha256:12",
            "a//b",
        ] {
            assert!(parse_reference(bad).is_none(), "{bad}");
        }
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(
            parse_reference(&d).unwrap().canonical(),
            format!("docker.io/library/{d}")
        );
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(registry_host("registry.test"), "registry.test");
    }

    #[test]
    fn registry_auth_decodes_padded_unpadded_and_auth_field() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let json = r#"{"username":"u","password":"p?>"}"#;
        for enc in [URL_SAFE.encode(json), URL_SAFE_NO_PAD.encode(json)] {
            assert_eq!(decode_registry_auth(&enc), Some(("u".into(), "p?>".into())));
        }
        let auth = format!(r#"{{"auth":"{}"}}"#, STANDARD.encode("u:p"));
        assert_eq!(
            decode_registry_auth(&URL_SAFE.encode(auth)),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(decode_registry_auth("e30K"), None);
        assert_eq!(decode_registry_auth("%%%"), None);
    }
}
