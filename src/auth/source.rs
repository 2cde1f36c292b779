//! Credentials chosen per registry: the [`RegistryCredentials`] trait, its implementations for
//! one [`AuthConfig`], a list of them, [`AuthConfigurations`] and closures, the choice for one
//! image ([`credentials_for_image`]) and the `X-Registry-Config` of a build
//! ([`encode_registry_config`]).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE;
use base64::Engine as _;

use super::helper::server_url;
use super::{image_registry, normalize_registry, wire, AuthConfigurations};
use crate::config::AuthConfig;
use crate::error::Result;

/// The header that carries a build's credentials, one entry per registry.
pub const REGISTRY_CONFIG_HEADER: &str = "X-Registry-Config";

/// Where the credentials for a registry come from.
///
/// A [`DockerClient`](crate::DockerClient) asks its source once per pull, with the registry of
/// the image pulled, and sends what it answers to the engine for that pull alone. A build asks
/// about every registry of [`registries`](Self::registries).
///
/// Implemented for:
///
/// | source | answers for a registry |
/// |---|---|
/// | [`AuthConfig`] | itself when its `server_address` names that registry; with an empty `server_address`, for every registry (the reference's behaviour: it names none) |
/// | `Vec<AuthConfig>` | the first whose `server_address` names the registry, else the first without one |
/// | [`AuthConfigurations`] | the docker config's entry or credential helper for it (see [`get_image_registry_auth`](crate::get_image_registry_auth)) |
/// | any `Fn(&str) -> Option<AuthConfig> + Send + Sync` | what the closure answers |
///
/// Registry names are normalised: `docker.io` for Docker Hub (whatever alias the image or
/// key used: `index.docker.io`, `registry-1.docker.io`, `https://index.docker.io/v1/`), the
/// lower-cased `host[:port]` otherwise.
///
/// Whatever the source answers, credentials whose `server_address` names another registry are
/// never sent (see [`credentials_for_image`]).
///
/// # Example
/// ```
/// use s2i_docker::auth::{credentials_for_image, RegistryCredentials};
/// use s2i_docker::AuthConfig;
///
/// let quay = AuthConfig {
///     username: "q".into(),
///     password: "secret".into(),
///     server_address: "quay.io".into(),
///     ..Default::default()
/// };
/// assert_eq!(credentials_for_image(&quay, "quay.io/org/builder:1").username, "q");
/// // Never to another registry.
/// assert!(credentials_for_image(&quay, "registry.example.com/builder").is_empty());
///
/// // A closure: one token per registry.
/// let by_registry = |registry: &str| {
///     (registry == "registry.example.com").then(|| AuthConfig {
///         identity_token: "token".into(),
///         ..Default::default()
///     })
/// };
/// assert_eq!(credentials_for_image(&by_registry, "registry.example.com/x").identity_token, "token");
/// assert!(credentials_for_image(&by_registry, "busybox").is_empty());
/// ```
pub trait RegistryCredentials: Send + Sync {
    /// The credentials for `registry` (normalised, e.g. `docker.io`, `quay.io`,
    /// `127.0.0.1:5000`); `None` for anonymous.
    fn credentials_for(&self, registry: &str) -> Option<AuthConfig>;

