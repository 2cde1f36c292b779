//! The state of the run's attach connection, as far as ending it from another thread goes.
//!
//! The watching thread, the cancel action and `stop` may all shut the connection down, and a
//! shutdown may be asked for before the attach even answered; `Link` makes every order of
//! these work. Uses the transport's shutdown handle (through `client`) and the run's `lock`.

use std::sync::Mutex;

use crate::client::ShutdownHandle;

use super::lock;

/// The run's attach connection, as far as ending it from another thread goes.
#[derive(Default)]
pub(super) struct Link {
    state: Mutex<LinkState>,
}

#[derive(Default)]
enum LinkState {
    /// Not attached (yet).
    #[default]
    Detached,
    /// Attached over a connection that can be shut down.
    Attached(ShutdownHandle),
    /// Attached over a connection that cannot (a [`Client`](crate::client::Client) whose writer
    /// has no handle).
    Unstoppable,
    /// Shut down (or asked to be before there was anything to shut down).
    Shut,
}

impl Link {
    /// Records the attached connection; one asked to shut down before is shut down now.
    pub(super) fn attached(&self, handle: Option<ShutdownHandle>) {
        let mut state = lock(&self.state);
        match (&*state, handle) {
            (LinkState::Shut, Some(h)) => h.shutdown(),
            (LinkState::Shut, None) => {}
            (_, Some(h)) => *state = LinkState::Attached(h),
            (_, None) => *state = LinkState::Unstoppable,
        }
    }

    /// Shuts the connection down, both ways; `false` when it cannot be (then only the daemon
    /// can end it: the run removes the container for that).
    pub(super) fn shutdown(&self) -> bool {
        let mut state = lock(&self.state);
        match std::mem::replace(&mut *state, LinkState::Shut) {
            LinkState::Attached(h) => {
                h.shutdown();
                true
            }
            LinkState::Unstoppable => {
                *state = LinkState::Unstoppable;
                false
            }
            LinkState::Detached | LinkState::Shut => true,
        }
    }

    pub(super) fn is_shut(&self) -> bool {
        matches!(*lock(&self.state), LinkState::Shut)
    }
}
