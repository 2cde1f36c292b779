//! The output of a Podman attach, made as complete as Docker's ([`AttachOutput`]): difference 11
//! of [`podman`](mod@crate::ops::podman).
//!
//! A container that exits without reading all of its stdin can make Podman's attach lose
//! output; this reader notices the signs (a last `Error: ` stderr frame, a reset, a cut frame)
//! and takes the missing output from the container's logs. It reads stdcopy frames with a small
//! parser of its own (`Frames`), which says where a stream stops being stdcopy (a TTY's raw
//! stream) instead of failing there.
//!
//! Uses the engine client and the container endpoints (wait, logs); nothing above `ops`.

use std::io::{self, Read};

use crate::ops::container::{self, WaitCondition};
use crate::ops::engine::EngineClient;

/// How Podman reports a failed attach: a last stderr frame `Error: <why>`, e.g.
/// `Error: write unixpacket @->/proc/self/fd/15/attach: broken pipe`.
const ATTACH_ERROR_PREFIX: &[u8] = b"Error: ";

/// The longest stderr frame taken for Podman's complaint (one line of text): a longer one is the
/// container's own output and is handed on as it comes, so memory stays bounded whatever the
/// size field of a frame says (up to 4 GiB).
const MAX_COMPLAINT: usize = 16 << 10;

/// The stdcopy frame layout: `[stream, 0, 0, 0, size (u32, big-endian)]`, then `size` bytes.
#[derive(Default)]
struct Frames {
    header: [u8; 8],
    have: usize,
    stream: u8,
    left: u64,
}

impl Frames {
    /// Whether the reader stands between two frames.
    fn at_boundary(&self) -> bool {
        self.have == 0 && self.left == 0
    }

    /// Calls `payload(stream, bytes, last_of_frame)` for the payload in `input`.
    ///
    /// `Err(consumed)` when a header is not a stdcopy header: `consumed` bytes of `input` were
    /// read, the bad header last (it is in `self.header`).
    fn feed(
        &mut self,
        mut input: &[u8],
        payload: &mut dyn FnMut(u8, &[u8], bool),
    ) -> std::result::Result<(), usize> {
        let total = input.len();
        while !input.is_empty() {
            if self.left == 0 {
                let take = (8 - self.have).min(input.len());
                self.header[self.have..self.have + take].copy_from_slice(&input[..take]);
                self.have += take;
                input = &input[take..];
                if self.have < 8 {
                    return Ok(());
                }
                self.have = 0;
                let h = self.header;
                if h[0] > 2 || h[1..4] != [0, 0, 0] {
                    return Err(total - input.len());
                }
                self.stream = h[0];
                self.left = u64::from(u32::from_be_bytes([h[4], h[5], h[6], h[7]]));
                if self.left == 0 {
                    payload(h[0], &[], true);
                }
                continue;
            }
            let take = usize::try_from(self.left)
                .unwrap_or(usize::MAX)
                .min(input.len());
            self.left -= take as u64;
            payload(self.stream, &input[..take], self.left == 0);
            input = &input[take..];
        }
        Ok(())
    }
}

/// The output of a Podman attach, made as complete as Docker's.
///
/// When a container exits without reading all of its stdin, Podman's attach can lose the
/// output it had not forwarded yet: it writes `Error: <why>` as a last stderr frame instead and
/// closes (or resets) the connection. This reader hands on the output as it comes (in frames of
/// its own), holding back only a short stderr frame (at most 16 KiB) that starts with `Error: `
/// until more follows; longer stderr frames stream through like any other output.
/// When the stream ends with such a frame, with a reset, or in the middle of a frame, it waits
/// for the container, reads its logs, and delivers what the attach did not (the logs hold the
/// whole output; Podman's `Error:` frame is not in them and is dropped). A TTY stream (not
/// framed) passes through as it is.
pub(crate) struct AttachOutput {
    upstream: Box<dyn Read + Send>,
    docker: EngineClient,
    container: String,
    stdout: bool,
    stderr: bool,
    frames: Frames,
    raw: bool,
    started: bool,
    /// Bytes ready for the caller, from `pos` on.
    out: Vec<u8>,
    pos: usize,
    /// The start of the stderr frame being read, held while it may be Podman's complaint: a
    /// frame that starts with `Error: ` and is at most [`MAX_COMPLAINT`] bytes long.
    stderr_frame: Vec<u8>,
    /// The stderr frame being read is not Podman's complaint: its bytes go out as they come.
    stderr_passing: bool,
    /// A complete stderr frame starting with `Error: `, held until more data follows.
    suspect: Option<Vec<u8>>,
    /// Payload bytes delivered per stream (stdin, stdout, stderr).
    delivered: [u64; 3],
    catch_up: Option<CatchUp>,
    done: bool,
    /// The read buffer for the attach stream and the logs.
    chunk: Vec<u8>,
}

