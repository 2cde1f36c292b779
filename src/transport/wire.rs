//! HTTP/1.1 heads on the wire: the response-head push parser and the request-head writer.
//!
//! [`parse_response_head`] never reads: it is handed whatever bytes have arrived and answers
//! [`Status::Partial`] until a whole head is there. That keeps it independent of sockets and easy
//! to test at every split point. Heads are capped at [`MAX_HEAD_SIZE`] bytes and
//! [`MAX_HEADERS`] headers, so a hostile or broken peer cannot make the client buffer without
//! bound.
//!
//! Uses nothing outside the transport but `error` (and std, `httparse`).

use std::mem::MaybeUninit;
use std::ops::Range;

use crate::error::{Error, Result};

/// The largest response head accepted, in bytes.
pub const MAX_HEAD_SIZE: usize = 64 * 1024;
/// The most header fields accepted in one head.
pub const MAX_HEADERS: usize = 100;

/// The outcome of a push parser fed with the bytes received so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status<T> {
    /// Done; the value usually carries how many bytes were consumed.
    Complete(T),
    /// More bytes are needed; nothing was consumed.
    Partial,
}

/// The text of a head and where its fields are, checked to be UTF-8 once so that lookups need
/// no checks.
#[derive(Clone, PartialEq, Eq)]
struct Fields {
    raw: Box<str>,
    list: Box<[(Range<usize>, Range<usize>)]>,
}

impl Fields {
    /// Collects the fields httparse found in `head` (all of which are sub-slices of it).
    fn new(head: &[u8], found: &[httparse::Header<'_>], what: &str) -> Result<Fields> {
        let Ok(text) = std::str::from_utf8(head) else {
            let culprit = found
                .iter()
                .find(|h| std::str::from_utf8(h.value).is_err())
                .map_or(format!("the first line of the {what}"), |h| {
                    format!("{what} header `{}`", h.name)
                });
            return Err(Error::Protocol(format!(
                "the value of {culprit} is not UTF-8"
            )));
        };
        let list = found
            .iter()
            .map(|h| (range_in(head, h.name.as_bytes()), range_in(head, h.value)))
            .collect();
        Ok(Fields {
            raw: text.into(),
            list,
        })
    }

    fn text(&self, r: &Range<usize>) -> &str {
        // Ranges come from the parser and fall on field boundaries (ASCII delimiters).
        self.raw.get(r.clone()).unwrap_or("")
    }

    fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.list
            .iter()
            .map(move |(n, v)| (self.text(n), self.text(v)))
    }

    /// Whether the field name at `n` is `name`, case-insensitively (lengths first: cheaper).
    fn is(&self, n: &Range<usize>, name: &str) -> bool {
        n.len() == name.len() && self.text(n).eq_ignore_ascii_case(name)
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(n, _)| self.is(n, name))
            .map(|(_, v)| self.text(v))
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.list
            .iter()
            .filter(|(n, _)| self.is(n, name))
            .flat_map(|(_, v)| self.text(v).split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// A parsed response head: status line and header fields.
#[derive(Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code, e.g. `200`.
    pub status: u16,
    /// The minor HTTP version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    reason: Range<usize>,
    fields: Fields,
}

impl Head {
    /// The reason phrase, e.g. `OK` (may be empty).
    pub fn reason(&self) -> &str {
        self.fields.text(&self.reason)
    }

    /// The first value of the header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter()
    }

    /// Whether the comma-separated header `name` (every occurrence) lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.fields.has_token(name, token)
    }

    /// How many bytes the head took on the wire, blank line included.
    pub fn wire_len(&self) -> usize {
        self.fields.raw.len()
    }
}

impl std::fmt::Debug for Head {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Head")
            .field("status", &self.status)
            .field("minor_version", &self.minor_version)
            .field("reason", &self.reason())
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

/// A parsed request head (what a server, such as a fake engine, receives).
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The minor HTTP version: `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    method: Range<usize>,
    target: Range<usize>,
    fields: Fields,
}

impl RequestHead {
    /// The method, e.g. `POST`.
    pub fn method(&self) -> &str {
        self.fields.text(&self.method)
    }

    /// The request target as sent, e.g. `/v1.41/containers/create?name=x`.
    pub fn target(&self) -> &str {
        self.fields.text(&self.target)
    }

    /// The first value of the header `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.fields.get(name)
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.fields.iter()
    }

    /// Whether the comma-separated header `name` (every occurrence) lists `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.fields.has_token(name, token)
    }

    /// How many bytes the head took on the wire, blank line included.
    pub fn wire_len(&self) -> usize {
        self.fields.raw.len()
    }
}

