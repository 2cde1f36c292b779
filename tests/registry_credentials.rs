//! Credentials chosen per image against real registries: two authenticated registries with
//! different passwords (`S2I_TEST_REGISTRY*` and `S2I_TEST_REGISTRY2*`, which `.ci/run`
//! starts), and a stand-in registry that records every `Authorization` header it is sent and
//! must never receive another registry's credentials.
//!
//! Every pull goes through [`DockerClient`] with a credentials source (one `AuthConfig`, a
//! docker `config.json`, a closure); the run, rebuild and runtime-image pulls and a build
//! `FROM` the stand-in are covered too. A guard removes every image a test tagged or pulled.

mod common;
mod registries;

use std::sync::Arc;

use s2i_docker::{
    get_rebuild_image, get_runtime_image, AuthConfig, AuthConfigurations, BuildImageOptions,
    Config, Docker, DockerClient, PullPolicy, RunContainerOptions,
};

use common::Cleanup;
use registries::{auths_entry, Registry, StandIn};

const LABEL: &str = "io.s2i-docker.test-registry";

/// The stand-in registry's own user; its password is [`standin_password`].
const STANDIN_USER: &str = "standin";

/// The stand-in registry's own password, one per test process: the only credentials it may
/// ever receive.
fn standin_password() -> &'static str {
    static PASSWORD: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PASSWORD.get_or_init(|| common::unique_name("s2i-test-standin-password"))
}

/// The engine, both registries, a stand-in registry, and an image pushed to each registry.
struct Setup {
    docker: s2i_docker::EngineClient,
    first: Registry,
    second: Registry,
    standin: &'static StandIn,
    /// `(name, label value)` of the image in the first registry, then in the second.
    images: [(String, String); 2],
    /// The stand-in's credentials: its `user:password`.
    standin_user: String,
    standin_password: String,
    cleanup: Cleanup,
    /// Held until the cleanup is done (fields drop in order).
    _serial: std::sync::MutexGuard<'static, ()>,
}

/// One test at a time: Podman builds of the same steps running side by side leave an
/// untagged image of a step behind.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn setup() -> Option<Setup> {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (docker, host) = registries::engine()?;
    let first = Registry::first()?;
    let second = Registry::second()?;
    assert_ne!(
        first.password, second.password,
        "the registries' passwords must differ"
    );
    let standin = StandIn::shared()?;
    let cleanup = Cleanup::new(&host);
    let images = [&first, &second].map(|r| {
        let value = common::unique_name("s2i-test-value");
        let name = registries::push_labelled(&docker, &cleanup, r, LABEL, &value);
        (name, value)
    });
    Some(Setup {
        docker,
        first,
        second,
        standin,
        images,
        standin_user: STANDIN_USER.into(),
        standin_password: standin_password().into(),
        cleanup,
        _serial: serial,
    })
}

impl Setup {
    /// A repository of this test in the stand-in registry, and its image (never pullable,
    /// recorded for cleanup all the same).
    fn standin_image(&self) -> (String, String) {
        let repo = common::unique_name("s2i-test-standin");
        let name = format!("{}/{repo}:1", self.standin.addr);
        self.cleanup.image(&name);
        (repo, name)
    }

    /// A client for the test engine with `source` for its credentials and no pull retries.
    fn docker_with(&self, auth: AuthConfig) -> DockerClient {
        DockerClient::new(Arc::new(self.docker.clone()), auth).with_pull_retry_count(0)
    }

    /// Neither registry's password ever reached the stand-in, nor any credentials but its
    /// own.
    fn assert_standin_clean(&self) {
        self.standin
            .assert_never_received(&[&self.first.password, &self.second.password]);
        self.standin
            .assert_only_received(&format!("{STANDIN_USER}:{}", standin_password()));
    }

    fn assert_pulled(&self, i: usize) {
        let (name, value) = &self.images[i];
        assert_eq!(
            registries::label_of(&self.docker, name, LABEL).as_ref(),
            Some(value),
            "{name} was pulled"
        );
    }
}

