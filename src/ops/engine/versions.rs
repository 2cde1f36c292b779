//! API versions: checking a pinned one, and agreeing on one with the engine (the lower of its
//! newest and [`MAX_API_VERSION`], raised to its oldest when that is newer still).

use std::sync::Arc;

use super::{MAX_API_VERSION, MIN_API_VERSION};
use crate::error::{Error, Result};

/// Checks a `<major>.<minor>` version not older than [`MIN_API_VERSION`], dropping a leading
/// `v`.
pub(super) fn parse_api_version(v: &str) -> Result<Arc<str>> {
    check_api_version(v).map_err(Error::InvalidInput)
}

/// As [`parse_api_version`], with the bare reason, for texts that name where the version came
/// from (`DOCKER_API_VERSION: ...`).
pub(super) fn check_api_version(v: &str) -> std::result::Result<Arc<str>, String> {
    let trimmed = v.strip_prefix('v').unwrap_or(v);
    let Some(version) = version_tuple(trimmed) else {
        return Err(format!(
            "invalid API version {v:?}: it must look like <major>.<minor>, e.g. 1.41"
        ));
    };
    if version < version_tuple(MIN_API_VERSION).unwrap_or_default() {
        return Err(format!(
            "API version {trimmed} is older than {MIN_API_VERSION}, the oldest this client supports"
        ));
    }
    Ok(Arc::from(trimmed))
}

/// `1.41` → `(1, 41)`, compared numerically; `None` unless `<digits>.<digits>`.
fn version_tuple(v: &str) -> Option<(u32, u32)> {
    let (major, minor) = v.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(major) || !digits(minor) {
        return None;
    }
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The version to speak with a server that offers `server`: the lower of it and the maximum.
pub(super) fn negotiate(server: &str, host: &str) -> Result<Arc<str>> {
    let Some(offered) = version_tuple(server) else {
        return Ok(Arc::from(MAX_API_VERSION));
    };
    let min = version_tuple(MIN_API_VERSION).unwrap_or_default();
    if offered < min {
        return Err(Error::Unsupported(format!(
            "the engine at {host} speaks API version {server}, older than {MIN_API_VERSION}, the oldest this client supports"
        )));
    }
    let max = version_tuple(MAX_API_VERSION).unwrap_or_default();
    Ok(if offered < max {
        Arc::from(server)
    } else {
        Arc::from(MAX_API_VERSION)
    })
}

/// Whether an engine offering `server` may refuse [`MAX_API_VERSION`]: it is newer, and newer
/// engines drop old versions (Docker 29 accepts 1.44 and later only).
pub(super) fn may_refuse_max(server: &str) -> bool {
    version_tuple(server) > version_tuple(MAX_API_VERSION)
}

/// The version to speak once the engine told its oldest (`/version`'s `MinAPIVersion`): the
/// agreed one, or the engine's oldest when that is newer (with a warning: the client was made
/// for older versions, but the engine accepts nothing else).
pub(super) fn raise_to_minimum(
    agreed: Arc<str>,
    minimum: &str,
    server: &str,
    host: &str,
) -> Arc<str> {
    let (Some(min), Some(current)) = (version_tuple(minimum), version_tuple(&agreed)) else {
        return agreed;
    };
    if min <= current || version_tuple(server).is_some_and(|s| min > s) {
        return agreed;
    }
    log::warn!(
        "the engine at {host} accepts API versions {minimum} to {server} only; speaking \
         {minimum}, newer than {MAX_API_VERSION}, the newest this client was made for"
    );
    Arc::from(minimum)
}
