//! The low-level [`Client`] trait (the seed's `Client`): one method per Engine endpoint, and its
//! implementation for [`EngineClient`], each method a call of one `ops` function.
//!
//! The high-level [`Docker`](crate::Docker) operations are written against this trait only, so
//! the recording fake in `fake` can stand in for the engine. This layer sits on `ops` and uses
//! `ops`, `transport` and `error`; it re-exports the stream types a caller of the trait needs
//! ([`BodyReader`], [`HijackedResponse`], [`StdinWriter`], [`ShutdownHandle`]).

use std::io::Read;
use std::sync::Arc;

use crate::error::Result;
pub use crate::ops::container::HijackedResponse;
use crate::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerListOptions, ContainerRemoveOptions, ContainerSummary,
    ContainerWaitResponse, IdResponse,
};
pub use crate::ops::container::{Signal, WaitCondition};
use crate::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use crate::ops::engine::EngineClient;
use crate::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImageRemoveOptions,
};
use crate::ops::system::{Ping, Version};
pub use crate::ops::BodyReader;
use crate::ops::{container, copy, image, system};
use crate::transport::Cancel;
pub use crate::transport::{ShutdownHandle, StdinWriter};

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
/// [`is_not_found`](crate::Error::is_not_found) and friends); [`EngineClient`]
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
    fn container_wait(
        &self,
        container: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse>;
    /// `GET /containers/{id}/json`.
    ///
    /// # Errors
    /// A 404 for a missing container.
    fn container_inspect(&self, container: &str) -> Result<ContainerInspect>;
    /// `POST /containers/{id}/kill?signal=..`.
    ///
    /// # Errors
    /// A 404 for a missing container, a 409 for one that is not running.
    fn container_kill(&self, container: &str, signal: Signal) -> Result<()>;
    /// `DELETE /containers/{id}`.
    ///
    /// # Errors
    /// A 404 for a missing container, a 409 for a running one without `force`.
    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()>;
    /// `GET /containers/json?all=1&filters={"label":[...]}`: the containers, all or only the
    /// running ones, that carry the labels named.
    ///
    /// The default implementation, for implementations of the trait written before this
    /// method, fails with [`Error::Unsupported`](crate::Error::Unsupported) without sending
    /// anything; [`EngineClient`] and the fakes implement it.
    ///
    /// # Errors
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) for an empty label filter (nothing
    /// is sent); a 400 for a filter the daemon refuses.
    fn container_list(&self, options: &ContainerListOptions) -> Result<Vec<ContainerSummary>> {
        let _ = options;
        Err(crate::error::Error::Unsupported(
            "this Client does not implement container_list (GET /containers/json)".into(),
        ))
    }
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

    /// The same engine through a handle that no cancel of this one aborts, or `None` when there
    /// is no such cancel to leave out (the default: then this client itself is used).
    ///
    /// Cleanup goes through it: a run whose client was cancelled (e.g. through
    /// [`EngineClient::with_cancel`]) still kills and removes its container, which the
    /// cancelled client would refuse to do. [`EngineClient`] answers a clone without its cancel.
    fn uncancelled(&self) -> Option<Arc<dyn Client>> {
        None
    }

    /// The same engine through a handle whose calls (and the streams they return) `cancel`
    /// also aborts, with [`Error::Cancelled`](crate::Error::Cancelled); `None` when this client
    /// cannot be cancelled from outside (the default: then this client itself is used, and
    /// only the caller's own checks between reads see the cancel).
    ///
    /// [`Docker::build_image`](crate::Docker::build_image) cancels a build through it.
    /// [`EngineClient`] answers [`EngineClient::also_cancelled_by`].
    fn cancellable(&self, cancel: &Cancel) -> Option<Arc<dyn Client>> {
        let _ = cancel;
        None
    }
}

impl Client for EngineClient {
    fn ping(&self) -> Result<Ping> {
        system::ping(self)
    }

    fn server_version(&self) -> Result<Version> {
        system::version(self)
    }

    fn image_inspect_with_raw(&self, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
        image::inspect_with_raw(self, name)
    }

    fn image_pull(&self, reference: &str, options: &ImagePullOptions) -> Result<BodyReader> {
        Ok(Box::new(image::pull(self, reference, options)?))
    }

    fn image_remove(
        &self,
        image: &str,
        options: &ImageRemoveOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        image::remove(self, image, options)
    }

    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> Result<BodyReader> {
        Ok(Box::new(image::build(self, context, options)?))
    }

    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> Result<ContainerCreateResponse> {
        container::create(self, body, name)
    }

    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> Result<HijackedResponse> {
        container::attach(self, container, options)
    }

    fn container_start(&self, container: &str) -> Result<()> {
        container::start(self, container)
    }

    fn container_wait(
        &self,
        container: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        container::wait(self, container, condition)
    }

    fn container_inspect(&self, container: &str) -> Result<ContainerInspect> {
        container::inspect(self, container)
    }

    fn container_kill(&self, container: &str, signal: Signal) -> Result<()> {
        container::kill(self, container, signal)
    }

    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()> {
        container::remove(self, container, options)
    }

    fn container_list(&self, options: &ContainerListOptions) -> Result<Vec<ContainerSummary>> {
        container::list(self, options)
    }

    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> Result<()> {
        copy::put_archive(self, container, path, content, options)
    }

    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(BodyReader, ContainerPathStat)> {
        let (body, stat) = copy::get_archive(self, container, path)?;
        Ok((Box::new(body), stat))
    }

    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> Result<IdResponse> {
        container::commit(self, container, options)
    }

    fn uncancelled(&self) -> Option<Arc<dyn Client>> {
        Some(Arc::new(self.without_cancel()))
    }

    fn cancellable(&self, cancel: &Cancel) -> Option<Arc<dyn Client>> {
        Some(Arc::new(self.also_cancelled_by(cancel)))
    }
}
