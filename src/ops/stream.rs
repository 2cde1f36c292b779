//! The two stream formats of the Engine API: the stdcopy multiplexed stream of attach/logs, and
//! the JSON-lines progress stream of pull/push/build.
//!
//! Both are push parsers at heart ([`FrameDecoder`], the line splitter behind [`JsonMessages`])
//! driven by thin `Read` pumps, so that any split of the input gives the same result. A progress
//! message is a [`JsonMessage`], defined in [`models`](crate::ops::models) and re-exported here.
//!
//! Works on any `Read`: uses the error type and the models, no engine client and no transport.

use std::io::{self, Read, Write};

use crate::error::{Error, Result};

pub use crate::ops::models::{JsonError, JsonMessage, JsonProgress};

/// The largest stdcopy frame accepted; the daemon writes at most 32 KiB per frame, so a bigger
/// size field means the stream is not what it should be.
pub const MAX_FRAME_SIZE: usize = 16 << 20;

/// The longest JSON line accepted in a progress stream.
pub const MAX_JSON_LINE: usize = 1 << 20;

/// How much of a stream is read at once.
const READ_BUF: usize = 64 << 10;

/// Which stream a stdcopy frame belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdStream {
    /// Frame type 0 (stdin echoed back) or 1.
    Stdout,
    /// Frame type 2.
    Stderr,
}

/// What one [`FrameDecoder::decode`] call produced: payload bytes and their stream, if any.
pub type Decoded<'a> = Option<(StdStream, &'a [u8])>;

/// The decoder's position inside the frame sequence.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Collecting the 8-byte header; `len` bytes are in `header`.
    Header { header: [u8; 8], len: usize },
    /// Inside a payload for `stream`, `remaining` bytes to go.
    Payload { stream: u8, remaining: usize },
}

/// A push decoder for Docker's multiplexed stream (`application/vnd.docker.raw-stream` when the
/// container has no TTY).
///
/// Each frame is an 8-byte header `[stream, 0, 0, 0, size (u32 big-endian)]` followed by `size`
/// bytes of payload. The decoder never copies payload bytes: [`decode`](FrameDecoder::decode)
/// hands back slices of the input, so frames of any size stream through a fixed buffer.
///
/// ```
/// use s2i_docker::ops::stream::{FrameDecoder, StdStream};
/// let mut dec = FrameDecoder::new();
/// let input = b"\x02\0\0\0\0\0\0\x03err";
/// let (used, out) = dec.decode(input)?;
/// assert_eq!(used, 8); // the header alone
/// assert!(out.is_none());
/// let (used, out) = dec.decode(&input[8..])?;
/// assert_eq!((used, out), (3, Some((StdStream::Stderr, &b"err"[..]))));
/// assert!(dec.finish().is_ok()); // at a frame boundary
/// # Ok::<(), s2i_docker::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    state: State,
    max_frame: usize,
    /// The payload of a system-error frame (type 3), collected until complete.
    system_error: Vec<u8>,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new()
    }
}

impl FrameDecoder {
    /// A decoder at the start of a stream, with the [`MAX_FRAME_SIZE`] cap.
    pub fn new() -> FrameDecoder {
        FrameDecoder {
            state: State::Header {
                header: [0; 8],
                len: 0,
            },
            max_frame: MAX_FRAME_SIZE,
            system_error: Vec::new(),
        }
    }

    /// Sets the largest frame size accepted.
    pub fn max_frame_size(mut self, max: usize) -> FrameDecoder {
        self.max_frame = max;
        self
    }

