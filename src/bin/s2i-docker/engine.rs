//! The engine: its configuration from the environment and the flags, and a [`Client`] that
//! remembers image inspects for the length of one command.
//!
//! A build asks about the same image many times (is it there, its user, its `ONBUILD`
//! triggers, its labels, its entrypoint, its scripts URL): the reference sends one inspect for
//! each question. [`CachingClient`] answers them all from the first reply, and forgets the
//! images whenever an image may have changed (a pull, a build, a commit, a removal).

use std::io::Read;
use std::sync::{Arc, Mutex};

use s2i_docker::image_ref::get_image_name;
use s2i_docker::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerListOptions, ContainerRemoveOptions, ContainerSummary,
    ContainerWaitResponse, IdResponse,
};
use s2i_docker::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use s2i_docker::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImageRemoveOptions,
};
use s2i_docker::ops::system::{Ping, Version};
use s2i_docker::{
    get_default_docker_config, new_engine_api_client, BodyReader, Cancel, Client, DockerConfig,
    EngineClient, HijackedResponse, Result, Signal, WaitCondition,
};

use crate::args::Global;

/// The engine's configuration: `DOCKER_HOST` and friends as the library reads them, then the
/// flags (`-U`, `--cert`, `--key`, `--ca`, `--tls`, `--tlsverify`) on top.
pub fn docker_config(g: &Global) -> DockerConfig {
    let mut config = get_default_docker_config();
    if let Some(url) = &g.url {
        config.endpoint = url.clone();
        config.tried_endpoints.clear();
    }
    if let Some(p) = &g.cert {
        config.cert_file = p.clone();
    }
    if let Some(p) = &g.key {
        config.key_file = p.clone();
    }
    if let Some(p) = &g.ca {
        config.ca_file = p.clone();
    }
    config.use_tls |= g.tls;
    config.tls_verify |= g.tls_verify;
    config
}

/// The engine client for `config`, with image inspects remembered.
///
/// # Errors
/// The endpoint does not parse, or its TLS files do not load.
pub fn connect(config: &DockerConfig) -> Result<Arc<CachingClient>> {
    Ok(Arc::new(CachingClient::new(new_engine_api_client(config)?)))
}

/// An image's inspect, decoded and as the engine sent it.
type Inspected = (ImageInspect, Vec<u8>);

/// An [`EngineClient`] that answers repeated image inspects from memory.
///
/// Names are compared in their normalised form (`name:latest` for a name without a tag), so
/// `builder` and `builder:latest` are one image. Only successful inspects are kept.
pub struct CachingClient {
    inner: EngineClient,
    /// The images inspected (a build asks about two or three), by normalised name.
    images: Mutex<Vec<(String, Inspected)>>,
}

impl CachingClient {
    pub fn new(inner: EngineClient) -> CachingClient {
        CachingClient {
            inner,
            images: Mutex::default(),
        }
    }

    fn forget(&self) {
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl Client for CachingClient {
    fn ping(&self) -> Result<Ping> {
        self.inner.ping()
    }

    fn server_version(&self) -> Result<Version> {
        self.inner.server_version()
    }

    fn image_inspect_with_raw(&self, name: &str) -> Result<(ImageInspect, Vec<u8>)> {
        let key = get_image_name(name);
        if let Some((_, hit)) = self
            .images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|(k, _)| *k == key)
        {
            return Ok(hit.clone());
        }
        let answer = self.inner.image_inspect_with_raw(name)?;
        // Another thread may have asked too: the first answer kept is the one given.
        self.images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((key, answer.clone()));
        Ok(answer)
    }

    fn image_pull(&self, reference: &str, options: &ImagePullOptions) -> Result<BodyReader> {
        self.forget();
        self.inner.image_pull(reference, options)
    }

    fn image_remove(
        &self,
        image: &str,
        options: &ImageRemoveOptions,
    ) -> Result<Vec<ImageDeleteResponseItem>> {
        self.forget();
        self.inner.image_remove(image, options)
    }

    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> Result<BodyReader> {
        self.forget();
        self.inner.image_build(context, options)
    }

    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> Result<ContainerCreateResponse> {
        self.inner.container_create(body, name)
    }

    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> Result<HijackedResponse> {
        self.inner.container_attach(container, options)
    }

    fn container_start(&self, container: &str) -> Result<()> {
        self.inner.container_start(container)
    }

    fn container_wait(
        &self,
        container: &str,
        condition: WaitCondition,
    ) -> Result<ContainerWaitResponse> {
        self.inner.container_wait(container, condition)
    }

    fn container_inspect(&self, container: &str) -> Result<ContainerInspect> {
        self.inner.container_inspect(container)
    }

    fn container_kill(&self, container: &str, signal: Signal) -> Result<()> {
        self.inner.container_kill(container, signal)
    }

    fn container_remove(&self, container: &str, options: &ContainerRemoveOptions) -> Result<()> {
        self.inner.container_remove(container, options)
    }

    fn container_list(&self, options: &ContainerListOptions) -> Result<Vec<ContainerSummary>> {
        self.inner.container_list(options)
    }

    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> Result<()> {
        self.inner
            .copy_to_container(container, path, content, options)
    }

    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> Result<(BodyReader, ContainerPathStat)> {
        self.inner.copy_from_container(container, path)
    }

    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> Result<IdResponse> {
        self.forget();
        self.inner.container_commit(container, options)
    }

    fn uncancelled(&self) -> Option<Arc<dyn Client>> {
        self.inner.uncancelled()
    }

    fn cancellable(&self, cancel: &Cancel) -> Option<Arc<dyn Client>> {
        self.inner.cancellable(cancel)
    }
}

#[cfg(all(test, feature = "fake"))]
mod tests {
    use super::*;
    use s2i_docker::fake::engine::{FakeEngine, FakeImage};
    use s2i_docker::{Docker, DockerClient};

    #[test]
    fn one_inspect_per_image_until_an_image_may_have_changed() {
        let engine = FakeEngine::new()
            .image("builder:1", FakeImage::default().user("1001"))
            .serve_in_memory()
            .unwrap();
        let client = Arc::new(CachingClient::new(engine.client().unwrap()));
        let docker = DockerClient::new(client.clone(), Default::default());
        assert_eq!(docker.get_image_user("builder:1").unwrap(), "1001");
        assert!(docker.get_labels("builder:1").unwrap().is_empty());
        assert!(docker.get_image_entrypoint("builder:1").unwrap().is_empty());
        let inspects = |e: &s2i_docker::fake::engine::RunningFake| {
            e.requests()
                .iter()
                .filter(|r| r.path.starts_with("/images/"))
                .count()
        };
        assert_eq!(inspects(&engine), 1);
        // A missing image is asked about each time; a removal forgets what was known.
        assert!(!docker.is_image_in_local_registry("other:1").unwrap());
        assert!(!docker.is_image_in_local_registry("other:1").unwrap());
        assert_eq!(inspects(&engine), 3);
        let _ = docker.remove_image("nothing:1");
        docker.get_image_user("builder:1").unwrap();
        assert_eq!(inspects(&engine), 5);
    }
}
