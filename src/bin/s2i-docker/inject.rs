//! `-i/--inject SOURCE:DESTINATION`: files `assemble` can read (credentials, settings) that do
//! not stay in the image, as the reference injects them.
//!
//! Once the assemble container has started, each injection is uploaded into it (read through
//! its symbolic links, so each file arrives with its content), then `/tmp/rm-injections`, a
//! script that truncates every file uploaded (and itself). The sources' tar on the container's
//! standard input is held back until then, so `assemble` starts after the injections are in,
//! and the script runs after `assemble`, whatever its result, before the container is committed:
//! the files stay, empty. A failed upload (a destination whose parent is missing, for
//! instance) fails the build and names the injection.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

use s2i_docker::archive::{
    default_upload_tar_writer, EntryKind, LinkFollowingFileSystem, LocalFileSystem, TarHeader,
    TarWriter,
};
use s2i_docker::{Docker, DockerClient, Error, OnStartHook, Result, RunContainerOptions};

/// Where the truncation script goes in the container (the reference's path).
pub const RM_SCRIPT: &str = "/tmp/rm-injections";

/// One `--inject` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Injection {
    pub source: PathBuf,
    /// Absolute once [`resolve`]d; `.` means the builder's working directory.
    pub destination: String,
}

/// Reads `SOURCE:DESTINATION` as the reference does: the last `:` splits them, quotes around
/// either are dropped, and both are cleaned; without a destination, the builder's working
/// directory.
///
/// # Errors
/// An empty value or source.
pub fn parse(value: &str) -> std::result::Result<Injection, String> {
    let (source, destination) = value.rsplit_once(':').unwrap_or((value, ""));
    let unquote = |s: &str| s.trim_matches(|c| c == '"' || c == '\'').to_string();
    let (source, destination) = (unquote(source), unquote(destination));
    if source.is_empty() {
        return Err(format!(
            "invalid argument {value:?} for --inject: the format is SOURCE:DESTINATION"
        ));
    }
    Ok(Injection {
        source: PathBuf::from(clean(&source)),
        destination: clean(&destination),
    })
}

/// Go's `path.Clean` ([`s2i_docker::archive::clean`]), as the reference cleans these paths
/// (`""` is `.`).
fn clean(path: &str) -> String {
    // Valid UTF-8 in, valid UTF-8 out: nothing is lost.
    String::from_utf8_lossy(&s2i_docker::archive::clean(path.as_bytes())).into_owned()
}

/// The injections with relative destinations placed in `workdir` (the builder's working
/// directory), as the reference places them; the sources must exist.
///
/// # Errors
/// A source that does not exist, or a relative destination in an image without a working
/// directory.
pub fn resolve(injections: &[Injection], workdir: &str) -> Result<Vec<Injection>> {
    injections
        .iter()
        .map(|i| {
            std::fs::metadata(&i.source)
                .map_err(|e| Error::other(format!("cannot inject {}: {e}", i.source.display())))?;
            let destination = match i.destination.as_str() {
                d if d.starts_with('/') => d.to_string(),
                _ if !workdir.starts_with('/') => {
                    return Err(Error::other(format!(
                        "cannot inject {} into {:?}: the builder image has no working directory \
                         to place it in; give an absolute destination",
                        i.source.display(),
                        i.destination
                    )))
                }
                "." => workdir.to_string(),
                d => clean(&format!("{workdir}/{d}")),
            };
            Ok(Injection {
                source: i.source.clone(),
                destination,
            })
        })
        .collect()
}

/// The step after `assemble` that empties the injected files (see [`metadata::then`]): the
/// build fails if a file cannot be truncated; `assemble`'s own status is the container's.
///
/// [`metadata::then`]: crate::metadata::then
pub fn shell_step() -> String {
    format!(". {}", quote(RM_SCRIPT))
}

/// `s` as one word of `sh`, in single quotes.
fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The truncation script for the files uploaded: `set -e`, so that a file left whole fails the
/// build.
fn truncate_script(files: &[String]) -> String {
    let mut script = String::from("set -e\n");
    for f in files.iter().map(String::as_str).chain([RM_SCRIPT]) {
        script.push_str(&format!("truncate -s0 {}\n", quote(f)));
    }
    script.push_str("set +e\n");
    script
}

/// Records the path in the container of every regular file an upload's tar holds.
struct Recording {
    inner: Box<dyn TarWriter + Send>,
    /// Where the tar is extracted.
    dir: String,
    files: Arc<Mutex<Vec<String>>>,
}

