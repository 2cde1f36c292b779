//! `Transfer-Encoding: chunked` (RFC 9112 §7.1): a push decoder and the encoder's pieces.
//!
//! The Docker daemon sends most replies chunked, even over the Unix socket (JSON replies, pull
//! progress, archives), and chunked is how request bodies of unknown length (a tar stream) go
//! up. The decoder is a byte-level state machine: it keeps no bytes of its own, so memory stays
//! constant whatever the peer sends, and input may be split anywhere.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::ops::Range;

use crate::error::{Error, Result};

/// The last chunk and the empty trailer section that end a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";
/// The longest chunk header [`write_chunk_header`] writes: 16 hex digits and CRLF.
pub const MAX_CHUNK_HEADER: usize = 18;
/// The longest chunk-size line (size and extensions) accepted.
const MAX_SIZE_LINE: usize = 4096;
/// The most trailer bytes accepted.
const MAX_TRAILERS: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the first hex digit of a chunk size.
    SizeStart,
    /// Reading hex digits.
    Size,
    /// After the digits: optional blanks, then `;` or CR.
    SizeEnd,
    /// Inside chunk extensions, ignored up to CR.
    Extension,
    /// Got the CR of the size line.
    SizeLf,
    /// Inside chunk data.
    Data,
    /// Expecting the CR after chunk data.
    DataCr,
    /// Expecting the LF after chunk data.
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart,
    /// Inside a trailer field, ignored up to CR.
    Trailer,
    /// Got the CR of a trailer field.
    TrailerLf,
    /// Got the CR of the final blank line.
    EndLf,
    /// The body is complete.
    Done,
    /// The framing was invalid; every later call fails too.
    Failed,
}

/// A push decoder of a chunked body.
///
/// Feed it the bytes received so far with [`decode`](ChunkedDecoder::decode); it consumes
/// framing and hands back where the body data is. Chunk extensions and trailer fields are
/// skipped; sizes that do not fit in 64 bits, missing CRLFs and over-long lines are errors.
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    /// The size being read, then the data bytes left in the current chunk.
    size: u64,
    /// Bytes of the current size line, or of all trailers.
    line: usize,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        ChunkedDecoder::new()
    }
}

fn error(what: &str) -> Error {
    Error::Protocol(format!("invalid chunked body: {what}"))
}