#[test]
fn a_config_file_gives_each_registry_its_own_credentials() {
    let Some(s) = setup() else {
        return;
    };
    let config = format!(
        r#"{{"auths":{{{},{},{}}}}}"#,
        s.first.auths_entry(),
        s.second.auths_entry(),
        auths_entry(&s.standin.addr, &s.standin_user, &s.standin_password)
    );
    let auths = AuthConfigurations::new(config.as_bytes()).expect("the config");
    let d = s
        .docker_with(AuthConfig::default())
        .with_registry_credentials(auths);
    for i in 0..2 {
        d.pull_image(&s.images[i].0)
            .unwrap_or_else(|e| panic!("pull {}: {}", s.images[i].0, e.to_string_with_causes()));
        s.assert_pulled(i);
    }
    let (repo, standin) = s.standin_image();
    let e = d.pull_image(&standin).unwrap_err();
    assert!(e.is_unauthorized(), "{}", e.to_string_with_causes());
    let seen = s.standin.authorizations_for(&repo);
    let own = format!("{}:{}", s.standin_user, s.standin_password);
    assert!(
        !seen.is_empty(),
        "the engine sent the stand-in its credentials"
    );
    assert!(
        seen.iter().all(|a| *a == own),
        "only its own: {}",
        seen.len()
    );
    s.assert_standin_clean();
}

#[test]
fn one_registrys_credentials_never_reach_another() {
    let Some(s) = setup() else {
        return;
    };
    let d = s.docker_with(s.first.credentials());
    d.pull_image(&s.images[0].0)
        .unwrap_or_else(|e| panic!("pull {}: {}", s.images[0].0, e.to_string_with_causes()));
    s.assert_pulled(0);
    // The second registry gets no credentials: refused.
    let e = d.pull_image(&s.images[1].0).unwrap_err();
    assert!(e.is_unauthorized(), "{}", e.to_string_with_causes());

    // Every pull path, towards the stand-in.
    let (repo, standin) = s.standin_image();
    let before = s.standin.requests();
    assert!(d.pull_image(&standin).is_err());
    assert!(d.check_and_pull_image(&standin).is_err());
    let run = d.run_container(RunContainerOptions {
        image: standin.clone(),
        pull_image: true,
        command_explicit: vec!["true".into()],
        ..Default::default()
    });
    assert!(run.is_err(), "the run's image cannot be pulled");
    let config = Config {
        tag: standin.clone(),
        runtime_image: standin.clone(),
        runtime_image_pull_policy: PullPolicy::Always,
        builder_pull_policy: PullPolicy::Always,
        pull_authentication: s.first.credentials(),
        runtime_authentication: s.second.credentials(),
        ..Default::default()
    };
    assert!(get_rebuild_image(Arc::new(s.docker.clone()), &config).is_err());
    assert!(get_runtime_image(&config, &d).is_err());

    assert!(
        s.standin.requests() > before,
        "the engine asked the stand-in"
    );
    assert_eq!(
        s.standin.authorizations_for(&repo),
        Vec::<String>::new(),
        "no credentials at all"
    );
    s.assert_standin_clean();
}

#[test]
fn a_closure_chooses_per_registry_and_a_build_sends_no_foreign_credentials() {
    let Some(s) = setup() else {
        return;
    };
    let (first, second) = (s.first.clone(), s.second.clone());
    let by_registry = move |registry: &str| {
        [&first, &second]
            .into_iter()
            .find(|r| r.addr == registry)
            .map(|r| r.credentials())
    };
    let d = s
        .docker_with(AuthConfig::default())
        .with_registry_credentials(by_registry);
    for i in 0..2 {
        d.pull_image(&s.images[i].0)
            .unwrap_or_else(|e| panic!("pull {}: {}", s.images[i].0, e.to_string_with_causes()));
        s.assert_pulled(i);
    }
    let (repo, standin) = s.standin_image();
    let before = s.standin.requests();
    assert!(d.pull_image(&standin).is_err());
    assert!(
        s.standin.requests() > before,
        "the engine asked the stand-in"
    );
    assert_eq!(s.standin.authorizations_for(&repo), Vec::<String>::new());

    // A build FROM the stand-in, with both registries' credentials in its X-Registry-Config.
    let d = s
        .docker_with(AuthConfig::default())
        .with_registry_credentials(vec![s.first.credentials(), s.second.credentials()]);
    let tag = common::unique_name("s2i-test-built");
    s.cleanup.image(&tag);
    let (repo, base) = s.standin_image();
    let before = s.standin.requests();
    let context = common::build_context_tar(&format!("FROM {base}\n"), &[]);
    let e = d
        .build_image(BuildImageOptions {
            name: tag,
            stdin: Some(Box::new(std::io::Cursor::new(context))),
            ..Default::default()
        })
        .unwrap_err();
    let text = e.to_string_with_causes().to_lowercase();
    assert!(
        text.contains("unauthorized") || text.contains("no basic auth credentials"),
        "{text}"
    );
    assert!(
        s.standin.requests() > before,
        "the engine asked the stand-in"
    );
    assert_eq!(s.standin.authorizations_for(&repo), Vec::<String>::new());
    s.assert_standin_clean();
}
