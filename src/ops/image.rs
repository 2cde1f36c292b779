//! Image endpoints: inspect, pull, remove, build, tag, push.
//!
//! Each endpoint's options sit directly above its function; the Engine's image models are
//! defined in [`models`](crate::ops::models) and re-exported here. Uses the engine client core,
//! [`podman`](mod@crate::ops::podman)'s adjustments, image references (to normalise what is
//! pulled, pushed and tagged), transport and error; nothing above `ops`.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;

use crate::error::{Error, Result};
use crate::image_ref::parse_normalized_named;
use crate::ops;
use crate::ops::engine::{Engine, EngineClient, Limits};
use crate::ops::podman;
use crate::transport::{encode_path, query, Body, Response, ResponseBody};

pub use crate::ops::models::{ImageDeleteResponseItem, ImageInspect};

/// An image's metadata (`GET /images/{name}/json`).
///
/// `name` is a name (`busybox:latest`, `quay.io/x/y:1`), a name with a digest, or an ID; it goes
/// into the path as it is, slashes, colons and `@` included (the daemon's route takes the rest of
/// the path as the name).
///
/// The reply reads the same from both engines: the ID is `sha256:<hex>`, and on Podman a short
/// name means what it means to Docker (`app:1` is `docker.io/library/app:1`) when such an image
/// exists (Podman's own lookup otherwise), and `RepoTags`/`RepoDigests` are given in Docker's
/// short form; see [`podman`](mod@crate::ops::podman).
///
/// # Errors
/// [`Error::Api`] with status 404 for a missing image ([`Error::is_not_found`]); an empty `name`
/// is such an error too, without a request. Connection errors, timeouts, and
/// [`Error::Decode`] for an unexpected reply.
pub fn inspect(docker: &EngineClient, name: &str) -> Result<ImageInspect> {
    // The reply is decoded where it arrived, not copied out first.
    inspect_reading(docker, name, |response| {
        response.read_with(docker.json_limit(), |raw| {
            ops::decode_json_with(raw, INSPECT, ImageInspect::from_json).map(as_docker)
        })?
    })
}

/// As [`inspect`], also returning the raw JSON reply.
///
/// # Errors
/// As [`inspect`].
pub fn inspect_with_raw(docker: &EngineClient, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
    inspect_reading(docker, name, |response| {
        let raw = ops::read_json_bytes(docker, response)?;
        let image = ops::decode_json_with(&raw, INSPECT, ImageInspect::from_json)?;
        Ok((as_docker(image), raw))
    })
}

/// What an inspect's decode error names.
const INSPECT: &str = "GET /images/{name}/json";

/// The inspect of `name` (on Podman, first under Docker's meaning of a short name), its reply
/// read by `read`.
fn inspect_reading<T>(
    docker: &EngineClient,
    name: &str,
    read: impl Fn(Response) -> Result<T>,
) -> Result<T> {
    if name.is_empty() {
        // What the daemon says for a missing image, so callers treat both alike.
        return Err(Error::api(404, "No such image: "));
    }
    // Parsing the name is the dearest step of the call: skipped when the engine is known to
    // be Docker, for which the name needs no qualifying.
    let maybe_podman = docker.known_engine() != Some(Engine::Docker);
    if let Some(qualified) = maybe_podman
        .then(|| podman::docker_hub_name(name))
        .flatten()
    {
        if docker.is_podman()? {
            match inspect_as_given(docker, &qualified).and_then(&read) {
                Err(e) if e.is_not_found() => {}
                done => return done,
            }
        }
    }
    inspect_as_given(docker, name).and_then(read)
}

fn inspect_as_given(docker: &EngineClient, name: &str) -> Result<Response> {
    let endpoint = ["/images/", &encode_path(name), "/json"].concat();
    let mut attempt = 1;
    loop {
        match docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Short) {
            Err(e) if attempt < podman::INSPECT_ATTEMPTS && podman::is_inspect_race(&e) => {
                attempt += 1;
                std::thread::sleep(podman::INSPECT_RETRY_DELAY);
            }
            done => return done,
        }
    }
}

