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
    //! Heads parsed and written, with their limits and errors.
    use super::*;
    use crate::fake::testing::wire::OneByte;

    mod cases;
}