fn expect(b: u8, want: u8, what: &str) -> Result<()> {
    if b == want {
        Ok(())
    } else {
        Err(error(what))
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a body.
    pub fn new() -> ChunkedDecoder {
        ChunkedDecoder {
            state: State::SizeStart,
            size: 0,
            line: 0,
        }
    }

    /// Whether the whole body, trailers included, has been consumed.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// How many data bytes of the current chunk are still to come (0 when not inside data).
    ///
    /// A caller may read up to this many bytes straight into its own buffer and then report them
    /// with [`consume_data`](ChunkedDecoder::consume_data), skipping a copy.
    pub fn data_remaining(&self) -> u64 {
        if self.state == State::Data {
            self.size
        } else {
            0
        }
    }

    /// Records that `n` data bytes (at most [`data_remaining`](Self::data_remaining)) were
    /// taken directly from the input.
    pub fn consume_data(&mut self, n: usize) {
        if self.state != State::Data {
            return;
        }
        self.size = self.size.saturating_sub(n as u64);
        if self.size == 0 {
            self.state = State::DataCr;
        }
    }

    /// Consumes framing from `input` and returns `(consumed, data)`.
    ///
    /// `data` is the range of `input` holding body bytes (at most `max_data` of them); it ends at
    /// `consumed`. The call stops after a piece of data, at the end of the body, or when `input`
    /// runs out, so call it again with the rest. `consumed == 0` with empty data means more input
    /// is needed (or the body is done, or `max_data` is 0 inside data).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] for anything that is not chunked framing.
    pub fn decode(&mut self, input: &[u8], max_data: usize) -> Result<(usize, Range<usize>)> {
        let res = self.step(input, max_data);
        if res.is_err() {
            self.state = State::Failed;
        }
        res
    }

    fn step(&mut self, input: &[u8], max_data: usize) -> Result<(usize, Range<usize>)> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => break,
                State::Failed => return Err(error("the body's framing was already found invalid")),
                State::Data => {
                    let avail = (input.len() - i).min(max_data);
                    let take = usize::try_from(self.size).unwrap_or(usize::MAX).min(avail);
                    if take == 0 {
                        break;
                    }
                    self.consume_data(take);
                    return Ok((i + take, i..i + take));
                }
                State::SizeStart | State::Size => {
                    self.line += 1;
                    if self.line > MAX_SIZE_LINE {
                        return Err(error("chunk size line too long"));
                    }
                    if let Some(d) = hex_value(b) {
                        self.size = self
                            .size
                            .checked_mul(16)
                            .and_then(|s| s.checked_add(u64::from(d)))
                            .ok_or_else(|| error("chunk size too large"))?;
                        self.state = State::Size;
                    } else if self.state == State::SizeStart {
                        return Err(error("expected a chunk size"));
                    } else {
                        self.state = State::SizeEnd;
                        continue; // look at this byte again
                    }
                }
                State::SizeEnd => match b {
                    b' ' | b'\t' => self.count_line()?,
                    b';' => {
                        self.count_line()?;
                        self.state = State::Extension;
                    }
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(error("unexpected byte after the chunk size")),
                },
                State::Extension => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\n' => return Err(error("chunk size line not ended by CRLF")),
                    _ => self.count_line()?,
                },
                State::SizeLf => {
                    expect(b, b'\n', "chunk size line not ended by CRLF")?;
                    self.line = 0;
                    self.state = if self.size == 0 {
                        State::TrailerStart
                    } else {
                        State::Data
                    };
                }
                State::DataCr => {
                    expect(b, b'\r', "chunk data not followed by CRLF")?;
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    expect(b, b'\n', "chunk data not followed by CRLF")?;
                    self.state = State::SizeStart;
                }
                State::TrailerStart => {
                    self.count_trailer()?;
                    self.state = if b == b'\r' {
                        State::EndLf
                    } else {
                        State::Trailer
                    };
                }
                State::Trailer => {
                    self.count_trailer()?;
                    match b {
                        b'\r' => self.state = State::TrailerLf,
                        b'\n' => return Err(error("trailer field not ended by CRLF")),
                        _ => {}
                    }
                }
                State::TrailerLf => {
                    self.count_trailer()?;
                    expect(b, b'\n', "trailer field not ended by CRLF")?;
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    expect(b, b'\n', "chunked body not ended by CRLF")?;
                    self.state = State::Done;
                    return Ok((i + 1, i + 1..i + 1));
                }
            }
            i += 1;
        }
        Ok((i, i..i))
    }

    fn count_line(&mut self) -> Result<()> {
        self.line += 1;
        if self.line > MAX_SIZE_LINE {
            return Err(error("chunk size line too long"));
        }
        Ok(())
    }

    fn count_trailer(&mut self) -> Result<()> {
        self.line += 1;
        if self.line > MAX_TRAILERS {
            return Err(error("trailers too large"));
        }
        Ok(())
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Writes the header of a chunk of `len` bytes (`{len:x}\r\n`) so that it ends exactly at the
/// end of `buf`, and returns where it starts.
///
/// This lets a sender read data into a buffer after a gap of [`MAX_CHUNK_HEADER`] bytes and
/// then frame it in place, sending header, data and CRLF with one write. Returns `None` if
/// `buf` is too short.
pub fn write_chunk_header(buf: &mut [u8], len: usize) -> Option<usize> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut end = buf.len().checked_sub(2)?;
    buf[end] = b'\r';
    buf[end + 1] = b'\n';
    let mut n = len;
    loop {
        end = end.checked_sub(1)?;
        buf[end] = HEX[n & 0xf];
        n >>= 4;
        if n == 0 {
            return Some(end);
        }
    }
}

