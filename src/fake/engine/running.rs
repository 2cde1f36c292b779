//! [`RunningFake`]: a fake daemon being served. It hands out clients and transports, injects
//! faults, shows the recorded requests and the daemon's state, and stops everything on drop.
//!
//! It uses the transport (a socket transport, or one over the in-memory connector) and, to hand
//! out an Engine client, `ops::engine` and `ops::env`; nothing else of the layers below.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ops::engine::{new_engine_api_client, EngineClient};
use crate::ops::env::DockerConfig;
use crate::transport::{Host, Transport};

use super::fs::Kind;
use super::server::Server;
use super::state::{parse_reference, FaultEntry, Shared, State};
use super::{ContainerInfo, FakeImage, Fault, FaultHandle, ImageInfo, RecordedRequest, Route};

/// A fake daemon being served; dropping it stops it and cleans up.
pub struct RunningFake {
    pub(super) server: Server,
    /// The private directory of the socket, removed on drop (`serve_unix` only).
    pub(super) dir: Option<PathBuf>,
    /// The socket's path, or the name of the in-memory fake (a path where nothing listens).
    pub(super) name: PathBuf,
}

impl fmt::Debug for RunningFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningFake")
            .field("host", &self.host())
            .field("in_memory", &self.is_in_memory())
            .finish()
    }
}

impl RunningFake {
    fn shared(&self) -> &Shared {
        &self.server.shared
    }

    /// `unix:///path/to/docker.sock`: the value for `DOCKER_HOST`.
    ///
    /// An in-memory fake has a name of the same shape (`unix:///in-memory/...`), which its
    /// clients show in error messages; nothing listens there.
    pub fn host(&self) -> String {
        format!("unix://{}", self.name.display())
    }

    /// The socket's path; `None` for a fake served in memory.
    pub fn socket_path(&self) -> Option<&Path> {
        self.server.socket.as_deref()
    }

    /// Whether the fake was started with
    /// [`FakeEngine::serve_in_memory`](super::FakeEngine::serve_in_memory).
    pub fn is_in_memory(&self) -> bool {
        self.server.socket.is_none()
    }

    /// A client of this fake: [`new_engine_api_client`](crate::new_engine_api_client) with
    /// [`host`](Self::host) as the endpoint, or, in memory, a client over
    /// [`transport`](Self::transport). It negotiates the API version with its first request
    /// (1.41 unless the fake was given other versions), unless `DOCKER_API_VERSION` pins
    /// another version, which the fake may refuse as the daemon would.
    ///
    /// A client of an in-memory fake that outlives it gets [`Error::Connect`] (the engine is
    /// not running) for every new connection.
    ///
    /// # Errors
    ///
    /// As [`new_engine_api_client`](crate::new_engine_api_client).
    pub fn client(&self) -> Result<EngineClient> {
        if !self.is_in_memory() {
            return new_engine_api_client(&DockerConfig {
                endpoint: self.host(),
                ..Default::default()
            });
        }
        let client = EngineClient::with_transport(self.transport()?);
        match std::env::var("DOCKER_API_VERSION") {
            Ok(v) if !v.is_empty() => client.with_api_version(&v),
            _ => Ok(client),
        }
    }

    /// A bare HTTP transport to this fake (the socket, or the in-memory connector), for tests
    /// below the Engine client.
    ///
    /// # Errors
    ///
    /// None in practice: a plain Unix-socket transport needs no setup that can fail.
    pub fn transport(&self) -> Result<Transport> {
        let host = Host::Unix(self.name.clone());
        match self.server.connector() {
            Some(connector) => Ok(Transport::with_connector(host, connector)),
            None => Transport::new(host, None),
        }
    }

