//! The images a build pulls: the Dockerfile is read from the head of the tar context (which is
//! then sent whole, the part read first), and its `FROM` lines and `COPY --from` images name
//! the registries whose credentials the build needs.
//!
//! Only the head of the context is read ahead, at most [`MAX_PEEK`] bytes: a Dockerfile
//! further in leaves the images unknown, and the build then carries the credentials its
//! source lists, as before.

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};

/// How much of the context is held to find the Dockerfile.
pub(super) const MAX_PEEK: usize = 4 << 20;

/// The longest Dockerfile read.
const MAX_DOCKERFILE: u64 = 1 << 20;

/// Reads the context up to its Dockerfile (`dockerfile`, or `Dockerfile` when empty) and
/// returns the bytes read, to be sent before the rest, and the images the Dockerfile pulls
/// (empty when it was not found within [`MAX_PEEK`] bytes).
///
/// # Errors
/// Reading the context.
pub(super) fn peek_images(
    context: &mut (dyn Read + Send),
    dockerfile: &str,
    build_args: &HashMap<String, String>,
) -> io::Result<(Vec<u8>, Vec<String>)> {
    let wanted = match dockerfile.trim_start_matches("./") {
        "" => "Dockerfile",
        name => name,
    };
    let mut held = Held {
        inner: context,
        bytes: Vec::new(),
        failed: None,
    };
    let text = find_dockerfile(&mut held, wanted);
    if let Some(e) = held.failed.take() {
        return Err(e);
    }
    let images = text.map(|t| images_of(&t, build_args)).unwrap_or_default();
    Ok((held.bytes, images))
}

/// The context as read so far: every byte the tar reader took is kept, up to [`MAX_PEEK`].
struct Held<'a> {
    inner: &'a mut (dyn Read + Send),
    bytes: Vec<u8>,
    /// A read error of the context itself (not the cap), to be returned.
    failed: Option<io::Error>,
}

impl Read for Held<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = MAX_PEEK.saturating_sub(self.bytes.len()).min(buf.len());
        if room == 0 {
            return Err(io::Error::other(
                "the Dockerfile is not at the head of the context",
            ));
        }
        match self.inner.read(&mut buf[..room]) {
            Ok(n) => {
                self.bytes.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(copy)
            }
        }
    }
}

/// The Dockerfile's text, if the tar has an entry named `wanted` within the cap.
fn find_dockerfile(held: &mut Held<'_>, wanted: &str) -> Option<String> {
    let mut archive = tar::Archive::new(held);
    for entry in archive.entries().ok()? {
        let entry = entry.ok()?;
        let path = entry.path().ok()?.to_string_lossy().into_owned();
        if path.trim_start_matches("./") != wanted {
            continue;
        }
        let mut text = String::new();
        entry.take(MAX_DOCKERFILE).read_to_string(&mut text).ok()?;
        return Some(text);
    }
    None
}

/// The images a Dockerfile pulls: those of its `FROM` lines and `COPY --from` flags that are
/// neither `scratch` nor one of its stages, with `$NAME` and `${NAME}` replaced by the build
/// arguments or the defaults of the `ARG`s before the first `FROM`.
pub(super) fn images_of(dockerfile: &str, build_args: &HashMap<String, String>) -> Vec<String> {
    let mut args: HashMap<String, String> = HashMap::new();
    let mut stages: HashSet<String> = HashSet::new();
    let mut images: Vec<String> = Vec::new();
    let mut seen_from = false;
    for line in instructions(dockerfile) {
        let mut words = line.split_whitespace();
        let Some(keyword) = words.next() else {
            continue;
        };
        let words: Vec<&str> = words.collect();
        match keyword.to_ascii_uppercase().as_str() {
            "ARG" if !seen_from => {
                for arg in &words {
                    let (name, default) = arg.split_once('=').unwrap_or((arg, ""));
                    let value = build_args.get(name).map_or(default, String::as_str);
                    args.insert(name.to_string(), value.trim_matches('"').to_string());
                }
            }
            "FROM" => {
                seen_from = true;
                let mut rest = words.iter().filter(|w| !w.starts_with("--"));
                if let Some(image) = rest.next() {
                    images.push(substitute(image, &args));
                }
                if let (Some(kw), Some(name)) = (rest.next(), rest.next()) {
                    if kw.eq_ignore_ascii_case("AS") {
                        stages.insert(name.to_ascii_lowercase());
                    }
                }
            }
            "COPY" => {
                let from = words.iter().find_map(|w| w.strip_prefix("--from="));
                if let Some(from) = from {
                    images.push(substitute(from, &args));
                }
            }
            _ => {}
        }
    }
    let mut kept: Vec<String> = Vec::new();
    for image in images {
        let stage = stages.contains(&image.to_ascii_lowercase());
        let index = image.parse::<u32>().is_ok();
        if !(stage || index || image.eq_ignore_ascii_case("scratch") || kept.contains(&image)) {
            kept.push(image);
        }
    }
    kept
}