impl std::fmt::Debug for RequestHead {
    /// Header values are left out: they may carry credentials (`X-Registry-Auth`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", &self.method())
            .field("target", &self.target())
            .field(
                "headers",
                &self.headers().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Whether `buf` starts like a TLS record (alert or handshake, version 3.x) rather than HTTP.
fn looks_like_tls(buf: &[u8]) -> bool {
    matches!(buf, [0x14..=0x17, 0x03, ..])
}

/// The error for bytes that are not an HTTP response, quoting the start of them.
///
/// When they look like a TLS record, the text carries the docker CLI's hint: a TLS daemon
/// answered a plain-HTTP request (`DOCKER_TLS_VERIFY` missing).
pub(crate) fn malformed(buf: &[u8], why: &str) -> Error {
    let line_end = buf
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(buf.len())
        .min(32);
    let quoted = buf[..line_end].escape_ascii();
    let mut text = if why.is_empty() {
        format!("malformed HTTP response \"{quoted}\"")
    } else {
        format!("malformed HTTP response \"{quoted}\": {why}")
    };
    if looks_like_tls(buf) {
        text.push_str("\n* Are you trying to connect to a TLS-enabled daemon without TLS?");
    }
    Error::Protocol(text)
}

fn range_in(base: &[u8], part: &[u8]) -> Range<usize> {
    // Both slices come from the same buffer (httparse hands out sub-slices of it).
    let start = (part.as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + part.len()
}

/// Parses a response head from the start of `buf`.
///
/// Returns `Complete((n, head))` where `n` is the length of the head including the blank line
/// (the body, if any, starts at `buf[n..]`), or `Partial` when the head has not fully arrived.
/// Interim `1xx` heads are returned like any other; the caller skips them.
///
/// # Errors
///
/// [`Error::Protocol`] when the bytes are not an HTTP/1.x response head (the text contains
/// `malformed HTTP response`, with a hint when they look like TLS), when the head is larger than
/// [`MAX_HEAD_SIZE`], has more than [`MAX_HEADERS`] fields, or has a header value that is not
/// UTF-8.
pub fn parse_response_head(buf: &[u8]) -> Result<Status<(usize, Head)>> {
    // A lone first byte of a TLS record type cannot be judged yet: wait for the version byte so
    // the TLS hint is given however the bytes were split.
    if let [0x14..=0x17] = buf {
        return Ok(Status::Partial);
    }
    // Uninitialised: httparse writes the slots it fills, not all 100 (3.2 KB) on every parse.
    let mut storage = [MaybeUninit::uninit(); MAX_HEADERS];
    let mut res = httparse::Response::new(&mut []);
    let parser = httparse::ParserConfig::default();
    let n = match parser.parse_response_with_uninit_headers(&mut res, buf, &mut storage) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD_SIZE {
                return Err(head_too_large("response"));
            }
            return Ok(Status::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::Protocol(format!(
                "the response head has more than {MAX_HEADERS} header fields"
            )))
        }
        Err(e) => return Err(malformed(buf, &e.to_string())),
    };
    if n > MAX_HEAD_SIZE {
        return Err(head_too_large("response"));
    }
    let head_bytes = &buf[..n];
    let fields = Fields::new(head_bytes, res.headers, "response")?;
    Ok(Status::Complete((
        n,
        Head {
            status: res.code.unwrap_or(0),
            minor_version: res.version.unwrap_or(1),
            reason: res
                .reason
                .map_or(0..0, |r| range_in(head_bytes, r.as_bytes())),
            fields,
        },
    )))
}

/// Parses a request head from the start of `buf`, with the same caps as
/// [`parse_response_head`].
///
/// Returns `Complete((n, head))` where the body, if any, starts at `buf[n..]`, or `Partial`.
///
/// # Errors
///
/// [`Error::Protocol`] for bytes that are not an HTTP/1.x request head, a head larger than
/// [`MAX_HEAD_SIZE`] or with more than [`MAX_HEADERS`] fields, or a field that is not UTF-8.
pub fn parse_request_head(buf: &[u8]) -> Result<Status<(usize, RequestHead)>> {
    let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut storage);
    let n = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > MAX_HEAD_SIZE {
                return Err(head_too_large("request"));
            }
            return Ok(Status::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::Protocol(format!(
                "the request head has more than {MAX_HEADERS} header fields"
            )))
        }
        Err(e) => return Err(Error::Protocol(format!("malformed HTTP request: {e}"))),
    };
    if n > MAX_HEAD_SIZE {
        return Err(head_too_large("request"));
    }
    let head_bytes = &buf[..n];
    let fields = Fields::new(head_bytes, req.headers, "request")?;
    let part = |p: Option<&str>| p.map_or(0..0, |p| range_in(head_bytes, p.as_bytes()));
    Ok(Status::Complete((
        n,
        RequestHead {
            minor_version: req.version.unwrap_or(1),
            method: part(req.method),
            target: part(req.path),
            fields,
        },
    )))
}

