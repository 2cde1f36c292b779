//! The daemon's image store: images by ID, the tag index, name resolution the daemon's way
//! (reference, full ID or ID prefix), and the inspect reply.
//!
//! It uses the fake's `fs`, `clock` and seeds.

use serde_json::{json, Value};

use super::reference::{parse_reference, Reference};
use super::{State, DOCKER_VERSION, ZERO_TIME};
use crate::fake::engine::fs::{Fs, SEED_MTIME};
use crate::fake::engine::{clock, FakeImage};

/// An image in the daemon's store.
#[derive(Clone, Debug)]
pub(crate) struct Image {
    /// `sha256:<64 hex>`.
    pub(crate) id: String,
    /// The `Config` object of the inspect reply.
    pub(crate) config: Value,
    pub(crate) fs: Fs,
    pub(crate) created: String,
    pub(crate) parent: String,
    pub(crate) comment: String,
    pub(crate) author: String,
    pub(crate) container: String,
}

impl State {
    /// An image built from a seed, with a fresh ID.
    pub(crate) fn image_from_seed(&mut self, seed: &FakeImage) -> Image {
        Image {
            id: format!("sha256:{}", self.new_id()),
            config: seed.config_json(),
            fs: seed.fs.clone(),
            created: clock::rfc3339(SEED_MTIME, 0),
            parent: String::new(),
            comment: String::new(),
            author: String::new(),
            container: String::new(),
        }
    }

    /// Stores `image` and points `tags` at it; returns its ID.
    pub(crate) fn add_image(&mut self, image: Image, tags: &[Reference]) -> String {
        let id = image.id.clone();
        for t in tags {
            self.tags.insert(t.canonical(), id.clone());
        }
        self.images.insert(id.clone(), image);
        id
    }

    /// Finds an image by reference, full ID, or ID prefix, the way the daemon resolves names.
    pub(crate) fn find_image(&self, name: &str) -> Option<&Image> {
        if let Some(hex) = name.strip_prefix("sha256:") {
            return self.image_by_prefix(hex);
        }
        if let Some(r) = parse_reference(name) {
            if let Some(id) = self.tags.get(&r.canonical()) {
                return self.images.get(id);
            }
        }
        if name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            return self.image_by_prefix(name);
        }
        None
    }

    fn image_by_prefix(&self, hex: &str) -> Option<&Image> {
        if hex.is_empty() {
            return None;
        }
        let mut found = self
            .images
            .values()
            .filter(|i| i.id["sha256:".len()..].starts_with(hex));
        match (found.next(), found.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    }

    /// The familiar tags of image `id`.
    pub(crate) fn repo_tags(&self, id: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| parse_reference(k).map(|r| r.familiar()))
            .collect()
    }

    /// The `GET /images/{name}/json` reply.
    pub(crate) fn image_json(&self, image: &Image) -> Value {
        let size = image.fs.size();
        json!({
            "Id": image.id,
            "RepoTags": self.repo_tags(&image.id),
            "RepoDigests": [],
            "Parent": image.parent,
            "Comment": image.comment,
            "Created": image.created,
            "Container": image.container,
            "ContainerConfig": image.config,
            "DockerVersion": DOCKER_VERSION,
            "Author": image.author,
            "Config": image.config,
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {"Data": null, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": []},
            "Metadata": {"LastTagTime": ZERO_TIME}
        })
    }
}