/// Appends `data` as one chunk (header, data, CRLF) to `out`; empty data appends nothing,
/// since an empty chunk would end the body (use [`LAST_CHUNK`] for that).
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    let mut header = [0u8; MAX_CHUNK_HEADER];
    let start = write_chunk_header(&mut header, data.len()).unwrap_or(0);
    out.extend_from_slice(&header[start..]);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes (at most `max` data bytes per call).
    fn decode_all(input: &[u8], step: usize, max: usize) -> Result<(Vec<u8>, bool, usize)> {
        let mut dec = ChunkedDecoder::new();
        let mut out = Vec::new();
        let mut pending: &[u8] = &[];
        let mut fed = 0;
        let mut total = 0;
        loop {
            let (n, data) = dec.decode(pending, max)?;
            out.extend_from_slice(&pending[data]);
            pending = &pending[n..];
            total += n;
            if dec.is_done() {
                return Ok((out, true, total));
            }
            if n == 0 {
                if fed >= input.len() {
                    return Ok((out, false, total));
                }
                // Like a reader that hands over `step` more bytes alongside what is left.
                let end = (fed + step).min(input.len());
                let start = fed - pending.len();
                pending = &input[start..end];
                fed = end;
            }
        }
    }

    const BODY: &[u8] = b"5\r\nhello\r\n7;name=\"v\";x\r\n, world\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\nOther: y\r\n\r\n";

    #[test]
    fn decodes_with_extensions_and_trailers() {
        let (data, done, used) = decode_all(BODY, BODY.len(), usize::MAX).unwrap();
        assert!(done);
        assert_eq!(used, BODY.len());
        assert_eq!(data, b"hello, worldabcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn every_split_and_one_byte_feeds() {
        let want = b"hello, worldabcdefghijklmnopqrstuvwxyz";
        for step in 1..=BODY.len() {
            for max in [1, 3, usize::MAX] {
                let (data, done, used) = decode_all(BODY, step, max).unwrap();
                assert!(done, "step {step}");
                assert_eq!(used, BODY.len());
                assert_eq!(data, want, "step {step} max {max}");
            }
        }
        // No prefix is a whole body.
        for i in 0..BODY.len() {
            let (data, done, _) = decode_all(&BODY[..i], 1, usize::MAX).unwrap();
            assert!(!done, "prefix {i}");
            assert!(want.starts_with(&data));
        }
    }

    #[test]
    fn one_byte_reads() {
        use std::io::Read;
        let mut reader = crate::fake::testing::wire::OneByte(BODY);
        let mut dec = ChunkedDecoder::new();
        let mut data = Vec::new();
        let mut byte = [0u8; 1];
        let mut reads = 0;
        while !dec.is_done() {
            assert_eq!(reader.read(&mut byte).unwrap(), 1, "ran out of input");
            reads += 1;
            let (used, range) = dec.decode(&byte, usize::MAX).unwrap();
            assert_eq!(used, 1);
            data.extend_from_slice(&byte[range]);
        }
        assert_eq!(reads, BODY.len());
        assert_eq!(data, b"hello, worldabcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn stops_at_the_end_of_the_body() {
        let mut input = BODY.to_vec();
        input.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        let (_, done, used) = decode_all(&input, input.len(), usize::MAX).unwrap();
        assert!(done);
        assert_eq!(used, BODY.len());
    }

    #[test]
    fn bad_framing_is_an_error() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b";ext\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX\r\n",
            b"5\r\nhello\rX",
            b"5 x\r\n",
            b"0\r\nTrailer: x\nY",
            b"1;ext\nx\r\n",
            b"0\r\n\rX",
            b"10000000000000000\r\n",
            b"ffffffffffffffff0\r\n",
        ] {
            assert!(
                matches!(decode_all(bad, 1, usize::MAX), Err(Error::Protocol(m)) if m.starts_with("invalid chunked body")),
                "{}",
                bad.escape_ascii()
            );
        }
        // Once invalid, always invalid.
        let mut dec = ChunkedDecoder::new();
        assert!(dec.decode(b"x", 1).is_err());
        assert!(dec.decode(b"0\r\n\r\n", 1).is_err());
        // The largest 64-bit size is fine (as framing; the data never comes).
        let (_, done, _) = decode_all(b"ffffffffffffffff\r\nabc", 1, usize::MAX).unwrap();
        assert!(!done);
        // Blanks before the line end are tolerated.
        assert!(decode_all(b"3 \t\r\nabc\r\n0\r\n\r\n", 1, 9).unwrap().1);
    }

    #[test]
    fn long_lines_are_capped() {
        let mut ext = b"1;".to_vec();
        ext.resize(5000, b'a');
        assert!(decode_all(&ext, 1000, usize::MAX).is_err());
        let mut zeros = vec![b'0'; 5000];
        zeros.extend_from_slice(b"1\r\n");
        assert!(decode_all(&zeros, 1000, usize::MAX).is_err());
        let mut trailers = b"0\r\n".to_vec();
        while trailers.len() < 70_000 {
            trailers.extend_from_slice(b"X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert!(decode_all(&trailers, 4096, usize::MAX).is_err());
    }

    #[test]
    fn direct_data_reads() {
        let mut dec = ChunkedDecoder::new();
        assert_eq!(dec.decode(b"a\r\n", usize::MAX).unwrap(), (3, 3..3));
        assert_eq!(dec.data_remaining(), 10);
        dec.consume_data(4);
        assert_eq!(dec.data_remaining(), 6);
        dec.consume_data(6);
        assert_eq!(dec.data_remaining(), 0);
        assert_eq!(dec.decode(b"\r\n0\r\n\r\n", usize::MAX).unwrap(), (7, 7..7));
        assert!(dec.is_done());
        // Nothing more is consumed once done.
        assert_eq!(dec.decode(b"more", usize::MAX).unwrap(), (0, 0..0));
    }

    #[test]
    fn garbage_never_panics() {
        let alphabet = b"0123456789abcdefABCDEF;\r\n \t=\"xz\xff";
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        let mut buf = Vec::new();
        for round in 0..20_000 {
            buf.clear();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for _ in 0..(seed % 80) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let step = 1 + round % 7;
            if let Ok((data, _, used)) = decode_all(&buf, step, 1 + round % 5) {
                assert!(data.len() <= buf.len() && used <= buf.len());
            }
        }
    }

    #[test]
    fn encoder() {
        let mut out = Vec::new();
        encode_chunk(b"hello", &mut out);
        encode_chunk(b"", &mut out);
        encode_chunk(&[b'x'; 0x1234], &mut out);
        out.extend_from_slice(LAST_CHUNK);
        assert!(out.starts_with(b"5\r\nhello\r\n1234\r\nxxx"));
        let (data, done, used) = decode_all(&out, 100, usize::MAX).unwrap();
        assert!(done);
        assert_eq!(used, out.len());
        assert_eq!(data.len(), 5 + 0x1234);

        let mut buf = [0u8; MAX_CHUNK_HEADER];
        let start = write_chunk_header(&mut buf, usize::MAX).unwrap();
        assert_eq!(&buf[start..], b"ffffffffffffffff\r\n");
        let start = write_chunk_header(&mut buf, 0x10000).unwrap();
        assert_eq!(&buf[start..], b"10000\r\n");
        assert_eq!(write_chunk_header(&mut [0u8; 3], 0x100), None);
        assert_eq!(write_chunk_header(&mut [0u8; 1], 0), None);
    }
}
