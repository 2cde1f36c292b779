//! The message of a JSON-lines progress stream (pull, push, build): [`JsonMessage`], with its
//! progress and error details. Reading such a stream is [`ops::stream`](crate::ops::stream)'s
//! work.
//!
//! Plain serde types; they use nothing of the crate.

use serde::Deserialize;

/// One message of a JSON-lines progress stream (moby's `jsonmessage.JSONMessage`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct JsonMessage {
    /// A status line, e.g. `Pulling fs layer` or `Digest: sha256:...`.
    #[serde(default)]
    pub status: String,
    /// The layer or image the status is about.
    #[serde(default)]
    pub id: String,
    /// A rendered progress bar.
    #[serde(default)]
    pub progress: String,
    /// The numbers behind the progress bar.
    #[serde(default)]
    pub progress_detail: Option<JsonProgress>,
    /// Build output (`Step 1/3 : FROM scratch`).
    #[serde(default)]
    pub stream: String,
    /// The legacy error text.
    #[serde(default)]
    pub error: String,
    /// The structured error.
    #[serde(default)]
    pub error_detail: Option<JsonError>,
    /// Extra data, e.g. `{"ID": "sha256:..."}` at the end of a build.
    #[serde(default)]
    pub aux: Option<serde_json::Value>,
}

impl JsonMessage {
    /// The error this message carries, if any: `errorDetail.message`, else `error`.
    pub fn error_message(&self) -> Option<&str> {
        let detail = self
            .error_detail
            .as_ref()
            .map(|d| d.message.as_str())
            .filter(|m| !m.is_empty());
        match detail {
            Some(m) => Some(m),
            None if !self.error.is_empty() => Some(&self.error),
            // An `errorDetail` without a text is still an error.
            None if self.error_detail.is_some() => Some("unknown error in stream"),
            None => None,
        }
    }
}

/// The `errorDetail` of a progress message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JsonError {
    /// A numeric code, when the daemon gives one (often 0).
    #[serde(default)]
    pub code: i64,
    /// The error's text.
    #[serde(default)]
    pub message: String,
}

/// The `progressDetail` of a progress message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct JsonProgress {
    /// Bytes done.
    #[serde(default)]
    pub current: i64,
    /// Bytes in all.
    #[serde(default)]
    pub total: i64,
}
