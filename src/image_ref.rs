//! Image references: parsing and normalisation as the docker CLI does it, plus the reference's
//! own looser helpers ([`parse_repository_tag`], [`get_image_name`], [`container_name`]).
//!
//! [`parse_normalized_named`] follows the grammar of the `distribution/reference` Go package:
//!
//! ```text
//! reference        := name [ ":" tag ] [ "@" digest ]
//! name             := [domain "/"] path-component ["/" path-component]*
//! domain           := host [":" port]          host: domain-name | IPv4 | "[" IPv6 "]"
//! domain-component := /[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]/
//! path-component   := /[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/
//! tag              := /[\w][\w.-]{0,127}/
//! digest           := algorithm ":" hex        (sha256, sha384, sha512)
//! ```
//!
//! A first component is a registry domain when it contains `.` or `:`, is `localhost`, or has an
//! upper-case letter; otherwise the name lives on Docker Hub (`docker.io`), and a single-component
//! Hub name gets the `library/` namespace: `busybox` is `docker.io/library/busybox`.
//!
//! ```
//! use s2i_docker::image_ref::parse_normalized_named;
//! let r = parse_normalized_named("busybox:1.36")?;
//! assert_eq!(r.name(), "docker.io/library/busybox");
//! assert_eq!(r.tag.as_deref(), Some("1.36"));
//! assert_eq!(r.familiar_string(), "busybox:1.36");
//! # Ok::<(), s2i_docker::Error>(())
//! ```
//!
//! A leaf beside the layers: it uses only `error`.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The tag added to an image name that has neither tag nor digest.
pub const DEFAULT_TAG: &str = "latest";

/// The registry of names without one.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The old name of [`DEFAULT_DOMAIN`], rewritten to it.
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of single-component Docker Hub names.
const OFFICIAL_REPO_NAME: &str = "library";
/// The longest `domain/path` the grammar accepts.
const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, normalised image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The registry, e.g. `docker.io`, `quay.io`, `localhost:5000`.
    ///
    /// Empty only in a corner of the grammar: a first component with a `.` that is not a valid
    /// host (e.g. `a_b.c/d`) makes the whole name a path, as in the Go package.
    pub domain: String,
    /// The repository path inside the registry, e.g. `library/busybox`.
    pub path: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The digest (`sha256:<hex>`), if one was given.
    pub digest: Option<String>,
}

impl Reference {
    /// The fully qualified name without tag or digest: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// The name as the docker CLI prints it: `busybox`, `user/app`, `quay.io/x/y`.
    ///
    /// As with the CLI's `FamiliarName`, the short form of a Docker Hub name does not always read
    /// back as the same name: `docker.io/a.b/c` prints as `a.b/c`, which names the registry
    /// `a.b`, and `docker.io/library/` followed by 64 hex digits prints as those digits, which
    /// read as an image ID. Store or pass on the fully qualified form (`to_string()`, or
    /// [`name`](Reference::name)); it always reads back.
    ///
    /// ```
    /// use s2i_docker::image_ref::parse_normalized_named;
    ///
    /// let r = parse_normalized_named("docker.io/a.b/c").unwrap();
    /// assert_eq!(r.familiar_name(), "a.b/c");
    /// assert_eq!(parse_normalized_named("a.b/c").unwrap().domain, "a.b");
    /// assert_eq!(parse_normalized_named(&r.to_string()).unwrap(), r);
    /// ```
    pub fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix("library/") {
                Some(rest) if !rest.contains('/') => rest.to_string(),
                _ => self.path.clone(),
            }
        } else {
            self.name()
        }
    }

    /// [`familiar_name`](Reference::familiar_name) with the tag and digest: `busybox:1.36`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_tag_digest(&mut s);
        s
    }

    /// The tag to pull or commit: the digest if there is one, else the tag, else `latest`.
    ///
    /// This is how the Engine's `POST /images/create` wants its `tag` parameter.
    pub fn tag_or_digest(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(crate::image_ref::DEFAULT_TAG)
    }

    fn push_tag_digest(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(digest);
        }
    }
}

impl fmt::Display for Reference {
    /// The fully qualified form: `docker.io/library/busybox:1.36`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_digest(&mut s);
        f.write_str(&s)
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidInput(message.into())
}

