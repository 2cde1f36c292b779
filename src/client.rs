//! The low-level [`Client`] trait: one method per Engine endpoint.
//!
//! [`EngineClient`](crate::EngineClient) implements it over HTTP; the recording fake in
//! `fake` implements it in memory. The high-level [`Docker`](crate::Docker) operations are
//! written against this trait only.

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::error::Result;
use crate::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerRemoveOptions, ContainerWaitResponse, IdResponse,
};
use crate::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use crate::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImageRemoveOptions,
};
use crate::ops::system::{Ping, Version};

/// A streamed response body (pull progress, build output, an archive).
pub type BodyReader = Box<dyn Read + Send>;

/// The write side of an attached connection: stdin goes here, then [`close_write`](StdinWriter::close_write).
pub trait StdinWriter: Write + Send {
    /// Half-closes the connection (`shutdown(SHUT_WR)`; TLS sends close_notify) so the container
    /// sees the end of its standard input while its output keeps flowing.
    fn close_write(&mut self) -> io::Result<()>;

    /// A handle that ends the whole connection, both ways, from any thread.
    ///
    /// A read blocked on the output half then returns (end of stream or an error) and a write
    /// blocked on this half fails, whatever the daemon does. This is how a run stops waiting
    /// for a container that cannot be killed, or for a daemon that keeps the stream open after
    /// the container exited.
    ///
    /// The default is `None`, for connections that cannot be ended from outside: a run over
    /// such a connection can only wait for the daemon to end it.
    fn shutdown_handle(&self) -> Option<ShutdownHandle> {
        None
    }
}

/// Ends an attached connection from any thread; see [`StdinWriter::shutdown_handle`].
///
/// Shutting down is idempotent and never fails (a connection already closed stays closed).
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use s2i_docker::ShutdownHandle;
///
/// let closed = Arc::new(AtomicBool::new(false));
/// let flag = closed.clone();
/// let handle = ShutdownHandle::new(move || flag.store(true, Ordering::SeqCst));
/// handle.clone().shutdown();
/// assert!(closed.load(Ordering::SeqCst));
/// ```
#[derive(Clone)]
pub struct ShutdownHandle(Arc<dyn Fn() + Send + Sync>);

impl ShutdownHandle {
    /// A handle that calls `shutdown` (which must be safe to call more than once).
    pub fn new(shutdown: impl Fn() + Send + Sync + 'static) -> ShutdownHandle {
        ShutdownHandle(Arc::new(shutdown))
    }

    /// Shuts the connection down both ways.
    pub fn shutdown(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownHandle { .. }")
    }
}

/// An attached container connection (`101 Switching Protocols` on `POST /containers/{id}/attach`).
///
/// The two halves are independent: read the multiplexed output on one thread while writing stdin
/// on another. Dropping both closes the connection; the writer's
/// [`shutdown_handle`](StdinWriter::shutdown_handle) closes it from a third thread.
pub struct HijackedResponse {
    /// The raw multiplexed stream (8-byte stdcopy frames when the container has no TTY).
    pub reader: Box<dyn Read + Send>,
    /// The container's standard input.
    pub writer: Box<dyn StdinWriter>,
}

impl std::fmt::Debug for HijackedResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HijackedResponse { .. }")
    }
}