/// Docker's forms: `sha256:<hex>` IDs, and short names in `RepoTags` and `RepoDigests` (Podman
/// gives `docker.io/library/app:1` where Docker gives `app:1`; Docker never gives the long form).
fn as_docker(mut image: ImageInspect) -> ImageInspect {
    image.id = podman::image_id(image.id);
    for name in image
        .repo_tags
        .iter_mut()
        .chain(image.repo_digests.iter_mut())
        .filter(|name| name.starts_with("docker.io/"))
    {
        *name = podman::familiar(name);
    }
    image
}

/// Options of `POST /images/create` (a pull).
///
/// `Debug` does not show the credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ImagePullOptions {
    /// The `X-Registry-Auth` header value (base64url JSON); empty sends none.
    pub registry_auth: String,
    /// The platform, e.g. `linux/amd64`; empty for the daemon's.
    pub platform: String,
}

impl fmt::Debug for ImagePullOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagePullOptions")
            .field("registry_auth", &redacted(&self.registry_auth))
            .field("platform", &self.platform)
            .finish()
    }
}

/// What `Debug` shows of a credentials header value.
fn redacted(value: &str) -> &'static str {
    if value.is_empty() {
        ""
    } else {
        "<redacted>"
    }
}

/// Starts pulling an image (`POST /images/create?fromImage=..&tag=..`) and returns its
/// JSON-lines progress stream.
///
/// The reference is normalised first: `fromImage` is the fully qualified name
/// (`busybox` → `docker.io/library/busybox`) and `tag` is the digest if there is one, else the tag,
/// else `latest`. The pull goes on while the stream is read: read it to the end and check it for
/// in-band errors, e.g. with [`stream::consume`](crate::ops::stream::consume) — the HTTP status is
/// 200 even when the pull fails.
///
/// The stream has no total deadline; a pause longer than the client's timeout fails the read.
///
/// # Errors
/// [`Error::InvalidInput`] for an invalid reference (nothing is sent); connection errors,
/// timeouts, and [`Error::Api`] (e.g. 404 or 500 when the registry refuses the name).
pub fn pull(
    docker: &EngineClient,
    reference: &str,
    options: &ImagePullOptions,
) -> Result<ResponseBody> {
    let named = parse_normalized_named(reference)?;
    let name = named.name();
    let platform = options.platform.to_lowercase();
    let mut params = vec![("fromImage", name.as_str()), ("tag", named.tag_or_digest())];
    if !platform.is_empty() {
        params.push(("platform", platform.as_str()));
    }
    let mut headers = Vec::new();
    if !options.registry_auth.is_empty() {
        headers.push(("X-Registry-Auth", options.registry_auth.clone()));
    }
    let endpoint = format!("/images/create{}", query(&params));
    let response = docker.call("POST", &endpoint, headers, Body::Empty, Limits::Stream)?;
    Ok(response.into_body())
}

/// Options of `DELETE /images/{name}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageRemoveOptions {
    /// Remove even if in use by stopped containers or tagged in several repositories (`force=1`).
    pub force: bool,
    /// Keep untagged parents (`noprune=1`).
    pub no_prune: bool,
}

/// Removes an image (`DELETE /images/{name}`), with `force=1` and `noprune=1` when asked.
///
/// On Podman, a short name means what it means to Docker when such an image exists, as for
/// [`inspect`].
///
/// # Errors
/// [`Error::InvalidInput`] for an empty name (nothing is sent); [`Error::Api`] 404 for a missing
/// image, 409 for an image in use (see [`Error::is_conflict`] for Podman's texts); connection
/// errors and timeouts.
pub fn remove(
    docker: &EngineClient,
    image: &str,
    options: &ImageRemoveOptions,
) -> Result<Vec<ImageDeleteResponseItem>> {
    if image.is_empty() {
        return Err(Error::InvalidInput(
            "invalid image name or ID: value is empty".into(),
        ));
    }
    if let Some(qualified) = podman::docker_hub_name(image) {
        if docker.is_podman()? {
            match remove_as_given(docker, &qualified, options) {
                Err(e) if e.is_not_found() => {}
                done => return done,
            }
        }
    }
    remove_as_given(docker, image, options)
}