impl TarWriter for Recording {
    fn write_header(&mut self, header: TarHeader) -> Result<()> {
        if header.kind == EntryKind::File {
            let path = clean(&format!("{}/{}", self.dir, header.name.to_string_lossy()));
            self.files
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(path);
        }
        self.inner.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_data(data)
    }
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        self.inner.write_file(file, size, path)
    }
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// Uploads the injections and then the truncation script (which names every file the
/// injections' tars held) into `container`.
fn upload(docker: &DockerClient, injections: &[Injection], container: &str) -> Result<()> {
    let files = Arc::new(Mutex::new(Vec::new()));
    for i in injections {
        let dir = s2i_docker::archive::upload_dest_dir(&i.destination);
        let recorded = files.clone();
        let make = move |w: Box<dyn Write + Send>| -> Box<dyn TarWriter + Send> {
            Box::new(Recording {
                inner: default_upload_tar_writer(w),
                dir: dir.clone(),
                files: recorded.clone(),
            })
        };
        docker
            .upload_to_container_with_tar_writer(
                &LinkFollowingFileSystem,
                &i.source,
                &i.destination,
                container,
                &make,
            )
            .map_err(|e| {
                Error::other(format!(
                    "cannot inject {} into {} (its parent directory must exist in the builder \
                     image): {e}",
                    i.source.display(),
                    i.destination
                ))
            })?;
    }
    let files = std::mem::take(&mut *files.lock().unwrap_or_else(|p| p.into_inner()));
    let script = ScriptFile::new(&truncate_script(&files))?;
    docker
        .upload_to_container(&LocalFileSystem, &script.0, RM_SCRIPT, container)
        .map_err(|e| Error::other(format!("cannot upload {RM_SCRIPT}: {e}")))
}

/// The truncation script on the host, removed when dropped.
struct ScriptFile(PathBuf);

impl ScriptFile {
    fn new(text: &str) -> Result<ScriptFile> {
        // The process and the time: a file left by a process that died with the same ID
        // (which `create_new` refuses) is not in the way; one left by a killed process is
        // removed by the next command (see `records`).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!(
            "s2i-docker-rm-injections-{}-{nanos}",
            crate::records::process_name()
        ));
        let cannot = |e: io::Error| {
            Error::other(format!(
                "cannot write the injections' truncation script {}: {e}",
                path.display()
            ))
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(cannot)?;
        let script = ScriptFile(path.clone());
        file.write_all(text.as_bytes()).map_err(cannot)?;
        Ok(script)
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Sets up the `assemble` run of `opts` (in a container of `builder`) to inject `injections`:
/// its `on_start` hook uploads them, its standard input waits for them. Returns where an
/// upload's failure will be told; the caller adds [`shell_step`] to the command line.
///
/// # Errors
/// As [`resolve`], or the builder's inspect failed.
pub fn apply(
    docker: &DockerClient,
    builder: &str,
    injections: &[Injection],
    opts: &mut RunContainerOptions,
) -> Result<Option<Failure>> {
    if injections.is_empty() {
        return Ok(None);
    }
    let injections = resolve(injections, &docker.get_image_workdir(builder)?)?;
    for i in &injections {
        crate::progress::detail(
            1,
            format!("Injecting {} into {}", i.source.display(), i.destination),
        );
    }
    let injecting = Injecting::new();
    let failure = injecting.failure.clone();
    let stdin = opts.stdin.take().unwrap_or_else(|| Box::new(io::empty()));
    let (hook, gated) = injecting.split(docker.clone(), injections, stdin);
    opts.on_start = Some(hook);
    opts.stdin = Some(gated);
    Ok(Some(failure))
}

/// Where an upload's failure is told: its text, once it failed.
pub type Failure = Arc<Mutex<Option<String>>>;

/// The result of a run with injections: the injections' failure when there was one (the run
/// failed because of it: its standard input was cut), else the run's own.
pub fn outcome(failure: Option<&Failure>, ran: Result<()>) -> Result<()> {
    let told = failure.and_then(|f| f.lock().unwrap_or_else(|p| p.into_inner()).take());
    match told {
        Some(text) => Err(Error::other(text)),
        None => ran,
    }
}

/// What a run with injections needs: its `on_start` hook and its gated standard input.
pub struct Injecting {
    /// The first error of the uploads, to report before the run's own (which follows from it).
    failure: Failure,
    done: Sender<bool>,
    started: Receiver<bool>,
}

impl Injecting {
    fn new() -> Injecting {
        let (done, started) = mpsc::channel();
        Injecting {
            failure: Arc::new(Mutex::new(None)),
            done,
            started,
        }
    }

    /// Splits into the `on_start` hook that uploads `injections` and the standard input that
    /// waits for it.
    fn split(
        self,
        docker: DockerClient,
        injections: Vec<Injection>,
        stdin: Box<dyn Read + Send>,
    ) -> (OnStartHook, Box<dyn Read + Send>) {
        let Injecting {
            failure,
            done,
            started,
        } = self;
        // A failure is told by `outcome`, not as the hook's error (which the run would only
        // log, as its own error comes first).
        let hook: OnStartHook = Box::new(move |container: &str| {
            let uploaded = upload(&docker, &injections, container);
            if let Err(e) = &uploaded {
                *failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
            }
            let _ = done.send(uploaded.is_ok());
            Ok(())
        });
        let gated = Gated {
            started: Some(started),
            inner: stdin,
        };
        (hook, Box::new(gated))
    }
}

/// A reader that gives nothing until the injections are uploaded, and fails if they were not.
struct Gated {
    started: Option<Receiver<bool>>,
    inner: Box<dyn Read + Send>,
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(started) = self.started.take() {
            if started.recv() != Ok(true) {
                return Err(io::Error::other("the injections were not uploaded"));
            }
        }
        self.inner.read(buf)
    }
}