/// Appends a response head to `out`: status line, `headers`, the framing header, blank line.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the status is not three digits (100 to 999), or the reason or
/// a header contains CR, LF or NUL.
pub fn write_response_head(
    out: &mut Vec<u8>,
    status: u16,
    reason: &str,
    headers: &[(&str, String)],
    framing: Framing,
) -> Result<()> {
    if !(100..=999).contains(&status) {
        return Err(Error::InvalidInput(format!(
            "the status {status} is not three digits (100 to 999)"
        )));
    }
    if has_line_break(reason) {
        return Err(Error::InvalidInput(
            "the reason phrase has a line break or NUL".into(),
        ));
    }
    check_headers(headers)?;
    out.extend_from_slice(b"HTTP/1.1 ");
    push_decimal(out, u64::from(status));
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_fields(out, headers, framing);
    Ok(())
}

fn head_too_large(what: &str) -> Error {
    Error::Protocol(format!(
        "the {what} head is larger than {} KiB",
        MAX_HEAD_SIZE / 1024
    ))
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body and no length header.
    None,
    /// `Content-Length: n`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

fn has_line_break(s: &str) -> bool {
    s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0)
}

/// Checks that a request can be written: a target of visible ASCII (percent-encoded), header
/// names without `:` and header fields without CR, LF or NUL.
///
/// # Errors
///
/// [`Error::InvalidInput`] saying which part is wrong (never quoting a header value, which may
/// be a credential).
pub fn check_request(path_prefix: &str, target: &str, headers: &[(&str, String)]) -> Result<()> {
    if target.is_empty()
        || path_prefix
            .bytes()
            .chain(target.bytes())
            .any(|b| !(0x21..=0x7e).contains(&b))
    {
        return Err(Error::InvalidInput(format!(
            "request target `{}` is empty or has a space or control character (it must be percent-encoded)",
            target.escape_debug()
        )));
    }
    check_headers(headers)
}

fn check_headers(headers: &[(&str, String)]) -> Result<()> {
    for (name, value) in headers {
        // The value is not quoted: it may be a credential (`X-Registry-Auth`).
        if name.is_empty() || has_line_break(name) || name.contains(':') || has_line_break(value) {
            return Err(Error::InvalidInput(format!(
                "header `{}` has an invalid name or a line break or NUL in its value",
                name.escape_debug()
            )));
        }
    }
    Ok(())
}

