//! What the container runs: its command (the reference's §3.4), its entrypoint, and the
//! create request (§3.2), and that request as the log shows it.
//!
//! Sends nothing. Uses the options, the image metadata functions of the `docker` module and
//! `reap`'s creation labels, the Engine API's request types, `archive` for Go's path cleaning,
//! and the run's `hook` (for `command_overrides`).

use crate::config::Image;
use crate::docker::labels::{destination_of, image_from_inspect, scripts_url_of};
use crate::docker::reap::creation_labels;
use crate::docker::RunContainerOptions;
use crate::error::Result;
use crate::ops::container::{ContainerConfig, ContainerCreateBody, HostConfig};
use crate::ops::image::ImageInspect;

use super::hook::catch_hook;
use super::{DEFAULT_ENTRYPOINT, DEFAULT_SHM_SIZE};

/// The create request for `image`, whose inspect is `inspect`, and the tar destination that
/// `post_exec` gets (empty for a `target_image` run and for an explicit command).
pub(super) fn create_request(
    opts: &RunContainerOptions,
    image: &str,
    inspect: &ImageInspect,
) -> Result<(ContainerCreateBody, String)> {
    let metadata = image_from_inspect(inspect);
    let image_entrypoint = inspect
        .config
        .as_ref()
        .and_then(|c| c.entrypoint.as_deref())
        .unwrap_or_default();

    let (cmd, tar_destination) = if opts.target_image {
        (None, String::new())
    } else {
        let (cmd, dest) = command_for(opts, Some(&metadata))?;
        (Some(cmd), dest)
    };
    let entrypoint = entrypoint_for(opts, image_entrypoint);
    let body = create_body(opts, image.to_string(), entrypoint, cmd);
    Ok((body, tar_destination))
}

/// The entrypoint sent (decision 1 of the `docker` module's docs): the caller's if given;
/// else, when the image has one, [`DEFAULT_ENTRYPOINT`] so that the command runs as given,
/// except in a `target_image` run, which keeps the image's; else none.
fn entrypoint_for(opts: &RunContainerOptions, image_entrypoint: &[String]) -> Option<Vec<String>> {
    if !opts.entrypoint.is_empty() {
        Some(opts.entrypoint.clone())
    } else if !image_entrypoint.is_empty() && !opts.target_image {
        Some(DEFAULT_ENTRYPOINT.iter().map(|s| s.to_string()).collect())
    } else {
        None
    }
}

/// Command construction (the reference's §3.4): the container's `Cmd` and the tar destination.
pub(crate) fn command_for(
    opts: &RunContainerOptions,
    image: Option<&Image>,
) -> Result<(Vec<String>, String)> {
    if !opts.command_explicit.is_empty() {
        return Ok((opts.command_explicit.clone(), String::new()));
    }
    let tar_destination = if opts.destination.is_empty() {
        destination_of(image)
    } else {
        opts.destination.clone()
    };
    let base_dir = if opts.external_scripts {
        path_join(&[&tar_destination, "scripts"])
    } else {
        let url = if opts.scripts_url.is_empty() {
            scripts_url_of(image)
        } else {
            opts.scripts_url.clone()
        };
        match url.strip_prefix("image://") {
            Some(path) => path.to_string(),
            None => url,
        }
    };
    let binary = path_join(&[&base_dir, &opts.command]);
    let with_tar = opts.stdin.is_some() && (opts.command == "assemble" || opts.command == "usage");
    if !with_tar {
        return Ok((vec![binary], tar_destination));
    }
    let mut line = format!("tar -C {tar_destination} -xf - && {binary}");
    if let Some(rewrite) = &opts.command_overrides {
        line = catch_hook("command_overrides", || Ok(rewrite(&line)))?;
    }
    Ok((
        vec!["/bin/sh".to_string(), "-c".to_string(), line],
        tar_destination,
    ))
}

/// Go's `path.Join`: joins the non-empty elements with `/` and cleans the result lexically.
pub(crate) fn path_join(parts: &[&str]) -> String {
    let joined = parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    if joined.is_empty() {
        return String::new();
    }
    String::from_utf8_lossy(&crate::archive::clean(joined.as_bytes())).into_owned()
}

