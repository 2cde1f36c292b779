//! Every type of the Engine API in one place: the JSON models (a container's configuration, the
//! inspect replies and their parts), the replies, each endpoint's options, the wait conditions and
//! signals, the attached connection and the messages of a progress stream.
//!
//! The models and replies are defined here, one file per resource as in [`ops`](mod@crate::ops);
//! an endpoint's options and parameter types stay directly above its function (e.g.
//! [`ContainerCommitOptions`] above [`container::commit`](crate::ops::container::commit)) and are
//! named here too. Each type is also reachable from its endpoint's file
//! (`ops::container::ContainerConfig`, `ops::image::ImageInspect`, ...).
//!
//! Field names follow the Engine's JSON (`PascalCase` on the wire, `snake_case` here). Only the
//! fields this crate reads or sends are modelled; the others are ignored when decoding and never
//! sent. A list or map the Engine may send as `null` reads as empty, or as `None` where the field
//! is an `Option`.
//!
//! The models are plain serde types: they use nothing of the crate beyond `ops`' decoding of
//! `null`, so every endpoint file can use them and none of them calls the engine. The reply read
//! most often, an image's inspect, also has a one-pass reader ([`ImageInspect::from_json`]) that
//! builds the model without serde's token-by-token walk of the members it leaves out, and hands
//! whatever it is unsure of to serde_json, so its answers are serde_json's.

mod container;
mod copy;
mod image;
mod json;
mod stream;
mod system;

pub use container::{
    ContainerConfig, ContainerCreateBody, ContainerCreateResponse, ContainerInspect,
    ContainerState, ContainerSummary, ContainerWaitExitError, ContainerWaitResponse, HostConfig,
    IdResponse, NetworkSettings, PortBinding,
};
pub use copy::ContainerPathStat;
pub use image::{ImageDeleteResponseItem, ImageInspect};
pub use stream::{JsonError, JsonMessage, JsonProgress};
pub use system::{ComponentVersion, Ping, Version};

// The types that stay beside their endpoint functions.
pub use crate::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerListOptions, ContainerRemoveOptions,
    HijackedResponse, Signal, WaitCondition,
};
pub use crate::ops::copy::CopyToContainerOptions;
pub use crate::ops::image::{
    ImageBuildOptions, ImagePullOptions, ImagePushOptions, ImageRemoveOptions,
};
