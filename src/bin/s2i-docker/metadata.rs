//! Labels a script asks the new image to carry: `/tmp/.s2i/image_metadata.json`, and the
//! reference's limit on an image's labels.
//!
//! A script may write `{"labels": [{"name": "value"}, ...]}` to that file; before each commit
//! (of the builder's container, or in an extended build of the runtime image's) the reference
//! downloads it from the container, and its labels win over all others. The reference asks
//! for it on every build, one engine call whether or not it is there. Here the script's command
//! line tells: once the script succeeded, a line of its own on standard error when the file is
//! there, a marker made up for the build ([`watch`]), which the output shown leaves out
//! ([`Watch::shown`]). The file is downloaded only then.
//!
//! Where the reference stops with a Go panic (no `labels` member, a label that is not a
//! string), this says what is wrong; a file without `labels` adds none.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use s2i_docker::{Docker, DockerClient, Error, Result};

/// Where a script leaves the labels it asks for.
pub const PATH: &str = "/tmp/.s2i/image_metadata.json";

/// The most bytes the labels of an image may take, names and values together (the reference's
/// `maximumLabelSize`).
pub const MAX_LABEL_SIZE: usize = 10240;

/// The most of the file's tar that is read; the labels it may add are far smaller.
const MAX_DOWNLOAD: u64 = 1 << 20;

/// How long a commit waits to learn what the script's output said, once the output ended.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// The reader's half: finds the marker in a script's standard error and hides it.
pub struct Watch {
    marker: String,
    seen: AtomicBool,
    answer: mpsc::Sender<bool>,
}

/// The commit's half: whether the file is there, once the script's output was read.
pub struct Found {
    marker: String,
    answer: mpsc::Receiver<bool>,
}

/// A new marker, and its two halves.
pub fn watch() -> (Watch, Found) {
    let random = |n: u64| {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(n);
        h.finish()
    };
    let marker = format!("s2i-docker-metadata-{:016x}{:016x}", random(1), random(2));
    let (tx, rx) = mpsc::channel();
    let watch = Watch {
        marker: marker.clone(),
        seen: AtomicBool::new(false),
        answer: tx,
    };
    (watch, Found { marker, answer: rx })
}

/// The commit's half for a script whose command line cannot report the file: the answer is
/// yes, and the download finds out.
pub fn unknown() -> Found {
    let (yes, answer) = mpsc::channel();
    let _ = yes.send(true);
    Found {
        marker: String::new(),
        answer,
    }
}

impl Watch {
    /// What of `line` (a line of standard error, with its newline if it had one) is shown: all
    /// of it, or what came before the marker; the marker is noted.
    pub fn shown<'a>(&self, line: &'a str) -> &'a str {
        let text = line.strip_suffix('\n').unwrap_or(line);
        match text.strip_suffix(self.marker.as_str()) {
            Some(before) => {
                self.seen.store(true, Ordering::Relaxed);
                before
            }
            None => line,
        }
    }
}

impl Drop for Watch {
    /// The output has been read to its end (or its reader stopped): the answer is final.
    fn drop(&mut self) {
        let _ = self.answer.send(self.seen.load(Ordering::Relaxed));
    }
}

impl Found {
    /// The shell step that reports the file, to run after the script with its status in
    /// `$result`.
    pub fn shell_step(&self) -> String {
        format!(
            "if [ $result -eq 0 ] && [ -f {PATH} ]; then echo {} >&2; fi",
            self.marker
        )
    }

    /// Whether the script's output said the file is there; waits for the output's reader to
    /// finish. When it cannot tell, the answer is yes: the download finds out.
    pub fn present(&self) -> bool {
        self.answer.recv_timeout(ANSWER_WAIT).unwrap_or(true)
    }
}

/// `line` followed by `steps`, with the status of `line` in `$result` for them and as the
/// status of the whole.
pub fn then(line: &str, steps: &[String]) -> String {
    let mut s = format!("{line}; result=$?");
    for step in steps {
        s.push_str("; ");
        s.push_str(step);
    }
    s.push_str("; exit $result");
    s
}