#[cfg(test)]
mod tests {
    //! Values read as the reference reads them, destinations placed as it places them, and the
    //! script and command line that empty the files.

    use super::*;

    fn injection(source: &str, destination: &str) -> Injection {
        Injection {
            source: PathBuf::from(source),
            destination: destination.to_string(),
        }
    }

    #[test]
    fn values_split_at_the_last_colon() {
        assert_eq!(parse("/s:/d").unwrap(), injection("/s", "/d"));
        assert_eq!(parse("a:b:/etc/x/").unwrap(), injection("a:b", "/etc/x"));
        assert_eq!(parse("\"./s/\":'d/../e'").unwrap(), injection("s", "e"));
        assert_eq!(parse("/s").unwrap(), injection("/s", "."));
        assert_eq!(parse("/s:").unwrap(), injection("/s", "."));
        assert!(parse("").unwrap_err().contains("SOURCE:DESTINATION"));
        assert!(parse(":/d").is_err());
    }

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        for (path, cleaned) in [
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("a//b/./c/", "a/b/c"),
            ("/a/../../b", "/b"),
            ("../a/../..", "../.."),
            ("a/..", "."),
            ("/x/y/..", "/x"),
        ] {
            assert_eq!(clean(path), cleaned, "{path}");
        }
    }

    #[test]
    fn relative_destinations_go_to_the_working_directory() {
        let here = std::env::temp_dir().display().to_string();
        let list = [
            injection(&here, "/abs"),
            injection(&here, "."),
            injection(&here, "rel/dir"),
        ];
        let resolved: Vec<String> = resolve(&list, "/opt/app")
            .unwrap()
            .into_iter()
            .map(|i| i.destination)
            .collect();
        assert_eq!(resolved, ["/abs", "/opt/app", "/opt/app/rel/dir"]);
        let e = resolve(&list[1..], "").unwrap_err().to_string();
        assert!(e.contains("no working directory"), "{e}");
        assert_eq!(resolve(&list[..1], "").unwrap()[0].destination, "/abs");
        let e = resolve(&[injection("/no/such/dir", "/d")], "/")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot inject /no/such/dir"), "{e}");
    }

    #[test]
    fn the_script_truncates_every_file_and_itself() {
        let files = ["/etc/app/secret".to_string(), "/etc/app/it's".to_string()];
        assert_eq!(
            truncate_script(&files),
            "set -e\ntruncate -s0 '/etc/app/secret'\ntruncate -s0 '/etc/app/it'\\''s'\n\
             truncate -s0 '/tmp/rm-injections'\nset +e\n"
        );
        assert_eq!(
            crate::metadata::then("tar -C /tmp -xf - && /s/assemble", &[shell_step()]),
            "tar -C /tmp -xf - && /s/assemble; result=$?; . '/tmp/rm-injections'; exit $result"
        );
    }

    #[test]
    fn standard_input_waits_for_the_injections() {
        let input = |ok: bool| {
            let injecting = Injecting::new();
            let done = injecting.done.clone();
            let gated = Gated {
                started: Some(injecting.started),
                inner: Box::new(&b"tar"[..]),
            };
            let waiter = std::thread::spawn(move || {
                let mut gated = gated;
                let mut out = Vec::new();
                gated.read_to_end(&mut out).map(|_| out)
            });
            done.send(ok).unwrap();
            waiter.join().unwrap()
        };
        assert_eq!(input(true).unwrap(), b"tar");
        assert!(input(false).is_err());
        // An uploader that went away without a word is a failure too.
        let injecting = Injecting::new();
        drop(injecting.done);
        let mut gated = Gated {
            started: Some(injecting.started),
            inner: Box::new(&b"tar"[..]),
        };
        assert!(gated.read(&mut [0; 8]).is_err());
    }
}
