//! Bytes in and out of containers: archives uploaded into a container as they are produced,
//! archives downloaded into the caller's writer as they arrive, a container's output read line by
//! line ([`stream_container_io`]), and the byte copies the other S2I operations share.
//!
//! Uses the client, ops (the copy endpoint's options), archive (the upload's tar producer) and
//! error.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use crate::archive::{
    stream_default_upload_tar, stream_upload_tar, upload_dest_dir, FileSystem, MakeTarWriter,
    TarStream,
};
use crate::docker::DockerClient;
use crate::error::Result;
use crate::ops::copy::CopyToContainerOptions;

/// How much of a container's output [`stream_container_io`] keeps (the reference's
/// `maxErrorOutput`); the chunk that crosses the limit is still kept whole.
const MAX_ERROR_OUTPUT: usize = 1024;

/// The longest piece [`stream_container_io`] hands to its callback: a longer line (or output
/// without newlines) is cut into pieces of at most this many bytes.
pub(crate) const MAX_LINE: usize = 64 << 10;

/// Copy buffer for archives and streams: large enough that a copy costs few system calls.
const COPY_BUFFER: usize = 64 * 1024;

/// Reads `r` line by line on a new thread, calling `log` with every line (newline included)
/// and collecting the first ~1 KiB into `err_output` (the reference's `StreamContainerIO`).
///
/// A line longer than 64 KiB (or output that never prints a newline) is handed to `log` in
/// pieces of at most 64 KiB, cut between characters, so memory stays
/// bounded whatever the container prints; the reference read each line whole.
///
/// The returned handle finishes when `r` reaches its end or fails; join it to wait for the
/// last line. Lines go to `err_output` the way the reference stores them: each read chunk
/// followed by `"\n"` (so a full line ends in `"\n\n"`, and an input ending in a newline gets
/// one more `"\n"` for the final empty read); collection stops once 1024 bytes are reached.
/// Bytes that are not UTF-8 are replaced with `U+FFFD`.
///
/// `log` is a closure so that the caller's logger reports the caller's location (S2I issue
/// #558).
///
/// # Panics
/// When the OS cannot start a thread, as [`std::thread::spawn`] does (the signature has no
/// room for an error). A panic in `log` ends the thread, and joining the handle reports it.
///
/// # Example
/// ```
/// use std::sync::{Arc, Mutex};
/// use s2i_docker::stream_container_io;
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let seen = lines.clone();
/// let err_output = Arc::new(Mutex::new(String::new()));
/// let done = stream_container_io(
///     &b"line1\nline2\npartial"[..],
///     Some(err_output.clone()),
///     move |line| seen.lock().unwrap().push(line.to_string()),
/// );
/// done.join().unwrap();
/// assert_eq!(*lines.lock().unwrap(), ["line1\n", "line2\n", "partial"]);
/// assert_eq!(*err_output.lock().unwrap(), "line1\n\nline2\n\npartial\n");
/// ```
pub fn stream_container_io<R>(
    r: R,
    err_output: Option<Arc<Mutex<String>>>,
    log: impl Fn(&str) + Send + 'static,
) -> JoinHandle<()>
where
    R: Read + Send + 'static,
{
    thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut chunk = Vec::with_capacity(8 << 10);
        // The start of a character cut at the end of the previous piece.
        let mut carry = Vec::new();
        loop {
            chunk.clear();
            chunk.append(&mut carry);
            let room = (MAX_LINE - chunk.len()) as u64;
            let read = (&mut reader).take(room).read_until(b'\n', &mut chunk);
            let cut = read.is_ok() && chunk.len() == MAX_LINE && !chunk.ends_with(b"\n");
            if cut {
                carry = cut_character(&mut chunk);
            }
            let end = match &read {
                Ok(_) => !cut && !chunk.ends_with(b"\n"),
                Err(_) => true,
            };
            let text = String::from_utf8_lossy(&chunk);
            if !text.is_empty() {
                log(&text);
            }
            if let Some(out) = &err_output {
                let mut out = out.lock().unwrap_or_else(|p| p.into_inner());
                if out.len() < MAX_ERROR_OUTPUT {
                    out.push_str(&text);
                    out.push('\n');
                }
            }
            if let Err(e) = read {
                log::debug!("Error reading docker stdout/stderr: {e}");
            }
            if end {
                break;
            }
        }
    })
}

