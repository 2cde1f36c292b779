//! The pipe between the tar's producer and its reader: the producer's [`PipeWriter`] fills
//! pieces and queues them, a bounded number at a time; the reader, a [`TarStream`], copies
//! them out.
//!
//! A piece holds bytes (at most 64 KiB) and, in between, up to 8 host files whose content the
//! reader reads itself, straight into the buffer it was given: a file goes from the disk to,
//! say, the request's buffer without a copy between threads. A small file is read into the
//! piece's bytes by the producer instead: holding it open would cost more than the copy. A
//! piece goes to the reader once it is full (or the producer flushes), so a tar of many files
//! costs few hand-offs between the threads, and a read of the stream takes from as many files
//! as fit.
//!
//! Like the rest of the archive, this uses only `error`.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};

use crate::archive::entry::shrank;
use crate::archive::fs::path_error;
use crate::error::{Error, Result};

/// The most bytes a piece holds.
const CHUNK: usize = 64 * 1024;
/// The most host files a piece holds.
const MAX_FILES: usize = 8;
/// Pieces queued between producer and reader: with the one being filled and the one being read,
/// at most four pieces are in memory (256 KiB of bytes), and 32 host files are open.
pub(super) const QUEUED_PIECES: usize = 2;
/// Host files at least this large go to the reader; smaller ones are read into the piece.
const HAND_OFF_MIN: u64 = 16 * 1024;

pub(super) enum Msg {
    Piece(Piece),
    Done,
    Failed(Error),
}

/// A piece of the tar: bytes, and the host files whose content comes in between.
#[derive(Default)]
pub(super) struct Piece {
    bytes: Vec<u8>,
    /// The files, in order, each with the offset in `bytes` where its content comes.
    files: VecDeque<(usize, FileContent)>,
}

impl Piece {
    /// An empty piece with room for its bytes.
    fn with_capacity() -> Piece {
        Piece {
            bytes: Vec::with_capacity(CHUNK),
            files: VecDeque::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty() && self.files.is_empty()
    }
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

/// The producer's end of the pipe: fills pieces and queues them for the reader.
pub(super) struct PipeWriter {
    tx: SyncSender<Msg>,
    piece: Piece,
}

impl PipeWriter {
    pub(super) fn new(tx: SyncSender<Msg>) -> PipeWriter {
        PipeWriter {
            tx,
            piece: Piece::with_capacity(),
        }
    }

    fn is_full(&self) -> bool {
        self.piece.bytes.len() >= CHUNK || self.piece.files.len() >= MAX_FILES
    }

    fn send_piece(&mut self) -> io::Result<()> {
        if self.piece.is_empty() {
            return Ok(());
        }
        let piece = std::mem::replace(&mut self.piece, Piece::with_capacity());
        self.send(Msg::Piece(piece))
    }

    fn send(&self, msg: Msg) -> io::Result<()> {
        self.tx.send(msg).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader of the tar stream is gone",
            )
        })
    }

    /// Puts `size` bytes of `file` into the tar at this point: a large file goes to the reader
    /// to read, a small one is read here. A file that grew is cut at `size`, one that shrank
    /// is an error naming `path`.
    pub(super) fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        if size == 0 {
            return Ok(());
        }
        if self.is_full() {
            self.send_piece()?;
        }
        if size < HAND_OFF_MIN {
            return self.read_in(file, size, path);
        }
        let at = self.piece.bytes.len();
        let content = FileContent {
            file,
            size,
            left: size,
            path: path.to_path_buf(),
        };
        self.piece.files.push_back((at, content));
        Ok(())
    }

    /// Reads `size` bytes (less than a piece) of `file` into the piece.
    fn read_in(&mut self, mut file: File, size: u64, path: &Path) -> Result<()> {
        let len = size as usize;
        if self.piece.bytes.len() + len > CHUNK {
            self.send_piece()?;
        }
        let bytes = &mut self.piece.bytes;
        let start = bytes.len();
        bytes.resize(start + len, 0);
        let mut got = 0;
        let failure = loop {
            if got == len {
                break None;
            }
            match file.read(&mut bytes[start + got..]) {
                Ok(0) => break Some(shrank(path, size, got as u64)),
                Ok(n) => got += n.min(len - got),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(path_error("read", path, e)),
            }
        };
        // On a failure, what was read goes to the reader before the error, as bytes written
        // before it would.
        bytes.truncate(start + got);
        failure.map_or(Ok(()), Err)
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.is_full() {
            self.send_piece()?;
        }
        let room = CHUNK - self.piece.bytes.len();
        let n = data.len().min(room);
        self.piece.bytes.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_piece()
    }
}