/// The labels of the container's [`PATH`]: none when it is gone; `image` names the image in
/// errors, as the reference names it.
///
/// # Errors
/// The download failed for another reason than a missing file; the file is larger than 1 MiB,
/// is not a regular file, or does not hold labels as S2I writes them.
pub fn read_labels(
    docker: &DockerClient,
    container: &str,
    image: &str,
) -> Result<HashMap<String, String>> {
    crate::progress::detail(3, "Checking for new Labels to apply... ");
    let mut tar = Limited(Vec::new());
    match docker.download_from_container(PATH, &mut tar, container) {
        Err(e) if e.is_not_found() => {
            crate::progress::detail(
                3,
                "unable to download and extract 'image_metadata.json' ... continuing",
            );
            return Ok(HashMap::new());
        }
        Err(e) => {
            return Err(Error::other(format!(
                "could not check for new labels for {image:?} image: could not download {PATH} from container {container}: {e}"
            )))
        }
        Ok(()) => {}
    }
    let text = file_of(&tar.0).map_err(|e| {
        Error::other(format!(
            "could not check for new labels for {image:?} image: {PATH}: {e}"
        ))
    })?;
    labels_of(&text).map_err(|e| {
        Error::other(format!(
            "could not check for new labels for {image:?} image: {e}"
        ))
    })
}

/// A download's bytes, refused past [`MAX_DOWNLOAD`].
struct Limited(Vec<u8>);

