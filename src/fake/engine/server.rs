//! Connections and threads: the accept loop of the Unix socket, the connector of the in-memory
//! mode, one thread per connection (keep-alive, several requests each), the hijacked stream of
//! `attach`, and an orderly stop.
//!
//! Both modes serve a connection with the same code ([`serve_connection`]) over a
//! [`ServerStream`]: a `UnixStream`, or the server's end of an in-memory pipe.
//!
//! Stopping sets a flag, wakes every waiting request, unblocks `accept` by connecting to the
//! socket (the in-memory connector refuses new connections once the flag is set), shuts every
//! connection down so blocked reads and writes return, and joins every thread: a dropped fake
//! leaves no thread, descriptor or file behind.
//!
//! From the crate it uses only `transport::connector` (the hook and its pipes).

use std::io::{self, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::http::{
    self, Body, Conn, Damage, MemoryStream, ReadError, Reply, ServerStream, Wire, BAD_REQUEST,
};
use super::router::{self, Action, AttachPlan, WaitPlan};
use super::state::Shared;
use crate::transport::connector::{pipe, Connection, Connector};

/// Connections served at once; more are answered `503` and closed.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// How often a thread blocked on a connection looks at the state (stop, a killed container).
const POLL: Duration = Duration::from_millis(25);

/// Most standard input kept per attach; the rest is read and dropped.
const MAX_STDIN: usize = 512 << 20;

/// A running server: a Unix socket with its accept thread, or an in-memory connector.
pub(crate) struct Server {
    pub(crate) shared: Arc<Shared>,
    /// The socket's path (`None` in memory).
    pub(crate) socket: Option<PathBuf>,
    accept: Option<JoinHandle<()>>,
    memory: Option<Arc<MemoryConnector>>,
}

impl Server {
    /// Binds `socket` and starts accepting.
    pub(crate) fn start(shared: Arc<Shared>, socket: &Path) -> io::Result<Server> {
        let listener = UnixListener::bind(socket)?;
        let for_thread = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name("fake-engine-accept".into())
            .spawn(move || accept_loop(&for_thread, &listener))?;
        Ok(Server {
            shared,
            socket: Some(socket.to_path_buf()),
            accept: Some(accept),
            memory: None,
        })
    }

    /// Serves in memory: every connection the connector opens gets a thread of its own.
    pub(crate) fn in_memory(shared: Arc<Shared>) -> Server {
        let memory = Arc::new(MemoryConnector {
            shared: Arc::clone(&shared),
            clients: Mutex::new(Vec::new()),
        });
        Server {
            shared,
            socket: None,
            accept: None,
            memory: Some(memory),
        }
    }

    /// The connector of the in-memory mode.
    pub(crate) fn connector(&self) -> Option<Arc<MemoryConnector>> {
        self.memory.clone()
    }

    /// Stops accepting, ends every connection and joins every thread.
    pub(crate) fn stop(&mut self) {
        if let Some(memory) = self.memory.take() {
            self.shared.stop();
            // Connections opened from now on are refused: `connect` checks the flag under
            // this lock.
            let clients = std::mem::take(&mut *memory.lock());
            end_all(clients);
        }
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop();
        // `accept` blocks; a connection of our own wakes it to see the flag.
        let woke = self
            .socket
            .as_ref()
            .is_some_and(|s| UnixStream::connect(s).is_ok());
        if woke || accept.is_finished() {
            let _ = accept.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A connection being served: a handle to shut it down, and its thread.
struct Client {
    stream: Box<dyn ServerStream>,
    thread: JoinHandle<()>,
}

/// Shuts every connection down (their blocked reads and writes return) and joins the threads.
fn end_all(clients: Vec<Client>) {
    for c in &clients {
        let _ = c.stream.shutdown(Shutdown::Both);
    }
    for c in clients {
        let _ = c.thread.join();
    }
}

/// Serves `stream` on a new thread, or answers `503` when too many connections are open.
/// `handle` is a second reference to the same connection, to shut it down on stop.
fn spawn_connection(
    shared: &Arc<Shared>,
    clients: &mut Vec<Client>,
    mut stream: Box<dyn ServerStream>,
    handle: Box<dyn ServerStream>,
) {
    clients.retain(|c| !c.thread.is_finished());
    if clients.len() >= MAX_CONNECTIONS {
        let reply = Reply::error(503, "fake engine: too many connections");
        let _ = http::write_reply(
            &mut Wire {
                stream: &mut *stream,
                budget: None,
            },
            &reply,
            false,
            true,
            Damage::None,
        );
        let _ = stream.shutdown(Shutdown::Both);
        return;
    }
    let for_thread = Arc::clone(shared);
    let spawned = thread::Builder::new()
        .name("fake-engine-conn".into())
        .spawn(move || serve_connection(&for_thread, stream));
    if let Ok(thread) = spawned {
        clients.push(Client {
            stream: handle,
            thread,
        });
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &UnixListener) {
    let mut clients: Vec<Client> = Vec::new();
    for stream in listener.incoming() {
        if shared.is_stopping() {
            break;
        }
        let Ok(stream) = stream else {
            // EMFILE and friends: back off rather than spin.
            thread::sleep(POLL);
            continue;
        };
        let Ok(handle) = stream.try_clone() else {
            continue;
        };
        spawn_connection(shared, &mut clients, Box::new(stream), Box::new(handle));
    }
    end_all(clients);
}

/// The in-memory mode's connector: each connection is a pipe whose server end is served on a
/// thread of its own, exactly as an accepted socket is.
pub(crate) struct MemoryConnector {
    shared: Arc<Shared>,
    clients: Mutex<Vec<Client>>,
}

impl MemoryConnector {
    fn lock(&self) -> MutexGuard<'_, Vec<Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Connector for MemoryConnector {
    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        let mut clients = self.lock();
        if self.shared.is_stopping() {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the fake engine has stopped",
            ));
        }
        let (client, server) = pipe();
        let server = MemoryStream(Arc::new(server));
        spawn_connection(
            &self.shared,
            &mut clients,
            Box::new(server.clone()),
            Box::new(server),
        );
        Ok(Box::new(client))
    }
}

fn serve_connection(shared: &Shared, stream: Box<dyn ServerStream>) {
    let mut conn = Conn::new(stream);
    loop {
        if shared.is_stopping() {
            break;
        }
        let req = match conn.read_request() {
            Ok(r) => r,
            Err(ReadError::Closed) => break,
            Err(ReadError::Bad(why)) => {
                log::debug!("fake engine: bad request: {why}");
                let _ = conn.stream.write_all(BAD_REQUEST);
                break;
            }
        };
        if shared.is_stopping() {
            break;
        }
        let close = req.wants_close();
        let head_only = req.method == "HEAD";
        let outcome = router::route(shared, &req);
        let mut wire = Wire {
            budget: match outcome.damage {
                Damage::HangUpAfter(n) => Some(n),
                _ => None,
            },
            stream: &mut *conn.stream,
        };
        let result = match outcome.action {
            Action::Reply(reply) => {
                http::write_reply(&mut wire, &reply, head_only, close, outcome.damage)
            }
            Action::Raw(bytes) => wire
                .write_all(&bytes)
                .and_then(|()| Err(io::ErrorKind::BrokenPipe.into())),
            Action::Close => Err(io::ErrorKind::BrokenPipe.into()),
            Action::Wait(plan) => serve_wait(shared, &mut wire, &plan, close, outcome.damage),
            Action::Attach(plan) => {
                let pending = std::mem::take(&mut conn.pending);
                serve_attach(shared, &mut wire, &plan, pending, outcome.damage);
                break;
            }
        };
        if result.is_err() || close {
            break;
        }
    }
    let _ = conn.stream.shutdown(Shutdown::Both);
}

/// The daemon flushes the head of a `wait` reply at once and sends the body when the
/// container stops, so a client's response timeout never fires on a long run.
fn serve_wait(
    shared: &Shared,
    wire: &mut Wire<'_>,
    plan: &WaitPlan,
    close: bool,
    damage: Damage,
) -> io::Result<()> {
    let mut head =
        Reply::new(200, Body::Stream(Vec::new())).header("Content-Type", "application/json");
    head.api_version = Some(shared.lock().versions.max.clone());
    let head_bytes = http::head_bytes(&head, close, true);
    wire.write_all(&head_bytes)?;
    wire.flush()?;
    let Some(result) = router::wait_result(shared, plan) else {
        return Err(io::ErrorKind::BrokenPipe.into());
    };
    let mut body = serde_json::to_vec(&result).unwrap_or_default();
    body.push(b'\n');
    if damage == Damage::TruncatedChunk {
        let announced = body.len() + 16;
        wire.write_all(format!("{announced:x}\r\n").as_bytes())?;
        wire.write_all(&body[..body.len() / 2])?;
        wire.flush()?;
        return Err(io::ErrorKind::BrokenPipe.into());
    }
    let mut chunk = Vec::new();
    crate::transport::chunked::encode_chunk(&body, &mut chunk);
    chunk.extend_from_slice(crate::transport::chunked::LAST_CHUNK);
    wire.write_all(&chunk)?;
    wire.flush()?;
    if let Damage::HangUpAfter(_) = damage {
        return Err(io::ErrorKind::BrokenPipe.into());
    }
    Ok(())
}

/// One 8-byte stdcopy header and its payload (Engine API "Stream format": stream type, three
/// zero bytes, big-endian length).
fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.extend_from_slice(&[stream, 0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// After the switch, the connection carries the container's standard input one way and its
/// multiplexed output the other. Standard input is read to its end (the client half-closes)
/// before the run finishes; the output goes out when the run finishes, and the stream closes.
fn serve_attach(
    shared: &Shared,
    wire: &mut Wire<'_>,
    plan: &AttachPlan,
    pending: Vec<u8>,
    damage: Damage,
) {
    let head: &[u8] = if plan.upgrade {
        b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n"
    };
    // The attachment is in place before the client hears of it: a `start` sent right after
    // the head must find the run waiting for this standard input.
    let (exits_before, reads_stdin) = {
        let mut st = shared.lock();
        let Some(c) = st.containers.get_mut(&plan.id) else {
            return;
        };
        let reads = plan.stream && plan.stdin && c.config["OpenStdin"].as_bool().unwrap_or(false);
        if reads {
            c.stdin_pending = true;
            c.stdin.clear();
        }
        (c.exits, reads)
    };
    let release_stdin = || {
        let mut st = shared.lock();
        if let Some(c) = st.containers.get_mut(&plan.id) {
            c.stdin_closed(Instant::now());
        }
        drop(st);
        shared.notify();
    };
    if wire.write_all(head).and_then(|()| wire.flush()).is_err() {
        if reads_stdin {
            release_stdin();
        }
        return;
    }
    if !plan.stream {
        // Without `stream` the daemon only replays logs (when asked) and ends the stream.
        if plan.logs {
            let _ = write_output(shared, wire, plan, damage);
        }
        return;
    }
    if reads_stdin {
        read_stdin(shared, &mut *wire.stream, &plan.id, pending, exits_before);
        release_stdin();
    }
    let exited = shared.wait_for(None, |st| match st.containers.get(&plan.id) {
        None => Some(false),
        Some(c) => (c.exits > exits_before).then_some(true),
    });
    if exited == Some(true) {
        let _ = write_output(shared, wire, plan, damage);
    }
}

/// Reads standard input until the client half-closes, the container stops (killed), or the
/// engine stops.
fn read_stdin(
    shared: &Shared,
    stream: &mut dyn ServerStream,
    id: &str,
    pending: Vec<u8>,
    exits_before: u64,
) {
    let append = |bytes: &[u8]| {
        let mut st = shared.lock();
        if let Some(c) = st.containers.get_mut(id) {
            let room = MAX_STDIN.saturating_sub(c.stdin.len());
            c.stdin.extend_from_slice(&bytes[..bytes.len().min(room)]);
        }
    };
    append(&pending);
    if stream.set_read_timeout(Some(POLL)).is_err() {
        return;
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => append(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                if shared.is_stopping() {
                    break;
                }
                let st = shared.lock();
                let gone = st
                    .containers
                    .get(id)
                    .map_or(true, |c| c.exits > exits_before);
                if gone {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.set_read_timeout(None);
}

fn write_output(
    shared: &Shared,
    wire: &mut Wire<'_>,
    plan: &AttachPlan,
    damage: Damage,
) -> io::Result<()> {
    let output = {
        let st = shared.lock();
        match st.containers.get(&plan.id) {
            Some(c) => c.output.clone(),
            None => return Ok(()),
        }
    };
    let mut bytes = Vec::new();
    for (stream, data) in output {
        let wanted = (stream == 1 && plan.stdout) || (stream == 2 && plan.stderr);
        if !wanted || data.is_empty() {
            continue;
        }
        if plan.tty {
            bytes.extend_from_slice(&data);
        } else {
            // The daemon frames at most 32 KiB per write.
            for piece in data.chunks(32 * 1024) {
                bytes.extend_from_slice(&frame(stream, piece));
            }
        }
    }
    if damage == Damage::TruncatedChunk {
        // No chunks on a raw stream: cut the first frame instead.
        let mut cut = frame(1, &[b'x'; 64]);
        cut.truncate(8 + 32);
        wire.write_all(&cut)?;
        return wire.flush();
    }
    wire.write_all(&bytes)?;
    wire.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_stdcopy() {
        assert_eq!(frame(2, b"hi"), [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
    }
}