fn remove_as_given(
    docker: &EngineClient,
    image: &str,
    options: &ImageRemoveOptions,
) -> Result<Vec<ImageDeleteResponseItem>> {
    let mut params = Vec::new();
    if options.force {
        params.push(("force", "1"));
    }
    if options.no_prune {
        params.push(("noprune", "1"));
    }
    let endpoint = format!("/images/{}{}", encode_path(image), query(&params));
    let response = docker.call("DELETE", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::read_json(docker, response, "DELETE /images/{name}")
}

/// Options of `POST /build`.
///
/// `Debug` shows neither the credentials nor the build arguments' values (they often carry
/// tokens).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ImageBuildOptions {
    /// Tags for the image (`t`, repeated).
    pub tags: Vec<String>,
    /// Do not use the cache (`nocache=1`).
    pub no_cache: bool,
    /// Remove intermediate containers after a successful build (`rm`, default on in the Engine).
    pub remove: bool,
    /// Always remove intermediate containers (`forcerm=1`).
    pub force_remove: bool,
    /// Memory limit in bytes (`memory`, when non-zero).
    pub memory: i64,
    /// Memory plus swap (`memswap`, when non-zero).
    pub memory_swap: i64,
    /// CPU shares (`cpushares`, when non-zero).
    pub cpu_shares: i64,
    /// CPU period (`cpuperiod`, when non-zero).
    pub cpu_period: i64,
    /// CPU quota (`cpuquota`, when non-zero).
    pub cpu_quota: i64,
    /// The parent cgroup (`cgroupparent`, when non-empty).
    pub cgroup_parent: String,
    /// The Dockerfile's path inside the context (`dockerfile`, when non-empty).
    pub dockerfile: String,
    /// Build-time labels (`labels`, JSON, when non-empty).
    pub labels: HashMap<String, String>,
    /// The network of the `RUN` steps, e.g. `none` or `host` (`networkmode`, when non-empty).
    pub network_mode: String,
    /// Values of the Dockerfile's `ARG`s (`buildargs`, JSON, when non-empty).
    pub build_args: HashMap<String, String>,
    /// The stage of a multi-stage Dockerfile to build (`target`, when non-empty); the stages
    /// after it are not built.
    pub target: String,
    /// Pull the base images even when present (`pull=1`).
    pub pull: bool,
    /// The `X-Registry-Config` header value: base64url JSON of registry → credentials, see
    /// [`encode_registry_config`](crate::auth::encode_registry_config); empty sends `null`
    /// (no credentials).
    pub registry_config: String,
}

impl fmt::Debug for ImageBuildOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut build_args: Vec<&String> = self.build_args.keys().collect();
        build_args.sort_unstable();
        f.debug_struct("ImageBuildOptions")
            .field("tags", &self.tags)
            .field("no_cache", &self.no_cache)
            .field("remove", &self.remove)
            .field("force_remove", &self.force_remove)
            .field("memory", &self.memory)
            .field("memory_swap", &self.memory_swap)
            .field("cpu_shares", &self.cpu_shares)
            .field("cpu_period", &self.cpu_period)
            .field("cpu_quota", &self.cpu_quota)
            .field("cgroup_parent", &self.cgroup_parent)
            .field("dockerfile", &self.dockerfile)
            .field("labels", &self.labels)
            .field("network_mode", &self.network_mode)
            .field("build_args", &build_args)
            .field("target", &self.target)
            .field("pull", &self.pull)
            .field("registry_config", &redacted(&self.registry_config))
            .finish()
    }
}

/// `X-Registry-Config` of a build without credentials: base64url of `null`, as the Go client
/// sends it.
const NO_REGISTRY_CONFIG: &str = "bnVsbA==";

