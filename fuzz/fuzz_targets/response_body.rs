//! A whole response through the transport (`Transport::with_connector` over an in-memory
//! connection that serves the fuzz input): head, interim heads, and the body framing
//! (`Content-Length`, chunked, close-delimited, none). No panic, no hang, and the same reply
//! whether the connection hands the bytes over at once and the body is read in big reads, or
//! in fuzzer-chosen pieces read through small buffers.
#![no_main]

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use s2i_docker::transport::connector::{Connection, Connector};
use s2i_docker::transport::{Body, Host, Request, Timeouts, Transport};

/// A connection that answers with `reply`, at most `step` bytes per read, and swallows writes.
struct Script {
    reply: Arc<Vec<u8>>,
    at: Mutex<usize>,
    step: usize,
}

impl Connection for Script {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut at = self.at.lock().unwrap();
        let n = buf.len().min(self.step).min(self.reply.len() - *at);
        buf[..n].copy_from_slice(&self.reply[*at..*at + n]);
        *at += n;
        Ok(n)
    }
    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn shutdown(&self, _: Shutdown) -> io::Result<()> {
        Ok(())
    }
    fn set_read_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn set_write_timeout(&self, _: Option<Duration>) -> io::Result<()> {
        Ok(())
    }
    fn set_nonblocking(&self, _: bool) -> io::Result<()> {
        Ok(())
    }
}

struct Replay(Arc<Vec<u8>>, usize);

impl Connector for Replay {
    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        Ok(Box::new(Script {
            reply: Arc::clone(&self.0),
            at: Mutex::new(0),
            step: self.1,
        }))
    }
}

/// Status, headers and body (or the error's kind) of one exchange.
fn exchange(method: &'static str, reply: &Arc<Vec<u8>>, step: usize, reads: &[u8]) -> String {
    let transport = Transport::with_connector(
        Host::Unix("/fuzz.sock".into()),
        Arc::new(Replay(Arc::clone(reply), step)),
    );
    let request = Request {
        method,
        target: "/v1.41/images/create?fromImage=busybox".into(),
        headers: Vec::new(),
        body: if method == "POST" {
            Body::Bytes(b"{}".to_vec())
        } else {
            Body::Empty
        },
        timeouts: Timeouts {
            connect: Duration::from_secs(1),
            response: None,
            idle: None,
        },
    };
    let response = match transport.send(request, None) {
        Ok(r) => r,
        Err(e) => return format!("send error: {}", kind(&e)),
    };
    let head = format!("{} {:?} {:?}", response.status, response.reason(), response);
    let mut body = response.into_body();
    let (mut got, mut end) = (Vec::new(), String::new());
    let mut sizes = reads.iter().cycle();
    let mut buf = vec![0u8; 128 << 10];
    loop {
        let n = sizes
            .next()
            .map_or(buf.len(), |&s| (usize::from(s) << (s % 8)).max(1));
        let n = n.min(buf.len());
        match body.read(&mut buf[..n]) {
            Ok(0) => break,
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) => {
                end = format!("body error {:?}", e.kind());
                break;
            }
        }
        assert!(got.len() <= reply.len(), "more body than bytes sent");
    }
    format!("{head}\n{:?}\n{end}", got.escape_ascii().to_string())
}

/// The error's variant, without its text (which quotes as much of the input as had arrived).
fn kind(e: &s2i_docker::Error) -> String {
    let debug = format!("{e:?}");
    debug
        .split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_string()
}

fuzz_target!(|data: &[u8]| {
    let [flags, step, reads_len, rest @ ..] = data else {
        return;
    };
    let (reads, reply) = rest.split_at(usize::from(*reads_len % 8).min(rest.len()));
    let method = ["GET", "HEAD", "POST", "DELETE"][usize::from(flags % 4)];
    let reply = Arc::new(reply.to_vec());
    let whole = exchange(method, &reply, usize::MAX, &[]);
    let pieces = exchange(method, &reply, usize::from(*step).max(1), reads);
    assert_eq!(whole, pieces, "step {step} reads {reads:?}");
});