/// One method per Engine endpoint that the S2I operations use (the reference's `Client`).
///
/// Names follow the moby client (`container_create`, `image_pull`, ...). Every method sends exactly
/// one request (`container_attach` upgrades its connection); none retries on its own except where
/// the transport may resend an idempotent request whose reply had not begun.
///
/// # Errors
/// Every method fails with the connection's errors ([`Error::Connect`](crate::Error::Connect),
/// [`Error::Io`](crate::Error::Io), [`Error::Timeout`](crate::Error::Timeout), ...) and with
/// the daemon's answer to a failed request, [`Error::Api`](crate::Error::Api) (use
/// [`is_not_found`](crate::Error::is_not_found) and friends); [`EngineClient`](crate::EngineClient)
/// refuses an empty container ID or image name without sending anything. Each method's own
/// section says what else it reports.
pub trait Client: Send + Sync {
    /// `GET /_ping`.
    ///
    /// # Errors
    /// The engine does not answer (see the trait's errors).
    fn ping(&self) -> Result<Ping>;
    /// `GET /version`.
    ///
    /// # Errors
    /// The engine does not answer (see the trait's errors).
    fn server_version(&self) -> Result<Version>;
    /// `GET /images/{name}/json`: the decoded image and the raw JSON.
    ///
    /// # Errors
    /// A 404 when the image does not exist; a reply that is not an image inspect.
    fn image_inspect_with_raw(&self, name: &str) -> Result<(ImageInspect, Vec<u8>)>;
    /// `POST /images/create?fromImage=..&tag=..`: the JSON-lines progress stream.
    ///
    /// The caller reads the stream to the end (the pull goes on while it is read) and checks it
    /// for in-band errors, e.g. with [`ops::stream::JsonMessages`](crate::ops::stream).
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for a reference that does not parse
    /// (nothing is sent); the daemon's refusal to start the pull. A pull that fails once it
    /// started shows in the stream, not here.
    fn image_pull(&self, reference: &str, options: &ImagePullOptions) -> Result<BodyReader>;
    /// `DELETE /images/{name}`.
    ///
    /// # Errors
    /// A 404 for a missing image, a 409 for an image in use.
    fn image_remove(
        &self,
        image: &str,
        options: &ImageRemoveOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>>;
    /// `POST /build` with a tar build context streamed from `context`: the JSON-lines output.
    ///
    /// # Errors
    /// Reading `context` fails, or the daemon refuses the build. A build step that fails shows
    /// in the output stream, not here.
    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> Result<BodyReader>;
    /// `POST /containers/create?name=..`.
    ///
    /// # Errors
    /// A 404 for a missing image, a 409 for a name in use.
    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> Result<ContainerCreateResponse>;
    /// `POST /containers/{id}/attach`, upgraded to a raw stream.
    ///
    /// # Errors
    /// A 404 for a missing container; any answer other than `101 Switching Protocols`.
    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> Result<HijackedResponse>;
    /// `POST /containers/{id}/start`.
    ///
    /// # Errors
    /// A 404 for a missing container; the daemon's error when the container cannot run (e.g.
    /// its command does not exist).
    fn container_start(&self, container: &str) -> Result<()>;
    /// `POST /containers/{id}/wait?condition=..`; blocks until the condition holds, without a time limit.
    ///
    /// # Errors
    /// A 404 for a missing container; the connection breaking while waiting.
    fn container_wait(&self, container: &str, condition: &str) -> Result<ContainerWaitResponse>;
    /// `GET /containers/{id}/json`.
    ///
    /// # Errors
    /// A 404 for a missing container.
    fn container_inspect(&self, container: &str) -> Result<ContainerInspect>;
    /// `POST /containers/{id}/kill?signal=..`.
    ///
    /// # Errors
    /// A 404 for a missing container, a 409 for one that is not running.
    fn container_kill(&self, container: &str, signal: &str) -> Result<()>;
    /// `DELETE /containers/{id}`.
    ///
    /// # Errors
    /// A 404 for a missing container, a 409 for a running one without `force`.
    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()>;
    /// `PUT /containers/{id}/archive?path=..`: extracts the tar read from `content` into `path`.
    ///
    /// # Errors
    /// A 404 for a missing container or `path`; reading `content` fails.
    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> Result<()>;
    /// `GET /containers/{id}/archive?path=..`: a tar of `path` and its decoded stat header.
    ///
    /// # Errors
    /// A 404 for a missing container or `path`; a stat header that does not decode.
    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(BodyReader, ContainerPathStat)>;
    /// `POST /commit?container=..&repo=..&tag=..`.
    ///
    /// # Errors
    /// A 404 for a missing container; [`Error::InvalidInput`](crate::Error::InvalidInput) for a
    /// reference with a digest or one that does not parse (nothing is sent).
    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> Result<IdResponse>;
}