    /// Consumes a prefix of `input`: returns how many bytes were used and, when some were
    /// payload, the stream they belong to and the payload slice.
    ///
    /// Header bytes are kept inside the decoder, so a header split across calls needs no help
    /// from the caller. Call again with the rest of the input until it is used up.
    ///
    /// # Errors
    /// - [`Error::Stream`] `error from daemon in stream: <payload>` once a type-3 frame is complete;
    /// - [`Error::Protocol`] `Unrecognized input header: <n>` for a frame type above 3, or when a
    ///   frame's size exceeds the cap.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Decoded<'a>)> {
        match &mut self.state {
            State::Header { header, len } => {
                let take = (8 - *len).min(input.len());
                header[*len..*len + take].copy_from_slice(&input[..take]);
                *len += take;
                if *len == 8 {
                    let stream = header[0];
                    let size =
                        u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
                    if stream > 3 {
                        return Err(Error::Protocol(format!(
                            "Unrecognized input header: {stream}"
                        )));
                    }
                    if size > self.max_frame {
                        return Err(Error::Protocol(format!(
                            "stdcopy frame of {size} bytes exceeds the limit of {} bytes",
                            self.max_frame
                        )));
                    }
                    self.state = State::Payload {
                        stream,
                        remaining: size,
                    };
                    if size == 0 {
                        self.end_of_payload(stream)?;
                    }
                }
                Ok((take, None))
            }
            State::Payload { stream, remaining } => {
                let stream = *stream;
                let take = (*remaining).min(input.len());
                *remaining -= take;
                let done = *remaining == 0;
                let data = &input[..take];
                if stream == 3 {
                    self.system_error.extend_from_slice(data);
                    if done {
                        self.end_of_payload(stream)?;
                    }
                    return Ok((take, None));
                }
                if done {
                    self.end_of_payload(stream)?;
                }
                let which = if stream == 2 {
                    StdStream::Stderr
                } else {
                    StdStream::Stdout
                };
                Ok((take, (take > 0).then_some((which, data))))
            }
        }
    }

    fn end_of_payload(&mut self, stream: u8) -> Result<()> {
        self.state = State::Header {
            header: [0; 8],
            len: 0,
        };
        if stream == 3 {
            let message = String::from_utf8_lossy(&self.system_error).into_owned();
            self.system_error.clear();
            return Err(Error::Stream {
                message: format!("error from daemon in stream: {message}"),
            });
        }
        Ok(())
    }

    /// Checks the end of the stream: a clean end lies between two frames.
    ///
    /// # Errors
    /// [`Error::Protocol`] when the stream stopped inside a header or a payload (the connection
    /// was cut; the reference drops such a tail silently).
    pub fn finish(&self) -> Result<()> {
        match self.state {
            State::Header { len: 0, .. } => Ok(()),
            State::Header { len, .. } => Err(Error::Protocol(format!(
                "multiplexed stream truncated inside a frame header ({len} of 8 bytes)"
            ))),
            State::Payload { remaining, .. } => Err(Error::Protocol(format!(
                "multiplexed stream truncated inside a frame ({remaining} bytes missing)"
            ))),
        }
    }
}

/// Copies a multiplexed stream into `stdout` and `stderr` until its end.
///
/// Reads through one fixed 64 KiB buffer whatever the frame sizes. Interrupted reads are retried.
///
/// # Errors
/// Read and write errors, and those of [`FrameDecoder::decode`] and [`FrameDecoder::finish`]
/// (a daemon error frame, an unknown frame type, a truncated stream).
pub fn demux(reader: &mut dyn Read, stdout: &mut dyn Write, stderr: &mut dyn Write) -> Result<()> {
    let mut dec = FrameDecoder::new();
    let mut buf = vec![0u8; READ_BUF];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return dec.finish(),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        let mut off = 0;
        while off < n {
            let (used, out) = dec.decode(&buf[off..n])?;
            off += used;
            match out {
                Some((StdStream::Stdout, data)) => stdout.write_all(data)?,
                Some((StdStream::Stderr, data)) => stderr.write_all(data)?,
                None => {}
            }
        }
    }
}

/// Splits a byte stream into lines through one growing buffer, each line capped.
struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    start: usize,
    /// How far `buf[start..]` has been searched for a newline.
    scanned: usize,
    eof: bool,
    max_line: usize,
    /// Lines over `max_line` are dropped (read through to their newline without being kept)
    /// rather than failing the stream.
    skip_long: bool,
    /// Inside a line being dropped.
    skipping: bool,
}

impl<R: Read> LineReader<R> {
    fn new(inner: R, max_line: usize) -> LineReader<R> {
        LineReader {
            inner,
            buf: Vec::with_capacity(8 << 10),
            start: 0,
            scanned: 0,
            eof: false,
            max_line,
            skip_long: false,
            skipping: false,
        }
    }

