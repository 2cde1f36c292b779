//! The fault proxy and what the fault tests share; see `tests/engine_faults.rs`.
#![allow(dead_code)] // not every test binary uses every part

pub mod proxy;
mod pump;
pub mod scan;
pub mod setup;

pub use proxy::{At, Fault, Proxy};
