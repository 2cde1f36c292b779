//! Interrupts: on `SIGINT`, `SIGTERM`, `SIGHUP` or `SIGQUIT` the running container is killed
//! and removed before the process exits, as the reference's interrupt handler does.
//!
//! The library owns no signals; it offers a cancel handle ([`RunCancel`]) that one build shares
//! among all its runs. [`install`] blocks the signals in every thread (before any other thread
//! exists, so all inherit the mask) and waits for them on a thread of its own with `sigwait`:
//! the first one cancels the build, whose run then removes its container and returns
//! `Cancelled` (exit code 2); should the build not end within [`GRACE`] (a pull in progress,
//! say), or at a second signal, the process exits with code 2 at once.

use std::sync::OnceLock;
use std::time::Duration;

use s2i_docker::RunCancel;

/// How long a cancelled build may take to remove its container before the process exits anyway
/// (longer than the library's removal window).
const GRACE: Duration = Duration::from_secs(20);

const SIGNALS: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

static CANCEL: OnceLock<RunCancel> = OnceLock::new();

/// The cancel handle of this process's build: give it to every run and image build.
pub fn handle() -> Option<RunCancel> {
    CANCEL.get().cloned()
}

/// Starts handling the signals. Call it first in `main`, before any thread is started.
pub fn install() {
    let cancel = CANCEL.get_or_init(RunCancel::new).clone();
    // SAFETY: `set` is a plain C struct initialised by `sigemptyset` before use; the calls only
    // read it and change this thread's signal mask.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        set
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_for_signals(set, cancel));
    if spawned.is_err() {
        // Without the waiting thread, signals must keep their default effect.
        // SAFETY: as above.
        unsafe { libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) };
    }
}

fn wait_for_signals(set: libc::sigset_t, cancel: RunCancel) {
    let mut received = 0;
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is initialised and `sig` is a valid place for the answer.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        received += 1;
        if received > 1 {
            std::process::exit(2);
        }
        eprintln!("Interrupted: stopping the build and removing its container");
        cancel.cancel();
        std::thread::spawn(|| {
            std::thread::sleep(GRACE);
            std::process::exit(2);
        });
    }
}