/// Builds an image from a tar build context (`POST /build`) and returns the JSON-lines output.
///
/// The context is streamed from `context` with chunked encoding, never held in memory. The
/// query carries `t` per tag, `nocache=1`, `rm=1`/`rm=0`, `forcerm=1`, the resource limits that
/// are non-zero (`memory`, `memswap`, `cpushares`, `cpuperiod`, `cpuquota`), `cgroupparent`,
/// `dockerfile`, `networkmode` and `target` when non-empty, `pull=1`, and `labels` and
/// `buildargs` as JSON when there are any. The credentials go in the `X-Registry-Config`
/// header ([`ImageBuildOptions::registry_config`]), which is never logged.
///
/// The build's failures arrive inside the 200 stream: read it with
/// [`stream::copy_checked`](crate::ops::stream::copy_checked) or
/// [`stream::consume`](crate::ops::stream::consume). The context upload, the reply and every
/// pause in the output are bounded by the client's build timeout
/// ([`with_build_timeout`](EngineClient::with_build_timeout), 30 minutes by default: a build
/// step may stay silent for long), after which a read fails with [`Error::Timeout`]. The
/// client's cancel ([`with_cancel`](EngineClient::with_cancel)) ends the call and the stream.
///
/// # Errors
/// Reading the context, connection errors, and [`Error::Api`] (e.g. 400 for a context that is
/// not a tar or lacks a Dockerfile, 500 for a daemon failure).
pub fn build(
    docker: &EngineClient,
    context: &mut (dyn Read + Send),
    options: &ImageBuildOptions,
) -> Result<ResponseBody> {
    let numbers: Vec<(&str, String)> = [
        ("cpuperiod", options.cpu_period),
        ("cpuquota", options.cpu_quota),
        ("cpushares", options.cpu_shares),
        ("memory", options.memory),
        ("memswap", options.memory_swap),
    ]
    .into_iter()
    .filter(|(_, v)| *v != 0)
    .map(|(k, v)| (k, v.to_string()))
    .collect();
    let labels = if options.labels.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&options.labels)?
    };
    let build_args = if options.build_args.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&options.build_args)?
    };
    let mut params: Vec<(&str, &str)> = options.tags.iter().map(|t| ("t", t.as_str())).collect();
    if options.no_cache {
        params.push(("nocache", "1"));
    }
    params.push(("rm", if options.remove { "1" } else { "0" }));
    if options.force_remove {
        params.push(("forcerm", "1"));
    }
    params.extend(numbers.iter().map(|(k, v)| (*k, v.as_str())));
    if !options.cgroup_parent.is_empty() {
        params.push(("cgroupparent", options.cgroup_parent.as_str()));
    }
    if !options.dockerfile.is_empty() {
        params.push(("dockerfile", options.dockerfile.as_str()));
    }
    if !labels.is_empty() {
        params.push(("labels", labels.as_str()));
    }
    if !options.network_mode.is_empty() {
        params.push(("networkmode", options.network_mode.as_str()));
    }
    if !build_args.is_empty() {
        params.push(("buildargs", build_args.as_str()));
    }
    if !options.target.is_empty() {
        params.push(("target", options.target.as_str()));
    }
    if options.pull {
        params.push(("pull", "1"));
    }
    let registry_config = if options.registry_config.is_empty() {
        NO_REGISTRY_CONFIG
    } else {
        options.registry_config.as_str()
    };
    let headers = vec![
        ("Content-Type", "application/x-tar".to_string()),
        ("X-Registry-Config", registry_config.to_string()),
    ];
    let endpoint = format!("/build{}", query(&params));
    let response = docker.call(
        "POST",
        &endpoint,
        headers,
        Body::Reader(context),
        Limits::Build,
    )?;
    Ok(response.into_body())
}

/// Options of `POST /images/{name}/push`.
///
/// `Debug` does not show the credentials.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ImagePushOptions {
    /// The `X-Registry-Auth` header value (base64url JSON, see
    /// [`encode_auth`](crate::auth::encode_auth)); empty sends `e30K` (no credentials).
    pub registry_auth: String,
    /// Podman's `tlsVerify` (`Some(false)` pushes to a plain-HTTP or self-signed registry that its
    /// `registries.conf` does not mark insecure); `None` sends nothing. The Docker engine ignores
    /// it: it decides by its own `insecure-registries` (and treats `127.0.0.0/8` as insecure).
    pub tls_verify: Option<bool>,
}

impl fmt::Debug for ImagePushOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImagePushOptions")
            .field("registry_auth", &redacted(&self.registry_auth))
            .field("tls_verify", &self.tls_verify)
            .finish()
    }
}

