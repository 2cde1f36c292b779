//! Finding the engine: variables, contexts, sockets.

use super::*;
use crate::error::Error;
use crate::ops::engine::new_engine_api_client;
use std::collections::HashMap;

fn config(vars: &[(&str, &str)], home: Option<&str>) -> DockerConfig {
    config_answered(vars, home, &[])
}

/// The configuration when exactly the sockets `listening` answer.
fn config_answered(vars: &[(&str, &str)], home: Option<&str>, listening: &[&str]) -> DockerConfig {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let home = home.map(PathBuf::from);
    config_from(&|name| vars.get(name).cloned(), &|| home.clone(), &|host| {
        if listening.contains(&host) {
            Probe::Answers
        } else {
            Probe::Absent
        }
    })
    .unwrap()
}

#[test]
fn looks_for_podman_when_no_variable_names_an_engine() {
    let rootless = "unix:///run/user/1000/podman/podman.sock";
    let xdg = [("XDG_RUNTIME_DIR", "/run/user/1000")];
    // Docker answers: Docker, even with Podman around.
    let c = config_answered(&xdg, None, &[DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]);
    assert_eq!(c.endpoint, DEFAULT_HOST);
    assert!(c.tried_endpoints.is_empty());
    // Rootless Podman before rootful Podman.
    let c = config_answered(&xdg, None, &[rootless, PODMAN_SYSTEM_HOST]);
    assert_eq!(c.endpoint, rootless);
    assert!(c.tried_endpoints.is_empty());
    let c = config_answered(&xdg, None, &[PODMAN_SYSTEM_HOST]);
    assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
    // Without XDG_RUNTIME_DIR (or a relative one) there is no rootless socket to look at.
    let c = config_answered(&[], None, &[rootless, PODMAN_SYSTEM_HOST]);
    assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
    let c = config_answered(&[("XDG_RUNTIME_DIR", "run")], None, &[]);
    assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
    // Nothing answers: Docker's socket, and the list for the connection error.
    let c = config_answered(&[("XDG_RUNTIME_DIR", "/run/user/1000/")], None, &[]);
    assert_eq!(c.endpoint, DEFAULT_HOST);
    assert_eq!(
        c.tried_endpoints,
        [DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]
    );
    // Root's runtime directory is /run: the rootful socket is listed once.
    let c = config_answered(&[("XDG_RUNTIME_DIR", "/run")], None, &[]);
    assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
    // A variable that names an engine is used as it is: nothing is looked at.
    for vars in [
        [("DOCKER_HOST", "tcp://10.0.0.1:2375")],
        [("CONTAINER_HOST", "unix:///somewhere/podman.sock")],
    ] {
        let c = config_from(
            &|name| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            },
            &|| None,
            &|host| panic!("{host} looked at"),
        )
        .unwrap();
        assert!(c.tried_endpoints.is_empty());
        assert_eq!(c.endpoint, vars[0].1);
    }
}