struct CatchUp {
    body: Box<dyn Read + Send>,
    frames: Frames,
    /// Payload bytes of the logs seen per stream.
    seen: [u64; 3],
}

impl AttachOutput {
    pub(crate) fn new(
        upstream: Box<dyn Read + Send>,
        docker: EngineClient,
        container: &str,
        stdout: bool,
        stderr: bool,
    ) -> AttachOutput {
        AttachOutput {
            upstream,
            docker,
            container: container.to_string(),
            stdout,
            stderr,
            frames: Frames::default(),
            raw: false,
            started: false,
            out: Vec::new(),
            pos: 0,
            stderr_frame: Vec::new(),
            stderr_passing: false,
            suspect: None,
            delivered: [0; 3],
            catch_up: None,
            done: false,
            chunk: vec![0; 64 << 10],
        }
    }

    /// Queues a frame for the caller (split if it is too long for one header).
    fn emit(&mut self, stream: u8, payload: &[u8]) {
        for chunk in payload.chunks(u32::MAX as usize) {
            self.out.extend_from_slice(&[stream, 0, 0, 0]);
            self.out
                .extend_from_slice(&u32::try_from(chunk.len()).unwrap_or(u32::MAX).to_be_bytes());
            self.out.extend_from_slice(chunk);
        }
        self.delivered[usize::from(stream.min(2))] += payload.len() as u64;
    }

    /// Takes bytes of the attach stream.
    fn take_upstream(&mut self, input: &[u8]) {
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if !self.started {
            self.started = true;
            // A TTY's stream is not framed: it does not start like a header.
            if input[0] > 2 || input[1..input.len().min(4)].iter().any(|&b| b != 0) {
                self.raw = true;
            }
        }
        if self.raw {
            self.out.extend_from_slice(input);
            return;
        }
        let mut frames = std::mem::take(&mut self.frames);
        let fed = frames.feed(input, &mut |stream, bytes, last| {
            self.take_payload(stream, bytes, last)
        });
        if let Err(consumed) = fed {
            // Not a stdcopy stream after all: hand on the rest as it is.
            self.raw = true;
            self.out.extend_from_slice(&frames.header);
            self.out.extend_from_slice(&input[consumed..]);
        }
        self.frames = frames;
    }

    fn take_payload(&mut self, stream: u8, bytes: &[u8], last: bool) {
        // More output after an `Error: ` frame: it was the container's own.
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if stream != 2 {
            if !bytes.is_empty() {
                self.emit(stream, bytes);
            }
            return;
        }
        if self.stderr_passing {
            if !bytes.is_empty() {
                self.emit(2, bytes);
            }
        } else {
            self.stderr_frame.extend_from_slice(bytes);
            let held = &self.stderr_frame;
            let start = held.len().min(ATTACH_ERROR_PREFIX.len());
            if held[..start] != ATTACH_ERROR_PREFIX[..start] || held.len() > MAX_COMPLAINT {
                // Not Podman's complaint: what is held goes out, the rest as it comes.
                let frame = std::mem::take(&mut self.stderr_frame);
                self.emit(2, &frame);
                self.stderr_passing = true;
            }
        }
        if last {
            let frame = std::mem::take(&mut self.stderr_frame);
            if frame.starts_with(ATTACH_ERROR_PREFIX) {
                self.suspect = Some(frame);
            } else if !frame.is_empty() {
                self.emit(2, &frame);
            }
            self.stderr_passing = false;
        }
    }

    /// The attach stream ended: complete it from the logs if it may have lost output.
    fn end_upstream(&mut self, reset: bool) {
        let suspicious = reset
            || self.suspect.is_some()
            || !self.frames.at_boundary()
            || !self.stderr_frame.is_empty();
        if self.raw || !suspicious {
            self.finish_partial();
            self.done = true;
            return;
        }
        // The logs are whole only once the container stopped (it has, or is about to, when
        // Podman ends the attach).
        let _ = container::wait(&self.docker, &self.container, WaitCondition::NotRunning);
        match container::logs(&self.docker, &self.container, self.stdout, self.stderr) {
            Ok(body) => {
                self.suspect = None;
                self.stderr_frame.clear();
                self.catch_up = Some(CatchUp {
                    body: Box::new(body),
                    frames: Frames::default(),
                    seen: [0; 3],
                });
            }
            Err(e) => {
                log::debug!(
                    "Podman attach of {}: no logs to complete it: {e}",
                    self.container
                );
                self.finish_partial();
                self.done = true;
            }
        }
    }

    /// Hands on what is held, as it is.
    fn finish_partial(&mut self) {
        if let Some(frame) = self.suspect.take() {
            self.emit(2, &frame);
        }
        if !self.stderr_frame.is_empty() {
            let frame = std::mem::take(&mut self.stderr_frame);
            self.emit(2, &frame);
        }
    }

