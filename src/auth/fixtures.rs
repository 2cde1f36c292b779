//! What the auth tests share (test builds only): config documents, reading them, and temporary
//! directories that hold credential helpers.
//!
//! Auth may use `error`, `config` and `image_ref` only; this file needs `error` and `config`.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::AuthConfigurations;
use crate::config::AuthConfig;
use crate::error::Result;

/// Reads `doc` as a config file.
pub(super) fn load(doc: &str) -> Result<AuthConfigurations> {
    AuthConfigurations::new(doc.as_bytes())
}

/// User name, password, email and server address, to compare credentials in one assertion.
pub(super) fn creds(a: &AuthConfig) -> (&str, &str, &str, &str) {
    (
        a.username.as_str(),
        a.password.as_str(),
        a.email.as_str(),
        a.server_address.as_str(),
    )
}

/// Two registries: Docker Hub (`u:p`, with an email) and quay.io (`qu:qp:extra`).
pub(super) const TWO: &str = r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpw","email":"e@x"},"quay.io":{"auth":"cXU6cXA6ZXh0cmE="}}}"#;

/// A directory under the system temp dir, removed on drop (also when a test panics).
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "s2i-auth-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    /// Installs `docker-credential-<name>` with `body` as its shell script.
    ///
    /// The file is written by a child process: if this process held it open for writing
    /// while another test thread forks, running it could fail with "text file busy".
    pub(super) fn helper(&self, name: &str, body: &str) {
        let path = self.0.join(format!("docker-credential-{name}"));
        let script = format!("#!/bin/sh\n{body}\n");
        let ok = Command::new("sh")
            .arg("-c")
            .arg("printf '%s' \"$1\" > \"$2\" && chmod 755 \"$2\"")
            .arg("sh")
            .arg(script)
            .arg(&path)
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }

    /// What the helpers recorded: one `name:stdin` line per call.
    pub(super) fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.0.join("calls"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
