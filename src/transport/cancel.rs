//! Cancelling calls in flight from another thread: the [`Cancel`] handle, and the registration
//! through which a connection in use stays reachable by it.
//!
//! Cancelling shuts the registered sockets down, so that a read or write blocked in the kernel
//! returns at once; a flag alone would only be seen by the next call.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::fmt;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::conn::Socket;
use crate::error::{Error, Result};

/// A handle that aborts the calls it was given.
///
/// Clone it, pass a reference to [`Transport::send`](super::Transport::send) or
/// [`Transport::upgrade`](super::Transport::upgrade), and call [`cancel`](Cancel::cancel) from
/// any thread. Every connection in use by such a call (including a response body still being
/// read and an upgraded stream) is shut down both ways, so a read or write blocked on it returns
/// at once, and the call reports [`Error::Cancelled`]. Calls started with the handle after that
/// fail straight away with [`Error::Cancelled`].
///
/// A connect in progress is not interrupted (it is bounded by the connect timeout); the call
/// fails as soon as it completes.
#[derive(Clone, Default)]
pub struct Cancel {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    cancelled: AtomicBool,
    next_id: AtomicU64,
    /// The sockets in use, so `cancel` can shut them down.
    sockets: Mutex<Vec<(u64, Arc<Socket>)>>,
    /// The handles cancelled with this one (see [`Cancel::follow`]).
    followers: Mutex<Vec<Weak<Inner>>>,
}

impl Cancel {
    /// A handle that has not been cancelled.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Aborts every call in flight that holds this handle and makes later ones fail.
    pub fn cancel(&self) {
        // The flag is set before the list is locked: a call registering after the lock is
        // released sees it (registration checks it under the lock).
        self.inner.cancelled.store(true, Ordering::SeqCst);
        for (_, socket) in self.lock().iter() {
            let _ = socket.shutdown(Shutdown::Both);
        }
        let followers = std::mem::take(&mut *self.followers());
        for inner in followers.iter().filter_map(Weak::upgrade) {
            Cancel { inner }.cancel();
        }
    }

    /// Makes this handle cancelled whenever `leader` is (at once if it is already), so that a
    /// call can obey two handles.
    ///
    /// The leader holds the follower weakly: a follower dropped everywhere else costs nothing.
    pub(crate) fn follow(&self, leader: &Cancel) {
        let mut followers = leader.followers();
        // Checked under the lock, as `register` does: `cancel` sets the flag before taking
        // the list, so a follower added here is either taken by it or cancelled now.
        if leader.is_cancelled() {
            drop(followers);
            self.cancel();
            return;
        }
        followers.retain(|f| f.strong_count() > 0);
        followers.push(Arc::downgrade(&self.inner));
    }

    fn followers(&self) -> MutexGuard<'_, Vec<Weak<Inner>>> {
        self.inner
            .followers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether [`cancel`](Cancel::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::SeqCst)
    }

    /// Fails with [`Error::Cancelled`] once cancelled.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled)
        } else {
            Ok(())
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, Arc<Socket>)>> {
        self.inner
            .sockets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Watches a connection's socket until the registration drops.
    pub(crate) fn register(&self, socket: Arc<Socket>) -> Result<Registration> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut sockets = self.lock();
        if self.is_cancelled() {
            let _ = socket.shutdown(Shutdown::Both);
            return Err(Error::Cancelled);
        }
        sockets.push((id, socket));
        Ok(Registration {
            cancel: self.clone(),
            id,
        })
    }
}

impl fmt::Debug for Cancel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cancel")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// A connection watched by a [`Cancel`]; dropping it stops watching.
pub(crate) struct Registration {
    cancel: Cancel,
    id: u64,
}

impl Registration {
    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut sockets = self.cancel.lock();
        if let Some(i) = sockets.iter().position(|(id, _)| *id == self.id) {
            sockets.swap_remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    //! A cancel wakes a call blocked on the head, on a body, or on an upgraded stream.

    use std::io::Read;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::{Transport, Upgrade};

    #[test]
    fn cancel_aborts_blocked_calls() {
        let server = Server::unix(vec![
            vec![Step::Request],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
            ],
            vec![
                Step::Head,
                send(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n"),
            ],
        ]);
        let t = Arc::new(Transport::new(server.host.clone(), None).unwrap());

        // Waiting for the head.
        let cancel = Cancel::new();
        let (t2, c2) = (Arc::clone(&t), cancel.clone());
        let waiting = std::thread::spawn(move || {
            let mut r = req("POST", "/v1.41/containers/x/wait");
            r.timeouts.response = None;
            t2.send(r, Some(&c2))
        });
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        cancel.cancel();
        assert!(matches!(waiting.join().unwrap(), Err(Error::Cancelled)));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(cancel.is_cancelled());
        // Later calls fail at once, without connecting.
        assert!(matches!(
            t.send(req("GET", "/x"), Some(&cancel)),
            Err(Error::Cancelled)
        ));

        // Reading a body.
        let cancel = Cancel::new();
        let mut r = req("GET", "/body");
        r.timeouts.idle = None;
        let resp = t.send(r, Some(&cancel)).unwrap();
        let reading = std::thread::spawn(move || resp.read_to_vec(100));
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        cancel.cancel();
        let got = reading.join().unwrap();
        assert!(matches!(got, Err(Error::Cancelled)), "{got:?}");
        assert!(start.elapsed() < Duration::from_secs(1));

        // An upgraded stream.
        let cancel = Cancel::new();
        let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), Some(&cancel)).unwrap()
        else {
            panic!("not upgraded")
        };
        let (mut rd, _wr) = up.split();
        let reading = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            rd.read(&mut buf).map_err(Error::from)
        });
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
        assert!(matches!(reading.join().unwrap(), Err(Error::Cancelled)));
        drop(_wr);
        drop(t);
        server.finish();
    }

    #[test]
    fn followers_are_cancelled_with_their_leaders() {
        let (a, b) = (Cancel::new(), Cancel::new());
        let both = Cancel::new();
        both.follow(&a);
        both.follow(&b);
        b.cancel();
        assert!(both.is_cancelled() && !a.is_cancelled());
        // A leader cancelled already cancels at once; a dropped follower is let go of.
        let late = Cancel::new();
        late.follow(&b);
        assert!(late.is_cancelled());
        let gone = Cancel::new();
        gone.follow(&a);
        drop(gone);
        let kept = Cancel::new();
        kept.follow(&a);
        assert_eq!(a.followers().len(), 2, "the dead one is pruned");
        a.cancel();
        assert!(kept.is_cancelled());
    }
}
