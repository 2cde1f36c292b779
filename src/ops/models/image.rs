//! The image models: the inspect reply ([`ImageInspect`], whose `Config` is a
//! [`ContainerConfig`]) and the entries of a remove's reply.
//!
//! Plain serde types: they use nothing of the crate but the container models and
//! [`ops`](mod@crate::ops)' decoding of `null` lists.

use serde::Deserialize;

use super::json::{Cursor, Seen};
use super::ContainerConfig;

/// The reply of `GET /images/{name}/json` (the fields this crate reads).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image ID, `sha256:...`.
    #[serde(default)]
    pub id: String,
    /// Its tags, `name:tag`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_tags: Vec<String>,
    /// Its digests, `name@sha256:...`.
    #[serde(default, deserialize_with = "crate::ops::null_default")]
    pub repo_digests: Vec<String>,
    /// Its configuration: user, env, entrypoint, working dir, labels, `ONBUILD` triggers.
    #[serde(default)]
    pub config: Option<ContainerConfig>,
    /// The architecture, e.g. `amd64`.
    #[serde(default)]
    pub architecture: String,
    /// The operating system, e.g. `linux`.
    #[serde(default)]
    pub os: String,
    /// The size in bytes.
    #[serde(default)]
    pub size: i64,
}

impl ImageInspect {
    /// Decodes a reply of `GET /images/{name}/json`, with the same result as
    /// `serde_json::from_slice` (errors included), in a fraction of its time.
    ///
    /// A well-formed reply is read in one pass that builds the model and skips the members it
    /// leaves out; any other text (or a form the fast pass does not take, e.g. a `Size` written
    /// as a float) is decoded by serde_json.
    ///
    /// ```
    /// use s2i_docker::ops::models::ImageInspect;
    ///
    /// let reply = br#"{"Id": "sha256:4f3a", "RepoTags": ["app:1"], "Parent": "",
    ///     "Config": {"User": "1001", "Env": null, "Labels": {"a": "b"}}, "Size": 42}"#;
    /// let image = ImageInspect::from_json(reply)?;
    /// assert_eq!(image.repo_tags, ["app:1"]);
    /// assert_eq!(image.config.unwrap().user, "1001");
    /// assert!(ImageInspect::from_json(b"{\"Size\": \"big\"}").is_err());
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    ///
    /// # Errors
    /// serde_json's, for a text that is not JSON or does not fit the model.
    pub fn from_json(json: &[u8]) -> serde_json::Result<ImageInspect> {
        ImageInspect::read(json).map_or_else(|| serde_json::from_slice(json), Ok)
    }

    /// The fast pass of [`from_json`](Self::from_json): `None` where serde_json must decide.
    pub(crate) fn read(json: &[u8]) -> Option<ImageInspect> {
        let mut c = Cursor::new(json);
        let mut image = ImageInspect::default();
        let mut seen = Seen::default();
        c.members(|c, name| {
            match &*name {
                b"Id" => image.id = seen.first(0).and_then(|()| c.string())?,
                b"RepoTags" => {
                    image.repo_tags = seen
                        .first(1)
                        .and_then(|()| c.or_null(Cursor::strings))?
                        .unwrap_or_default()
                }
                b"RepoDigests" => {
                    image.repo_digests = seen
                        .first(2)
                        .and_then(|()| c.or_null(Cursor::strings))?
                        .unwrap_or_default()
                }
                b"Config" => {
                    seen.first(3)?;
                    if !c.null() {
                        ContainerConfig::read_into(c, image.config.insert(Default::default()))?;
                    }
                }
                b"Architecture" => image.architecture = seen.first(4).and_then(|()| c.string())?,
                b"Os" => image.os = seen.first(5).and_then(|()| c.string())?,
                b"Size" => image.size = seen.first(6).and_then(|()| c.i64())?,
                _ => c.skip()?,
            }
            Some(())
        })?;
        c.at_end().then_some(image)
    }
}

/// One entry of the reply of `DELETE /images/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageDeleteResponseItem {
    /// A tag that was removed.
    #[serde(default)]
    pub untagged: String,
    /// An image ID that was deleted.
    #[serde(default)]
    pub deleted: String,
}