    /// The registries this source has credentials for, normalised: a build sends theirs in its
    /// `X-Registry-Config`. None by default (a closure cannot list them).
    fn registries(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Whether `auth` may go to `registry`: its `server_address` names it, or names none.
fn bound_to(auth: &AuthConfig, registry: &str) -> bool {
    auth.server_address.is_empty() || normalize_registry(&auth.server_address) == registry
}

impl RegistryCredentials for AuthConfig {
    fn credentials_for(&self, registry: &str) -> Option<AuthConfig> {
        (!self.is_empty() && bound_to(self, registry)).then(|| self.clone())
    }

    fn registries(&self) -> Vec<String> {
        if self.is_empty() || self.server_address.is_empty() {
            return Vec::new();
        }
        vec![normalize_registry(&self.server_address)]
    }
}

impl RegistryCredentials for Vec<AuthConfig> {
    fn credentials_for(&self, registry: &str) -> Option<AuthConfig> {
        let named = self.iter().find(|a| {
            !a.is_empty()
                && !a.server_address.is_empty()
                && normalize_registry(&a.server_address) == registry
        });
        named
            .or_else(|| {
                self.iter()
                    .find(|a| !a.is_empty() && a.server_address.is_empty())
            })
            .cloned()
    }

    fn registries(&self) -> Vec<String> {
        let mut all: Vec<String> = self.iter().flat_map(|a| a.registries()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl RegistryCredentials for AuthConfigurations {
    /// As [`get_image_registry_auth`](crate::get_image_registry_auth): a failing helper is
    /// logged and the file's entry, if any, is used.
    fn credentials_for(&self, registry: &str) -> Option<AuthConfig> {
        let found = match self.get_registry_auth(registry) {
            Ok(found) => found,
            Err(e) => {
                log::warn!("Cannot get the credentials of registry {registry}: {e}");
                self.entry(registry).cloned()
            }
        };
        found.filter(|a| !a.is_empty())
    }

    /// The registries of the `auths` entries and of `credHelpers` (a `credsStore` cannot be
    /// listed without running it, so registries it alone knows are not included).
    fn registries(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .configs
            .keys()
            .chain(self.cred_helpers().keys())
            .map(|k| normalize_registry(k))
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }
}

impl<F> RegistryCredentials for F
where
    F: Fn(&str) -> Option<AuthConfig> + Send + Sync,
{
    fn credentials_for(&self, registry: &str) -> Option<AuthConfig> {
        self(registry)
    }
}

/// The credentials `source` gives for the registry of `image`; empty (anonymous) when the
/// name does not parse, has no registry, or the source has nothing for it.
///
/// Credentials whose `server_address` names another registry than the image's are dropped
/// (with a warning that names both registries, never the secret), whatever source answered
/// them: they are never sent with a pull from elsewhere.
///
/// # Example
/// ```
/// use s2i_docker::auth::credentials_for_image;
/// use s2i_docker::AuthConfig;
///
/// let hub = AuthConfig {
///     username: "me".into(),
///     password: "pw".into(),
///     server_address: "https://index.docker.io/v1/".into(),
///     ..Default::default()
/// };
/// // Docker Hub's aliases are one registry.
/// assert_eq!(credentials_for_image(&hub, "busybox").username, "me");
/// assert_eq!(credentials_for_image(&hub, "index.docker.io/library/busybox").username, "me");
/// assert!(credentials_for_image(&hub, "quay.io/org/app").is_empty());
/// ```
pub fn credentials_for_image(source: &dyn RegistryCredentials, image: &str) -> AuthConfig {
    let registry = match image_registry(image) {
        Ok(Some(r)) => r,
        Ok(None) | Err(_) => return AuthConfig::default(),
    };
    credentials_for_registry(source, &registry).unwrap_or_default()
}

/// The credentials `source` gives for a normalised `registry`, unless they name another one.
fn credentials_for_registry(
    source: &dyn RegistryCredentials,
    registry: &str,
) -> Option<AuthConfig> {
    let auth = source.credentials_for(registry)?;
    if auth.is_empty() {
        return None;
    }
    if !bound_to(&auth, registry) {
        log::warn!(
            "Credentials for {} were offered for registry {registry}: not sent",
            normalize_registry(&auth.server_address)
        );
        return None;
    }
    Some(auth)
}

/// The `X-Registry-Config` value of a build: base64url (with padding) of the JSON map from
/// registry to credentials, for the registries of `images` (the build's base images) and
/// every registry of `source.registries()`, those the source has credentials for; `None`
/// when there are none.
///
/// Keys are what the engine looks credentials up by: `https://index.docker.io/v1/` for
/// Docker Hub, `host[:port]` otherwise. As the docker CLI does for `docker build`, all the
/// configured registries are sent, not only those the Dockerfile names (the engine hands each
/// registry its own entry only); the base images' registries are asked about too, so a source
/// that cannot list its registries (a closure) still serves a `FROM` its registry.
///
/// # Example
/// ```
/// use base64::Engine as _;
/// use s2i_docker::auth::encode_registry_config;
/// use s2i_docker::AuthConfig;
///
/// let auths = vec![AuthConfig {
///     username: "u".into(),
///     password: "p".into(),
///     server_address: "127.0.0.1:5000".into(),
///     ..Default::default()
/// }];
/// let header = encode_registry_config(&auths, &[])?.unwrap();
/// let json = base64::engine::general_purpose::URL_SAFE.decode(header).unwrap();
/// assert_eq!(
///     String::from_utf8(json).unwrap(),
///     r#"{"127.0.0.1:5000":{"username":"u","password":"p","serveraddress":"127.0.0.1:5000"}}"#
/// );
/// assert_eq!(encode_registry_config(&AuthConfig::default(), &[])?, None);
///
/// // A closure, asked about the registry of the base image.
/// let token = |registry: &str| {
///     (registry == "quay.io").then(|| AuthConfig { identity_token: "t".into(), ..Default::default() })
/// };
/// assert!(encode_registry_config(&token, &["quay.io/org/base:1".to_string()])?.is_some());
/// assert_eq!(encode_registry_config(&token, &["busybox".to_string()])?, None);
/// # Ok::<(), s2i_docker::Error>(())
/// ```
///
/// # Errors
/// Only if JSON encoding fails, which it does not for strings.
pub fn encode_registry_config(
    source: &dyn RegistryCredentials,
    images: &[String],
) -> Result<Option<String>> {
    let mut registries = source.registries();
    registries.extend(
        images
            .iter()
            .filter_map(|i| image_registry(i).ok().flatten()),
    );
    registries.sort_unstable();
    registries.dedup();
    let mut found = BTreeMap::new();
    for registry in registries {
        if let Some(mut auth) = credentials_for_registry(source, &registry) {
            let key = server_url(&registry);
            if auth.server_address.is_empty() {
                auth.server_address = key.clone();
            }
            found.insert(key, auth);
        }
    }
    if found.is_empty() {
        return Ok(None);
    }
    let wire: BTreeMap<&str, _> = found.iter().map(|(k, a)| (k.as_str(), wire(a))).collect();
    Ok(Some(URL_SAFE.encode(serde_json::to_vec(&wire)?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::fixtures::*;

    fn auth(user: &str, server: &str) -> AuthConfig {
        AuthConfig {
            username: user.into(),
            password: format!("{user}-secret"),
            server_address: server.into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_auth_config_goes_to_its_registry_only() {
        let a = auth("a", "127.0.0.1:5000");
        assert_eq!(
            credentials_for_image(&a, "127.0.0.1:5000/x:1").username,
            "a"
        );
        for other in [
            "127.0.0.1:5001/x",
            "busybox",
            "quay.io/x",
            "localhost:5000/x",
        ] {
            assert!(credentials_for_image(&a, other).is_empty(), "{other}");
        }
        // Docker Hub, by any of its names, on either side.
        for server in [
            "https://index.docker.io/v1/",
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
        ] {
            let hub = auth("h", server);
            for image in [
                "busybox",
                "docker.io/library/busybox",
                "index.docker.io/x/y",
                "registry-1.docker.io/x/y:1",
            ] {
                assert_eq!(
                    credentials_for_image(&hub, image).username,
                    "h",
                    "{server} {image}"
                );
            }
            assert!(credentials_for_image(&hub, "quay.io/x").is_empty());
        }
        // No server named: the reference's behaviour, every registry.
        let unbound = auth("u", "");
        assert_eq!(credentials_for_image(&unbound, "quay.io/x").username, "u");
        assert!(credentials_for_image(&AuthConfig::default(), "busybox").is_empty());
    }

    #[test]
    fn lists_closures_and_config_files() {
        let list = vec![
            auth("any", ""),
            auth("q", "quay.io"),
            auth("l", "localhost:5000"),
        ];
        assert_eq!(credentials_for_image(&list, "quay.io/x").username, "q");
        assert_eq!(
            credentials_for_image(&list, "localhost:5000/x").username,
            "l"
        );
        assert_eq!(credentials_for_image(&list, "busybox").username, "any");
        assert_eq!(list.registries(), ["localhost:5000", "quay.io"]);

        // A closure that answers with another registry's credentials: dropped.
        let wrong = |_: &str| Some(auth("q", "quay.io"));
        assert!(credentials_for_image(&wrong, "registry.example.com/x").is_empty());
        assert_eq!(credentials_for_image(&wrong, "quay.io/x").username, "q");
        assert!(wrong.registries().is_empty());

        let file = load(TWO).unwrap();
        assert_eq!(
            credentials_for_image(&file, "quay.io/foo/bar").username,
            "qu"
        );
        assert_eq!(credentials_for_image(&file, "busybox").username, "u");
        assert!(credentials_for_image(&file, "127.0.0.1:5000/x").is_empty());
        assert_eq!(file.registries(), ["docker.io", "quay.io"]);
        let helpers = load(r#"{"auths":{"https://GCR.io/":{"auth":"dTpw"}},"credHelpers":{"gcr.io":"gcloud","ecr.example.com":"ecr"}}"#)
            .unwrap();
        assert_eq!(helpers.registries(), ["ecr.example.com", "gcr.io"]);
    }

    #[test]
    fn registry_config_of_a_build() {
        let list = vec![auth("h", "index.docker.io"), auth("l", "127.0.0.1:5000")];
        let value = encode_registry_config(&list, &[]).unwrap().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(value).unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "https://index.docker.io/v1/": {
                    "username": "h", "password": "h-secret", "serveraddress": "index.docker.io"
                },
                "127.0.0.1:5000": {
                    "username": "l", "password": "l-secret", "serveraddress": "127.0.0.1:5000"
                },
            })
        );
        let unbound = auth("u", "");
        assert_eq!(encode_registry_config(&unbound, &[]).unwrap(), None);
        let file = load(TWO).unwrap();
        let value = encode_registry_config(&file, &[]).unwrap().unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE.decode(value).unwrap()).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["https://index.docker.io/v1/", "quay.io"]);
    }
}