    /// The next line including its `\n` (the last one may lack it), or `None` at the end.
    ///
    /// With `skip_long`, a line over the cap is dropped as it is read (the buffer never holds
    /// more than the cap and one read) and the line after it is returned.
    fn next_line(&mut self) -> Result<Option<(usize, usize)>> {
        loop {
            let pending = &self.buf[self.start + self.scanned..];
            if let Some(i) = pending.iter().position(|&b| b == b'\n') {
                let begin = self.start;
                let end = self.start + self.scanned + i + 1;
                self.start = end;
                self.scanned = 0;
                if self.skipping || end - begin > self.max_line + 2 {
                    self.skip_or_fail()?;
                    self.skipping = false;
                    continue;
                }
                return Ok(Some((begin, end)));
            }
            self.scanned = self.buf.len() - self.start;
            if self.skipping || self.scanned > self.max_line + 2 {
                self.skip_or_fail()?;
                self.skipping = true;
                self.start = self.buf.len();
                self.scanned = 0;
            }
            if self.eof {
                if self.skipping {
                    return Ok(None);
                }
                if self.scanned == 0 {
                    return Ok(None);
                }
                let (begin, end) = (self.start, self.buf.len());
                self.start = end;
                self.scanned = 0;
                return Ok(Some((begin, end)));
            }
            self.fill()?;
        }
    }

    /// Fails on an over-long line, or logs that it is dropped (once per line).
    fn skip_or_fail(&self) -> Result<()> {
        if !self.skip_long {
            return Err(Error::Protocol(format!(
                "a line of the JSON stream exceeds {} bytes",
                self.max_line
            )));
        }
        if !self.skipping {
            log::debug!(
                "skipping a line of the JSON stream longer than {} bytes",
                self.max_line
            );
        }
        Ok(())
    }

    fn fill(&mut self) -> Result<()> {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + (8 << 10), 0);
        loop {
            match self.inner.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    self.eof = n == 0;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e.into());
                }
            }
        }
    }

    fn line(&self, (begin, end): (usize, usize)) -> &[u8] {
        &self.buf[begin..end]
    }
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if !first.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    while let [rest @ .., last] = s {
        if !last.is_ascii_whitespace() {
            break;
        }
        s = rest;
    }
    s
}

/// Decodes one line: `None` for a blank one.
fn decode_line(line: &[u8]) -> Option<Result<JsonMessage>> {
    let trimmed = trim_ascii(line);
    if trimmed.is_empty() {
        return None;
    }
    Some(match serde_json::from_slice::<JsonMessage>(trimmed) {
        Err(source) => Err(Error::Decode {
            what: "JSON message of a progress stream".into(),
            source,
        }),
        Ok(m) => match m.error_message() {
            Some(message) => Err(Error::Stream {
                message: message.to_string(),
            }),
            None => Ok(m),
        },
    })
}

/// An iterator over the messages of a JSON-lines progress stream (pull, push, build, load).
///
/// Messages are separated by `\n` or `\r\n`; blank lines are skipped; the last message may lack
/// its newline. A message carrying `errorDetail` or the legacy `error` is yielded as
/// [`Error::Stream`], even though the HTTP status was 200. A line that is not JSON is yielded
/// as [`Error::Decode`] and the iterator goes on with the next line, so an error reported after
/// it is still seen. After any other error (in-band, a line over the cap, a read error) the
/// iterator ends; with [`skip_long_lines`](JsonMessages::skip_long_lines), lines over the cap
/// are dropped instead.
///
/// ```
/// use s2i_docker::ops::stream::JsonMessages;
/// let body = &b"{\"status\":\"Pulling fs layer\",\"id\":\"a\"}\r\n{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"manifest unknown\"}\r\n"[..];
/// let mut it = JsonMessages::new(body);
/// assert_eq!(it.next().unwrap()?.status, "Pulling fs layer");
/// assert_eq!(it.next().unwrap().unwrap_err().to_string(), "manifest unknown");
/// assert!(it.next().is_none());
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub struct JsonMessages<R> {
    lines: LineReader<R>,
    done: bool,
}

impl<R: Read> JsonMessages<R> {
    /// Reads messages from `reader`, each line capped at [`MAX_JSON_LINE`].
    pub fn new(reader: R) -> JsonMessages<R> {
        JsonMessages::with_max_line(reader, MAX_JSON_LINE)
    }

    /// Reads messages from `reader` with lines of at most `max_line` bytes.
    pub fn with_max_line(reader: R, max_line: usize) -> JsonMessages<R> {
        JsonMessages {
            lines: LineReader::new(reader, max_line),
            done: false,
        }
    }