impl Write for Limited {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if (self.0.len() + buf.len()) as u64 > MAX_DOWNLOAD {
            return Err(io::Error::other("larger than 1 MiB"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The content of the one regular file of a download's tar.
fn file_of(tar: &[u8]) -> io::Result<Vec<u8>> {
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.header().entry_type().is_file() {
            let mut content = Vec::new();
            entry.read_to_end(&mut content)?;
            return Ok(content);
        }
    }
    Err(io::Error::other("not a regular file"))
}

/// The labels of the file's text: `labels`, an array of objects whose members are strings;
/// a later label wins over an earlier one of the same name.
fn labels_of(text: &[u8]) -> std::result::Result<HashMap<String, String>, String> {
    let data: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| format!("JSON Unmarshal Error with 'image_metadata.json' file : {e}"))?;
    let wrong = || {
        format!(
            "{PATH}: \"labels\" must be an array of objects whose values are strings, as in {{\"labels\": [{{\"name\": \"value\"}}]}}"
        )
    };
    let mut labels = HashMap::new();
    let Some(list) = data.get("labels") else {
        return Ok(labels);
    };
    for object in list.as_array().ok_or_else(wrong)? {
        for (name, value) in object.as_object().ok_or_else(wrong)? {
            let value = value.as_str().ok_or_else(wrong)?;
            labels.insert(name.clone(), value.to_string());
        }
    }
    Ok(labels)
}

/// The labels of a commit of `container` (of `image`) once its script ran: those it asked for
/// over `labels`, if the script's output said so; then the reference's check of their size.
///
/// # Errors
/// As [`read_labels`] and [`check_size`].
pub fn add_labels(
    docker: &DockerClient,
    found: &Found,
    container: &str,
    image: &str,
    labels: &mut HashMap<String, String>,
) -> Result<()> {
    if found.present() {
        labels.extend(read_labels(docker, container, image)?);
    }
    check_size(image, labels)
}

/// The reference's check of the labels of an image it commits.
///
/// # Errors
/// Names and values together take more than [`MAX_LABEL_SIZE`] bytes.
pub fn check_size(image: &str, labels: &HashMap<String, String>) -> Result<()> {
    let size: usize = labels.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > MAX_LABEL_SIZE {
        return Err(Error::other(format!(
            "label validation failed for {image:?} image: label size '{size}' exceeds the maximum limit '{MAX_LABEL_SIZE}'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_hidden_and_reported() {
        let (w, found) = watch();
        assert_eq!(w.shown("assembled\n"), "assembled\n");
        let line = format!("{}\n", w.marker);
        assert_eq!(w.shown(&line), "");
        drop(w);
        assert!(found.present());

        // Output without a newline at its end: the marker follows it on the same line.
        let (w, found) = watch();
        let line = format!("no newline{}\n", w.marker);
        assert_eq!(w.shown(&line), "no newline");
        drop(w);
        assert!(found.present());

        // No marker: no file.
        let (w, found) = watch();
        assert_eq!(
            w.shown("s2i-docker-metadata-0\n"),
            "s2i-docker-metadata-0\n"
        );
        drop(w);
        assert!(!found.present());
    }

    #[test]
    fn markers_differ() {
        let (a, _) = watch();
        let (b, _) = watch();
        assert_ne!(a.marker, b.marker);
        assert_eq!(a.marker.len(), "s2i-docker-metadata-".len() + 32);
    }

    #[test]
    fn steps_follow_the_line_with_its_status() {
        let (_, found) = watch();
        let step = found.shell_step();
        assert_eq!(
            step,
            format!(
                "if [ $result -eq 0 ] && [ -f /tmp/.s2i/image_metadata.json ]; then echo {} >&2; fi",
                found.marker
            )
        );
        assert_eq!(
            then(
                "tar -C /tmp -xf - && /s/assemble",
                &["a".into(), "b".into()]
            ),
            "tar -C /tmp -xf - && /s/assemble; result=$?; a; b; exit $result"
        );
    }

    #[test]
    fn the_command_line_runs_in_sh() {
        // The step as sh runs it: the marker only after a success with the file there.
        let dir = crate::temp::TempDir::new("test-metadata").unwrap();
        let file = dir.path().join("image_metadata.json");
        let (_, found) = watch();
        let step = found.shell_step().replace(PATH, file.to_str().unwrap());
        let run = |line: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", &then(line, std::slice::from_ref(&step))])
                .output()
                .unwrap();
            (out.status.code(), String::from_utf8(out.stderr).unwrap())
        };
        assert_eq!(run("true"), (Some(0), String::new()));
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(run("true"), (Some(0), format!("{}\n", found.marker)));
        assert_eq!(run("exit 3"), (Some(3), String::new()));
    }

    #[test]
    fn labels_are_read_as_s2i_writes_them() {
        let labels =
            labels_of(br#"{"labels": [{"a": "1"}, {"b": "2", "a": "3"}], "other": 1}"#).unwrap();
        assert_eq!(labels.len(), 2);
        assert_eq!((labels["a"].as_str(), labels["b"].as_str()), ("3", "2"));
        assert!(labels_of(br#"{"name": "x"}"#).unwrap().is_empty());
        let e = labels_of(b"{labels").unwrap_err();
        assert!(
            e.starts_with("JSON Unmarshal Error with 'image_metadata.json' file : "),
            "{e}"
        );
        for wrong in [
            &br#"{"labels": {"a": "1"}}"#[..],
            br#"{"labels": ["a"]}"#,
            br#"{"labels": [{"a": 1}]}"#,
        ] {
            let e = labels_of(wrong).unwrap_err();
            assert!(e.contains("\"labels\" must be an array of objects"), "{e}");
        }
    }

    #[test]
    fn the_file_is_the_regular_file_of_the_tar() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "image_metadata.json", &b"{}"[..])
            .unwrap();
        let tar = b.into_inner().unwrap();
        assert_eq!(file_of(&tar).unwrap(), b"{}");
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, "image_metadata.json", io::empty())
            .unwrap();
        let tar = b.into_inner().unwrap();
        assert_eq!(file_of(&tar).unwrap_err().to_string(), "not a regular file");
    }

    #[test]
    fn downloads_are_bounded() {
        let mut l = Limited(Vec::new());
        l.write_all(&vec![0; MAX_DOWNLOAD as usize]).unwrap();
        assert!(l.write_all(b"x").is_err());
    }

    #[test]
    fn label_size_is_the_references() {
        let mut labels = HashMap::new();
        labels.insert("k".repeat(10), "v".repeat(MAX_LABEL_SIZE - 10));
        check_size("b", &labels).unwrap();
        labels.insert("x".into(), String::new());
        assert_eq!(
            check_size("b", &labels).unwrap_err().to_string(),
            "label validation failed for \"b\" image: label size '10241' exceeds the maximum limit '10240'"
        );
    }
}