/// The create request (the reference's §3.2), labelled with who created the container and
/// when ([`creation_labels`]), so that a later process can remove it should this one be killed.
fn create_body(
    opts: &RunContainerOptions,
    image: String,
    entrypoint: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
) -> ContainerCreateBody {
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let limits = opts.cgroup_limits.clone().unwrap_or_default();
    ContainerCreateBody {
        config: ContainerConfig {
            image,
            user: opts.user.clone(),
            env: some(&opts.env),
            entrypoint,
            cmd,
            open_stdin: opts.stdin.is_some(),
            stdin_once: opts.stdin.is_some(),
            attach_stdout: opts.stdout.is_some(),
            labels: Some(creation_labels()),
            ..Default::default()
        },
        host_config: HostConfig {
            cap_drop: some(&opts.cap_drop),
            publish_all_ports: opts.target_image,
            network_mode: opts.network_mode.clone(),
            binds: some(&opts.binds),
            extra_hosts: some(&opts.add_host),
            security_opt: some(&opts.security_opt),
            memory: limits.memory_limit_bytes,
            memory_swap: limits.memory_swap,
            cgroup_parent: limits.parent,
            cpu_shares: limits.cpu_shares,
            cpu_quota: limits.cpu_quota,
            cpu_period: limits.cpu_period,
            shm_size: DEFAULT_SHM_SIZE,
            ..Default::default()
        },
    }
}