#[test]
fn connection_errors_name_the_sockets_tried() {
    assert_eq!(or_list(&[]), "");
    assert_eq!(or_list(&["a".into()]), "a");
    assert_eq!(or_list(&["a".into(), "b".into()]), "a or b");
    assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");

    let dir = std::env::temp_dir().join(format!("s2i-docker-discovery-{}", std::process::id()));
    let hosts: Vec<String> = ["docker.sock", "podman/podman.sock", "podman.sock"]
        .iter()
        .map(|f| format!("unix://{}/{f}", dir.display()))
        .collect();
    let (endpoint, tried) = discover(hosts.clone(), &probe);
    assert_eq!(endpoint, hosts[0]);
    let config = DockerConfig {
        endpoint,
        tried_endpoints: tried,
        ..Default::default()
    };
    let docker = new_engine_api_client(&config).unwrap();
    let e = crate::ops::system::ping(&docker).unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&format!(
            "failed to connect to the docker API at {}, {} or {}; check if the path is correct",
            hosts[0], hosts[1], hosts[2]
        )),
        "{text}"
    );
    // An endpoint set by hand is named alone.
    let named = DockerConfig {
        endpoint: hosts[1].clone(),
        tried_endpoints: hosts.clone(),
        ..Default::default()
    };
    let e = crate::ops::system::ping(&new_engine_api_client(&named).unwrap()).unwrap_err();
    assert!(!e.to_string().contains(&hosts[0]), "{e}");

    // A socket that accepts connections is found.
    std::fs::create_dir_all(dir.join("podman")).unwrap();
    let path = dir.join("podman/podman.sock");
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    assert_eq!(probe(&hosts[1]), Probe::Answers);
    assert_eq!(discover(hosts.clone(), &probe), (hosts[1].clone(), vec![]));
    // Its file left behind by a service that stopped: it refuses, and it is still the engine
    // (the error tells it is not running), not a reason to look further.
    drop(listener);
    assert_eq!(probe(&hosts[1]), Probe::Fails);
    assert_eq!(discover(hosts.clone(), &probe), (hosts[1].clone(), vec![]));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(probe("tcp://127.0.0.1:1"), Probe::Absent);
    // A path through a file is no socket either.
    let file = std::env::temp_dir().join(format!("s2i-docker-notdir-{}", std::process::id()));
    std::fs::write(&file, "").unwrap();
    assert_eq!(
        probe(&format!("unix://{}/docker.sock", file.display())),
        Probe::Absent
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn default_config_from_environment() {
    let c = config(&[], Some("/home/u"));
    assert_eq!(c.endpoint, DEFAULT_HOST);
    assert_eq!(c.ca_file, PathBuf::from("/home/u/.docker/ca.pem"));
    assert_eq!(c.cert_file, PathBuf::from("/home/u/.docker/cert.pem"));
    assert_eq!(c.key_file, PathBuf::from("/home/u/.docker/key.pem"));
    assert!(!c.use_tls && !c.tls_verify);

    let c = config(
        &[
            ("DOCKER_HOST", "tcp://10.0.0.1:2376"),
            ("CONTAINER_HOST", "unix:///run/podman.sock"),
            ("DOCKER_CERT_PATH", "/certs"),
            ("DOCKER_TLS_VERIFY", "0"),
            ("DOCKER_CONFIG", "/cfg"),
        ],
        Some("/home/u"),
    );
    assert_eq!(c.endpoint, "tcp://10.0.0.1:2376");
    assert_eq!(c.key_file, PathBuf::from("/certs/key.pem"));
    // Any non-empty value turns verification on, "0" included (as the docker CLI does).
    assert!(c.tls_verify && !c.use_tls);

    let c = config(
        &[
            ("CONTAINER_HOST", "unix:///run/podman.sock"),
            ("DOCKER_CONFIG", "/cfg"),
            ("DOCKER_TLS", "1"),
            ("DOCKER_TLS_VERIFY", ""),
        ],
        None,
    );
    assert_eq!(c.endpoint, "unix:///run/podman.sock");
    assert_eq!(c.ca_file, PathBuf::from("/cfg/ca.pem"));
    assert!(c.use_tls && !c.tls_verify);

    // Podman's ssh:// hosts are passed on to the host parser, never replaced by a local socket.
    let c = config(
        &[("CONTAINER_HOST", "ssh://core@host/run/podman.sock")],
        Some("/home/u"),
    );
    assert_eq!(c.endpoint, "ssh://core@host/run/podman.sock");
    assert_eq!(c.ca_file, PathBuf::from("/home/u/.docker/ca.pem"));
}

#[test]
fn home_from_passwd() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                  daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                  broken\n\
                  u:x:1000:1000:U,,,:/home/u:/bin/sh\n";
    assert_eq!(passwd_home(passwd, "0"), Some(PathBuf::from("/root")));
    assert_eq!(passwd_home(passwd, "1000"), Some(PathBuf::from("/home/u")));
    assert_eq!(passwd_home(passwd, "42"), None);
    assert!(dir().ends_with(".docker") || std::env::var_os("DOCKER_CONFIG").is_some());
}

#[test]
fn tls_files_are_used_only_when_present() {
    let dir = std::env::temp_dir();
    assert_eq!(existing(Path::new("")), None);
    assert_eq!(existing(&dir.join("no-such-file-s2i-docker.pem")), None);
    assert_eq!(existing(&dir), Some(dir.clone()));
}

/// The configuration for these variables, with the sockets probed as `probe` says.
fn resolve(vars: &[(&str, &str)], probe: &dyn Fn(&str) -> Probe) -> Result<DockerConfig> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    config_from(&|name| vars.get(name).cloned(), &|| None, probe)
}