    /// Drops lines over the cap (they are read through to their newline, never held whole)
    /// instead of ending with an error, and goes on with the next line: for streams where
    /// only the daemon's messages matter and anything else may be ignored (build output).
    ///
    /// ```
    /// use s2i_docker::ops::stream::JsonMessages;
    /// let body = format!("{}\n{{\"error\":\"boom\"}}\n", "x".repeat(100));
    /// let mut it = JsonMessages::with_max_line(body.as_bytes(), 64).skip_long_lines();
    /// assert_eq!(it.next().unwrap().unwrap_err().to_string(), "boom");
    /// ```
    pub fn skip_long_lines(mut self) -> JsonMessages<R> {
        self.lines.skip_long = true;
        self
    }
}

impl<R: Read> Iterator for JsonMessages<R> {
    type Item = Result<JsonMessage>;

    fn next(&mut self) -> Option<Result<JsonMessage>> {
        while !self.done {
            let item = match self.lines.next_line() {
                Ok(None) => None,
                Ok(Some(range)) => match decode_line(self.lines.line(range)) {
                    None => continue,
                    some => some,
                },
                Err(e) => Some(Err(e)),
            };
            self.done = !matches!(item, Some(Ok(_) | Err(Error::Decode { .. })));
            return item;
        }
        None
    }
}

impl<R> std::fmt::Debug for JsonMessages<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonMessages")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Reads a whole progress stream, calling `on_message` for each message.
///
/// # Errors
/// The first error of [`JsonMessages`]: an in-band `errorDetail`/`error`, an undecodable line, a
/// line over the cap, a read error.
pub fn consume<R: Read>(reader: R, mut on_message: impl FnMut(&JsonMessage)) -> Result<()> {
    for m in JsonMessages::new(reader) {
        on_message(&m?);
    }
    Ok(())
}

/// Copies a progress stream byte for byte into `out` while watching it for in-band errors.
///
/// The whole stream is copied even after an error (so the caller's log shows what happened);
/// the first error is returned at the end. Lines that are not JSON are copied and ignored.
///
/// # Errors
/// The first in-band error ([`Error::Stream`]), a line over [`MAX_JSON_LINE`], read or write errors.
pub fn copy_checked<R: Read>(reader: R, out: &mut dyn Write) -> Result<()> {
    let mut lines = LineReader::new(reader, MAX_JSON_LINE);
    let mut first_error = None;
    while let Some(range) = lines.next_line()? {
        let line = lines.line(range);
        out.write_all(line)?;
        if first_error.is_none() {
            if let Some(Err(e @ Error::Stream { .. })) = decode_line(line) {
                first_error = Some(e);
            }
        }
    }
    out.flush()?;
    first_error.map_or(Ok(()), Err)
}

/// A build step as the build's output announces it: Docker's `Step 2/5 : RUN make`, or
/// Podman's `STEP 2/5: RUN make` (prefixed with `[1/2] ` in a multi-stage build).
///
/// ```
/// use s2i_docker::ops::stream::BuildStep;
/// let step = BuildStep::parse("Step 2/5 : FROM 127.0.0.1:5000/base:1\n").unwrap();
/// assert_eq!((step.number, step.total, step.instruction), (2, 5, "FROM 127.0.0.1:5000/base:1"));
/// let step = BuildStep::parse("[1/2] STEP 3/4: RUN make").unwrap();
/// assert_eq!((step.number, step.total, step.instruction), (3, 4, "RUN make"));
/// assert_eq!(BuildStep::parse(" ---> Running in 0123abcd"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildStep<'a> {
    /// The step's number, from 1.
    pub number: u32,
    /// How many steps the build (or its stage, on Podman) has.
    pub total: u32,
    /// The Dockerfile instruction, e.g. `RUN make`.
    pub instruction: &'a str,
}

impl<'a> BuildStep<'a> {
    /// The step that `text` (the `stream` of a build message) announces, if it is a step line.
    pub fn parse(text: &'a str) -> Option<BuildStep<'a>> {
        let mut rest = text;
        if let Some(stage) = rest.strip_prefix('[') {
            rest = stage.split_once("] ")?.1;
        }
        let rest = rest
            .strip_prefix("Step ")
            .or_else(|| rest.strip_prefix("STEP "))?;
        let (counts, instruction) = rest.split_once(':')?;
        let (number, total) = counts.trim_end().split_once('/')?;
        Some(BuildStep {
            number: number.parse().ok()?,
            total: total.parse().ok()?,
            instruction: instruction.trim(),
        })
    }
}

#[cfg(test)]
mod tests;