/// The create request as JSON for the log, with only the names of the environment variables:
/// their values can hold secrets (tokens, passwords, credentials in proxy URLs).
pub(super) fn redacted_for_log(body: &ContainerCreateBody) -> String {
    let mut body = body.clone();
    if let Some(env) = &mut body.config.env {
        for e in env.iter_mut() {
            if let Some((name, _)) = e.split_once('=') {
                *e = name.to_string();
            }
        }
    }
    serde_json::to_string(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    //! Every case of the command construction and of the create request, as the fake receives them.

    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::{Docker, DockerClient};
    use crate::fake::testing::docker::*;
    use crate::fake::FakeClient;
    use crate::CGroupLimits;

    /// Runs `o` against a fake holding `img` as `builder:latest`; returns the create body.
    fn created_with(
        img: crate::ops::image::ImageInspect,
        o: RunContainerOptions,
    ) -> ContainerCreateBody {
        let fake = Arc::new(FakeClient::new());
        fake.add_image("builder:latest", img);
        let d = DockerClient::new(fake.clone(), auth());
        d.run_container(o).unwrap();
        let created = fake.state().created.clone();
        assert_eq!(created.len(), 1);
        created[0].1.clone()
    }

    fn cmd_of(img: crate::ops::image::ImageInspect, o: RunContainerOptions) -> Vec<String> {
        created_with(img, o).config.cmd.unwrap_or_default()
    }

    fn sh(line: &str) -> Vec<String> {
        vec!["/bin/sh".into(), "-c".into(), line.into()]
    }

    // Every case of the command construction (§3.4).

    #[test]
    fn command_from_the_scripts_label() {
        assert_eq!(cmd_of(builder(), opts("run")), ["/usr/libexec/s2i/run"]);
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("assemble")
                }
            ),
            sh("tar -C /tmp -xf - && /usr/libexec/s2i/assemble")
        );
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("usage")
                }
            ),
            sh("tar -C /tmp -xf - && /usr/libexec/s2i/usage")
        );
        // Only assemble and usage get the tar; without stdin no tar either.
        assert_eq!(
            cmd_of(
                builder(),
                RunContainerOptions {
                    stdin: stdin(b""),
                    ..opts("save-artifacts")
                }
            ),
            ["/usr/libexec/s2i/save-artifacts"]
        );
        assert_eq!(
            cmd_of(builder(), opts("assemble")),
            ["/usr/libexec/s2i/assemble"]
        );
    }

    #[test]
    fn command_explicit_is_verbatim() {
        let post = Arc::new(Mutex::new(None));
        let seen = post.clone();
        let o = RunContainerOptions {
            command_explicit: vec!["/bin/true".into(), "a b".into()],
            stdin: stdin(b""),
            command_overrides: Some(Box::new(|s| format!("never {s}"))),
            post_exec: Some(Box::new(move |_: &str, dest: &str| {
                *seen.lock().unwrap() = Some(dest.to_string());
                Ok(())
            })),
            ..opts("assemble")
        };
        assert_eq!(cmd_of(builder(), o), ["/bin/true", "a b"]);
        // The tar destination stays empty with an explicit command.
        assert_eq!(post.lock().unwrap().as_deref(), Some(""));
    }

    #[test]
    fn command_with_external_scripts() {
        let o = RunContainerOptions {
            external_scripts: true,
            destination: "/opt/app-root/".into(),
            stdin: stdin(b""),
            ..opts("assemble")
        };
        // The destination is not cleaned in the tar command; the script path is.
        assert_eq!(
            cmd_of(builder(), o),
            sh("tar -C /opt/app-root/ -xf - && /opt/app-root/scripts/assemble")
        );
        let o = RunContainerOptions {
            external_scripts: true,
            ..opts("run")
        };
        assert_eq!(cmd_of(builder(), o), ["/tmp/scripts/run"]);
    }

    #[test]
    fn command_with_explicit_and_odd_scripts_urls() {
        let with_url = |url: &str| RunContainerOptions {
            scripts_url: url.into(),
            ..opts("assemble")
        };
        assert_eq!(
            cmd_of(builder(), with_url("image:///s2i/bin/")),
            ["/s2i/bin/assemble"]
        );
        assert_eq!(
            cmd_of(builder(), with_url("image:///a//b")),
            ["/a/b/assemble"]
        );
        // Any other URL is used as a path, literally (the reference's behaviour).
        assert_eq!(
            cmd_of(builder(), with_url("http://x/y")),
            ["http:/x/y/assemble"]
        );
        assert_eq!(
            cmd_of(builder(), with_url("file:///opt/s")),
            ["file:/opt/s/assemble"]
        );
        // Only the exact `image://` prefix is stripped.
        assert_eq!(
            cmd_of(builder(), with_url("IMAGE:///x")),
            ["IMAGE:/x/assemble"]
        );
        // No URL anywhere: a relative command.
        assert_eq!(
            cmd_of(image("id", &[], &[]), opts("assemble")),
            ["assemble"]
        );
    }

    #[test]
    fn command_from_deprecated_scripts_sources() {
        let old = image("id", &[("io.s2i.scripts-url", "image:///old")], &[]);
        assert_eq!(cmd_of(old, opts("run")), ["/old/run"]);
        let env = image("id", &[], &["STI_SCRIPTS_URL=image:///env/ "]);
        assert_eq!(cmd_of(env, opts("run")), ["/env/run"]);
        // The new label wins over both.
        let all = image(
            "id",
            &[
                (crate::docker::labels::SCRIPTS_URL_LABEL, "image:///new"),
                ("io.s2i.scripts-url", "image:///old"),
            ],
            &["STI_SCRIPTS_URL=image:///env"],
        );
        assert_eq!(cmd_of(all, opts("run")), ["/new/run"]);
    }

    #[test]
    fn destination_sources() {
        let url = (crate::docker::labels::SCRIPTS_URL_LABEL, "image:///s");
        let with_stdin = |o: RunContainerOptions| RunContainerOptions {
            stdin: stdin(b""),
            ..o
        };
        let label = image(
            "id",
            &[url, (crate::docker::labels::DESTINATION_LABEL, "/opt/app")],
            &[],
        );
        assert_eq!(
            cmd_of(label.clone(), with_stdin(opts("assemble"))),
            sh("tar -C /opt/app -xf - && /s/assemble")
        );
        let old = image("id", &[url, ("io.s2i.destination", "/old")], &[]);
        let (cmd, logs) = logs_of(|| cmd_of(old, with_stdin(opts("assemble"))));
        assert_eq!(cmd, sh("tar -C /old -xf - && /s/assemble"));
        assert_logged(&logs, log::Level::Warn, "Image id uses deprecated label 'io.s2i.destination', please migrate it to io.openshift.s2i.destination instead!");
        let env = image("id", &[url], &["STI_LOCATION=/env"]);
        let (cmd, logs) = logs_of(|| cmd_of(env, with_stdin(opts("assemble"))));
        assert_eq!(cmd, sh("tar -C /env -xf - && /s/assemble"));
        assert_logged(&logs, log::Level::Warn, "Image id uses deprecated environment variable STI_LOCATION, please migrate it to io.openshift.s2i.destination label instead!");
        // The option beats the label.
        let o = RunContainerOptions {
            destination: "/given".into(),
            ..with_stdin(opts("assemble"))
        };
        assert_eq!(cmd_of(label, o), sh("tar -C /given -xf - && /s/assemble"));
    }

    #[test]
    fn command_overrides_only_rewrite_the_tar_command() {
        let o = |cmd: &str, with_stdin: bool| RunContainerOptions {
            stdin: if with_stdin { stdin(b"") } else { None },
            command_overrides: Some(Box::new(|s: &str| format!("while true; do :; done; {s}"))),
            ..opts(cmd)
        };
        assert_eq!(
            cmd_of(builder(), o("assemble", true)),
            sh("while true; do :; done; tar -C /tmp -xf - && /usr/libexec/s2i/assemble")
        );
        assert_eq!(
            cmd_of(builder(), o("assemble", false)),
            ["/usr/libexec/s2i/assemble"]
        );
        assert_eq!(cmd_of(builder(), o("run", true)), ["/usr/libexec/s2i/run"]);
    }

    #[test]
    fn entrypoint_override_decision_1() {
        let mut with_entry = builder();
        if let Some(c) = with_entry.config.as_mut() {
            c.entrypoint = Some(vec!["/docker-entrypoint.sh".into()]);
        }
        let body = created_with(with_entry.clone(), opts("assemble"));
        assert_eq!(
            body.config.entrypoint,
            Some(vec!["/usr/bin/env".to_string()])
        );
        let body = created_with(
            with_entry,
            RunContainerOptions {
                entrypoint: vec!["/mine".into()],
                ..opts("assemble")
            },
        );
        assert_eq!(body.config.entrypoint, Some(vec!["/mine".to_string()]));
        let body = created_with(builder(), opts("assemble"));
        assert_eq!(body.config.entrypoint, None);
    }

    #[test]
    fn create_request_fields() {
        let o = RunContainerOptions {
            user: "1001".into(),
            env: vec!["A=1".into()],
            add_host: vec!["db:10.0.0.2".into()],
            security_opt: vec!["no-new-privileges".into()],
            network_mode: "host".into(),
            cap_drop: vec!["KILL".into(), "MKNOD".into()],
            binds: vec!["/h:/c:ro".into()],
            cgroup_limits: Some(CGroupLimits {
                memory_limit_bytes: 1 << 30,
                cpu_shares: 512,
                cpu_period: 100_000,
                cpu_quota: 50_000,
                memory_swap: -1,
                parent: "/s2i".into(),
            }),
            stdin: stdin(b""),
            stdout: Some(Box::new(std::io::sink())),
            ..opts("assemble")
        };
        let body = created_with(builder(), o);
        let c = &body.config;
        assert_eq!(c.image, "builder:latest");
        assert_eq!(c.user, "1001");
        assert_eq!(c.env, Some(vec!["A=1".to_string()]));
        assert!(c.open_stdin && c.stdin_once && c.attach_stdout);
        assert!(!c.attach_stdin && !c.attach_stderr && !c.tty);
        let h = &body.host_config;
        assert_eq!(h.shm_size, DEFAULT_SHM_SIZE);
        assert_eq!(h.memory, 1 << 30);
        assert_eq!(h.memory_swap, -1);
        assert_eq!(h.cgroup_parent, "/s2i");
        assert_eq!(
            (h.cpu_shares, h.cpu_period, h.cpu_quota),
            (512, 100_000, 50_000)
        );
        assert_eq!(h.extra_hosts, Some(vec!["db:10.0.0.2".to_string()]));
        assert_eq!(h.security_opt, Some(vec!["no-new-privileges".to_string()]));
        assert_eq!(h.network_mode, "host");
        assert_eq!(
            h.cap_drop,
            Some(vec!["KILL".to_string(), "MKNOD".to_string()])
        );
        assert_eq!(h.binds, Some(vec!["/h:/c:ro".to_string()]));
        assert!(!h.publish_all_ports);
        // Nothing given: nothing sent.
        let body = created_with(builder(), opts("run"));
        assert_eq!(body.config.env, None);
        assert_eq!(body.host_config.cap_drop, None);
        assert_eq!(body.host_config.memory, 0);
        assert!(!body.config.open_stdin);
    }

    #[test]
    fn env_values_never_reach_the_log() {
        let (fake, d) = setup();
        let env = vec![
            "HTTP_PROXY=http://me:hunter2@p:1".to_string(),
            "API_TOKEN=tok3n".to_string(),
            "PLAIN=value=with=equals".to_string(),
        ];
        let (_, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                env: env.clone(),
                ..opts("run")
            })
        });
        let created = logs
            .iter()
            .find(|(_, m)| m.starts_with("Creating container with options {Name:s2i_builder_"))
            .map(|(_, m)| m.clone())
            .unwrap_or_default();
        assert!(
            created.contains(r#""Env":["HTTP_PROXY","API_TOKEN","PLAIN"]"#),
            "{created}"
        );
        for secret in ["hunter2", "tok3n", "with=equals"] {
            assert!(logs.iter().all(|(_, m)| !m.contains(secret)), "{secret}");
        }
        // The container gets the values, of course.
        assert_eq!(fake.state().created[0].1.config.env, Some(env));
    }

    #[test]
    fn go_path_join() {
        assert_eq!(path_join(&["/a/", "b"]), "/a/b");
        assert_eq!(path_join(&["", "assemble"]), "assemble");
        assert_eq!(path_join(&["http://x/y", "c"]), "http:/x/y/c");
        assert_eq!(path_join(&["/a/../..", "b"]), "/b");
        assert_eq!(path_join(&["a/..", ""]), ".");
        assert_eq!(path_join(&["../a", "./b/"]), "../a/b");
        assert_eq!(path_join(&["", ""]), "");
    }
}