#[test]
fn a_socket_that_is_there_is_the_engine_even_when_it_refuses() {
    let rootless = "unix:///run/user/1000/podman/podman.sock";
    let vars = [
        ("XDG_RUNTIME_DIR", "/run/user/1000"),
        ("DOCKER_CONFIG", "/nonexistent"),
    ];
    // Docker's socket exists but this user may not open it (or nothing listens): that is the
    // engine, whose error tells what is wrong, even with Podman answering further on.
    let c = resolve(&vars, &|host| match host {
        DEFAULT_HOST => Probe::Fails,
        _ => Probe::Answers,
    })
    .unwrap();
    assert_eq!(c.endpoint, DEFAULT_HOST);
    assert!(c.tried_endpoints.is_empty());
    // Only a socket that does not exist is passed over.
    let c = resolve(&vars, &|host| match host {
        DEFAULT_HOST => Probe::Absent,
        _ => Probe::Fails,
    })
    .unwrap();
    assert_eq!(c.endpoint, rootless);
}

/// A configuration directory with contexts made as `docker context create` makes them.
struct Contexts(TempDir);

impl Contexts {
    fn new() -> Contexts {
        Contexts(TempDir::new())
    }

    fn dir(&self) -> &Path {
        self.0.path()
    }

    fn dir_str(&self) -> String {
        self.dir().display().to_string()
    }

    fn meta(&self, name: &str, json: &str) -> PathBuf {
        let dir = self
            .dir()
            .join("contexts/meta")
            .join(context::context_dir_name(name));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("meta.json"), json).unwrap();
        dir.join("meta.json")
    }

    fn context(&self, name: &str, host: &str, skip: bool) -> PathBuf {
        self.meta(
            name,
            &format!(
                r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":{skip}}}}}}}"#
            ),
        )
    }

    fn tls(&self, name: &str, files: &[&str]) -> PathBuf {
        let dir = self
            .dir()
            .join("contexts/tls")
            .join(context::context_dir_name(name))
            .join("docker");
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), "PEM").unwrap();
        }
        dir
    }

    fn current(&self, json: &str) {
        std::fs::write(self.dir().join("config.json"), json).unwrap();
    }
}

fn no_probe(host: &str) -> Probe {
    panic!("{host} probed")
}

#[test]
fn contexts_are_chosen_as_the_docker_cli_chooses_them() {
    let cx = Contexts::new();
    let cfg = cx.dir_str();
    cx.context("remote", "tcp://10.0.0.5:2376", false);
    let tls = cx.tls("remote", &["ca.pem", "cert.pem", "key.pem"]);
    cx.context("local", "unix:///run/other.sock", false);
    cx.context("insecure", "tcp://10.0.0.6:2376", true);
    cx.context("tunnel", "ssh://core@10.0.0.7", false);
    cx.context("empty", "", false);
    cx.current(r#"{"auths":{},"currentContext":"local"}"#);

    // DOCKER_CONTEXT, with its TLS files, verified.
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "remote")],
        &no_probe,
    )
    .unwrap();
    assert_eq!(c.endpoint, "tcp://10.0.0.5:2376");
    assert_eq!(c.context.as_deref(), Some("remote"));
    assert_eq!(c.ca_file, tls.join("ca.pem"));
    assert_eq!(c.cert_file, tls.join("cert.pem"));
    assert_eq!(c.key_file, tls.join("key.pem"));
    assert!(c.use_tls && c.tls_verify);
    // The variables of the default context do not apply to a context.
    let c = resolve(
        &[
            ("DOCKER_CONFIG", &cfg),
            ("DOCKER_CONTEXT", "local"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_CERT_PATH", "/certs"),
            ("CONTAINER_HOST", "unix:///run/podman.sock"),
        ],
        &no_probe,
    )
    .unwrap();
    assert_eq!(c.endpoint, "unix:///run/other.sock");
    assert!(!c.use_tls && !c.tls_verify);
    // currentContext of config.json when DOCKER_CONTEXT is unset.
    let c = resolve(&[("DOCKER_CONFIG", &cfg)], &no_probe).unwrap();
    assert_eq!(c.endpoint, "unix:///run/other.sock");
    assert_eq!(c.context.as_deref(), Some("local"));
    // DOCKER_HOST beats both.
    let c = resolve(
        &[
            ("DOCKER_CONFIG", &cfg),
            ("DOCKER_CONTEXT", "remote"),
            ("DOCKER_HOST", "tcp://10.0.0.1:2375"),
        ],
        &no_probe,
    )
    .unwrap();
    assert_eq!(c.endpoint, "tcp://10.0.0.1:2375");
    assert_eq!(c.context, None);
    assert_eq!(c.ca_file, cx.dir().join("ca.pem"));
    // SkipTLSVerify: TLS, not verified.
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "insecure")],
        &no_probe,
    )
    .unwrap();
    assert!(c.use_tls && !c.tls_verify);
    // An ssh:// host goes to the host parser as it is.
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "tunnel")],
        &no_probe,
    )
    .unwrap();
    assert_eq!(c.endpoint, "ssh://core@10.0.0.7");
    // No host: the platform's default, as the docker CLI does, without looking for Podman.
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "empty")],
        &no_probe,
    )
    .unwrap();
    assert_eq!(c.endpoint, DEFAULT_HOST);
    // `default` is no context: the variables, then the sockets.
    for vars in [
        [
            ("DOCKER_CONFIG", cfg.as_str()),
            ("DOCKER_CONTEXT", "default"),
        ],
        [("DOCKER_CONFIG", cfg.as_str()), ("DOCKER_CONTEXT", "")],
    ] {
        cx.current(r#"{"currentContext":"default"}"#);
        let c = resolve(&vars, &|_| Probe::Absent).unwrap();
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(c.context, None);
        assert_eq!(c.tried_endpoints.len(), 2);
    }
    // Only a CA: TLS, verified with it.
    cx.context("ca-only", "tcp://10.0.0.8:2376", false);
    cx.tls("ca-only", &["ca.pem"]);
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "ca-only")],
        &no_probe,
    )
    .unwrap();
    assert!(c.use_tls && c.tls_verify);
}

