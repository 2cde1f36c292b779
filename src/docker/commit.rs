//! Commits: a container becomes an image, with the configuration the caller gave.
//!
//! Uses the client, ops (the commit endpoint's options) and error.

use crate::docker::{CommitContainerOptions, DockerClient};
use crate::error::Result;
use crate::ops::container::{ContainerCommitOptions, ContainerConfig, IdResponse};

/// Commits `opts.container_id` and returns the new image's ID, `sha256:<hex>` also when the
/// engine answers the bare hex.
///
/// The configuration (`Cmd`, `Entrypoint`, `Env`, `Labels`, `User`) is sent whenever any of its
/// fields is set ([`differences`](super::differences), item 16): the engine merges it with the
/// container's.
pub(crate) fn commit_container(d: &DockerClient, opts: CommitContainerOptions) -> Result<String> {
    let any_set = !opts.command.is_empty()
        || !opts.entrypoint.is_empty()
        || !opts.env.is_empty()
        || !opts.labels.is_empty()
        || !opts.user.is_empty();
    let config = any_set.then(|| {
        let some = |v: Vec<String>| (!v.is_empty()).then_some(v);
        ContainerConfig {
            cmd: some(opts.command),
            entrypoint: some(opts.entrypoint),
            env: some(opts.env),
            labels: (!opts.labels.is_empty()).then_some(opts.labels),
            user: opts.user,
            ..Default::default()
        }
    });
    let options = ContainerCommitOptions {
        reference: opts.repository,
        config,
        ..Default::default()
    };
    let IdResponse { id } = d.client.container_commit(&opts.container_id, &options)?;
    // Podman answers the bare hex digest; Docker (and every inspect) says `sha256:<hex>`.
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(format!("sha256:{id}"));
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::docker::Docker;
    use crate::error::Error;
    use crate::fake::testing::docker::*;

    #[test]
    fn commit_sends_the_config_when_anything_is_set() {
        let (fake, d) = setup();
        fake.state().container_commit_response.id = "sha256:new".into();
        // Decision 16: env alone is enough for a config.
        let id = d
            .commit_container(CommitContainerOptions {
                container_id: "c1".into(),
                repository: "app:1".into(),
                env: vec!["A=1".into()],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(id, "sha256:new");
        let sent = fake.state().container_commit_options.clone().unwrap();
        assert_eq!(fake.state().container_commit_id, "c1");
        assert_eq!(sent.reference, "app:1");
        let config = sent.config.unwrap();
        assert_eq!(config.env, Some(vec!["A=1".to_string()]));
        assert_eq!(config.cmd, None);
        // Everything.
        let labels: HashMap<_, _> = [("k".to_string(), "v".to_string())].into();
        d.commit_container(CommitContainerOptions {
            container_id: "c1".into(),
            repository: "app".into(),
            user: "1001".into(),
            command: vec!["/run".into()],
            entrypoint: vec!["/usr/bin/env".into()],
            env: vec![],
            labels: labels.clone(),
        })
        .unwrap();
        let config = fake
            .state()
            .container_commit_options
            .clone()
            .unwrap()
            .config
            .unwrap();
        assert_eq!(config.cmd, Some(vec!["/run".to_string()]));
        assert_eq!(config.entrypoint, Some(vec!["/usr/bin/env".to_string()]));
        assert_eq!(config.labels, Some(labels));
        assert_eq!(config.user, "1001");
        assert_eq!(config.env, None);
        // Nothing: no body.
        d.commit_container(CommitContainerOptions {
            container_id: "c1".into(),
            ..Default::default()
        })
        .unwrap();
        let sent = fake.state().container_commit_options.clone().unwrap();
        assert_eq!(sent.config, None);
        // Podman's bare IDs get the digest algorithm Docker's have.
        let bare = "ab".repeat(32);
        fake.state().container_commit_response.id = bare.clone();
        let id = d
            .commit_container(CommitContainerOptions::default())
            .unwrap();
        assert_eq!(id, format!("sha256:{bare}"));
        // The daemon's error comes back as it is.
        fake.state().container_commit_err = Some(Error::api(409, "conflict"));
        let e = d
            .commit_container(CommitContainerOptions::default())
            .unwrap_err();
        assert!(e.is_conflict());
        assert_eq!(e.to_string(), "Error response from daemon: conflict");
    }
}
