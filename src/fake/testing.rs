//! The in-process test servers and helpers of the crate's unit tests, in one place (test builds
//! only): a scripted server that answers with raw bytes ([`wire`]), a scripted engine that
//! records decoded requests and hands out an [`EngineClient`](crate::EngineClient) ([`http`]),
//! and the fixtures of the S2I operations' tests ([`docker`]).
//!
//! Like the rest of `fake`, this stands beside the layers and may use any of them; the layers'
//! own test modules use it, their code never does.

pub(crate) mod docker;
pub(crate) mod http;
pub(crate) mod wire;
