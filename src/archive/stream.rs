//! Streaming the tar while it is produced: the producer writes on a thread into a bounded pipe,
//! the caller reads a [`TarStream`], so a request body is never held whole in memory.
//!
//! With the pipe's own archive writer ([`spawn_archive_stream`]; the upload's default writer
//! in `upload_to_container` and [`tar_reader`]), the content of host files does not go through
//! the pipe as bytes: the producer passes the open file on, and the reader reads it straight
//! into the buffer it was given (for an upload, the request's own; for a container's standard
//! input, the chunk written to the attach stream), without a copy between threads. The pipe
//! itself is in `stream/pipe.rs`.
//!
//! Like the rest of the archive, this uses only `error`.

use std::any::TypeId;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread;

use super::adapters::{default_upload_tar_writer, ChmodAdapter};
use super::entry::{TarHeader, TarWriter};
use super::fs::FileSystem;
use super::walk::write_upload_tar;
use super::writer::ArchiveWriter;
use crate::error::{Error, Result};

mod pipe;

pub use pipe::TarStream;
use pipe::{Msg, PipeWriter, QUEUED_PIECES};

fn run_producer<P>(tx: SyncSender<Msg>, produce: P) -> bool
where
    P: FnOnce(PipeWriter) -> Result<()>,
{
    let writer = PipeWriter::new(tx.clone());
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
/// data use [`with_tar_stream`]. An archive of host files is cheaper with
/// [`spawn_archive_stream`], whose writer does not copy their content through the pipe.
pub fn spawn_tar_stream<P>(produce: P) -> TarStream
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()> + Send + 'static,
{
    spawn_pipe(|w| produce(Box::new(w)))
}

/// Runs `produce` on a new thread with an [`ArchiveStreamWriter`] into a bounded pipe, and
/// returns the reading end, as [`spawn_tar_stream`] does.
///
/// The writer is an [`ArchiveWriter`] whose host files ([`TarWriter::write_file`]) are not
/// copied through the pipe: the reader of the stream reads each one straight into its own
/// buffer. The bytes are those [`ArchiveWriter`] writes. `produce` finishes the archive
/// ([`TarWriter::finish`]) before it returns.
///
/// # Example
/// ```
/// use std::io::Read;
/// use s2i_docker::archive::{
///     create_tar_stream_to_tar_writer, spawn_archive_stream, LocalFileSystem, TarWriter,
/// };
///
/// # let src = std::env::temp_dir().join(format!("s2i-archive-stream-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&src)?;
/// # std::fs::write(src.join("hello.txt"), "hi")?;
/// let dir = src.clone();
/// let mut stream = spawn_archive_stream(move |mut writer| {
///     writer.sub_second_mtime(false);
///     create_tar_stream_to_tar_writer(&LocalFileSystem, &dir, false, &mut writer)?;
///     writer.finish()
/// });
/// let mut tar = Vec::new();
/// stream.read_to_end(&mut tar)?;
/// let names: Vec<String> = tar::Archive::new(&tar[..])
///     .entries()?
///     .map(|e| Ok(e?.path()?.display().to_string()))
///     .collect::<std::io::Result<_>>()?;
/// assert_eq!(names, ["hello.txt"]);
/// # std::fs::remove_dir_all(&src)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_archive_stream<P>(produce: P) -> TarStream
where
    P: FnOnce(ArchiveStreamWriter) -> Result<()> + Send + 'static,
{
    spawn_pipe(|w| produce(ArchiveStreamWriter(ArchiveWriter::new(w))))
}

/// [`spawn_tar_stream`] with the pipe's own writer.
fn spawn_pipe<P>(produce: P) -> TarStream
where
    P: FnOnce(PipeWriter) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_PIECES);
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
    with_pipe(|w| produce(Box::new(w)), consume)
}