/// The Docker engine reads a push's credentials from the body when the header is missing, and
/// fails with `Bad parameters and missing X-Registry-Auth: EOF`; `{}` and a newline, base64url,
/// means "no credentials" to it.
const NO_CREDENTIALS: &str = "e30K";

/// Starts pushing an image to its registry (`POST /images/{name}/push?tag=..`) and returns its
/// JSON-lines progress stream.
///
/// `reference` names the image as tagged locally, registry included
/// (`registry.example.com:5000/team/app:1`); without a tag, `latest` is pushed. The name goes
/// into the path in its familiar form (`busybox`, `quay.io/x/y`), as the docker CLI sends it.
///
/// The push goes on while the stream is read, and a failed push (refused credentials, a
/// registry that is down) still answers 200 with the error inside the stream: read it to the end
/// with [`stream::consume`](crate::ops::stream::consume) or
/// [`stream::copy_checked`](crate::ops::stream::copy_checked), which return that error.
///
/// The stream has no total deadline; a pause longer than the client's timeout fails the read.
///
/// # Errors
/// [`Error::InvalidInput`] for an invalid reference or one with a digest (nothing is sent);
/// connection errors, timeouts, and [`Error::Api`] (404 for an image that is not tagged so
/// locally).
pub fn push(
    docker: &EngineClient,
    reference: &str,
    options: &ImagePushOptions,
) -> Result<ResponseBody> {
    let named = parse_normalized_named(reference)?;
    if named.digest.is_some() {
        return Err(Error::InvalidInput(format!(
            "cannot push a digest reference: {reference}"
        )));
    }
    let tag = named
        .tag
        .as_deref()
        .unwrap_or(crate::image_ref::DEFAULT_TAG);
    let tls_verify = options.tls_verify.map(|v| if v { "true" } else { "false" });
    let mut params = vec![("tag", tag)];
    if let Some(v) = tls_verify {
        params.push(("tlsVerify", v));
    }
    let auth = if options.registry_auth.is_empty() {
        NO_CREDENTIALS.to_string()
    } else {
        options.registry_auth.clone()
    };
    let endpoint = format!(
        "/images/{}/push{}",
        encode_path(&named.familiar_name()),
        query(&params)
    );
    let response = docker.call(
        "POST",
        &endpoint,
        vec![("X-Registry-Auth", auth)],
        Body::Empty,
        Limits::Stream,
    )?;
    Ok(response.into_body())
}

/// Gives the image `source` (a name, `name:tag` or ID) the name `target`
/// (`POST /images/{source}/tag?repo=..&tag=..`).
///
/// `target` is normalised as the docker CLI does: `repo` is its familiar name
/// (`registry.example.com:5000/team/app`, `busybox`) and `tag` its tag, or `latest`. An existing
/// `target` is moved to the image.
///
/// # Errors
/// [`Error::InvalidInput`] for an empty `source`, or a `target` that is invalid or has a digest
/// (nothing is sent); [`Error::Api`] 404 for a missing `source`; connection errors and timeouts.
pub fn tag(docker: &EngineClient, source: &str, target: &str) -> Result<()> {
    if source.trim().is_empty() {
        return Err(Error::InvalidInput(
            "invalid image name or ID: value is empty".into(),
        ));
    }
    let named = parse_normalized_named(target)?;
    if named.digest.is_some() {
        return Err(Error::InvalidInput(format!(
            "refusing to create a tag with a digest reference: {target}"
        )));
    }
    let repo = named.familiar_name();
    let tag = named
        .tag
        .as_deref()
        .unwrap_or(crate::image_ref::DEFAULT_TAG);
    let endpoint = format!(
        "/images/{}/tag{}",
        encode_path(source),
        query(&[("repo", repo.as_str()), ("tag", tag)])
    );
    let response = docker.call("POST", &endpoint, Vec::new(), Body::Empty, Limits::Short)?;
    ops::discard(response)
}

#[cfg(test)]
mod tests {
    //! The image endpoints against a scripted engine: the requests they send, the streams they
    //! return, and Podman's short names and inspect retries.
    use super::*;
    use crate::fake::testing::http::{json, serve};

    mod cases;
}