/// Appends the header fields, the framing header and the blank line.
fn push_fields(out: &mut Vec<u8>, headers: &[(&str, String)], framing: Framing) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    match framing {
        Framing::None => {}
        Framing::Length(n) => {
            out.extend_from_slice(b"Content-Length: ");
            push_decimal(out, n);
            out.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends a request head to `out`: request line, `Host`, `User-Agent`, the extra `headers`, the
/// framing header and the blank line.
///
/// `path_prefix` (a `tcp://` host's base path, or `""`) goes before `target`, which must already
/// be percent-encoded.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the target contains a space or control character, or a header
/// name or value contains CR, LF or NUL (which would let a value inject headers).
pub fn write_request_head(
    out: &mut Vec<u8>,
    method: &str,
    path_prefix: &str,
    target: &str,
    host: &str,
    headers: &[(&str, String)],
    framing: Framing,
) -> Result<()> {
    check_request(path_prefix, target, headers)?;
    out.reserve(
        128 + target.len()
            + headers
                .iter()
                .map(|(n, v)| n.len() + v.len() + 4)
                .sum::<usize>(),
    );
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(path_prefix.as_bytes());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
    out.extend_from_slice(host.as_bytes());
    out.extend_from_slice(b"\r\nUser-Agent: ");
    out.extend_from_slice(super::USER_AGENT.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_fields(out, headers, framing);
    Ok(())
}

fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING: &[u8] = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nX-Multi: a\r\nx-multi: b\r\n\r\nOK";

    fn complete(buf: &[u8]) -> (usize, Head) {
        match parse_response_head(buf) {
            Ok(Status::Complete(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_a_head() {
        let (n, head) = complete(PING);
        assert_eq!(n, PING.len() - 2);
        assert_eq!(head.status, 200);
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.reason(), "OK");
        assert_eq!(head.header("api-version"), Some("1.41"));
        assert_eq!(head.header("CONTENT-LENGTH"), Some("2"));
        assert_eq!(head.header("x-multi"), Some("a"));
        assert_eq!(head.header("missing"), None);
        assert_eq!(head.headers().count(), 5);
        assert!(head.has_token("X-Multi", "B"));
        assert!(!head.has_token("X-Multi", "c"));
        assert!(format!("{head:?}").contains("Api-Version"));
    }

    #[test]
    fn every_prefix_is_partial() {
        let head_len = PING.len() - 2;
        for i in 0..head_len {
            assert_eq!(
                parse_response_head(&PING[..i]).ok(),
                Some(Status::Partial),
                "prefix of {i} bytes"
            );
        }
        for i in head_len..=PING.len() {
            assert_eq!(complete(&PING[..i]).0, head_len);
        }
    }

    #[test]
    fn one_byte_reads() {
        use std::io::Read;
        let mut reader = crate::fake::testing::wire::OneByte(PING);
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        let n = loop {
            assert_eq!(reader.read(&mut byte).unwrap(), 1, "ran out of input");
            buf.push(byte[0]);
            if let Status::Complete((n, head)) = parse_response_head(&buf).unwrap() {
                assert_eq!(head.header("content-length"), Some("2"));
                break n;
            }
        };
        assert_eq!(n, PING.len() - 2);
        assert_eq!(buf.len(), n, "complete exactly at the blank line");
    }

    #[test]
    fn odd_but_valid_heads() {
        let (_, h) = complete(b"HTTP/1.0 204 No Content\r\n\r\n");
        assert_eq!((h.status, h.minor_version), (204, 0));
        let (_, h) = complete(b"HTTP/1.1 101 \r\nUpgrade: tcp\r\n\r\n");
        assert_eq!((h.status, h.reason()), (101, ""));
        let (_, h) = complete(b"HTTP/1.1 200 OK\r\nEmpty:\r\n\r\n");
        assert_eq!(h.header("empty"), Some(""));
        let (_, h) = complete(b"HTTP/1.1 200 OK\r\nX: caf\xc3\xa9\r\n\r\n");
        assert_eq!(h.header("x"), Some("café"));
    }

    #[test]
    fn tls_bytes_get_the_hint() {
        let alert = b"\x15\x03\x01\x00\x02\x02\x46";
        for i in 2..=alert.len() {
            match parse_response_head(&alert[..i]) {
                Err(Error::Protocol(m)) => {
                    assert!(m.contains("malformed HTTP response"), "{m}");
                    assert!(m.ends_with(
                        "\n* Are you trying to connect to a TLS-enabled daemon without TLS?"
                    ));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(parse_response_head(&alert[..1]).ok(), Some(Status::Partial));
        match parse_response_head(b"SSH-2.0-OpenSSH\r\n") {
            Err(Error::Protocol(m)) => {
                assert!(
                    m.starts_with("malformed HTTP response \"SSH-2.0-OpenSSH\\r\""),
                    "{m}"
                );
                assert!(!m.contains("TLS"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn caps() {
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("H{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(
            matches!(parse_response_head(&many), Err(Error::Protocol(m)) if m.contains("more than 100"))
        );

        let mut big = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        big.resize(MAX_HEAD_SIZE + 1, b'a');
        assert!(
            matches!(parse_response_head(&big), Err(Error::Protocol(m)) if m.contains("larger than 64 KiB"))
        );
        big.extend_from_slice(b"\r\n\r\n");
        assert!(parse_response_head(&big).is_err());

        let bad = b"HTTP/1.1 200 OK\r\nX: \xff\r\n\r\n";
        assert!(matches!(parse_response_head(bad), Err(Error::Protocol(m)) if m.contains("UTF-8")));
    }

    #[test]
    fn garbage_never_panics() {
        // A small deterministic generator; the alphabet leans on HTTP's structural bytes.
        let alphabet = b"HTP/1.0 2\r\n:;aZ\x00\xff\x15\x03 \t";
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = Vec::new();
        for _ in 0..20_000 {
            buf.clear();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 64) as usize;
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                buf.push(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            if seed % 3 == 0 {
                let mut v = b"HTTP/1.1 200 OK\r\n".to_vec();
                v.extend_from_slice(&buf);
                buf = v;
            }
            if let Ok(Status::Complete((n, h))) = parse_response_head(&buf) {
                assert!(n <= buf.len());
                let _ = (h.reason(), h.headers().count(), h.header("x"));
            }
        }
    }

    #[test]
    fn request_heads() {
        let mut out = Vec::new();
        write_request_head(
            &mut out,
            "GET",
            "",
            "/_ping",
            "api.moby.localhost",
            &[],
            Framing::None,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            format!(
                "GET /_ping HTTP/1.1\r\nHost: api.moby.localhost\r\nUser-Agent: s2i-docker/{}\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        out.clear();
        write_request_head(
            &mut out,
            "PUT",
            "/base",
            "/v1.41/containers/x/archive?path=%2Ftmp",
            "h:2375",
            &[("Content-Type", "application/x-tar".into())],
            Framing::Chunked,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            format!(
                "PUT /base/v1.41/containers/x/archive?path=%2Ftmp HTTP/1.1\r\nHost: h:2375\r\nUser-Agent: s2i-docker/{}\r\nContent-Type: application/x-tar\r\nTransfer-Encoding: chunked\r\n\r\n",
                env!("CARGO_PKG_VERSION")
            )
        );
        for n in [0u64, 7, 10, 1234567890, u64::MAX] {
            out.clear();
            write_request_head(&mut out, "POST", "", "/x", "h", &[], Framing::Length(n)).unwrap();
            let text = String::from_utf8(out.clone()).unwrap();
            assert!(
                text.ends_with(&format!("\r\nContent-Length: {n}\r\n\r\n")),
                "{text}"
            );
        }
    }

    #[test]
    fn request_heads_parse_back() {
        let mut out = Vec::new();
        write_request_head(
            &mut out,
            "POST",
            "",
            "/v1.41/images/create?fromImage=x&tag=1",
            "api.moby.localhost",
            &[("X-Registry-Auth", "e30K".into())],
            Framing::Chunked,
        )
        .unwrap();
        out.extend_from_slice(b"0\r\n\r\n");
        let head_len = out.len() - 5;
        for i in 0..head_len {
            assert_eq!(
                parse_request_head(&out[..i]).ok(),
                Some(Status::Partial),
                "{i}"
            );
        }
        let Ok(Status::Complete((n, head))) = parse_request_head(&out) else {
            panic!("not parsed")
        };
        assert_eq!(n, head_len);
        assert_eq!(head.wire_len(), n);
        assert_eq!(head.method(), "POST");
        assert_eq!(head.target(), "/v1.41/images/create?fromImage=x&tag=1");
        assert_eq!(head.minor_version, 1);
        assert_eq!(head.header("host"), Some("api.moby.localhost"));
        assert_eq!(head.header("user-agent"), Some(super::super::USER_AGENT));
        assert!(head.has_token("Transfer-Encoding", "chunked"));
        assert!(
            !format!("{head:?}").contains("e30K"),
            "no header values in Debug"
        );

        assert!(
            matches!(parse_request_head(b"GET\x00 / HTTP/1.1\r\n\r\n"), Err(Error::Protocol(m)) if m.starts_with("malformed HTTP request"))
        );
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.resize(MAX_HEAD_SIZE + 1, b'a');
        assert!(
            matches!(parse_request_head(&big), Err(Error::Protocol(m)) if m.contains("request head is larger"))
        );
    }

    #[test]
    fn response_heads_parse_back() {
        let mut out = Vec::new();
        write_response_head(
            &mut out,
            404,
            "Not Found",
            &[("Content-Type", "application/json".into())],
            Framing::Length(29),
        )
        .unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
        );
        let (n, head) = complete(&out);
        assert_eq!(
            (n, head.status, head.reason()),
            (out.len(), 404, "Not Found")
        );
        assert!(write_response_head(&mut out, 200, "OK\r\nX: y", &[], Framing::None).is_err());
        // A status line has three digits: `050` reads as 50, which cannot be written back.
        for status in [0, 50, 99, 1000] {
            assert!(write_response_head(&mut out, status, "x", &[], Framing::None).is_err());
        }
        assert!(
            write_response_head(&mut out, 200, "OK", &[("X", "a\nb".into())], Framing::None)
                .is_err()
        );
    }

    #[test]
    fn request_heads_refuse_injection() {
        let mut out = Vec::new();
        for target in ["", "/a b", "/a\r\nX: y", "/\u{e9}"] {
            assert!(matches!(
                write_request_head(&mut out, "GET", "", target, "h", &[], Framing::None),
                Err(Error::InvalidInput(_))
            ));
        }
        assert!(matches!(
            write_request_head(
                &mut out,
                "GET",
                "",
                "/x",
                "h",
                &[("X-Registry-Auth", "a\r\nEvil: 1".into())],
                Framing::None
            ),
            Err(Error::InvalidInput(_))
        ));
    }
}
