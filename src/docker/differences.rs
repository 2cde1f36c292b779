//! The behaviours in which this crate differs from the reference S2I on purpose, and why.
//!
//! This module holds documentation only: it declares and uses nothing. Everything else of the
//! reference's observable contract is kept: names, defaults, label and environment fallbacks,
//! command construction, error texts and codes.
//!
//! These behaviours differ on purpose:
//!
//! 1. **The image's ENTRYPOINT is overridden.** When the image has a non-empty `ENTRYPOINT` and
//!    the caller gave none, the container is created with `["/usr/bin/env"]`
//!    ([`DEFAULT_ENTRYPOINT`]) so that `assemble` runs as given
//!    (S2I issue #475). The reference computed this override after the request was built, so it
//!    was never sent. A [`target_image`](super::RunContainerOptions::target_image) run (the
//!    built image run as is) keeps the image's entrypoint.
//! 2. **`pull_image` pulls a missing image.** With
//!    [`RunContainerOptions::pull_image`] set, the image is checked and pulled if missing before
//!    the run; the reference failed on the missing image before trying to pull.
//! 3. **CPU limits are applied.** `cpu_shares`, `cpu_quota` and `cpu_period` of
//!    [`CGroupLimits`] go to the container's `CpuShares`/`CpuQuota`/`CpuPeriod` and to a build's
//!    `cpushares`/`cpuquota`/`cpuperiod`; the reference dropped them.
//! 4. **A failed container's state is always reported.** The inspect after a non-zero exit
//!    gets its own deadline, so [`ContainerError::output`](crate::error::ContainerError::output) is
//!    filled in for runs longer than two minutes too.
//! 5. **Streams have an inactivity limit, not a total deadline.** Uploads, downloads and pulls
//!    fail after two minutes without progress (the transport's idle timeout), however long the
//!    whole transfer takes; the reference failed any upload or download longer than two minutes.
//! 6. **Pull retries decide per attempt.** Only an attempt whose error is one of
//!    [`RETRIABLE_ERRORS`], or a connection error of the client itself (refused, reset,
//!    aborted, a broken pipe, a connection closed before the reply was complete, recognised by
//!    its kind rather than its text: see [`Error::is_connection_error`]), is retried; after the last attempt its error is
//!    returned as a pull error (the reference discarded it and went on as if the pull had
//!    worked); there is no pause after the last attempt, and the pause is configurable
//!    ([`DockerClient::with_pull_retry_delay`]).
//! 7. **In-band errors are never missed.** Both `errorDetail` and the legacy `error` field fail
//!    a pull, and a build whose output stream reports an error returns
//!    [`Error::Stream`] after the whole output was copied to the caller's writer (the
//!    reference reported such builds as successful).
//! 8. **Registry credentials match registries, not strings** (normalised keys, Docker Hub
//!    credentials only for Docker Hub, credential helpers; see [`auth`](crate::auth)).
//! 9. `X-Registry-Auth` is sent as the reference sends it, also for empty credentials (the
//!    daemon ignores them).
//! 10. **The assemble user's group is ignored in user checks**: `1001:0` is checked as `1001`.
//! 11. **`ONBUILD USER` without an argument** is the user `""` (not allowed) instead of a crash.
//! 12. `DOCKER_TLS_VERIFY` and `DOCKER_TLS` are on when non-empty, as in the reference and the
//!     docker CLI (kept on purpose; see [`engine`](crate::ops::engine)).
//! 13. **Output is streamed whenever any stream is attached**: the attach request carries
//!     `stream=1` also when only stdin or stderr is attached.
//! 14. **Uploads keep executables executable**:
//!     [`upload_to_container`](super::Docker::upload_to_container) gives directories and files
//!     with any execute bit `0777`, other files `0666` (the reference made every file `0666`).
//!     Setuid, setgid and sticky bits are removed (the reference kept them, so a setuid file of
//!     the host became a setuid program in the builder image); a custom tar writer keeps them
//!     with [`ChmodAdapter::keep_special_bits`].
//! 15. **`.git` is excluded relative to the upload root**, not matched against the full host
//!     path (sources below a host directory named `.git` still upload).
//! 16. **A commit keeps every setting given**: the configuration (`Env`, `Labels`, `User`, ...)
//!     is sent whenever any of its fields is set, not only with a command or entrypoint.
//! 17. **`on_start` is always awaited.** [`RunContainerOptions::on_start`] is joined before
//!     `run_container` returns, also when the container failed; the container's error is
//!     reported first.
//! 18. **`foo:` is `foo:latest`**, not `foo::latest` (see
//!     [`get_image_name`]).
//! 19. **`FakeDocker` behaves like the real thing**: it passes the destination to
//!     [`PostExecutor::post_execute`] and returns its error.
//! 20. **No signal handling.** A library must not take over the process's signals. A run is
//!     cancelled through a [`RunCancel`] handle from any thread (the run stops waiting at once,
//!     the container is killed and removed, and the run returns [`Error::Cancelled`]); the
//!     container is removed on every path, including a panic in a hook, a kill that fails (the
//!     removal is then forced) and a create whose reply was lost (see below).
//!
//! Beyond those:
//!
//! - A container that exits with code 0 without reading all of its `stdin` is a success (with a
//!   warning); the reference returned the broken pipe, which Podman provokes every time.
//! - Commit IDs are `sha256:<hex>` whatever the engine answers (Podman answers the bare hex).
//! - [`run_container`](super::Docker::run_container) inspects the image once (labels,
//!   environment and entrypoint from one reply) and does not attach when no stream is given.
//! - The create request is logged (at `debug`) with the names of its environment variables
//!   only; the reference logged their values, hiding only passwords in proxy URLs.
//! - The container is labelled with the process that created it and when
//!   ([`CREATED_BY_LABEL`](super::labels::CREATED_BY_LABEL),
//!   [`CREATED_AT_LABEL`](super::labels::CREATED_AT_LABEL)), so that
//!   [`remove_abandoned_containers`](super::remove_abandoned_containers) can remove the
//!   containers of a process that was killed; the reference set no label. An image committed
//!   from such a container inherits the labels (the engine merges the container's labels into
//!   the image's), which the removal recognises.
//! - A create whose reply is lost (the connection cut, a reply that does not parse or comes
//!   too late) may still have created the container: it is removed by the name the run asked
//!   for. After a timeout the run keeps looking for it for three times the create's time
//!   limit, since the daemon may carry the create out later. A daemon's error reply created
//!   nothing (a 409 names *another* container) and removes nothing.
//! - The run's container is removed for sure or the run says so. A removal that fails in
//!   transit or that the daemon cannot carry out now (a 5xx, a conflict) is tried again, with
//!   pauses, for up to [`REMOVE_WINDOW`] (10 s; an engine restarted meanwhile is covered), and
//!   a 404 counts as removed. A container still there then fails a run that had otherwise
//!   succeeded, with the removal's error naming the container left behind; a run that failed
//!   keeps its error and the container is logged at error level. The reference tried once
//!   and only logged a failure.
//! - A wait that fails keeps its error's kind (a cut connection is still [`Error::Io`], a
//!   daemon's reply still [`Error::Api`] with its status), with `waiting for container ".."
//!   to stop` in its text; the reference wrapped it in a plain error.
//! - The container is waited for while its streams are copied, not after. When it has exited
//!   and its output stream stays open and silent for a grace period
//!   ([`DockerClient::with_output_grace`], 5 s), the run closes the stream instead of hanging
//!   (S2I issues #934, #1062). The silence counts only while the run waits for output, so
//!   output still coming, or still being written to the caller's writers, is never cut.
//!   Once the container has exited and its output ended, the rest of its `stdin` is dropped
//!   as soon as the daemon stops taking it (a write stuck for half a second, the grace at the
//!   latest): the reference kept writing until the daemon gave the connection up (20-30 s on
//!   Docker for a container that does not read its input).
//! - A stream of the attach connection that ends before the wait answers (the output ending,
//!   a write of `stdin` failing with a connection error) is checked with a container inspect:
//!   a container still running lost its connection, and the run fails with an i/o error
//!   saying so (the reference went on and could succeed with its output or input cut short);
//!   a container that exited, whose wait stays silent for the output grace, finishes the run
//!   with the exit code of the inspect (the reference waited forever).
//! - [`stream_container_io`](super::stream_container_io) hands a line longer than 64 KiB (or
//!   output without newlines) to its callback in pieces of at most 64 KiB; the reference read
//!   each line whole, however long.
//! - A credential helper's answer is what it wrote before it exited: a process it left running
//!   in the background with its stdout open is not waited for (the reference's Go reader
//!   waited for every holder of the pipe, however long).
//! - When the caller's `stdin` or an output writer fails, the run shuts the attach connection
//!   down itself and does not depend on the kill to end the streams.
//! - No call waits forever unless asked to. A build's output and a commit's reply fail with
//!   [`Error::Timeout`] after 30 minutes of silence ([`EngineClient::with_build_timeout`]; the
//!   reference had no limit there, and the client's two-minute timeout would cut silent build
//!   steps short). Waits and attached streams keep no limit by default (a container may run
//!   and stay silent as long as it likes) but take one when asked
//!   ([`EngineClient::with_wait_timeout`], [`EngineClient::with_attach_timeout`]). A build is
//!   cancelled through [`BuildImageOptions::cancel`], and every call through
//!   [`EngineClient::with_cancel`]; a run cancelled that way still removes its container.
//!
//! [`DEFAULT_ENTRYPOINT`]: super::DEFAULT_ENTRYPOINT
//! [`RunContainerOptions::pull_image`]: super::RunContainerOptions::pull_image
//! [`CGroupLimits`]: crate::config::CGroupLimits
//! [`ChmodAdapter::keep_special_bits`]: crate::archive::ChmodAdapter::keep_special_bits
//! [`RETRIABLE_ERRORS`]: super::RETRIABLE_ERRORS
//! [`DockerClient::with_pull_retry_delay`]: super::DockerClient::with_pull_retry_delay
//! [`Error::Stream`]: crate::error::Error::Stream
//! [`Error::Io`]: crate::error::Error::Io
//! [`Error::Api`]: crate::error::Error::Api
//! [`REMOVE_WINDOW`]: super::REMOVE_WINDOW
//! [`Error::is_connection_error`]: crate::error::Error::is_connection_error
//! [`RunContainerOptions::on_start`]: super::RunContainerOptions::on_start
//! [`get_image_name`]: crate::image_ref::get_image_name
//! [`PostExecutor::post_execute`]: super::PostExecutor::post_execute
//! [`RunCancel`]: super::RunCancel
//! [`Error::Cancelled`]: crate::error::Error::Cancelled
//! [`DockerClient::with_output_grace`]: super::DockerClient::with_output_grace
//! [`Error::Timeout`]: crate::error::Error::Timeout
//! [`EngineClient::with_build_timeout`]: crate::EngineClient::with_build_timeout
//! [`EngineClient::with_wait_timeout`]: crate::EngineClient::with_wait_timeout
//! [`EngineClient::with_attach_timeout`]: crate::EngineClient::with_attach_timeout
//! [`EngineClient::with_cancel`]: crate::EngineClient::with_cancel
//! [`BuildImageOptions::cancel`]: super::BuildImageOptions::cancel