impl Drop for PipeWriter {
    fn drop(&mut self) {
        // What is still in the piece belongs before the producer's final message; a gone
        // reader does not want it.
        let _ = self.send_piece();
    }
}

#[derive(Debug)]
pub(super) enum StreamState {
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
///
/// A read fills the buffer with what the producer has queued, waiting only when nothing is
/// there yet, so that each read gives as much as is at hand.
pub struct TarStream {
    rx: Receiver<Msg>,
    piece: Piece,
    /// Where the next bytes of `piece.bytes` are.
    pos: usize,
    /// The file whose content is being read, before the rest of `piece`.
    file: Option<FileContent>,
    /// An error met after a read had bytes to return: the next read returns it.
    pending: Option<Error>,
    state: StreamState,
    /// How many host files this stream read (for the tests).
    #[cfg(test)]
    files_read: usize,
}

impl fmt::Debug for TarStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarStream")
            .field("buffered", &(self.piece.bytes.len() - self.pos))
            .field("files", &self.piece.files.len())
            .field("file_left", &self.file.as_ref().map(|f| f.left))
            .field("state", &self.state)
            .finish()
    }
}

impl TarStream {
    pub(super) fn new(rx: Receiver<Msg>) -> TarStream {
        TarStream {
            rx,
            piece: Piece::default(),
            pos: 0,
            file: None,
            pending: None,
            state: StreamState::Open,
            #[cfg(test)]
            files_read: 0,
        }
    }

    /// Whether the whole tar has been read (the producer finished and nothing is left).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, StreamState::Done)
            && self.pending.is_none()
            && self.file.is_none()
            && self.pos == self.piece.bytes.len()
            && self.piece.files.is_empty()
    }

    /// Why the stream failed, if it did (also when the error is still to be read).
    pub(super) fn failure(&self) -> Option<String> {
        match (&self.pending, &self.state) {
            (Some(e), _) => Some(e.to_string()),
            (None, StreamState::Failed(why)) => Some(why.clone()),
            _ => None,
        }
    }

    /// How many host files this stream read itself.
    #[cfg(test)]
    pub(super) fn files_read(&self) -> usize {
        self.files_read
    }

    /// Copies what the current piece holds into `out`, reading its files; returns how much.
    fn fill(&mut self, out: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < out.len() {
            if let Some(content) = &mut self.file {
                match content.read(&mut out[n..]) {
                    Ok(0) => self.file = None,
                    Ok(k) => n += k,
                    Err(e) => {
                        self.file = None;
                        return self.failed_after(n, e);
                    }
                }
                continue;
            }
            let end = match self.piece.files.front() {
                Some(&(at, _)) => at,
                None => self.piece.bytes.len(),
            };
            if self.pos < end {
                let k = (end - self.pos).min(out.len() - n);
                out[n..n + k].copy_from_slice(&self.piece.bytes[self.pos..self.pos + k]);
                self.pos += k;
                n += k;
                continue;
            }
            match self.piece.files.pop_front() {
                Some((_, content)) => {
                    self.file = Some(content);
                    #[cfg(test)]
                    {
                        self.files_read += 1;
                    }
                }
                None => break,
            }
        }
        Ok(n)
    }

    /// After `n` bytes of a read, error `e`: returned now when there are no bytes, else kept
    /// for the next read.
    fn failed_after(&mut self, n: usize, e: Error) -> Result<usize> {
        if n > 0 {
            self.pending = Some(e);
            return Ok(n);
        }
        self.state = StreamState::Failed(e.to_string());
        Err(e)
    }

    /// Reads into `out` (not empty), waiting for the producer only while there is nothing to
    /// return.
    fn read_some(&mut self, out: &mut [u8]) -> Result<usize> {
        if let Some(e) = self.pending.take() {
            return self.failed_after(0, e);
        }
        let mut n = 0;
        loop {
            n += self.fill(&mut out[n..])?;
            if n == out.len() || self.pending.is_some() {
                return Ok(n);
            }
            match &self.state {
                StreamState::Open => {}
                StreamState::Done => return Ok(n),
                StreamState::Failed(why) if n == 0 => {
                    return Err(Error::other(format!("the tar stream failed: {why}")))
                }
                StreamState::Failed(_) => return Ok(n),
            }
            let msg = if n == 0 {
                self.rx.recv().ok()
            } else {
                match self.rx.try_recv() {
                    Ok(msg) => Some(msg),
                    Err(TryRecvError::Empty) => return Ok(n),
                    Err(TryRecvError::Disconnected) => None,
                }
            };
            match msg {
                Some(Msg::Piece(piece)) => {
                    self.piece = piece;
                    self.pos = 0;
                }
                Some(Msg::Done) => self.state = StreamState::Done,
                Some(Msg::Failed(e)) => return self.failed_after(n, e),
                None => {
                    let why = "the tar producer stopped before the end of the stream";
                    return self.failed_after(n, Error::other(why));
                }
            }
        }
    }
}