/// Removes from the end of `chunk` the first bytes of a UTF-8 character that the cut left
/// incomplete, and returns them (empty when the chunk ends on a character boundary).
fn cut_character(chunk: &mut Vec<u8>) -> Vec<u8> {
    let len = chunk.len();
    for i in (len.saturating_sub(3)..len).rev() {
        let b = chunk[i];
        if b & 0xC0 == 0x80 {
            continue; // a continuation byte: look further back for the first byte
        }
        let width = match b {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        if len - i < width {
            return chunk.split_off(i);
        }
        break;
    }
    Vec::new()
}

/// The part of `buf` that a read of `n` bytes filled; an error, not a panic, when a reader
/// claims more than the buffer holds (readers are the caller's code).
pub(crate) fn filled(buf: &[u8], n: usize) -> io::Result<&[u8]> {
    buf.get(..n).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a reader returned {n} bytes for a buffer of {}", buf.len()),
        )
    })
}

/// Copies `r` into `w` with a large buffer; returns the bytes copied.
pub(crate) fn copy_stream(r: &mut dyn Read, w: &mut dyn Write) -> io::Result<u64> {
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(filled(&buf, n)?)?;
        total = total.saturating_add(n as u64);
    }
}

/// A callback told how many bytes of an upload's archive have gone to the engine so far (see
/// [`DockerClient::with_upload_progress`]).
pub type UploadProgress = Arc<dyn Fn(u64) + Send + Sync>;

impl DockerClient {
    /// Calls `progress` as the archive of every upload
    /// ([`upload_to_container`](crate::Docker::upload_to_container) and its variants) goes to
    /// the engine, with the bytes sent so far: after every write (up to 64 KiB each), and once
    /// more with the total when the archive has ended.
    ///
    /// The callback runs on the thread that called the upload; the upload waits for it.
    ///
    /// # Example
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use s2i_docker::{get_default_docker_config, new_engine_api_client, AuthConfig, DockerClient};
    ///
    /// let sent = Arc::new(AtomicU64::new(0));
    /// let seen = sent.clone();
    /// let client = Arc::new(new_engine_api_client(&get_default_docker_config())?);
    /// let docker = DockerClient::new(client, AuthConfig::default())
    ///     .with_upload_progress(move |bytes| seen.store(bytes, Ordering::Relaxed));
    /// # let _ = (docker, sent);
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn with_upload_progress(mut self, progress: impl Fn(u64) + Send + Sync + 'static) -> Self {
        self.upload_progress = Some(Arc::new(progress));
        self
    }
}

/// The body of an upload (an archive, a build context), counting what the engine's request
/// took: `progress` gets the bytes sent so far after every read that got some, and once more,
/// with `true`, when the body has ended.
pub(crate) struct Counted<'a> {
    inner: &'a mut (dyn Read + Send),
    progress: &'a (dyn Fn(u64, bool) + Sync),
    sent: u64,
    done: bool,
}

impl<'a> Counted<'a> {
    pub(crate) fn new(
        inner: &'a mut (dyn Read + Send),
        progress: &'a (dyn Fn(u64, bool) + Sync),
    ) -> Self {
        Counted {
            inner,
            progress,
            sent: 0,
            done: false,
        }
    }
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sent = self.sent.saturating_add(n as u64);
        if n > 0 {
            (self.progress)(self.sent, false);
        } else if !buf.is_empty() && !self.done {
            self.done = true;
            (self.progress)(self.sent, true);
        }
        Ok(n)
    }
}

/// Streams the tar of `src` into `Dir(dest)` of `container` while it is produced, written by
/// `make_tar_writer`'s writer, else by the default one (whose host files are read straight into
/// the request's buffer); a failure is logged (as the reference does) and returned.
pub(crate) fn upload_to_container(
    d: &DockerClient,
    fs: &dyn FileSystem,
    src: &Path,
    dest: &str,
    container: &str,
    make_tar_writer: Option<&MakeTarWriter>,
) -> Result<()> {
    let dir = upload_dest_dir(dest);
    let options = CopyToContainerOptions::default();
    let consume = |body: &mut TarStream| match &d.upload_progress {
        Some(progress) => {
            let tell = |sent, _| progress(sent);
            let mut counted = Counted::new(body, &tell);
            d.client
                .copy_to_container(container, &dir, &mut counted, &options)
        }
        None => d.client.copy_to_container(container, &dir, body, &options),
    };
    let uploaded = match make_tar_writer {
        Some(make) => stream_upload_tar(fs, src, dest, |w| make(w), consume),
        None => stream_default_upload_tar(fs, src, dest, consume),
    };
    if let Err(e) = &uploaded {
        log::error!("Uploading to container failed: {e}");
    }
    uploaded
}