    /// Takes bytes of the logs: what the attach delivered is skipped, the rest goes out.
    fn take_logs(&mut self, input: &[u8]) {
        let Some(mut catch_up) = self.catch_up.take() else {
            return;
        };
        let seen = &mut catch_up.seen;
        let fed = catch_up.frames.feed(input, &mut |stream, bytes, _| {
            let i = usize::from(stream);
            // The first `delivered` bytes of each stream came through the attach.
            let skip = self.delivered[i]
                .saturating_sub(seen[i])
                .min(bytes.len() as u64) as usize;
            seen[i] += bytes.len() as u64;
            if skip < bytes.len() {
                self.emit(stream, &bytes[skip..]);
            }
        });
        if fed.is_ok() {
            self.catch_up = Some(catch_up);
        } else {
            self.done = true;
        }
    }
}

impl Read for AttachOutput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut chunk = std::mem::take(&mut self.chunk);
        let read = self.read_with(buf, &mut chunk);
        self.chunk = chunk;
        read
    }
}

impl AttachOutput {
    fn read_with(&mut self, buf: &mut [u8], chunk: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.out.len() {
                let n = (self.out.len() - self.pos).min(buf.len());
                buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
                self.pos += n;
                if self.pos == self.out.len() {
                    self.out.clear();
                    self.pos = 0;
                }
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if let Some(catch_up) = self.catch_up.as_mut() {
                match catch_up.body.read(chunk) {
                    Ok(0) => self.done = true,
                    Ok(n) => self.take_logs(&chunk[..n]),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            match self.upstream.read(chunk) {
                Ok(0) => self.end_upstream(false),
                Ok(n) => self.take_upstream(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => self.end_upstream(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::testing::http::{json, serve};
    use crate::ops::engine::Engine;
    use crate::ops::stream::demux;

    /// An attach stream: the chunks, then the end (`None`) or a reset.
    struct Upstream(Vec<Vec<u8>>, bool);

    impl Read for Upstream {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return if self.1 {
                    Err(io::ErrorKind::ConnectionReset.into())
                } else {
                    Ok(0)
                };
            }
            let chunk = self.0.remove(0);
            buf[..chunk.len()].copy_from_slice(&chunk);
            Ok(chunk.len())
        }
    }

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![stream, 0, 0, 0];
        f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    const COMPLAINT: &[u8] = b"Error: write unixpacket @->/proc/self/fd/15/attach: broken pipe\n";

    /// Reads a Podman attach over `upstream` with a scripted engine whose logs are `logs`;
    /// returns stdout, stderr and the requests made.
    fn attach_output(upstream: Upstream, logs: Option<Vec<u8>>) -> (String, String, Vec<String>) {
        let (docker, server) = serve(move |r| {
            if r.path.ends_with("/wait") {
                return json("200 OK", "{\"StatusCode\":0}");
            }
            match &logs {
                Some(body) => {
                    let mut reply =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len())
                            .into_bytes();
                    reply.extend_from_slice(body);
                    (reply, false)
                }
                None => json("500 Internal Server Error", "{\"message\":\"no logs\"}"),
            }
        });
        let docker = docker.with_engine(Engine::Podman);
        let mut reader = AttachOutput::new(Box::new(upstream), docker, "c", true, true);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut reader, &mut out, &mut err).unwrap();
        let requests = server
            .requests()
            .into_iter()
            .map(|r| {
                let q: Vec<String> = r.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{} {}?{}", r.method, r.path, q.join("&"))
            })
            .collect();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            requests,
        )
    }

    #[test]
    fn attach_output_passes_a_whole_stream_through() {
        let mut all = frame(1, b"out 1\n");
        all.extend(frame(2, b"err 1\n"));
        all.extend(frame(1, b"out 2\n"));
        // In pieces that cut headers and payloads anywhere.
        let pieces: Vec<Vec<u8>> = all.chunks(3).map(<[u8]>::to_vec).collect();
        let (out, err, requests) = attach_output(Upstream(pieces, false), None);
        assert_eq!((out.as_str(), err.as_str()), ("out 1\nout 2\n", "err 1\n"));
        assert!(requests.is_empty(), "{requests:?}");
        // An `Error: ` frame followed by more output is the container's own.
        let mut stream = frame(2, b"Error: mine\n");
        stream.extend(frame(1, b"after\n"));
        let (out, err, requests) = attach_output(Upstream(vec![stream], false), None);
        assert_eq!((out.as_str(), err.as_str()), ("after\n", "Error: mine\n"));
        assert!(requests.is_empty());
    }

    #[test]
    fn attach_output_recovers_what_podman_lost() {
        // Podman forwarded nothing and complained instead: the logs have the output.
        let mut logs = frame(1, b"done\n");
        logs.extend(frame(2, b"warning\n"));
        let (out, err, requests) =
            attach_output(Upstream(vec![frame(2, COMPLAINT)], false), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("done\n", "warning\n"));
        assert_eq!(
            requests,
            [
                "POST /v1.41/containers/c/wait?condition=not-running",
                "GET /v1.41/containers/c/logs?stderr=1&stdout=1"
            ]
        );
        // A reset in the middle of a frame: what came is kept, the rest comes from the logs.
        let mut cut = frame(1, b"hello world\n");
        cut.truncate(8 + 5);
        let mut before = frame(2, b"e1\n");
        before.extend(cut);
        let mut logs = frame(2, b"e1\n");
        logs.extend(frame(1, b"hello "));
        logs.extend(frame(1, b"world\n"));
        logs.extend(frame(2, b"e2\n"));
        let (out, err, _) = attach_output(Upstream(vec![before], true), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("hello world\n", "e1\ne2\n"));
        // A reset after everything came: the logs add nothing.
        let mut logs = frame(1, b"all\n");
        logs.extend(frame(2, b"of it\n"));
        let (out, err, requests) = attach_output(Upstream(vec![logs.clone()], true), Some(logs));
        assert_eq!((out.as_str(), err.as_str()), ("all\n", "of it\n"));
        assert_eq!(requests.len(), 2);
        // The container's own last `Error: ` line is in its logs: delivered once.
        let mut own = frame(1, b"x\n");
        own.extend(frame(2, b"Error: it failed\n"));
        let (out, err, _) = attach_output(Upstream(vec![own.clone()], false), Some(own));
        assert_eq!((out.as_str(), err.as_str()), ("x\n", "Error: it failed\n"));
    }

    #[test]
    fn attach_output_streams_long_stderr_frames() {
        // An 8 MiB stderr frame (a stdcopy header allows 4 GiB): handed on as it comes, with
        // at most a small start of it held back.
        let len = 8 << 20;
        let mut chunks = vec![frame(2, b"")[..4].to_vec()];
        chunks[0].extend_from_slice(&(len as u32).to_be_bytes());
        for _ in 0..len / (64 << 10) {
            chunks.push(vec![b'x'; 64 << 10]);
        }
        chunks.push(frame(1, b"done\n"));
        let (docker, _server) = serve(|_| json("500 Internal Server Error", "{}"));
        let docker = docker.with_engine(Engine::Podman);
        let upstream = Upstream(chunks, false);
        let mut reader = AttachOutput::new(Box::new(upstream), docker, "c", true, true);
        let mut all = Vec::new();
        let mut buf = vec![0; 16 << 10];
        let mut held = 0;
        loop {
            let n = reader.read(&mut buf).unwrap();
            held = held.max(reader.stderr_frame.capacity());
            held = held.max(reader.out.capacity());
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        assert!(held <= 256 << 10, "{held} bytes held");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        demux(&mut &all[..], &mut out, &mut err).unwrap();
        assert_eq!(out, b"done\n");
        assert_eq!(err.len(), len);
        assert!(err.iter().all(|&b| b == b'x'));
        // A long frame that starts like Podman's complaint is the container's own too.
        let mut long = b"Error: ".to_vec();
        long.extend(vec![b'y'; 1 << 20]);
        let pieces = frame(2, &long)
            .chunks(64 << 10)
            .map(<[u8]>::to_vec)
            .collect();
        let (out, err, requests) = attach_output(Upstream(pieces, false), None);
        assert_eq!((out.as_str(), err.as_bytes()), ("", &long[..]));
        assert!(requests.is_empty(), "{requests:?}");
    }

    #[test]
    fn attach_output_without_logs_or_frames() {
        // No logs to read: what came, Podman's complaint included, is what there is.
        let (out, err, requests) = attach_output(
            Upstream(vec![frame(1, b"part"), frame(2, COMPLAINT)], true),
            None,
        );
        assert_eq!(out, "part");
        assert_eq!(err.as_bytes(), COMPLAINT);
        assert_eq!(requests.len(), 2);
        // A TTY's stream is not framed: it passes as it is, resets and all.
        let (docker, server) = serve(|_| json("500 Internal Server Error", "{}"));
        let docker = docker.with_engine(Engine::Podman);
        let upstream = Upstream(vec![b"$ ls\r\n".to_vec(), b"a b\r\n".to_vec()], true);
        let mut reader = AttachOutput::new(Box::new(upstream), docker, "c", true, true);
        let mut raw = Vec::new();
        reader.read_to_end(&mut raw).unwrap();
        assert_eq!(raw, b"$ ls\r\na b\r\n");
        assert!(server.requests().is_empty());
    }
}
