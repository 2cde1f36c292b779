//! Where each request begins and ends in the bytes a client sends (HTTP/1.1, one request at a
//! time per connection): heads, `Content-Length` and chunked bodies, and the raw stream after an
//! upgrade request (an attach), which is never parsed again.

/// A request head the scanner has read whole.
#[derive(Debug, Clone)]
pub struct Head {
    pub method: String,
    pub path: String,
    /// Offset in the connection's client stream of the head's first byte.
    pub start: u64,
    /// Offset of the first byte after the head (where the body begins).
    pub end: u64,
}

enum State {
    Head,
    Fixed(u64),
    ChunkSize,
    ChunkData(u64),
    ChunkEnd(u8),
    Trailer,
    Raw,
}

/// Follows one connection's client stream.
pub struct Scanner {
    state: State,
    pos: u64,
    head: Vec<u8>,
    head_start: u64,
    line: Vec<u8>,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner {
            state: State::Head,
            pos: 0,
            head: Vec::new(),
            head_start: 0,
            line: Vec::new(),
        }
    }
}

impl Scanner {
    /// The offset where a head begins that has not been read whole yet.
    pub fn open_head(&self) -> Option<u64> {
        (matches!(self.state, State::Head) && !self.head.is_empty()).then_some(self.head_start)
    }

    /// Reads the next bytes of the stream; the heads completed in them.
    pub fn feed(&mut self, mut data: &[u8]) -> Vec<Head> {
        let mut heads = Vec::new();
        while !data.is_empty() {
            let used = match self.state {
                State::Raw => data.len(),
                State::Fixed(left) | State::ChunkData(left) => {
                    let n = left.min(data.len() as u64);
                    self.state = match (&self.state, left - n) {
                        (State::Fixed(_), 0) => State::Head,
                        (State::Fixed(_), rest) => State::Fixed(rest),
                        (_, 0) => State::ChunkEnd(2),
                        (_, rest) => State::ChunkData(rest),
                    };
                    n as usize
                }
                State::ChunkEnd(left) => {
                    self.state = if left == 1 {
                        State::ChunkSize
                    } else {
                        State::ChunkEnd(left - 1)
                    };
                    1
                }
                State::Head => {
                    if self.head.is_empty() {
                        self.head_start = self.pos;
                    }
                    self.head.push(data[0]);
                    if self.head.ends_with(b"\r\n\r\n") {
                        heads.push(self.end_head());
                    }
                    1
                }
                State::ChunkSize | State::Trailer => {
                    self.line.push(data[0]);
                    if self.line.ends_with(b"\r\n") {
                        self.end_line();
                    }
                    1
                }
            };
            self.pos += used as u64;
            data = &data[used..];
        }
        heads
    }

    fn end_head(&mut self) -> Head {
        let text = String::from_utf8_lossy(&self.head).into_owned();
        self.head.clear();
        let mut lines = text.split("\r\n");
        let mut first = lines.next().unwrap_or_default().split(' ');
        let method = first.next().unwrap_or_default().to_string();
        let path = first.next().unwrap_or_default().to_string();
        let (mut length, mut chunked, mut upgrade) = (0u64, false, false);
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => length = value.parse().unwrap_or(0),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "upgrade" => upgrade = true,
                _ => {}
            }
        }
        self.state = if upgrade {
            State::Raw
        } else if chunked {
            State::ChunkSize
        } else if length > 0 {
            State::Fixed(length)
        } else {
            State::Head
        };
        Head {
            method,
            path,
            start: self.head_start,
            end: self.pos + 1,
        }
    }

    fn end_line(&mut self) {
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        let line = line.trim_end();
        self.state = match self.state {
            State::Trailer if line.is_empty() => State::Head,
            State::Trailer => State::Trailer,
            _ => {
                let size = line.split(';').next().unwrap_or_default().trim();
                match u64::from_str_radix(size, 16).unwrap_or(0) {
                    0 => State::Trailer,
                    n => State::ChunkData(n),
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_heads_after_fixed_and_chunked_bodies() {
        let mut s = Scanner::default();
        let stream = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcPUT /b?x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\nGET /c HTTP/1.1\r\n\r\nPOST /d HTTP/1.1\r\nUpgrade: tcp\r\n\r\nGET /not-a-head HTTP/1.1\r\n\r\n";
        let mut heads = Vec::new();
        for piece in stream.chunks(5) {
            heads.extend(s.feed(piece));
        }
        let seen: Vec<(&str, &str)> = heads
            .iter()
            .map(|h| (h.method.as_str(), h.path.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("POST", "/a"),
                ("PUT", "/b?x"),
                ("GET", "/c"),
                ("POST", "/d")
            ]
        );
        assert_eq!(heads[0].start, 0);
        assert_eq!(heads[0].end, 39);
        assert_eq!(heads[1].start, 42);
        assert_eq!(s.open_head(), None);
    }
}