/// Copies the archive of `container_path` into `w` as it arrives, then flushes `w`.
pub(crate) fn download_from_container(
    d: &DockerClient,
    container_path: &str,
    w: &mut dyn Write,
    container: &str,
) -> Result<()> {
    let (mut body, _stat) = d.client.copy_from_container(container, container_path)?;
    copy_stream(&mut body, w)?;
    w.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::docker::Docker;
    use crate::error::Error;
    use crate::fake::testing::docker::*;

    fn stream(input: &[u8]) -> (Vec<String>, String) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let out = Arc::new(Mutex::new(String::new()));
        stream_container_io(Cursor::new(input.to_vec()), Some(out.clone()), move |l| {
            seen.lock().unwrap().push(l.to_string())
        })
        .join()
        .unwrap();
        let lines = lines.lock().unwrap().clone();
        let out = out.lock().unwrap().clone();
        (lines, out)
    }

    #[test]
    fn stream_container_io_matches_the_reference() {
        assert_eq!(
            stream(b"line1\nline2\npartial"),
            (
                vec!["line1\n".into(), "line2\n".into(), "partial".into()],
                "line1\n\nline2\n\npartial\n".into()
            )
        );
        assert_eq!(stream(b"a\n"), (vec!["a\n".into()], "a\n\n\n".into()));
        assert_eq!(stream(b""), (vec![], "\n".into()));
        // Kept until 1024 bytes are reached; the chunk crossing the limit is kept whole.
        let many = "0123456789abcdef\n".repeat(100);
        let (lines, out) = stream(many.as_bytes());
        assert_eq!(lines.len(), 100);
        assert_eq!(out.len(), 18 * 57);
        // Not UTF-8: replaced, not lost.
        assert_eq!(stream(b"\xff\n").0, ["\u{fffd}\n"]);
        // Without err_output, only the callback.
        let n = Arc::new(Mutex::new(0));
        let c = n.clone();
        stream_container_io(&b"x\ny\n"[..], None, move |_| *c.lock().unwrap() += 1)
            .join()
            .unwrap();
        assert_eq!(*n.lock().unwrap(), 2);
    }

    /// `len` bytes of `fill`, never a newline, handed out in reads of any size.
    struct Endless {
        left: usize,
        fill: &'static [u8],
        at: usize,
    }
    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(self.left);
            for b in &mut buf[..n] {
                *b = self.fill[self.at % self.fill.len()];
                self.at += 1;
            }
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn stream_container_io_splits_lines_without_newlines() {
        // 8 MiB without a newline: logged in pieces of at most MAX_LINE bytes, never held whole.
        for fill in [&b"x"[..], "é€😀".as_bytes()] {
            let len = 8 << 20;
            let pieces = Arc::new(Mutex::new((0usize, 0usize, 0usize)));
            let seen = pieces.clone();
            let out = Arc::new(Mutex::new(String::new()));
            let input = Endless {
                left: len,
                fill,
                at: 0,
            };
            stream_container_io(input, Some(out.clone()), move |piece| {
                let mut s = seen.lock().unwrap();
                assert!(piece.len() <= MAX_LINE, "a piece of {} bytes", piece.len());
                assert!(!piece.contains('\u{fffd}'), "a character was cut");
                s.0 += 1;
                s.1 += piece.len();
                s.2 = s.2.max(piece.len());
            })
            .join()
            .unwrap();
            let (count, total, longest) = *pieces.lock().unwrap();
            assert_eq!(total, len);
            assert!(count >= len / MAX_LINE, "{count} pieces");
            assert!(longest > MAX_LINE - 4, "{longest}");
            assert!(out.lock().unwrap().len() <= MAX_ERROR_OUTPUT + MAX_LINE + 1);
        }
    }

    struct Broken;
    impl Read for Broken {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
        }
    }

    #[test]
    fn stream_container_io_stops_on_errors() {
        let out = Arc::new(Mutex::new(String::new()));
        stream_container_io((&b"ok\n"[..]).chain(Broken), Some(out.clone()), |_| {})
            .join()
            .unwrap();
        assert_eq!(*out.lock().unwrap(), "ok\n\n\n");
    }

    #[test]
    fn upload_streams_a_renamed_tree() {
        use std::os::unix::fs::{symlink, PermissionsExt};
        let root = std::env::temp_dir().join(format!("s2i-upload-unit-{}", std::process::id()));
        let src = root.join("src");
        std::fs::create_dir_all(src.join("sub/.git")).unwrap();
        std::fs::create_dir_all(src.join(".git")).unwrap();
        std::fs::write(src.join(".git/config"), "x").unwrap();
        std::fs::write(src.join("sub/.git/HEAD"), "x").unwrap();
        std::fs::write(src.join("sub/a.txt"), "hello").unwrap();
        std::fs::write(src.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(src.join("run.sh"), std::fs::Permissions::from_mode(0o700))
            .unwrap();
        symlink("sub/a.txt", src.join("link")).unwrap();
        let (fake, d) = setup();
        d.upload_to_container(
            &crate::archive::LocalFileSystem,
            &src,
            "/opt/app/code",
            "c1",
        )
        .unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let state = fake.state();
        assert_eq!(state.copy_to_container_id, "c1");
        assert_eq!(state.copy_to_container_path, "/opt/app");
        assert!(
            !state
                .copy_to_container_options
                .unwrap()
                .allow_overwrite_dir_with_file
        );
        let mut listing = Vec::new();
        let mut archive = ::tar::Archive::new(&state.copy_to_container_content[..]);
        for entry in archive.entries().unwrap() {
            let entry = entry.unwrap();
            let h = entry.header();
            listing.push(format!(
                "{} {:o} {}",
                entry.path().unwrap().display(),
                h.mode().unwrap() & 0o7777,
                h.link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default()
            ));
        }
        assert_eq!(
            listing,
            [
                "code/link 777 sub/a.txt",
                "code/run.sh 777 ",
                "code/sub 777 ",
                "code/sub/a.txt 666 ",
            ]
        );
    }

    #[test]
    fn upload_progress_counts_every_byte_sent() {
        let root = std::env::temp_dir().join(format!("s2i-upload-progress-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("big"), vec![7u8; 300 * 1024]).unwrap();
        let (fake, d) = setup();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let d = {
            let seen = seen.clone();
            d.with_upload_progress(move |sent| seen.lock().unwrap().push(sent))
        };
        d.upload_to_container(&crate::archive::LocalFileSystem, &root, "/tmp/in", "c1")
            .unwrap();
        std::fs::remove_dir_all(&root).unwrap();
        let total = fake.state().copy_to_container_content.len() as u64;
        let seen = seen.lock().unwrap();
        assert!(seen.len() > 2, "{seen:?}");
        assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
        assert_eq!(seen.last(), Some(&total));
        assert!(total > 300 * 1024);
        assert!(format!("{d:?}").contains("upload_progress: true"));
    }

    #[test]
    fn upload_errors_are_returned() {
        let (fake, d) = setup();
        fake.state().copy_to_container_err = Some(Error::api(404, "Could not find the file /nope"));
        let file = std::env::temp_dir().join(format!("s2i-upload-err-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let (r, logs) = logs_of(|| {
            d.upload_to_container(&crate::archive::LocalFileSystem, &file, "/nope/x", "c1")
        });
        std::fs::remove_file(&file).unwrap();
        assert!(r.unwrap_err().is_not_found());
        assert_logged(
            &logs,
            log::Level::Error,
            "Uploading to container failed: Error response from daemon: Could not find the file /nope",
        );
        // A missing source fails in the tar producer.
        let e = d
            .upload_to_container(
                &crate::archive::LocalFileSystem,
                Path::new("/no/such/dir"),
                "/tmp/x",
                "c1",
            )
            .unwrap_err();
        assert!(e.to_string_with_causes().contains("/no/such/dir"), "{e:?}");
        // A custom tar writer: here, one that keeps the modes as they are.
        let custom: &MakeTarWriter = &|w| {
            Box::new(crate::archive::ArchiveWriter::new(w))
                as Box<dyn crate::archive::TarWriter + Send>
        };
        fake.state().copy_to_container_err = None;
        let file = std::env::temp_dir().join(format!("s2i-upload-mode-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        d.upload_to_container_with_tar_writer(
            &crate::archive::LocalFileSystem,
            &file,
            "/tmp/y",
            "c1",
            custom,
        )
        .unwrap();
        std::fs::remove_file(&file).unwrap();
        let content = fake.state().copy_to_container_content.clone();
        let mut archive = ::tar::Archive::new(&content[..]);
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.path().unwrap().to_str(), Some("y"));
        assert_ne!(entry.header().mode().unwrap() & 0o777, 0o666);
    }

    #[test]
    fn copy_stream_copies_everything() {
        let data = vec![9u8; 300_000];
        let mut out = Vec::new();
        assert_eq!(
            copy_stream(&mut Cursor::new(data.clone()), &mut out).unwrap(),
            300_000
        );
        assert_eq!(out, data);
        // A reader (a custom `Client`'s body) that claims more than the buffer: an error.
        struct Lying;
        impl Read for Lying {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                Ok(buf.len() * 2)
            }
        }
        let e = copy_stream(&mut Lying, &mut io::sink()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn download_copies_the_archive() {
        let (fake, d) = setup();
        fake.state().copy_from_container_content = b"tar bytes".to_vec();
        let mut out = Vec::new();
        d.download_from_container("/tmp/artifacts", &mut out, "c1")
            .unwrap();
        assert_eq!(out, b"tar bytes");
        assert_eq!(fake.state().copy_from_container_path, "/tmp/artifacts");
        assert_eq!(fake.state().copy_from_container_id, "c1");
        fake.state().copy_from_container_err = Some(Error::api(404, "Could not find the file"));
        let e = d
            .download_from_container("/nope", &mut out, "c1")
            .unwrap_err();
        assert!(e.is_not_found());
    }
}