impl Read for TarStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let StreamState::Failed(why) = &self.state {
            return Err(Error::other(format!("the tar stream failed: {why}")).into());
        }
        if out.is_empty() {
            return Ok(0);
        }
        Ok(self.read_some(out)?)
    }
}

#[cfg(test)]
mod tests {
    //! The pipe alone, its producer and reader on one thread over a queue long enough for
    //! the test: the pieces' bounds, reads that take from every queued piece, files read by
    //! either side, and errors that come after bytes.
    use super::*;
    use crate::archive::fixtures::TempDir;
    use std::sync::mpsc::{self, Receiver};

    /// A file of `len` bytes, each its offset modulo 251, so that misplaced bytes show.
    fn file_of(dir: &TempDir, name: &str, len: usize) -> (PathBuf, Vec<u8>) {
        let path = dir.path().join(name);
        let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        (path, content)
    }

    fn pipe() -> (PipeWriter, Receiver<Msg>) {
        let (tx, rx) = mpsc::sync_channel(64);
        (PipeWriter::new(tx), rx)
    }

    /// Bytes and files of every size around the hand-off size: each size, then a name.
    fn produce(w: &mut PipeWriter, dir: &TempDir) -> Vec<u8> {
        let mut want = Vec::new();
        let sizes = [0, 1, 16 * 1024 - 1, 16 * 1024, 70_000, 200_000];
        for (i, len) in sizes.into_iter().cycle().take(30).enumerate() {
            let name = format!("f{i}");
            let (path, content) = file_of(dir, &name, len);
            w.write_all(name.as_bytes()).unwrap();
            want.extend_from_slice(name.as_bytes());
            let file = File::open(&path).unwrap();
            w.write_file(file, len as u64, &path).unwrap();
            want.extend_from_slice(&content);
        }
        want
    }

    #[test]
    fn pieces_hold_at_most_64_kib_and_8_files() {
        let tmp = TempDir::new("pieces");
        let (mut w, rx) = pipe();
        produce(&mut w, &tmp);
        w.write_all(&[7u8; 200_000]).unwrap();
        drop(w);
        let (mut pieces, mut files) = (0, 0);
        for msg in rx.try_iter() {
            let Msg::Piece(piece) = msg else {
                panic!("not a piece")
            };
            assert!(piece.bytes.len() <= CHUNK && piece.files.len() <= MAX_FILES);
            // Only files of 16 KiB and more are handed over; the rest are bytes.
            for (_, f) in &piece.files {
                assert!(f.size >= HAND_OFF_MIN, "{}", f.size);
            }
            pieces += 1;
            files += piece.files.len();
        }
        assert_eq!(files, 15);
        assert!(pieces >= 4, "{pieces}");
    }

