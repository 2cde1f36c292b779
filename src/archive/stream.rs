//! Streaming the tar while it is produced: the producer writes on a thread into a bounded pipe,
//! the caller reads a [`TarStream`], so a request body is never held whole in memory.
//!
//! Like the rest of the archive, this uses only `error`.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;

use super::entry::TarWriter;
use super::fs::FileSystem;
use super::walk::write_upload_tar;
use crate::error::{Error, Result};

/// Size of the chunks handed from the producer to the reader.
const CHUNK: usize = 64 * 1024;
/// Chunks queued between producer and reader: with the one being filled and the one being read,
/// at most four chunks (256 KiB) are in memory.
const QUEUED_CHUNKS: usize = 2;

enum Msg {
    Data(Vec<u8>),
    Done,
    Failed(Error),
}

/// The producer's end of the pipe: buffers writes into chunks and queues them for the reader.
struct ChunkSender {
    tx: SyncSender<Msg>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.send(Msg::Data(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader of the tar stream is gone",
            )
        })
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

impl Drop for ChunkSender {
    fn drop(&mut self) {
        // Bytes still buffered belong before the producer's final message; a gone reader
        // does not want them.
        let _ = self.send_buf();
    }
}

#[derive(Debug)]
enum StreamState {
    Open,
    Done,
    Failed(String),
}

/// The reading end of a tar being produced on another thread.
///
/// Reads return the tar's bytes as they are produced, then `Ok(0)` once the producer finished.
/// When the producer fails, the read after its last bytes returns its error as an `io::Error`
/// wrapping the crate's [`Error`] (`Error::from` unwraps it again). Dropping the stream early
/// stops the producer at its next write.
pub struct TarStream {
    rx: Receiver<Msg>,
    chunk: Vec<u8>,
    pos: usize,
    state: StreamState,
}

impl fmt::Debug for TarStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarStream")
            .field("buffered", &(self.chunk.len() - self.pos))
            .field("state", &self.state)
            .finish()
    }
}

impl TarStream {
    fn new(rx: Receiver<Msg>) -> TarStream {
        TarStream {
            rx,
            chunk: Vec::new(),
            pos: 0,
            state: StreamState::Open,
        }
    }

    /// Whether the whole tar has been read (the producer finished and nothing is left).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, StreamState::Done) && self.pos == self.chunk.len()
    }
}

impl Read for TarStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.chunk.len() {
                let n = out.len().min(self.chunk.len() - self.pos);
                out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match &self.state {
                StreamState::Open => {}
                StreamState::Done => return Ok(0),
                StreamState::Failed(why) => {
                    return Err(Error::other(format!("the tar stream failed: {why}")).into())
                }
            }
            if out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Msg::Done) => self.state = StreamState::Done,
                Ok(Msg::Failed(e)) => {
                    self.state = StreamState::Failed(e.to_string());
                    return Err(e.into());
                }
                Err(_) => {
                    let why = "the tar producer stopped before the end of the stream";
                    self.state = StreamState::Failed(why.into());
                    return Err(Error::other(why).into());
                }
            }
        }
    }
}

fn run_producer<P>(tx: SyncSender<Msg>, produce: P) -> bool
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()>,
{
    let writer = ChunkSender {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK),
    };
    // The writer is dropped (and its last bytes queued) inside `produce`, before the verdict.
    let result = produce(Box::new(writer));
    let ok = result.is_ok();
    let _ = tx.send(match result {
        Ok(()) => Msg::Done,
        Err(e) => Msg::Failed(e),
    });
    ok
}

/// Runs `produce` on a new thread, writing into a bounded pipe, and returns the reading end.
///
/// `produce` gets the pipe's writing end; the stream ends when it returns (`Ok`: end of data,
/// `Err`: the reader gets the error). Use it when the producer owns what it needs; with borrowed
/// data use [`with_tar_stream`].
pub fn spawn_tar_stream<P>(produce: P) -> TarStream
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
    let fallback = tx.clone();
    let spawned = thread::Builder::new()
        .name("s2i-tar".into())
        .spawn(move || run_producer(tx, produce));
    if let Err(e) = spawned {
        // The queue is empty, so this cannot block.
        let _ = fallback.try_send(Msg::Failed(Error::other(format!(
            "cannot start the tar producer thread: {e}"
        ))));
    }
    TarStream::new(rx)
}