/// [`with_tar_stream`] with the pipe's own writer.
fn with_pipe<P, C, R>(produce: P, consume: C) -> Result<R>
where
    P: FnOnce(PipeWriter) -> Result<()> + Send,
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_PIECES);
    thread::scope(|scope| {
        let producer = thread::Builder::new()
            .name("s2i-tar".into())
            .spawn_scoped(scope, move || run_producer(tx, produce))
            .map_err(|e| Error::other(format!("cannot start the tar producer thread: {e}")))?;
        let mut stream = TarStream::new(rx);
        let result = consume(&mut stream);
        let read_failure = stream.failure();
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
        move |w| write_upload_tar(fs, src, dest, &mut default_stream_writer(w)),
        consume,
    )
}

/// [`default_upload_tar_writer`]'s archive over the pipe, with host files passed on unread.
fn default_stream_writer(w: PipeWriter) -> ChmodAdapter<ArchiveStreamWriter> {
    ChmodAdapter::new(ArchiveStreamWriter(ArchiveWriter::new(w)))
}

/// The writer of [`spawn_archive_stream`]: an [`ArchiveWriter`] into the stream's pipe that
/// passes host files on to the reader unread.
///
/// Headers and [`write_data`](TarWriter::write_data) bytes go through the pipe as
/// [`ArchiveWriter`] writes them. [`write_file`](TarWriter::write_file) queues the open file
/// (one under 16 KiB is read into the pipe at once), and the reader of the [`TarStream`] reads
/// its content itself, with the same rules as the default `write_file`: a file that grew is cut
/// at its size, one that shrank fails the read, naming the file.
pub struct ArchiveStreamWriter(ArchiveWriter<PipeWriter>);

impl ArchiveStreamWriter {
    /// As [`ArchiveWriter::sub_second_mtime`].
    pub fn sub_second_mtime(&mut self, keep: bool) -> &mut Self {
        self.0.sub_second_mtime(keep);
        self
    }
}

impl fmt::Debug for ArchiveStreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ArchiveStreamWriter").field(&self.0).finish()
    }
}

impl TarWriter for ArchiveStreamWriter {
    fn write_header(&mut self, header: TarHeader) -> Result<()> {
        self.0.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.0.write_data(data)
    }
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        self.0.check_room(size)?;
        self.0.stream_mut().write_file(file, size, path)?;
        self.0.content_written(size)
    }
    fn finish(&mut self) -> Result<()> {
        self.0.finish()
    }
}

/// Like [`stream_upload_tar`], for callers that own the filesystem: the producer runs on its
/// own thread and the returned stream can go anywhere (it is `Send` and `'static`).
///
/// With [`default_upload_tar_writer`] itself as `make_tar_writer`, the archive is written as
/// [`spawn_archive_stream`] writes it: the reader of the stream reads the content of host files
/// straight into its own buffer. Any other writer gets the pipe's bytes as they are.
pub fn tar_reader<M>(
    fs: Arc<dyn FileSystem>,
    src: PathBuf,
    dest: String,
    make_tar_writer: M,
) -> TarStream
where
    M: FnOnce(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send + 'static,
{
    if is_default_upload_tar_writer::<M>() {
        return spawn_pipe(move |w| {
            write_upload_tar(&*fs, &src, &dest, &mut default_stream_writer(w))
        });
    }
    spawn_tar_stream(move |w| {
        let mut writer = make_tar_writer(w);
        write_upload_tar(&*fs, &src, &dest, &mut *writer)
    })
}

/// Whether `M` is the type of [`default_upload_tar_writer`]: every function item has a type
/// of its own, so only that function (not a closure or a function pointer, which may do
/// anything) matches, and the archive it would write can be written by the pipe's own writer.
fn is_default_upload_tar_writer<M: 'static>() -> bool {
    fn type_of<T: 'static>(_: &T) -> TypeId {
        TypeId::of::<T>()
    }
    TypeId::of::<M>() == type_of(&default_upload_tar_writer)
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
    use std::io::{self, Read};
    use std::sync::Mutex;
    use std::time::{Duration, Instant, UNIX_EPOCH};

    mod cases;
}
