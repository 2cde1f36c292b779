//! Streaming the tar while it is produced: the producer writes on a thread into a bounded pipe,
//! the caller reads a [`TarStream`], so a request body is never held whole in memory.
//!
//! With the upload's default writer, the content of host files does not go through the pipe
//! as bytes: the producer passes the open file on, and the reader reads it straight into the
//! buffer it was given (for an upload, the request's own), without a copy between threads.
//!
//! Like the rest of the archive, this uses only `error`.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;

use super::adapters::ChmodAdapter;
use super::entry::{shrank, TarHeader, TarWriter};
use super::fs::{path_error, FileSystem};
use super::walk::write_upload_tar;
use super::writer::ArchiveWriter;
use crate::error::{Error, Result};

/// Size of the chunks handed from the producer to the reader.
const CHUNK: usize = 64 * 1024;
/// Chunks queued between producer and reader: with the one being filled and the one being read,
/// at most four chunks (256 KiB) are in memory.
const QUEUED_CHUNKS: usize = 2;

enum Msg {
    Data(Vec<u8>),
    /// An entry's content, for the reader to read from the file.
    File(FileContent),
    Done,
    Failed(Error),
}

/// The content of a host file that the reader of the stream reads itself.
struct FileContent {
    file: File,
    /// The entry's size: more of the file is left out, less is an error.
    size: u64,
    left: u64,
    path: PathBuf,
}

impl FileContent {
    /// Reads the next bytes of the content into `out` (not empty); `Ok(0)` at its end.
    fn read(&mut self, out: &mut [u8]) -> Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let want = usize::try_from(self.left).map_or(out.len(), |l| l.min(out.len()));
        loop {
            match self.file.read(&mut out[..want]) {
                Ok(0) => return Err(shrank(&self.path, self.size, self.size - self.left)),
                Ok(n) => {
                    let n = n.min(want);
                    self.left -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(path_error("read", &self.path, e)),
            }
        }
    }
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
        self.send(Msg::Data(chunk))
    }

    fn send(&self, msg: Msg) -> io::Result<()> {
        self.tx.send(msg).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader of the tar stream is gone",
            )
        })
    }

    /// Queues the bytes written so far, then `size` bytes of `file` for the reader to read.
    fn send_file(&mut self, file: File, size: u64, path: &Path) -> io::Result<()> {
        self.send_buf()?;
        if size == 0 {
            return Ok(());
        }
        let content = FileContent {
            file,
            size,
            left: size,
            path: path.to_path_buf(),
        };
        self.send(Msg::File(content))
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
    /// The file whose content is being read, after `chunk`.
    file: Option<FileContent>,
    state: StreamState,
}

impl fmt::Debug for TarStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarStream")
            .field("buffered", &(self.chunk.len() - self.pos))
            .field("file_left", &self.file.as_ref().map(|f| f.left))
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
            file: None,
            state: StreamState::Open,
        }
    }

    /// Whether the whole tar has been read (the producer finished and nothing is left).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, StreamState::Done)
            && self.pos == self.chunk.len()
            && self.file.is_none()
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
            if let Some(content) = &mut self.file {
                match content.read(out) {
                    Ok(0) => self.file = None,
                    Ok(n) => return Ok(n),
                    Err(e) => {
                        self.file = None;
                        self.state = StreamState::Failed(e.to_string());
                        return Err(e.into());
                    }
                }
                continue;
            }
            match self.rx.recv() {
                Ok(Msg::Data(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Msg::File(content)) => self.file = Some(content),
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
    P: FnOnce(ChunkSender) -> Result<()>,
{
    let writer = ChunkSender {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK),
    };
    // The writer is dropped (and its last bytes queued) inside `produce`, before the verdict.
    let result = produce(writer);
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
        .spawn(move || run_producer(tx, |w| produce(Box::new(w))));
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
    with_pipe(|w| produce(Box::new(w)), consume)
}

/// [`with_tar_stream`] with the pipe's own writer.
fn with_pipe<P, C, R>(produce: P, consume: C) -> Result<R>
where
    P: FnOnce(ChunkSender) -> Result<()> + Send,
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

/// [`stream_upload_tar`] with [`default_upload_tar_writer`](super::default_upload_tar_writer)'s
/// archive, where the content of host files ([`FileSystem::open_file`]) goes to the reader as
/// the open file rather than as bytes: the reader reads it straight into its own buffer.
///
/// # Errors
/// As [`stream_upload_tar`]; a host file that fails to read or shrank fails the read of the
/// stream, naming the file.
pub(crate) fn stream_default_upload_tar<C, R>(
    fs: &dyn FileSystem,
    src: &Path,
    dest: &str,
    consume: C,
) -> Result<R>
where
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    with_pipe(
        move |w| {
            let mut writer = ChmodAdapter::new(PipeWriter(ArchiveWriter::new(w)));
            write_upload_tar(fs, src, dest, &mut writer)
        },
        consume,
    )
}

/// An [`ArchiveWriter`] into the pipe that passes host files on to the reader unread.
struct PipeWriter(ArchiveWriter<ChunkSender>);

impl TarWriter for PipeWriter {
    fn write_header(&mut self, header: TarHeader) -> Result<()> {
        self.0.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.0.write_data(data)
    }
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        self.0.check_room(size)?;
        self.0.stream_mut().send_file(file, size, path)?;
        self.0.content_written(size)
    }
    fn finish(&mut self) -> Result<()> {
        self.0.finish()
    }
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
    //! The stream against a direct write, host files read by the reader, producer failures
    //! and panics, and early readers' exits.
    use super::*;
    use crate::archive::fixtures::*;
    use crate::archive::{
        default_upload_tar_writer, ArchiveWriter, ChmodAdapter, FileInfo, FileKind, LocalFileSystem,
    };
    use std::collections::HashMap;
    use std::ffi::OsString;
    use std::sync::Mutex;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    mod cases;
}
