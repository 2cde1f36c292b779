//! Cancelling calls in flight from another thread.

use std::fmt;
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

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