/// Runs `produce` on a scoped thread and `consume` on this one with the reading end; returns
/// `consume`'s result once the producer has stopped.
///
/// `consume` may stop reading early (e.g. the engine answered with an error): the stream is
/// dropped when it returns, the producer stops at its next write, and no thread outlives the
/// call. If `consume` succeeds without noticing that the producer failed, the failure is
/// returned.
///
/// # Errors
/// `consume`'s error, or the producer's as described.
pub fn with_tar_stream<P, C, R>(produce: P, consume: C) -> Result<R>
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()> + Send,
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
    thread::scope(|scope| {
        let producer = thread::Builder::new()
            .name("s2i-tar".into())
            .spawn_scoped(scope, move || run_producer(tx, produce))
            .map_err(|e| Error::other(format!("cannot start the tar producer thread: {e}")))?;
        let mut stream = TarStream::new(rx);
        let result = consume(&mut stream);
        let read_failure = match &stream.state {
            StreamState::Failed(why) => Some(why.clone()),
            _ => None,
        };
        drop(stream);
        let joined = producer.join();
        let value = result?;
        if let Some(why) = read_failure {
            return Err(Error::other(format!("the tar stream failed: {why}")));
        }
        match joined {
            Ok(_) => Ok(value),
            Err(_) => Err(Error::other("the tar producer panicked")),
        }
    })
}

/// Streams the tar of an upload of `src` to `dest` ([`write_upload_tar`] with the writer from
/// `make_tar_writer`) into `consume`, as [`with_tar_stream`] does.
///
/// This is the body of `upload_to_container_with_tar_writer`; pass
/// [`default_upload_tar_writer`](super::default_upload_tar_writer) for `upload_to_container`'s modes.
///
/// # Errors
/// `consume`'s error (which includes the producer's when it read it), or the producer's.
pub fn stream_upload_tar<M, C, R>(
    fs: &dyn FileSystem,
    src: &Path,
    dest: &str,
    make_tar_writer: M,
    consume: C,
) -> Result<R>
where
    M: FnOnce(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send,
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    with_tar_stream(
        move |w| {
            let mut writer = make_tar_writer(w);
            write_upload_tar(fs, src, dest, &mut *writer)
        },
        consume,
    )
}