#[test]
fn a_context_that_cannot_be_used_is_an_error_naming_it() {
    let cx = Contexts::new();
    let cfg = cx.dir_str();
    let missing = cx
        .dir()
        .join("contexts/meta")
        .join(context::context_dir_name("gone"))
        .join("meta.json");
    let text = |r: Result<DockerConfig>| match r {
        Err(Error::InvalidInput(m)) => m,
        other => panic!("{other:?}"),
    };

    let m = text(resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "gone")],
        &no_probe,
    ));
    assert_eq!(
        m,
        format!(
            "docker context \"gone\" not found: {} does not exist (from DOCKER_CONTEXT); unset \
             DOCKER_CONTEXT or set it to an existing context",
            missing.display()
        )
    );
    cx.current(r#"{"currentContext":"gone"}"#);
    let m = text(resolve(&[("DOCKER_CONFIG", &cfg)], &no_probe));
    assert!(
        m.contains(&format!(
            "(the currentContext of {}/config.json); choose another with `docker context use NAME`",
            cfg
        )),
        "{m}"
    );
    // DOCKER_HOST still wins: the configuration file is not read.
    let c = resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_HOST", "unix:///x.sock")],
        &no_probe,
    );
    assert_eq!(c.unwrap().endpoint, "unix:///x.sock");

    cx.current("{not json");
    let m = text(resolve(&[("DOCKER_CONFIG", &cfg)], &no_probe));
    assert!(
        m.starts_with(&format!(
            "cannot read the docker CLI configuration {cfg}/config.json: "
        )),
        "{m}"
    );
    // An empty config.json sets nothing.
    cx.current("\n");
    assert!(resolve(&[("DOCKER_CONFIG", &cfg)], &|_| Probe::Absent).is_ok());

    let meta = cx.meta("broken", "[1,2]");
    let m = text(resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "broken")],
        &no_probe,
    ));
    assert!(
        m.starts_with(&format!(
            "docker context \"broken\": {} is not a context's meta.json: ",
            meta.display()
        )),
        "{m}"
    );
    let meta = cx.meta("k8s", r#"{"Name":"k8s","Endpoints":{"kubernetes":{}}}"#);
    let m = text(resolve(
        &[("DOCKER_CONFIG", &cfg), ("DOCKER_CONTEXT", "k8s")],
        &no_probe,
    ));
    assert_eq!(
        m,
        format!(
            "docker context \"k8s\" has no docker endpoint (no Endpoints.docker in {})",
            meta.display()
        )
    );

    // The infallible form hands the error to the client, which refuses to go anywhere.
    let config = DockerConfig {
        error: Some("docker context \"gone\" not found: ...".into()),
        ..Default::default()
    };
    match new_engine_api_client(&config) {
        Err(Error::InvalidInput(m)) => assert_eq!(m, "docker context \"gone\" not found: ..."),
        other => panic!("{other:?}"),
    }
}