/// The Dockerfile's instructions, one string each: comments and blank lines dropped, lines
/// ending in `\` joined with the next.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                current.push_str(part);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// `$NAME` and `${NAME}` replaced by their values (unknown names by nothing, as the engine
/// does).
fn substitute(word: &str, args: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = word;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => (braced, after.len()),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        if let Some(value) = args.get(name) {
            out.push_str(value);
        }
        rest = &after[used..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_of_from_lines_stages_arguments_and_copy_from() {
        let dockerfile = "# syntax comment\n\
            ARG BASE=127.0.0.1:5000/base\n\
            ARG TAG\n\
            FROM --platform=linux/amd64 ${BASE}:$TAG AS build\n\
            RUN make \\\n  && make install\n\
            from build as test\n\
            COPY --from=quay.io/org/tools:1 /bin/tool /bin/\n\
            COPY --from=build /out /out\n\
            COPY --from=0 /out /out2\n\
            FROM scratch\n\
            FROM \\\n  registry.example.com/runtime\n\
            FROM 127.0.0.1:5000/base:2\n";
        let args = [("TAG".to_string(), "2".to_string())].into();
        assert_eq!(
            images_of(dockerfile, &args),
            [
                "127.0.0.1:5000/base:2",
                "quay.io/org/tools:1",
                "registry.example.com/runtime"
            ]
        );
        // The argument's default, and an unknown one left empty.
        let plain = images_of(
            "ARG V=1\nFROM app:$V\nFROM other:${NONE}x\n",
            &HashMap::new(),
        );
        assert_eq!(plain, ["app:1", "other:x"]);
    }

    fn tar_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.append_data(&mut header, path, *data).unwrap();
        }
        tar.into_inner().unwrap()
    }

    #[test]
    fn the_context_is_read_up_to_the_dockerfile_and_kept_whole() {
        let context = tar_of(&[
            ("a.txt", &[7u8; 3000]),
            ("./build/Dockerfile.app", b"FROM quay.io/x/y:1\n"),
            ("b.txt", &[9u8; 100_000]),
        ]);
        let mut reader: &[u8] = &context;
        let (head, images) =
            peek_images(&mut reader, "build/Dockerfile.app", &HashMap::new()).unwrap();
        assert_eq!(images, ["quay.io/x/y:1"]);
        assert!(head.len() < 5000, "{}", head.len());
        let mut whole = head;
        reader.read_to_end(&mut whole).unwrap();
        assert_eq!(whole, context);

        // No Dockerfile: no images, and nothing lost.
        let mut reader: &[u8] = &context;
        let (head, images) = peek_images(&mut reader, "", &HashMap::new()).unwrap();
        assert!(images.is_empty());
        let mut whole = head;
        reader.read_to_end(&mut whole).unwrap();
        assert_eq!(whole, context);

        // Not a tar at all: sent as it is, for the engine to refuse.
        let mut reader: &[u8] = b"not a tar";
        let (head, images) = peek_images(&mut reader, "", &HashMap::new()).unwrap();
        assert!(images.is_empty());
        assert_eq!(head, b"not a tar");
    }

    #[test]
    fn a_dockerfile_past_the_cap_is_not_looked_for() {
        let big = vec![1u8; MAX_PEEK + 10];
        let context = tar_of(&[("big", &big), ("Dockerfile", b"FROM quay.io/x/y\n")]);
        let mut reader: &[u8] = &context;
        let (head, images) = peek_images(&mut reader, "", &HashMap::new()).unwrap();
        assert!(images.is_empty());
        assert_eq!(head.len(), MAX_PEEK);
        let mut whole = head;
        reader.read_to_end(&mut whole).unwrap();
        assert_eq!(whole, context);
    }

    #[test]
    fn a_failing_context_is_an_error() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk gone"))
            }
        }
        let e = peek_images(&mut Failing, "", &HashMap::new()).unwrap_err();
        assert_eq!(e.to_string(), "disk gone");
    }
}
