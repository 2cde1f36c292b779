//! Image endpoints: inspect, pull, remove, build, tag, push.

use std::collections::HashMap;
use std::fmt;

use std::io::Read;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::image_ref::parse_normalized_named;
use crate::ops;
use crate::ops::container::ContainerConfig;
use crate::ops::engine::{EngineClient, Limits};
use crate::ops::podman;
use crate::transport::{encode_path, query, Body, ResponseBody};

/// The reply of `GET /images/{name}/json` (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image ID, `sha256:...`.
    #[serde(default)]
    pub id: String,
    /// Its tags, `name:tag`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_tags: Vec<String>,
    /// Its digests, `name@sha256:...`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_digests: Vec<String>,
    /// Its configuration: user, env, entrypoint, working dir, labels, `ONBUILD` triggers.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// The architecture, e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// The operating system, e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// The size in bytes.
    #[serde(default)]
    pub size: i64,
}

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
    Ok(inspect_with_raw(docker, name)?.0)
}

/// As [`inspect`], also returning the raw JSON reply.
///
/// # Errors
/// As [`inspect`].
pub fn inspect_with_raw(docker: &EngineClient, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
    if name.is_empty() {
        // What the daemon says for a missing image, so callers treat both alike.
        return Err(Error::api(404, "No such image: "));
    }
    if let Some(qualified) = podman::docker_hub_name(name) {
        if docker.is_podman()? {
            match inspect_as_given(docker, &qualified) {
                Err(e) if e.is_not_found() => {}
                done => return done,
            }
        }
    }
    inspect_as_given(docker, name)
}

fn inspect_as_given(docker: &EngineClient, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
    let endpoint = format!("/images/{}/json", encode_path(name));
    let mut attempt = 1;
    let response = loop {
        match docker.call("GET", &endpoint, Vec::new(), Body::Empty, Limits::Short) {
            Err(e) if attempt < podman::INSPECT_ATTEMPTS && podman::is_inspect_race(&e) => {
                attempt += 1;
                std::thread::sleep(podman::INSPECT_RETRY_DELAY);
            }
            done => break done?,
        }
    };
    let raw = ops::read_json_bytes(docker, response)?;
    let image = ops::decode_json(&raw, "GET /images/{name}/json")?;
    Ok((as_docker(image), raw))
}

/// Docker's forms: `sha256:<hex>` IDs, and short names in `RepoTags` and `RepoDigests` (Podman
/// gives `docker.io/library/app:1` where Docker gives `app:1`; Docker never gives the long form).
fn as_docker(mut image: ImageInspect) -> ImageInspect {
    image.id = podman::image_id(image.id);
    for name in image
        .repo_tags
        .iter_mut()
        .chain(image.repo_digests.iter_mut())
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

/// One entry of the reply of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteResponseItem {
    /// A tag that was removed.
    #[serde(default)]
    pub untagged: String,
    /// An image ID that was deleted.
    #[serde(default)]
    pub deleted: String,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
}

/// `X-Registry-Config` of a build: base64url of `null` (no registry credentials), as the Go
/// client sends it.
const NO_REGISTRY_CONFIG: &str = "bnVsbA==";

