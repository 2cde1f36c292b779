//! (in progress)

pub mod engine;

pub use engine::{FakeEngine, RunningFake};
