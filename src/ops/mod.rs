//! The Engine endpoints as plain functions, one file per resource.
//!
//! Each function validates its arguments, builds the path from an inline literal with
//! percent-encoded segments, builds the query, sends, checks the status and decodes.

pub mod container;
pub mod copy;
pub mod image;
pub mod stream;
pub mod system;

use serde::{Deserialize, Deserializer};

/// Decodes `null` as the type's default (the Engine sends `null` for empty lists and maps).
pub(crate) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
