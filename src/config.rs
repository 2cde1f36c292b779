//! S2I's configuration as the Docker layer reads it (the reference's `pkg/api`): credentials
//! ([`AuthConfig`]), resource limits ([`CGroupLimits`]), the build's settings ([`Config`]), an
//! image's metadata ([`Image`]) and [`PullPolicy`]; [`DockerConfig`] and [`ContainerConfig`] are
//! the engine's types, re-exported here.
//!
//! Uses error, user (the allowed UIDs) and ops (for the re-exported engine types), nothing else.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;
pub use crate::ops::container::ContainerConfig;
pub use crate::ops::env::DockerConfig;
use crate::user::RangeList;

/// Registry credentials (the reference's `api.AuthConfig`, with the Engine's extra fields).
///
/// `Debug` never prints the password, the `auth` value or a token.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AuthConfig {
    /// The user name.
    pub username: String,
    /// The password (secret).
    pub password: String,
    /// An e-mail address (legacy; sent as given).
    pub email: String,
    /// The registry these credentials are for, e.g. `quay.io` or `https://index.docker.io/v1/`.
    pub server_address: String,
    /// An identity token (secret), e.g. from a credential helper that answered `<token>`.
    pub identity_token: String,
    /// A bearer token for the registry (secret).
    pub registry_token: String,
}

impl AuthConfig {
    /// No credentials at all.
    pub fn is_empty(&self) -> bool {
        self.username.is_empty()
            && self.password.is_empty()
            && self.identity_token.is_empty()
            && self.registry_token.is_empty()
    }
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn redacted(s: &str) -> &'static str {
            if s.is_empty() {
                ""
            } else {
                "<redacted>"
            }
        }
        f.debug_struct("AuthConfig")
            .field("username", &self.username)
            .field("password", &redacted(&self.password))
            .field("email", &self.email)
            .field("server_address", &self.server_address)
            .field("identity_token", &redacted(&self.identity_token))
            .field("registry_token", &redacted(&self.registry_token))
            .finish()
    }
}

/// When to pull an image (the reference's `api.PullPolicy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PullPolicy {
    /// `always`: pull even when the image is present.
    Always,
    /// `never`: use the local image; a missing one is an error.
    Never,
    /// `if-not-present` (the default): pull only a missing image.
    #[default]
    IfNotPresent,
}

impl PullPolicy {
    /// The policy's string as S2I's flags spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            PullPolicy::Always => "always",
            PullPolicy::Never => "never",
            PullPolicy::IfNotPresent => "if-not-present",
        }
    }
}

impl fmt::Display for PullPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PullPolicy {
    type Err = Error;

    /// Accepts exactly `always`, `never` and `if-not-present`.
    ///
    /// # Errors
    /// Anything else: `invalid value "<v>", valid values are: always, never or if-not-present`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "always" => Ok(PullPolicy::Always),
            "never" => Ok(PullPolicy::Never),
            "if-not-present" => Ok(PullPolicy::IfNotPresent),
            other => Err(Error::InvalidInput(format!(
                "invalid value \"{other}\", valid values are: always, never or if-not-present"
            ))),
        }
    }
}

/// Resource limits for containers and builds (the reference's `api.CGroupLimits`).
///
/// Zero means "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CGroupLimits {
    /// Memory limit in bytes (`Memory`, build `memory`).
    pub memory_limit_bytes: i64,
    /// CPU shares (`CpuShares`, build `cpushares`).
    pub cpu_shares: i64,
    /// CPU CFS period in microseconds (`CpuPeriod`, build `cpuperiod`).
    pub cpu_period: i64,
    /// CPU CFS quota in microseconds (`CpuQuota`, build `cpuquota`).
    pub cpu_quota: i64,
    /// Memory plus swap in bytes; -1 for unlimited swap (`MemorySwap`, build `memswap`).
    pub memory_swap: i64,
    /// The parent cgroup (`CgroupParent`, build `cgroupparent`).
    pub parent: String,
}

/// An image as the S2I operations see it (the reference's `api.Image`).
///
/// Both configurations are the Engine's [`ContainerConfig`] with only `labels` and `env` filled
/// (the reference's `api.ContainerConfig` holds those two); `None` where the image has none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Image {
    /// The image ID, `sha256:...`.
    pub id: String,
    /// The same labels and env as [`config`](Image::config) (the reference fills both).
    pub container_config: Option<ContainerConfig>,
    /// The image's labels and env.
    pub config: Option<ContainerConfig>,
}

/// The fields of S2I's build configuration that the Docker layer reads (the reference's
/// `api.Config`).
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The builder image.
    pub builder_image: String,
    /// When to pull the builder image.
    pub builder_pull_policy: PullPolicy,
    /// The runtime image of an extended build.
    pub runtime_image: String,
    /// When to pull the runtime image.
    pub runtime_image_pull_policy: PullPolicy,
    /// The output image's tag (a rebuild pulls it).
    pub tag: String,
    /// The user IDs the images may run as; empty allows all.
    pub allowed_uids: RangeList,
    /// The user that runs `assemble`, overriding the image's.
    pub assemble_user: String,
    /// Credentials for pulling the builder image.
    pub pull_authentication: AuthConfig,
    /// Credentials for pulling the runtime image.
    pub runtime_authentication: AuthConfig,
    /// How to reach the engine.
    pub docker_config: DockerConfig,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_strings() {
        for p in [
            PullPolicy::Always,
            PullPolicy::Never,
            PullPolicy::IfNotPresent,
        ] {
            assert_eq!(p.as_str().parse::<PullPolicy>().unwrap(), p);
        }
        let e = "sometimes".parse::<PullPolicy>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid value \"sometimes\", valid values are: always, never or if-not-present"
        );
        assert_eq!(PullPolicy::default(), PullPolicy::IfNotPresent);
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let a = AuthConfig {
            username: "u".into(),
            password: "hunter2".into(),
            identity_token: "tok-secret".into(),
            ..Default::default()
        };
        let d = format!("{a:?}");
        assert!(!d.contains("hunter2") && !d.contains("tok-secret"), "{d}");
        assert!(d.contains("<redacted>"));
    }
}
