//! One proxied connection: bytes both ways, the requests read from the client's side, and the
//! fault applied where it strikes.

use std::io::{self, Read};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::atomic::Ordering;
use std::thread;

use super::proxy::{close, write_some, Action, At, Dir, Fault, Shared, IDLE};
use super::scan::{Head, Scanner};

/// The most a direction holds at the proxy before it stops reading its sender.
const MAX_HELD: usize = 256 * 1024;

/// One direction's bytes: read from the sender, not yet forwarded.
#[derive(Default)]
struct Flow {
    held: Vec<u8>,
    /// Bytes read from the sender so far.
    read: u64,
    /// Bytes forwarded so far.
    sent: u64,
    eof: bool,
    /// The receiver was told of the end.
    shut: bool,
    stalled: bool,
    /// No byte at or past this offset is forwarded while the fault is pending.
    limit: Option<u64>,
    action: Option<Action>,
}

impl Flow {
    /// Reads what `from` has now; how many bytes (`Some(0)` at its end).
    fn fill(&mut self, from: &mut UnixStream, chunk: &mut [u8]) -> io::Result<Option<usize>> {
        if self.eof || self.stalled || self.held.len() >= MAX_HELD {
            return Ok(None);
        }
        match from.read(chunk) {
            Ok(0) => {
                self.eof = true;
                Ok(Some(0))
            }
            Ok(n) => {
                self.held.extend_from_slice(&chunk[..n]);
                self.read += n as u64;
                Ok(Some(n))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Forwards what may go now (not past the fault, nor into a head not read whole);
    /// whether anything moved.
    fn forward(&mut self, to: &mut UnixStream, open_head: Option<u64>) -> io::Result<bool> {
        if self.stalled {
            return Ok(false);
        }
        let mut end = self.read;
        if let Some(limit) = self.limit {
            end = end.min(limit);
        }
        if let Some(head) = open_head {
            end = end.min(head);
        }
        let n = end.saturating_sub(self.sent) as usize;
        let mut moved = false;
        if n > 0 {
            let written = write_some(to, &self.held[..n])?;
            self.held.drain(..written);
            self.sent += written as u64;
            moved = written > 0;
        }
        if self.eof && self.held.is_empty() && !self.shut && self.limit.is_none() {
            let _ = to.shutdown(Shutdown::Write);
            self.shut = true;
            moved = true;
        }
        Ok(moved)
    }

    /// The fault's action, once everything before it went and more came (or the sender ended);
    /// a stall strikes as soon as everything before it went.
    fn due(&self) -> Option<Action> {
        let action = self.action?;
        let limit = self.limit?;
        let reached = self.sent >= limit;
        let more = self.read > limit || self.eof;
        (reached && (more || action == Action::Stall)).then_some(action)
    }

    /// Where the head of the reply that starts at `start` ends, once it arrived.
    fn head_end(&self, start: u64) -> Option<u64> {
        let from = start.checked_sub(self.sent)? as usize;
        let rest = self.held.get(from..)?;
        let i = rest.windows(4).position(|w| w == b"\r\n\r\n")?;
        Some(start + (i + 4) as u64)
    }
}

/// The two directions of a connection and the reply fault waiting for its head.
#[derive(Default)]
struct Conn {
    up: Flow,
    down: Flow,
    /// A fault `At::Body` on a reply: where the reply starts, and the body offset.
    reply: Option<(u64, u64)>,
}

impl Conn {
    /// Arms the fault for the exchange `head` begins.
    fn arm(&mut self, fault: &Fault, head: &Head) {
        match fault.dir {
            Dir::ToEngine => {
                self.up.limit = Some(match fault.at {
                    At::Head(n) => head.start + n,
                    At::Body(n) => head.end + n,
                });
                self.up.action = Some(fault.action);
            }
            Dir::ToClient => {
                // Not sent yet: whatever the engine sends from now on is its reply.
                let start = self.down.read;
                self.down.limit = Some(match fault.at {
                    At::Head(n) => start + n,
                    At::Body(n) => {
                        self.reply = Some((start, n));
                        start
                    }
                });
                self.down.action = Some(fault.action);
            }
        }
    }

    /// Applies a fault that is due; whether the connection is closed.
    fn strike(&mut self, dir: Dir, client: &mut UnixStream, engine: &mut UnixStream) -> bool {
        if self.reply.is_some() && dir == Dir::ToClient {
            return false;
        }
        let flow = match dir {
            Dir::ToEngine => &mut self.up,
            Dir::ToClient => &mut self.down,
        };
        match flow.due() {
            None => false,
            Some(Action::Stall) => {
                flow.stalled = true;
                flow.action = None;
                false
            }
            Some(action) => {
                close(action, client, engine);
                true
            }
        }
    }
}

/// Serves one connection until it ends, a fault closes it, or the proxy stops.
pub(super) fn serve(
    mut client: UnixStream,
    mut engine: UnixStream,
    shared: &Shared,
) -> io::Result<()> {
    client.set_nonblocking(true)?;
    engine.set_nonblocking(true)?;
    let mut c = Conn::default();
    let mut scanner = Scanner::default();
    let mut chunk = vec![0u8; 64 * 1024];
    while !shared.stop.load(Ordering::SeqCst) {
        let mut moved = false;
        if let Some(n) = c.up.fill(&mut client, &mut chunk)? {
            moved = true;
            for head in scanner.feed(&chunk[..n]) {
                if shared.strikes(&head) {
                    c.arm(&shared.fault, &head);
                }
            }
        }
        moved |= c.up.forward(&mut engine, scanner.open_head())?;
        if c.strike(Dir::ToEngine, &mut client, &mut engine) {
            return Ok(());
        }
        moved |= c.down.fill(&mut engine, &mut chunk)?.is_some();
        if let Some((start, body)) = c.reply {
            if let Some(end) = c.down.head_end(start) {
                c.down.limit = Some(end + body);
                c.reply = None;
            }
        }
        moved |= c.down.forward(&mut client, None)?;
        if c.strike(Dir::ToClient, &mut client, &mut engine) {
            return Ok(());
        }
        if c.up.shut && c.down.shut {
            return Ok(());
        }
        if !moved {
            thread::sleep(IDLE);
        }
    }
    Ok(())
}
