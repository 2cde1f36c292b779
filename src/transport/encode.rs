//! Percent-encoding of request targets and the query builder.
//!
//! The transport sends targets as given, so callers build them with these functions. Unreserved
//! characters (RFC 3986 §2.3: `A-Z a-z 0-9 - . _ ~`) are kept; every other byte of the UTF-8
//! form is written as `%XX` with upper-case hex digits.
//!
//! Uses nothing of the crate (only std).

const HEX: &[u8; 16] = b"0123456789ABCDEF";

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn encode_into(out: &mut String, s: &str, keep: impl Fn(u8) -> bool) {
    // Runs of kept bytes are copied whole. `keep` admits ASCII bytes only, so a run starts and
    // ends on character boundaries.
    let mut run = 0;
    for (i, b) in s.bytes().enumerate() {
        if keep(b) {
            continue;
        }
        if run < i {
            out.push_str(&s[run..i]);
        }
        out.push('%');
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
        run = i + 1;
    }
    if run < s.len() {
        out.push_str(&s[run..]);
    }
}

fn encode(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    encode_into(&mut out, s, keep);
    out
}

/// Percent-encodes one path segment: a container ID, a name, a tag.
///
/// Keeps the unreserved characters and `:` and `@` (allowed in a segment by RFC 3986 §3.3, and
/// common in image references); `/` is encoded, so the value stays one segment.
///
/// `encode_path_segment("my app:v1")` is `my%20app:v1`.
pub fn encode_path_segment(s: &str) -> String {
    encode(s, |b| is_unreserved(b) || b == b':' || b == b'@')
}

/// Percent-encodes a value that may span several path segments, keeping `/`.
///
/// Docker image names carry slashes (`registry:5000/team/app:tag`) and the daemon's routes take
/// the rest of the path as the name (`/images/{name}/json`), so the slashes must stay as they are.
pub fn encode_path(s: &str) -> String {
    encode(s, |b| is_unreserved(b) || matches!(b, b':' | b'@' | b'/'))
}

/// Percent-encodes a query key or value.
///
/// Only unreserved characters are kept; a space becomes `%20` (which every decoder reads as a
/// space, unlike `+`, which only form decoders do).
pub fn encode_query_value(s: &str) -> String {
    encode(s, is_unreserved)
}

/// Builds a query string from key/value pairs: `?k1=v1&k2=v2`, or `""` when there are none.
///
/// Keys are sorted alphabetically (values of one key keep their order), as Go's
/// `url.Values.Encode` does, so requests match the reference's byte for byte. Keys and values
/// are percent-encoded with [`encode_query_value`].
pub fn query(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    // Repeated keys keep their order, as in url.Values: by key, then by place.
    let mut sorted: Vec<(usize, &(&str, &str))> = pairs.iter().enumerate().collect();
    sorted.sort_unstable_by(|(i, a), (j, b)| a.0.cmp(b.0).then(i.cmp(j)));
    let mut out = String::with_capacity(
        1 + pairs
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>(),
    );
    for (n, (_, (k, v))) in sorted.into_iter().enumerate() {
        out.push(if n == 0 { '?' } else { '&' });
        encode_into(&mut out, k, is_unreserved);
        out.push('=');
        encode_into(&mut out, v, is_unreserved);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments() {
        const CASES: &[(&str, &str)] = &[
            ("", ""),
            ("abc123", "abc123"),
            ("my app:v1", "my%20app:v1"),
            ("a/b", "a%2Fb"),
            ("user@host", "user@host"),
            ("-._~", "-._~"),
            ("100%", "100%25"),
            ("é", "%C3%A9"),
            ("a?b#c&d=e+f", "a%3Fb%23c%26d%3De%2Bf"),
        ];
        for (input, want) in CASES {
            assert_eq!(encode_path_segment(input), *want, "{input:?}");
        }
    }

    #[test]
    fn paths_keep_slashes() {
        assert_eq!(
            encode_path("registry:5000/team/app:1.0"),
            "registry:5000/team/app:1.0"
        );
        assert_eq!(encode_path("app@sha256:abcd"), "app@sha256:abcd");
        assert_eq!(encode_path("a b/c?d"), "a%20b/c%3Fd");
    }

    #[test]
    fn query_values() {
        assert_eq!(encode_query_value("a b"), "a%20b");
        assert_eq!(encode_query_value("/tmp/x y"), "%2Ftmp%2Fx%20y");
        assert_eq!(
            encode_query_value("docker.io/library/busybox"),
            "docker.io%2Flibrary%2Fbusybox"
        );
        assert_eq!(encode_query_value("k=v&x"), "k%3Dv%26x");
        assert_eq!(encode_query_value("~-._"), "~-._");
    }

    #[test]
    fn every_prefix_encodes_to_a_prefix() {
        // Encoding is byte-by-byte with no state: a prefix of the input encodes to a prefix of
        // the output, at every split point.
        let input = "registry:5000/a b/ü@x?y=z&é~";
        let fns: [fn(&str) -> String; 3] = [encode_path_segment, encode_path, encode_query_value];
        for f in fns {
            let whole = f(input);
            for (i, _) in input.char_indices() {
                assert!(whole.starts_with(&f(&input[..i])), "{i}");
            }
        }
        let whole = query(&[("k", input)]);
        for (i, _) in input.char_indices() {
            assert!(whole.starts_with(&query(&[("k", &input[..i])])));
        }
    }

    #[test]
    fn runs_and_single_bytes_encode_alike() {
        // The encoder copies runs of kept bytes whole; byte by byte gives the same text.
        fn bytewise(s: &str, keep: fn(u8) -> bool) -> String {
            s.bytes()
                .map(|b| match keep(b) {
                    true => char::from(b).to_string(),
                    false => format!("%{b:02X}"),
                })
                .collect()
        }
        let segment: fn(u8) -> bool = |b| is_unreserved(b) || b == b':' || b == b'@';
        let path: fn(u8) -> bool = |b| is_unreserved(b) || matches!(b, b':' | b'@' | b'/');
        for input in [
            "",
            "é",
            "éé",
            "aé",
            "éa",
            "a é€/b:c@d",
            "€€ x",
            "/ü/",
            "日本語/tag:1",
        ] {
            assert_eq!(encode_path_segment(input), bytewise(input, segment));
            assert_eq!(encode_path(input), bytewise(input, path));
            assert_eq!(encode_query_value(input), bytewise(input, is_unreserved));
        }
    }

    #[test]
    fn queries_are_sorted_like_go() {
        assert_eq!(query(&[]), "");
        assert_eq!(query(&[("v", "1")]), "?v=1");
        assert_eq!(
            query(&[
                ("tag", "latest"),
                ("fromImage", "docker.io/library/busybox")
            ]),
            "?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest"
        );
        assert_eq!(
            query(&[
                ("stream", "1"),
                ("stdin", "1"),
                ("stdout", "1"),
                ("stderr", "1")
            ]),
            "?stderr=1&stdin=1&stdout=1&stream=1"
        );
        // Repeated keys keep their order; empty values are still sent.
        assert_eq!(query(&[("b", "2"), ("a", ""), ("b", "1")]), "?a=&b=2&b=1");
        assert_eq!(
            query(&[("path", "/tmp/a b"), ("noOverwriteDirNonDir", "true")]),
            "?noOverwriteDirNonDir=true&path=%2Ftmp%2Fa%20b"
        );
    }
}