/// Builds an image from a tar build context (`POST /build`) and returns the JSON-lines output.
///
/// The context is streamed from `context` with chunked encoding, never held in memory. The
/// query carries `t` per tag, `nocache=1`, `rm=1`/`rm=0`, `forcerm=1`, the resource limits that
/// are non-zero (`memory`, `memswap`, `cpushares`, `cpuperiod`, `cpuquota`), `cgroupparent` and
/// `dockerfile` and `networkmode` when non-empty, and `labels` as JSON when there are any.
///
/// The build's failures arrive inside the 200 stream: read it with
/// [`stream::copy_checked`](crate::ops::stream::copy_checked) or
/// [`stream::consume`](crate::ops::stream::consume). Neither the call nor the stream has a time
/// limit (a build step may stay silent for long).
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
    let headers = vec![
        ("Content-Type", "application/x-tar".to_string()),
        ("X-Registry-Config", NO_REGISTRY_CONFIG.to_string()),
    ];
    let endpoint = format!("/build{}", query(&params));
    let response = docker.call(
        "POST",
        &endpoint,
        headers,
        Body::Reader(context),
        Limits::Unbounded,
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
    use super::*;
    use crate::fake::testing::http::{json, serve};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn pull_sends_the_normalised_reference() {
        let (docker, server) = serve(|_| {
            (
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n{\"status\":\"done\"}\r\n\r\n0\r\n\r\n".to_vec(),
                false,
            )
        });
        let options = ImagePullOptions {
            registry_auth: "e30K".into(),
            platform: "Linux/AMD64".into(),
        };
        let body = pull(&docker, "busybox", &options).unwrap();
        let mut seen = Vec::new();
        crate::ops::stream::consume(body, |m| seen.push(m.status.clone())).unwrap();
        assert_eq!(seen, ["done"]);
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/images/create")
        );
        assert_eq!(
            r.query_pairs(),
            [
                ("fromImage", "docker.io/library/busybox"),
                ("platform", "linux/amd64"),
                ("tag", "latest")
            ]
        );
        assert_eq!(r.header("X-Registry-Auth"), Some("e30K"));
        assert!(r.body.is_empty());

        let cases = [
            ("quay.io/x/y:1", "quay.io/x/y", "1".to_string()),
            ("localhost:5000/a", "localhost:5000/a", "latest".to_string()),
            (
                &*format!("foo:2@{DIGEST}"),
                "docker.io/library/foo",
                DIGEST.to_string(),
            ),
        ];
        for (reference, from, tag) in &cases {
            let _ = pull(&docker, reference, &ImagePullOptions::default()).unwrap();
            let r = server.requests().pop().unwrap();
            assert_eq!(
                r.query_pairs(),
                [("fromImage", *from), ("tag", tag.as_str())]
            );
            assert_eq!(
                r.header("X-Registry-Auth"),
                None,
                "empty auth sends no header"
            );
        }
        let before = server.requests().len();
        let e = pull(&docker, "Not:Valid:", &ImagePullOptions::default())
            .map(drop)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
        assert_eq!(
            server.requests().len(),
            before,
            "nothing sent for an invalid reference"
        );
    }

    #[test]
    fn inspect_puts_the_name_in_the_path_unescaped() {
        let (docker, server) = serve(|r| {
            if r.path.contains("missing") {
                json(
                    "404 Not Found",
                    "{\"message\":\"No such image: missing:latest\"}",
                )
            } else {
                json(
                    "200 OK",
                    "{\"Id\":\"sha256:1\",\"RepoTags\":null,\"Config\":{\"User\":\"1001\",\"Labels\":{\"a\":\"b\"},\"Env\":[\"X=1\"],\"OnBuild\":null}}",
                )
            }
        });
        let name = format!("quay.io:443/x/y:1@{DIGEST}");
        let (image, raw) = inspect_with_raw(&docker, &name).unwrap();
        assert_eq!(image.id, "sha256:1");
        assert!(image.repo_tags.is_empty());
        let config = image.config.unwrap();
        assert_eq!(config.user, "1001");
        assert_eq!(
            config.labels.unwrap().get("a").map(String::as_str),
            Some("b")
        );
        assert!(raw.starts_with(b"{\"Id\""));
        let r = server.only_request();
        assert_eq!(r.method, "GET");
        assert_eq!(r.path, format!("/v1.41/images/{name}/json"));

        let e = inspect(&docker, "missing:latest").unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such image: missing:latest"
        );

        let e = inspect(&docker, "").unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
        assert_eq!(server.requests().len(), 2, "nothing sent for an empty name");
    }

    #[test]
    fn build_query_headers_and_streamed_body() {
        let (docker, server) = serve(|_| {
            json(
                "200 OK",
                "{\"stream\":\"Step 1/1 : FROM scratch\\n\"}\r\n{\"error\":\"boom\"}\r\n",
            )
        });
        let context: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let options = ImageBuildOptions {
            tags: vec!["app:1".into()],
            no_cache: true,
            remove: true,
            force_remove: true,
            memory: 1 << 30,
            memory_swap: -1,
            cpu_shares: 512,
            cpu_period: 0,
            cpu_quota: 50_000,
            cgroup_parent: "/s2i".into(),
            ..Default::default()
        };
        let out = build(&docker, &mut &context[..], &options).unwrap();
        let mut log = Vec::new();
        let e = crate::ops::stream::copy_checked(out, &mut log).unwrap_err();
        assert_eq!(e.to_string(), "boom");
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/build")
        );
        assert_eq!(
            r.query_pairs(),
            [
                ("cgroupparent", "/s2i"),
                ("cpuquota", "50000"),
                ("cpushares", "512"),
                ("forcerm", "1"),
                ("memory", "1073741824"),
                ("memswap", "-1"),
                ("nocache", "1"),
                ("rm", "1"),
                ("t", "app:1"),
            ]
        );
        assert_eq!(r.header("Content-Type"), Some("application/x-tar"));
        assert_eq!(r.header("X-Registry-Config"), Some("bnVsbA=="));
        assert_eq!(r.body, context);

        let _ = build(&docker, &mut &b""[..], &ImageBuildOptions::default()).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(r.query_pairs(), [("rm", "0")]);
    }

    #[test]
    fn remove_query() {
        let (docker, server) = serve(|_| {
            json(
                "200 OK",
                "[{\"Untagged\":\"a:1\"},{\"Deleted\":\"sha256:1\"}]",
            )
        });
        let items = remove(
            &docker,
            "a:1",
            &ImageRemoveOptions {
                force: true,
                no_prune: true,
            },
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1].deleted, "sha256:1");
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("DELETE", "/v1.41/images/a:1")
        );
        assert_eq!(r.query_pairs(), [("force", "1"), ("noprune", "1")]);
        assert!(remove(&docker, "", &ImageRemoveOptions::default()).is_err());
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn push_sends_the_tag_and_credentials_and_its_stream_carries_errors() {
        let (docker, server) = serve(|r| {
            if r.path.contains("refused") {
                json(
                    "200 OK",
                    "{\"status\":\"The push refers to repository [127.0.0.1:5000/refused]\"}\r\n{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},\"error\":\"unauthorized: authentication required\"}\r\n",
                )
            } else if r.path.contains("missing") {
                json(
                    "404 Not Found",
                    "{\"message\":\"An image does not exist locally with the tag: missing\"}",
                )
            } else {
                json(
                    "200 OK",
                    "{\"status\":\"Pushed\",\"id\":\"b81b\"}\r\n{\"status\":\"1: digest: sha256:0d00 size: 527\"}\r\n",
                )
            }
        });
        let options = ImagePushOptions {
            registry_auth: "eyJ1c2VybmFtZSI6InUifQo=".into(),
            tls_verify: None,
        };
        let body = push(&docker, "127.0.0.1:5000/team/app:1", &options).unwrap();
        let mut seen = Vec::new();
        crate::ops::stream::consume(body, |m| seen.push(m.status.clone())).unwrap();
        assert_eq!(seen, ["Pushed", "1: digest: sha256:0d00 size: 527"]);
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/images/127.0.0.1:5000/team/app/push")
        );
        assert_eq!(r.query_pairs(), [("tag", "1")]);
        assert_eq!(
            r.header("X-Registry-Auth"),
            Some("eyJ1c2VybmFtZSI6InUifQo=")
        );
        assert!(r.body.is_empty());

        // Familiar name, default tag, and a header even without credentials (the Docker engine
        // refuses a push without one); Podman's tlsVerify only when asked.
        let options = ImagePushOptions {
            registry_auth: String::new(),
            tls_verify: Some(false),
        };
        let _ = push(&docker, "docker.io/library/busybox", &options).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(r.path, "/v1.41/images/busybox/push");
        assert_eq!(r.query_pairs(), [("tag", "latest"), ("tlsVerify", "false")]);
        assert_eq!(r.header("X-Registry-Auth"), Some("e30K"));

        // A refused push is a 200 whose stream says why.
        let body = push(
            &docker,
            "127.0.0.1:5000/refused:1",
            &ImagePushOptions::default(),
        )
        .unwrap();
        let e = crate::ops::stream::consume(body, |_| {}).unwrap_err();
        assert!(matches!(e, Error::Stream { .. }), "{e:?}");
        assert_eq!(e.to_string(), "unauthorized: authentication required");
        assert!(e.is_unauthorized());

        let e = push(&docker, "missing", &ImagePushOptions::default())
            .map(drop)
            .unwrap_err();
        assert!(e.is_not_found(), "{e:?}");

        let before = server.requests().len();
        for bad in [
            format!("app@{DIGEST}"),
            "Not:Valid:".to_string(),
            String::new(),
        ] {
            let e = push(&docker, &bad, &ImagePushOptions::default())
                .map(drop)
                .unwrap_err();
            assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e:?}");
        }
        assert_eq!(
            server.requests().len(),
            before,
            "nothing sent for a bad reference"
        );
    }

    #[test]
    fn tag_normalises_the_target() {
        let (docker, server) = serve(|r| {
            if r.path.contains("missing") {
                json(
                    "404 Not Found",
                    "{\"message\":\"No such image: missing:latest\"}",
                )
            } else {
                (
                    b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
                    false,
                )
            }
        });
        tag(&docker, "sha256:abc", "127.0.0.1:5000/team/app:1").unwrap();
        let r = server.only_request();
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/v1.41/images/sha256:abc/tag")
        );
        assert_eq!(
            r.query_pairs(),
            [("repo", "127.0.0.1:5000/team/app"), ("tag", "1")]
        );

        tag(&docker, "app:1", "docker.io/library/busybox").unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(r.path, "/v1.41/images/app:1/tag");
        assert_eq!(r.query_pairs(), [("repo", "busybox"), ("tag", "latest")]);

        let e = tag(&docker, "missing", "x:1").unwrap_err();
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "Error response from daemon: No such image: missing:latest"
        );

        let before = server.requests().len();
        let digest = format!("app@{DIGEST}");
        for (source, target) in [
            ("app", digest.as_str()),
            ("app", "Not:Valid:"),
            (" ", "x:1"),
        ] {
            let e = tag(&docker, source, target).unwrap_err();
            assert!(
                matches!(e, Error::InvalidInput(_)),
                "{source} {target}: {e:?}"
            );
        }
        assert_eq!(
            server.requests().len(),
            before,
            "nothing sent for bad names"
        );
    }

    #[test]
    fn options_debug_hides_credentials() {
        let pull = ImagePullOptions {
            registry_auth: "eyJwYXNzd29yZCI6InNlY3JldCJ9Cg==".into(),
            ..Default::default()
        };
        let push = ImagePushOptions {
            registry_auth: pull.registry_auth.clone(),
            ..Default::default()
        };
        for d in [format!("{pull:?}"), format!("{push:?}")] {
            assert!(!d.contains("eyJ") && d.contains("<redacted>"), "{d}");
        }
    }

    #[test]
    fn podman_inspects_and_removes_the_docker_meaning_of_a_short_name() {
        let (docker, server) = serve(|r| {
            if r.path.contains("docker.io/library/cli-only") {
                return json(
                    "404 Not Found",
                    "{\"message\":\"failed to find image: No such image\"}",
                );
            }
            if r.method == "DELETE" {
                return json("200 OK", "[{\"Untagged\":\"docker.io/library/app:1\"}]");
            }
            let hex = "cd".repeat(32);
            json(
                "200 OK",
                &format!("{{\"Id\":\"{hex}\",\"RepoTags\":[\"docker.io/library/app:1\",\"localhost/app:1\",\"docker.io/u/x:2\"],\"RepoDigests\":[\"docker.io/library/app@{DIGEST}\"]}}"),
            )
        });
        let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
        let image = inspect(&docker, "app:1").unwrap();
        assert_eq!(image.id, format!("sha256:{}", "cd".repeat(32)));
        assert_eq!(image.repo_tags, ["app:1", "localhost/app:1", "u/x:2"]);
        assert_eq!(image.repo_digests, [format!("app@{DIGEST}")]);
        inspect(&docker, "cli-only").unwrap();
        inspect(&docker, "localhost/app:1").unwrap();
        remove(&docker, "app:1", &ImageRemoveOptions::default()).unwrap();
        remove(&docker, "cli-only:2", &ImageRemoveOptions::default()).unwrap();
        let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(
            paths,
            [
                "/v1.41/images/docker.io/library/app:1/json",
                "/v1.41/images/docker.io/library/cli-only/json",
                "/v1.41/images/cli-only/json",
                "/v1.41/images/localhost/app:1/json",
                "/v1.41/images/docker.io/library/app:1",
                "/v1.41/images/docker.io/library/cli-only:2",
                "/v1.41/images/cli-only:2",
            ]
        );
        // Missing both ways: the error about the name as given.
        let e = inspect(&docker, "docker.io/library/cli-only").unwrap_err();
        assert!(e.is_not_found());
    }

    #[test]
    fn podman_inspects_again_when_another_image_went_meanwhile() {
        const RACE: &str = "{\"message\":\"failed to convert ImageData to ImageInspect 'docker.io/library/app:1': reading image \\\"68bd\\\": locating image with ID \\\"68bd\\\": image not known\"}";
        let (docker, server) = serve(|r| {
            if r.path.contains("missing") {
                return json(
                    "404 Not Found",
                    "{\"message\":\"failed to find image missing: No such image\"}",
                );
            }
            if r.path.contains("racing") {
                return json("500 Internal Server Error", RACE);
            }
            json("200 OK", "{\"Id\":\"sha256:1\"}")
        });
        let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
        let e = inspect(&docker, "localhost/racing:1").unwrap_err();
        assert_eq!(e.status(), Some(500));
        assert_eq!(
            server.requests().len(),
            crate::ops::podman::INSPECT_ATTEMPTS as usize,
            "bounded attempts"
        );
        // A missing image is not retried, nor is any other failure.
        assert!(inspect(&docker, "localhost/missing")
            .unwrap_err()
            .is_not_found());
        assert_eq!(
            server.requests().len(),
            crate::ops::podman::INSPECT_ATTEMPTS as usize + 1
        );
        assert!(crate::ops::podman::is_inspect_race(&Error::api(
            500,
            "x: image not known"
        )));
        assert!(!crate::ops::podman::is_inspect_race(&Error::api(
            500, "boom"
        )));
        assert!(!crate::ops::podman::is_inspect_race(&Error::api(
            404,
            "image not known"
        )));
    }
}