    /// Every request received so far, in order.
    ///
    /// # Panics
    ///
    /// In [`strict`](super::FakeEngine::strict) mode, when a request matched no route.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        let st = self.shared().lock();
        if st.strict && !st.unhandled.is_empty() {
            let list = unhandled_list(&st);
            drop(st);
            panic!("fake engine (strict): requests with no route: {list}");
        }
        st.records.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        let mut st = self.shared().lock();
        st.records.clear();
        st.unhandled.clear();
    }

    /// The requests that matched no route (they were answered `404 page not found`).
    pub fn unhandled(&self) -> Vec<RecordedRequest> {
        let st = self.shared().lock();
        st.records
            .iter()
            .filter(|r| st.unhandled.contains(&r.seq))
            .cloned()
            .collect()
    }

    /// # Panics
    ///
    /// When a request matched no route, listing them.
    pub fn assert_no_unhandled(&self) {
        let st = self.shared().lock();
        if !st.unhandled.is_empty() {
            let list = unhandled_list(&st);
            drop(st);
            panic!("fake engine: requests with no route: {list}");
        }
    }

    /// Makes `route` misbehave; see [`Fault`]. Faults of a route apply in the order they were
    /// added, each until its count runs out.
    pub fn fail(&self, route: Route, fault: Fault) -> FaultHandle<'_> {
        let mut st = self.shared().lock();
        let id = st.faults.iter().map(|f| f.id).max().unwrap_or(0) + 1;
        st.faults.push(FaultEntry {
            id,
            route,
            fault,
            remaining: None,
        });
        FaultHandle {
            shared: self.shared(),
            id,
        }
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        self.shared().lock().faults.clear();
    }

    /// Adds an image while serving; returns its ID.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for an invalid reference.
    pub fn add_image(&self, reference: &str, image: FakeImage) -> Result<String> {
        let r = parse_reference(reference)
            .ok_or_else(|| Error::InvalidInput(format!("invalid image reference {reference:?}")))?;
        let mut st = self.shared().lock();
        let image = st.image_from_seed(&image);
        Ok(st.add_image(image, &[r]))
    }

    /// Every container, by ID.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        let st = self.shared().lock();
        st.containers
            .values()
            .map(|c| ContainerInfo {
                id: c.id.clone(),
                name: c.name.clone(),
                image: c.image_id.clone(),
                status: c.status.as_str().to_string(),
                exit_code: c.exit_code,
                argv: c.argv(),
                stdin: c.stdin.clone(),
                config: c.config.clone(),
                host_config: c.host_config.clone(),
            })
            .collect()
    }

    /// The container with this ID, name or ID prefix.
    pub fn container(&self, key: &str) -> Option<ContainerInfo> {
        let id = self.shared().lock().find_container_id(key)?;
        self.containers().into_iter().find(|c| c.id == id)
    }

    /// The bytes of regular file `path` in a container.
    pub fn container_file(&self, container: &str, path: &str) -> Option<Vec<u8>> {
        let st = self.shared().lock();
        let id = st.find_container_id(container)?;
        match &st.containers[&id].fs.get(path)?.kind {
            Kind::File(b) => Some(b.clone()),
            _ => None,
        }
    }

    /// Every image, by ID.
    pub fn images(&self) -> Vec<ImageInfo> {
        let st = self.shared().lock();
        st.images
            .values()
            .map(|i| ImageInfo {
                id: i.id.clone(),
                tags: st.repo_tags(&i.id),
                config: i.config.clone(),
                parent: i.parent.clone(),
            })
            .collect()
    }

    /// The image with this reference or ID.
    pub fn image(&self, name: &str) -> Option<ImageInfo> {
        let id = self.shared().lock().find_image(name)?.id.clone();
        self.images().into_iter().find(|i| i.id == id)
    }

    /// The bytes of regular file `path` in an image.
    pub fn image_file(&self, image: &str, path: &str) -> Option<Vec<u8>> {
        let st = self.shared().lock();
        match &st.find_image(image)?.fs.get(path)?.kind {
            Kind::File(b) => Some(b.clone()),
            _ => None,
        }
    }
}

fn unhandled_list(st: &State) -> String {
    st.records
        .iter()
        .filter(|r| st.unhandled.contains(&r.seq))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Drop for RunningFake {
    fn drop(&mut self) {
        self.server.stop();
        if let Some(socket) = &self.server.socket {
            let _ = std::fs::remove_file(socket);
        }
        if let Some(dir) = &self.dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if !std::thread::panicking() {
            let st = self.shared().lock();
            if st.strict && !st.unhandled.is_empty() {
                let list = unhandled_list(&st);
                drop(st);
                panic!("fake engine (strict): requests with no route: {list}");
            }
        }
    }
}