    #[test]
    fn a_read_takes_from_every_queued_piece() {
        let tmp = TempDir::new("fill");
        let (mut w, rx) = pipe();
        let want = produce(&mut w, &tmp);
        drop(w);
        let mut stream = TarStream::new(rx);
        // The producer is gone without its verdict: everything queued comes first, in one read.
        let mut buf = vec![0u8; want.len() + 10];
        assert_eq!(stream.read(&mut buf).unwrap(), want.len());
        assert!(buf[..want.len()] == want[..], "the bytes differ");
        let e = stream.read(&mut buf).unwrap_err().to_string();
        assert!(e.contains("stopped before the end"), "{e}");
        let e = stream.read(&mut buf).unwrap_err().to_string();
        assert!(e.contains("the tar stream failed"), "{e}");

        // Reads of any size give the same bytes, then the end.
        for size in [1, 1000, 70_000] {
            let (mut w, rx) = pipe();
            let want = produce(&mut w, &tmp);
            let tx = w.tx.clone();
            drop(w);
            tx.send(Msg::Done).unwrap();
            let mut stream = TarStream::new(rx);
            let mut got = Vec::new();
            let mut buf = vec![0u8; size];
            loop {
                match stream.read(&mut buf).unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            assert!(got == want, "reads of {size}: the bytes differ");
            assert!(stream.is_complete());
        }
    }

    #[test]
    fn an_error_after_bytes_comes_with_the_next_read() {
        let tmp = TempDir::new("late-error");
        // A handed-over file shorter than its entry: the bytes before it and its 20,000 bytes,
        // then the error naming it.
        let (path, content) = file_of(&tmp, "short", 20_000);
        let (mut w, rx) = pipe();
        w.write_all(b"head").unwrap();
        w.write_file(File::open(&path).unwrap(), 30_000, &path)
            .unwrap();
        w.write_all(b"tail").unwrap();
        drop(w);
        let mut stream = TarStream::new(rx);
        let mut buf = vec![0u8; 100_000];
        assert_eq!(stream.read(&mut buf).unwrap(), 4 + 20_000);
        assert_eq!(&buf[4..20_004], &content[..]);
        assert!(stream.failure().is_some());
        let e = stream.read(&mut buf).unwrap_err().to_string();
        assert!(e.contains("shrank") && e.contains("20000 of 30000"), "{e}");
        assert!(e.contains(&*path.to_string_lossy()), "{e}");
        let e = stream.read(&mut buf).unwrap_err().to_string();
        assert!(
            e.contains("the tar stream failed") && e.contains("shrank"),
            "{e}"
        );

        // A small file shorter than its entry fails the producer, which keeps what it read;
        // the producer's error then follows those bytes.
        let (small, _) = file_of(&tmp, "small", 100);
        let (mut w, rx) = pipe();
        w.write_all(b"head").unwrap();
        let e = w
            .write_file(File::open(&small).unwrap(), 1000, &small)
            .unwrap_err();
        assert!(e.to_string().contains("100 of 1000"), "{e}");
        assert_eq!(w.piece.bytes.len(), 104);
        let tx = w.tx.clone();
        drop(w);
        tx.send(Msg::Failed(e)).unwrap();
        let mut stream = TarStream::new(rx);
        assert_eq!(stream.read(&mut buf).unwrap(), 104);
        let e = stream.read(&mut buf).unwrap_err().to_string();
        assert!(e.contains("100 of 1000"), "{e}");
        assert!(!stream.is_complete());

        // A file that grew is cut at its entry's size, on either side.
        for len in [100, 20_000] {
            let (path, content) = file_of(&tmp, "grown", 2 * len);
            let (mut w, rx) = pipe();
            w.write_file(File::open(&path).unwrap(), len as u64, &path)
                .unwrap();
            let tx = w.tx.clone();
            drop(w);
            tx.send(Msg::Done).unwrap();
            let mut stream = TarStream::new(rx);
            let mut got = Vec::new();
            stream.read_to_end(&mut got).unwrap();
            assert!(got == content[..len], "{len}");
            assert!(stream.is_complete());
        }
    }
}