/// Parses an image reference the way the docker CLI does (Go's `reference.ParseNormalizedNamed`).
///
/// # Errors
/// [`Error::InvalidInput`] with the Go package's texts: `invalid reference format`,
/// `invalid reference format: repository name (<name>) must be lowercase`, `invalid tag format`,
/// `invalid checksum digest format`, `unsupported digest algorithm`,
/// `invalid checksum digest length`, `repository name must not be more than 255 characters`,
/// and `invalid repository name (<s>), cannot specify 64-byte hexadecimal strings`.
pub fn parse_normalized_named(s: &str) -> Result<Reference> {
    if s.len() == 64 && is_lower_hex(s) {
        return Err(invalid(format!(
            "invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        )));
    }
    let (domain, remainder) = split_docker_domain(s);
    let remote_name = match remainder.find(':') {
        Some(i) => &remainder[..i],
        None => &remainder[..],
    };
    if remote_name.to_lowercase() != remote_name {
        return Err(invalid(format!(
            "invalid reference format: repository name ({remote_name}) must be lowercase"
        )));
    }
    parse(&domain, &remainder)
}

/// Splits off the registry as the docker CLI does, adding `docker.io` and `library/` as needed.
fn split_docker_domain(name: &str) -> (String, String) {
    let (mut domain, mut remainder) = match name.find('/') {
        Some(i)
            if name[..i].contains(['.', ':'])
                || &name[..i] == "localhost"
                || name[..i].to_lowercase() != name[..i] =>
        {
            (name[..i].to_string(), name[i + 1..].to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    if domain == LEGACY_DEFAULT_DOMAIN {
        domain = DEFAULT_DOMAIN.to_string();
    }
    if domain == DEFAULT_DOMAIN && !remainder.contains('/') {
        remainder = format!("{OFFICIAL_REPO_NAME}/{remainder}");
    }
    (domain, remainder)
}

/// Go's `reference.Parse(domain + "/" + remainder)`, with the domain already split off.
fn parse(domain: &str, remainder: &str) -> Result<Reference> {
    // `name` and `tag` cannot contain `@`, and `name` cannot contain `:` (the domain is gone), so
    // the first `@` starts the digest and the first `:` before it starts the tag.
    let (named, digest) = match remainder.find('@') {
        Some(i) => (&remainder[..i], Some(&remainder[i + 1..])),
        None => (remainder, None),
    };
    let (path, tag) = match named.find(':') {
        Some(i) => (&named[..i], Some(&named[i + 1..])),
        None => (named, None),
    };
    let format_error = || invalid("invalid reference format");
    let tag_ok = tag.map_or(true, is_tag);
    let digest_ok = digest.map_or(true, is_digest_syntax);
    // As the Go regex would: when the first component is no valid host, try the whole name as a path.
    let (domain, path) = if is_domain(domain) && is_path(path) {
        (domain.to_string(), path.to_string())
    } else if is_path(domain) && is_path(path) {
        (String::new(), format!("{domain}/{path}"))
    } else {
        let whole = format!("{domain}/{remainder}");
        if whole.to_lowercase() != whole && parse_lowercase_ok(&whole.to_lowercase()) {
            return Err(invalid("repository name must be lowercase"));
        }
        return Err(format_error());
    };
    if !tag_ok || !digest_ok {
        return Err(format_error());
    }
    let name_len = if domain.is_empty() {
        path.len()
    } else {
        domain.len() + 1 + path.len()
    };
    if name_len > NAME_TOTAL_LENGTH_MAX {
        return Err(invalid(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters"
        )));
    }
    if let Some(d) = digest {
        validate_digest(d)?;
    }
    Ok(Reference {
        domain,
        path,
        tag: tag.map(str::to_string),
        digest: digest.map(str::to_string),
    })
}

/// Whether a lower-cased reference would match the grammar (to pick the upper-case error text).
fn parse_lowercase_ok(s: &str) -> bool {
    let (named, digest) = match s.find('@') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    if !digest.map_or(true, is_digest_syntax) {
        return false;
    }
    let (first, rest) = match named.find('/') {
        Some(i) => (&named[..i], &named[i + 1..]),
        None => return false,
    };
    let (path, tag) = match rest.find(':') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    tag.map_or(true, is_tag) && is_path(path) && (is_domain(first) || is_path(first))
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// `path-component ("/" path-component)*`.
fn is_path(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(is_path_component)
}

/// `[a-z0-9]+ ((?:[._]|__|[-]+) [a-z0-9]+)*`.
fn is_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_alnum_lower(b[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == b.len() {
            return true;
        }
        // A separator: one `.`, one or two `_`, or any run of `-`.
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
    }
}

/// `host [":" port]`.
fn is_domain(s: &str) -> bool {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        // `[IPv6]` with an optional port after the bracket.
        let Some(end) = rest.find(']') else {
            return false;
        };
        let inner = &rest[..end];
        if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        let after = &rest[end + 1..];
        match after.strip_prefix(':') {
            Some(port) => ("[v6]", Some(port)),
            None if after.is_empty() => ("[v6]", None),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    host == "[v6]" || (!host.is_empty() && host.split('.').all(is_domain_component))
}

/// `[a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_domain_component(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// `[\w][\w.-]{0,127}`.
fn is_tag(s: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// The digest's shape in the reference grammar: `[A-Za-z][A-Za-z0-9]*([+.-_][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}`.
fn is_digest_syntax(s: &str) -> bool {
    let Some((algorithm, hex)) = s.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['+', '.', '-', '_']).all(|c| {
        let b = c.as_bytes();
        !b.is_empty() && b[0].is_ascii_alphabetic() && b.iter().all(u8::is_ascii_alphanumeric)
    });
    algorithm_ok && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// go-digest's `Parse`: a known algorithm and an encoded part of its exact length, lower-case hex.
fn validate_digest(s: &str) -> Result<()> {
    let Some((algorithm, hex)) = s
        .split_once(':')
        .filter(|(a, h)| !a.is_empty() && !h.is_empty())
    else {
        return Err(invalid("invalid checksum digest format"));
    };
    let size = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return Err(invalid("unsupported digest algorithm")),
    };
    if hex.len() != size {
        return Err(invalid("invalid checksum digest length"));
    }
    if !is_lower_hex(hex) {
        return Err(invalid("invalid checksum digest format"));
    }
    Ok(())
}

/// Splits `repo[:tag][@digest]` the reference's loose way, without validating: `(base, tag, id)`.
///
/// With an `@`, the text before the first `@` is the base and the text after it the id (the tag
/// stays inside the base). Otherwise the last `:` separates the tag unless what follows contains a
/// `/` (then it was a registry port).
///
/// ```
/// use s2i_docker::image_ref::parse_repository_tag;
/// assert_eq!(parse_repository_tag("localhost:5000/foo:1"), ("localhost:5000/foo".into(), "1".into(), String::new()));
/// assert_eq!(parse_repository_tag("localhost:5000/foo"), ("localhost:5000/foo".into(), String::new(), String::new()));
/// ```
pub fn parse_repository_tag(repos: &str) -> (String, String, String) {
    if let Some((base, rest)) = repos.split_once('@') {
        // Go splits on every `@` and keeps the second part.
        let id = rest.split('@').next().unwrap_or_default();
        return (base.to_string(), String::new(), id.to_string());
    }
    match repos.rfind(':') {
        Some(i) if !repos[i + 1..].contains('/') => (
            repos[..i].to_string(),
            repos[i + 1..].to_string(),
            String::new(),
        ),
        _ => (repos.to_string(), String::new(), String::new()),
    }
}

/// Adds `:latest` to a name that has neither tag nor digest (the reference's `getImageName`).
///
/// A trailing `:` with nothing after it counts as no tag, so `foo:` becomes `foo:latest`
/// (the reference gives `foo::latest`).
///
/// ```
/// use s2i_docker::image_ref::get_image_name;
/// assert_eq!(get_image_name("test/image"), "test/image:latest");
/// assert_eq!(get_image_name("foo@sha256:abc"), "foo@sha256:abc");
/// ```
pub fn get_image_name(name: &str) -> String {
    let (base, tag, id) = parse_repository_tag(name);
    if tag.is_empty() && id.is_empty() {
        format!("{base}:{}", crate::image_ref::DEFAULT_TAG)
    } else {
        name.to_string()
    }
}

/// A fresh container name for an image: `s2i_<image>_<8 hex digits>`.
///
/// Every character of the image name other than an ASCII letter or digit becomes `_`, and the
/// suffix is random so that concurrent runs of one image do not collide.
///
/// ```
/// let name = s2i_docker::image_ref::container_name("quay.io/x:1");
/// assert!(name.starts_with("s2i_quay_io_x_1_"));
/// assert_eq!(name.len(), "s2i_quay_io_x_1_".len() + 8);
/// ```
pub fn container_name(image: &str) -> String {
    let mapped: String = image
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("s2i_{mapped}_{:08x}", random_u32())
}

/// A random number from std alone: a randomly keyed SipHash of the time and a counter.
fn random_u32() -> u32 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    h.write_u128(now);
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    let v = h.finish();
    (v ^ (v >> 32)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const H64: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn ok(s: &str) -> Reference {
        parse_normalized_named(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn normalises_names() {
        // (input, name, tag, digest)
        let cases: &[(&str, &str, Option<&str>, bool)] = &[
            ("busybox", "docker.io/library/busybox", None, false),
            (
                "busybox:1.36",
                "docker.io/library/busybox",
                Some("1.36"),
                false,
            ),
            ("library/busybox", "docker.io/library/busybox", None, false),
            (
                "docker.io/busybox",
                "docker.io/library/busybox",
                None,
                false,
            ),
            (
                "index.docker.io/busybox",
                "docker.io/library/busybox",
                None,
                false,
            ),
            ("foo/bar/baz", "docker.io/foo/bar/baz", None, false),
            ("quay.io/foo/bar:tag", "quay.io/foo/bar", Some("tag"), false),
            ("quay.io/bar", "quay.io/bar", None, false),
            ("localhost/foo", "localhost/foo", None, false),
            (
                "localhost:5000/foo/bar",
                "localhost:5000/foo/bar",
                None,
                false,
            ),
            ("myreg:5000/a/b/c:t", "myreg:5000/a/b/c", Some("t"), false),
            (
                "registry.example.com/a/b/c",
                "registry.example.com/a/b/c",
                None,
                false,
            ),
            ("Foo/bar", "Foo/bar", None, false),
            (
                "127.0.0.1:5000/s2i/busybox:1",
                "127.0.0.1:5000/s2i/busybox",
                Some("1"),
                false,
            ),
            ("[::1]:5000/foo", "[::1]:5000/foo", None, false),
            (
                "foo/a-b__c.d---e",
                "docker.io/foo/a-b__c.d---e",
                None,
                false,
            ),
            ("myimg", "docker.io/library/myimg", None, false),
        ];
        for &(input, name, tag, _) in cases {
            let r = ok(input);
            assert_eq!(r.name(), name, "{input}");
            assert_eq!(r.tag.as_deref(), tag, "{input}");
            assert_eq!(r.digest, None, "{input}");
        }
        let d = format!("foo@sha256:{H64}");
        let r = ok(&d);
        assert_eq!(r.name(), "docker.io/library/foo");
        assert_eq!(r.domain, "docker.io");
        assert_eq!(r.digest.as_deref(), Some(&*format!("sha256:{H64}")));
        let both = ok(&format!("quay.io/a/b:1@sha256:{H64}"));
        assert_eq!(both.tag.as_deref(), Some("1"));
        assert_eq!(both.to_string(), format!("quay.io/a/b:1@sha256:{H64}"));
        assert_eq!(both.tag_or_digest(), format!("sha256:{H64}"));
        assert_eq!(ok("busybox").tag_or_digest(), "latest");
        assert_eq!(ok("busybox:1").tag_or_digest(), "1");
    }

    #[test]
    fn rejects_invalid_references() {
        let cases: &[(&str, &str)] = &[
            (
                "BUSYBOX",
                "invalid reference format: repository name (library/BUSYBOX) must be lowercase",
            ),
            (
                "foo/Bar",
                "invalid reference format: repository name (foo/Bar) must be lowercase",
            ),
            ("", "invalid reference format"),
            ("foo:", "invalid reference format"),
            ("https://quay.io/foo", "invalid reference format"),
            ("foo@sha256:abc", "invalid reference format"),
            ("foo:a+b", "invalid reference format"),
            ("foo/-bar", "invalid reference format"),
            ("foo//bar", "invalid reference format"),
            ("foo/bar/", "invalid reference format"),
            (
                "foo@md5:0123456789abcdef0123456789abcdef",
                "unsupported digest algorithm",
            ),
            (
                "foo@sha256:0123456789abcdef0123456789abcdef",
                "invalid checksum digest length",
            ),
            ("quay.io:port/x", "invalid reference format"),
        ];
        for &(input, text) in cases {
            match parse_normalized_named(input) {
                Err(Error::InvalidInput(m)) => assert_eq!(m, text, "{input}"),
                other => panic!("{input}: {other:?}"),
            }
        }
        let e = parse_normalized_named(H64).unwrap_err();
        assert!(e
            .to_string()
            .contains("cannot specify 64-byte hexadecimal strings"));
        let long = format!("quay.io/{}", "a".repeat(250));
        assert_eq!(
            parse_normalized_named(&long).unwrap_err().to_string(),
            "repository name must not be more than 255 characters"
        );
        let long_tag = format!("foo:{}", "a".repeat(129));
        assert!(parse_normalized_named(&long_tag).is_err());
        assert!(parse_normalized_named(&format!("foo:{}", "a".repeat(128))).is_ok());
    }

    #[test]
    fn registry_of_references() {
        // The registry derivation of spec §5.3: the first component when it has `.`/`:` or is localhost.
        fn registry(image: &str) -> Option<String> {
            let name = parse_normalized_named(image).ok()?.name();
            let first = name.split('/').next()?.to_string();
            (first.contains(['.', ':']) || first == "localhost").then_some(first)
        }
        assert_eq!(registry("busybox").as_deref(), Some("docker.io"));
        assert_eq!(
            registry("index.docker.io/busybox").as_deref(),
            Some("docker.io")
        );
        assert_eq!(registry("localhost/foo").as_deref(), Some("localhost"));
        assert_eq!(
            registry("myreg:5000/a/b/c:t").as_deref(),
            Some("myreg:5000")
        );
        assert_eq!(registry("Foo/bar"), None);
        assert_eq!(
            registry(&format!("foo@sha256:{H64}")).as_deref(),
            Some("docker.io")
        );
    }

    #[test]
    fn odd_hosts_fall_back_to_a_path() {
        let r = ok("a_b.c/d");
        assert_eq!((r.domain.as_str(), r.path.as_str()), ("", "a_b.c/d"));
        assert_eq!(r.name(), "a_b.c/d");
    }

    #[test]
    fn familiar_forms() {
        let cases: &[(&str, &str)] = &[
            ("busybox", "busybox"),
            ("docker.io/library/busybox:1", "busybox:1"),
            ("library/a/b", "library/a/b"),
            ("user/app:2", "user/app:2"),
            ("quay.io/x/y", "quay.io/x/y"),
            ("localhost:5000/foo", "localhost:5000/foo"),
        ];
        for &(input, familiar) in cases {
            assert_eq!(ok(input).familiar_string(), familiar, "{input}");
        }
    }

    #[test]
    fn repository_tags() {
        let cases: &[(&str, (&str, &str, &str), &str)] = &[
            ("test/image", ("test/image", "", ""), "test/image:latest"),
            (
                "test/image:tag",
                ("test/image", "tag", ""),
                "test/image:tag",
            ),
            (
                "localhost:5000/foo",
                ("localhost:5000/foo", "", ""),
                "localhost:5000/foo:latest",
            ),
            (
                "localhost:5000/foo:1",
                ("localhost:5000/foo", "1", ""),
                "localhost:5000/foo:1",
            ),
            (
                "foo@sha256:abc",
                ("foo", "", "sha256:abc"),
                "foo@sha256:abc",
            ),
            (
                "foo:1@sha256:abc",
                ("foo:1", "", "sha256:abc"),
                "foo:1@sha256:abc",
            ),
            ("a@b@c", ("a", "", "b"), "a@b@c"),
            (
                "quay.io:443/x",
                ("quay.io:443/x", "", ""),
                "quay.io:443/x:latest",
            ),
            ("foo:", ("foo", "", ""), "foo:latest"),
            ("", ("", "", ""), ":latest"),
        ];
        for &(input, (base, tag, id), image_name) in cases {
            assert_eq!(
                parse_repository_tag(input),
                (base.to_string(), tag.to_string(), id.to_string()),
                "{input}"
            );
            assert_eq!(get_image_name(input), image_name, "{input}");
        }
    }

    #[test]
    fn container_names() {
        let check = |image: &str, prefix: &str| {
            let n = container_name(image);
            let suffix = n.strip_prefix(prefix).unwrap_or_else(|| panic!("{n}"));
            assert_eq!(suffix.len(), 8, "{n}");
            assert!(
                suffix
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{n}"
            );
        };
        check(
            "sub.domain.com:5000/repo:tag@sha256:ffffff",
            "s2i_sub_domain_com_5000_repo_tag_sha256_ffffff_",
        );
        check("Ünïcode/x", "s2i__n_code_x_");
        let names: std::collections::HashSet<_> = (0..200).map(|_| container_name("x")).collect();
        assert!(names.len() >= 199, "random suffixes repeat too often");
    }
}