/// Like [`stream_upload_tar`], for callers that own the filesystem: the producer runs on its
/// own thread and the returned stream can go anywhere (it is `Send` and `'static`).
pub fn tar_reader<M>(
    fs: Arc<dyn FileSystem>,
    src: PathBuf,
    dest: String,
    make_tar_writer: M,
) -> TarStream
where
    M: FnOnce(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send + 'static,
{
    spawn_tar_stream(move |w| {
        let mut writer = make_tar_writer(w);
        write_upload_tar(&*fs, &src, &dest, &mut *writer)
    })
}

#[cfg(test)]
mod tests {
    //! The stream against a direct write, producer failures and panics, and early readers' exits.
    use super::*;
    use crate::archive::fixtures::*;
    use crate::archive::{
        default_upload_tar_writer, ArchiveWriter, ChmodAdapter, FileInfo, FileKind, LocalFileSystem,
    };
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::sync::Mutex;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    #[test]
    fn stream_delivers_the_same_bytes() {
        let tmp = TempDir::new("stream");
        let src = make_tree(tmp.path());
        // A file larger than a few chunks, to exercise the queue.
        let big: String = (0..200_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        write(&src.join("big"), &big, 0o644);
        let mut direct = Vec::new();
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut direct));
        write_upload_tar(&LocalFileSystem, &src, "/opt/app/src", &mut w).unwrap();
        drop(w);

        let streamed = stream_upload_tar(
            &LocalFileSystem,
            &src,
            "/opt/app/src",
            default_upload_tar_writer,
            |body| {
                let mut v = Vec::new();
                // Small reads, as a transport might do.
                let mut buf = [0u8; 1000];
                loop {
                    let n = body.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    v.extend_from_slice(&buf[..n]);
                }
                assert!(body.is_complete());
                Ok(v)
            },
        )
        .unwrap();
        assert_eq!(streamed, direct);

        let fs: Arc<dyn FileSystem> = Arc::new(LocalFileSystem);
        let mut reader = tar_reader(
            fs,
            src.clone(),
            "/opt/app/src".into(),
            default_upload_tar_writer,
        );
        let mut owned = Vec::new();
        reader.read_to_end(&mut owned).unwrap();
        assert_eq!(owned, direct);
        // After the end, reads keep returning 0.
        assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), 0);
    }

    /// A fake filesystem: `root/` holds files whose content is generated, some failing.
    struct FakeFs {
        files: HashMap<&'static str, (u64, Option<u64>)>, // name → (size, fail after n bytes)
        opened: Mutex<Vec<String>>,
    }

    impl FakeFs {
        fn new(files: &[(&'static str, u64, Option<u64>)]) -> FakeFs {
            FakeFs {
                files: files.iter().map(|&(n, s, f)| (n, (s, f))).collect(),
                opened: Mutex::new(Vec::new()),
            }
        }
    }

    struct Failing {
        left: u64,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.left as usize);
            buf[..n].fill(b'z');
            self.left -= n as u64;
            Ok(n)
        }
    }

    impl FileSystem for FakeFs {
        fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
            let info = |kind, size| FileInfo {
                kind,
                mode: 0o644,
                uid: 1,
                gid: 2,
                size,
                mtime: UNIX_EPOCH,
            };
            if path == Path::new("/root") {
                return Ok(info(FileKind::Dir, 0));
            }
            let name = path
                .strip_prefix("/root")
                .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
            match self.files.get(name.to_str().unwrap_or_default()) {
                Some(&(size, _)) => Ok(info(FileKind::File, size)),
                None => Err(io::ErrorKind::NotFound.into()),
            }
        }
        fn read_dir(&self, _: &Path) -> io::Result<Vec<OsString>> {
            Ok(self.files.keys().map(OsString::from).collect())
        }
        fn read_link(&self, _: &Path) -> io::Result<PathBuf> {
            Err(io::ErrorKind::InvalidInput.into())
        }
        fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>> {
            let name = path.strip_prefix("/root").unwrap().to_str().unwrap();
            self.opened.lock().unwrap().push(name.to_string());
            let (size, fail) = self.files[name];
            Ok(match fail {
                Some(n) => Box::new(Failing { left: n }),
                None => Box::new(io::repeat(b'z').take(size)),
            })
        }
    }

    #[test]
    fn producer_error_reaches_the_reader() {
        let fs = FakeFs::new(&[("a", 10, None), ("b", 1 << 20, Some(300_000))]);
        let mut got = 0usize;
        let err = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                let mut buf = vec![0u8; 4096];
                loop {
                    match body.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => got += n,
                        Err(e) => return Err(Error::from(e)),
                    }
                }
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(err.to_string().contains("read /root/b"), "{err}");
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        // What was produced before the failure was delivered.
        assert!(got >= 300_000, "{got}");

        // A consumer that swallows the read error still gets the failure back.
        let err = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                let _ = io::copy(body, &mut io::sink());
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");

        // The owned variant reports the same through `Read`.
        let fs: Arc<dyn FileSystem> = Arc::new(FakeFs::new(&[("b", 100, Some(10))]));
        let mut reader = tar_reader(fs, "/root".into(), "/dst".into(), default_upload_tar_writer);
        let e = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(Error::from(e).to_string().contains("disk on fire"));
        let again = reader.read(&mut [0u8; 4]).unwrap_err();
        assert!(again.to_string().contains("tar stream failed"), "{again}");
    }

    #[test]
    fn dropping_the_reader_stops_the_producer() {
        // A 1 GiB file: the producer would block forever on a full queue if it were not told.
        let fs = Arc::new(FakeFs::new(&[("huge", 1 << 30, None)]));
        let dyn_fs: Arc<dyn FileSystem> = fs.clone();
        let mut reader = tar_reader(
            dyn_fs,
            "/root".into(),
            "/dst".into(),
            default_upload_tar_writer,
        );
        let mut buf = vec![0u8; 100_000];
        reader.read_exact(&mut buf).unwrap();
        drop(reader);
        // The producer thread holds the other reference to `fs` until it returns.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&fs) > 1 {
            assert!(
                Instant::now() < deadline,
                "the producer thread did not stop"
            );
            thread::sleep(Duration::from_millis(5));
        }

        // The scoped variant returns even when the consumer stops early.
        let fs = FakeFs::new(&[("huge", 1 << 30, None)]);
        let started = Instant::now();
        let r = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                body.read_exact(&mut [0u8; 1000])?;
                Err::<(), _>(Error::api(500, "engine said no"))
            },
        );
        assert_eq!(r.unwrap_err().status(), Some(500));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(*fs.opened.lock().unwrap(), ["huge"]);
    }

    #[test]
    fn producer_panic_is_an_error() {
        let r = with_tar_stream(
            |_w| -> Result<()> { panic!("producer bug") },
            |body| {
                let e = body.read(&mut [0u8; 10]).unwrap_err();
                assert!(e.to_string().contains("stopped before the end"), "{e}");
                Ok(())
            },
        );
        assert!(r.is_err());
        let mut s = spawn_tar_stream(|mut w| {
            w.write_all(b"abc")?;
            Ok(())
        });
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        assert_eq!(v, b"abc");
    }
}
