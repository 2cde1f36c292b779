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
    let mut reader = OneByte(PING);
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
    assert_eq!(
        head.header("user-agent"),
        Some(crate::transport::USER_AGENT)
    );
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
        write_response_head(&mut out, 200, "OK", &[("X", "a\nb".into())], Framing::None).is_err()
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
