//! Registry secrets stay out of logs, errors and `Debug` output.
//!
//! Pulls with a password, with an identity token, with credentials from a credential helper
//! (scripts in a temporary directory speaking the docker-credential-helpers protocol), from a
//! `config.json` `auth` entry, and failed logins (a wrong password, a token the registry does
//! not take, a helper that fails while printing its secret), all against [`FakeEngine`] with a
//! registry that wants a user name and password. A logger captures every record at `trace`
//! level from every thread of this test binary.
//!
//! Asserted: no secret, nor its base64 (standard and URL-safe, padded or not), nor the base64
//! of `user:secret`, nor any `X-Registry-Auth` value the engine received, appears in a log
//! line, in an error's `Display` or `Debug`, or in the `Debug` of the values involved
//! (`AuthConfig`, `AuthConfigurations`, `ImagePullOptions`, `DockerClient`, `EngineClient`).
//!
//! The credential helpers are found on `PATH`, which their test extends with their temporary
//! directory while it runs (and restores, removing the directory, when it ends); the tests run
//! one at a time.
#![cfg(feature = "fake")]

use std::fmt::Debug;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;

use s2i_docker::auth::encode_auth;
use s2i_docker::fake::engine::{FakeEngine, FakeImage, RunningFake};
use s2i_docker::ops::image::ImagePullOptions;
use s2i_docker::{
    get_image_registry_auth, load_image_registry_auth, pull_image, AuthConfig, AuthConfigurations,
    Docker, DockerClient, Error, PullPolicy,
};

const REGISTRY: &str = "registry.test:5000";
const OPEN_REGISTRY: &str = "open.test:5000";
const USER: &str = "s2i-user";
const PASSWORD: &str = "pw-Hunter2?>~Secret";
const WRONG_PASSWORD: &str = "pw-Wrong?>~Guess";
const IDENTITY_TOKEN: &str = "idt-Opaque+/Token?>~";
const HELPER_TOKEN: &str = "hlp-Token+/From?>~Helper";
const REGISTRY_TOKEN: &str = "rgt-Bearer+/Token?>~";

/// Every secret of these tests.
const SECRETS: &[&str] = &[
    PASSWORD,
    WRONG_PASSWORD,
    IDENTITY_TOKEN,
    HELPER_TOKEN,
    REGISTRY_TOKEN,
];

// ---------------------------------------------------------------------------------------------
// the logger

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!(
            "{} {} {}:{} {}",
            record.level(),
            record.target(),
            record.file().unwrap_or("?"),
            record.line().unwrap_or(0),
            record.args()
        );
        LINES.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    fn flush(&self) {}
}

/// Installs the logger (once), and runs the tests one at a time.
fn setup() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    static ONCE: OnceLock<()> = OnceLock::new();
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    ONCE.get_or_init(|| {
        log::set_logger(&Capture).expect("the only logger of this binary");
        log::set_max_level(log::LevelFilter::Trace);
    });
    guard
}

fn log_lines() -> Vec<String> {
    LINES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

// ---------------------------------------------------------------------------------------------
// credential helpers

/// The credential helpers, in a temporary directory put first on `PATH`: `s2ipass` answers the
/// user and password, `s2itoken` an identity token (user `<token>`), `s2ibroken` prints its
/// secret on both streams and fails. Dropped, it restores `PATH` and removes the directory.
struct CredentialHelpers {
    dir: PathBuf,
    path: Option<std::ffi::OsString>,
}

impl CredentialHelpers {
    fn install() -> CredentialHelpers {
        let dir = std::env::temp_dir().join(format!(
            "s2i-secrets-helpers-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos()
        ));
        std::fs::create_dir_all(&dir).expect("helpers directory");
        let credential_helpers = CredentialHelpers {
            path: std::env::var_os("PATH"),
            dir,
        };
        // `get` reads the server URL on stdin and answers {ServerURL, Username, Secret}.
        let answer = |user: &str, secret: &str| {
            format!(
                "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread -r server\n\
                 printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}\\n' \"$server\"\n"
            )
        };
        let scripts = [
            ("s2ipass", answer(USER, PASSWORD)),
            ("s2itoken", answer("<token>", HELPER_TOKEN)),
            (
                "s2ibroken",
                format!(
                    "#!/bin/sh\necho \"partial {{\\\"Secret\\\":\\\"{PASSWORD}\\\"\"\n\
                     echo \"cannot reach keychain, secret {PASSWORD}\" >&2\nexit 3\n"
                ),
            ),
        ];
        for (name, script) in scripts {
            let path = credential_helpers
                .dir
                .join(format!("docker-credential-{name}"));
            let mut f = std::fs::File::create(&path).expect("write a helper");
            f.write_all(script.as_bytes()).expect("write a helper");
            drop(f);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .expect("chmod a helper");
        }
        let mut path = credential_helpers.dir.clone().into_os_string();
        if let Some(old) = &credential_helpers.path {
            path.push(":");
            path.push(old);
        }
        std::env::set_var("PATH", path);
        credential_helpers
    }
}

impl Drop for CredentialHelpers {
    fn drop(&mut self) {
        match &self.path {
            Some(p) => std::env::set_var("PATH", p),
            None => std::env::remove_var("PATH"),
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A docker `config.json` naming `helper` for [`REGISTRY`] (or, with `None`, an `auths` entry
/// with `auth` = base64 of `user:password`).
fn auth_configurations(helper: Option<&str>) -> AuthConfigurations {
    let json = match helper {
        Some(name) => format!(r#"{{"credHelpers":{{"{REGISTRY}":"{name}"}}}}"#),
        None => {
            let auth = STANDARD.encode(format!("{USER}:{PASSWORD}"));
            format!(r#"{{"auths":{{"{REGISTRY}":{{"auth":"{auth}"}}}}}}"#)
        }
    };
    load_image_registry_auth(json.as_bytes()).expect("a valid config.json")
}

// ---------------------------------------------------------------------------------------------
// the engine and the checks

fn engine() -> RunningFake {
    FakeEngine::new()
        .registry_login(REGISTRY, USER, PASSWORD)
        .registry_image(&format!("{REGISTRY}/app:1"), FakeImage::default())
        .registry_image(&format!("{OPEN_REGISTRY}/app:1"), FakeImage::default())
        .serve_in_memory()
        .expect("fake engine")
}

fn docker(fake: &RunningFake, auth: AuthConfig) -> DockerClient {
    let client = fake.client().expect("client of the fake engine");
    DockerClient::new(Arc::new(client), auth).with_pull_retry_delay(Duration::from_millis(1))
}

/// Every text that must not be shown: the secrets, their base64 forms, `user:secret` in base64,
/// and the `X-Registry-Auth` values the engine received.
fn forbidden(fake: &RunningFake) -> Vec<String> {
    let mut out = Vec::new();
    for s in SECRETS {
        let pair = format!("{USER}:{s}");
        for text in [s.to_string(), pair] {
            let bytes = text.as_bytes();
            out.push(STANDARD.encode(bytes));
            out.push(URL_SAFE.encode(bytes));
            out.push(STANDARD_NO_PAD.encode(bytes));
            out.push(URL_SAFE_NO_PAD.encode(bytes));
        }
        out.push(s.to_string());
    }
    let headers: Vec<String> = fake
        .requests()
        .iter()
        .filter_map(|r| r.header("X-Registry-Auth").map(str::to_string))
        .filter(|v| v.len() > 8)
        .collect();
    assert!(!headers.is_empty(), "no request carried X-Registry-Auth");
    out.extend(headers);
    out
}

#[track_caller]
fn assert_clean(what: &str, text: &str, forbidden: &[String]) {
    for f in forbidden {
        assert!(!text.contains(f.as_str()), "{what} shows {f:?}: {text}");
    }
}

#[track_caller]
fn assert_debug_clean(what: &str, value: &impl Debug, forbidden: &[String]) {
    assert_clean(what, &format!("{value:?}"), forbidden);
    assert_clean(what, &format!("{value:#?}"), forbidden);
}

/// The error and every cause in its chain, `Display` and `Debug`.
#[track_caller]
fn assert_error_clean(what: &str, e: &Error, forbidden: &[String]) {
    assert_debug_clean(what, e, forbidden);
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        assert_clean(what, &format!("{c} / {c:?}"), forbidden);
        cause = c.source();
    }
}

/// Every log line so far is clean, and there are some: the pulls log at `info` and `debug`.
#[track_caller]
fn assert_logs_clean(forbidden: &[String]) {
    let lines = log_lines();
    assert!(lines.len() > 3, "{lines:?}");
    for line in &lines {
        assert_clean("a log line", line, forbidden);
    }
}

/// The values a pull with `auth` involves, each `Debug` clean.
fn assert_values_clean(auth: &AuthConfig, d: &DockerClient, fake: &RunningFake, f: &[String]) {
    assert_debug_clean("AuthConfig", auth, f);
    assert_debug_clean("DockerClient", d, f);
    assert_debug_clean("EngineClient", &fake.client().unwrap(), f);
    let header = encode_auth(auth).unwrap();
    let options = ImagePullOptions {
        registry_auth: header,
        ..Default::default()
    };
    assert_debug_clean("ImagePullOptions", &options, f);
}

// ---------------------------------------------------------------------------------------------
// the tests

#[test]
fn pulls_with_a_password_and_a_config_file() {
    let _serial = setup();
    let fake = engine();
    let auth = AuthConfig {
        username: USER.into(),
        password: PASSWORD.into(),
        server_address: REGISTRY.into(),
        registry_token: REGISTRY_TOKEN.into(),
        ..Default::default()
    };
    let d = docker(&fake, auth.clone());
    let image = format!("{REGISTRY}/app:1");
    d.pull_image(&image).expect("a pull with the password");
    let result = pull_image(&image, &d, PullPolicy::Always).expect("pull_image");

    // The same credentials from a config file's `auths` entry.
    let auths = auth_configurations(None);
    let from_file = get_image_registry_auth(Some(&auths), &image);
    assert_eq!(from_file.password, PASSWORD);
    let d2 = docker(&fake, from_file.clone());
    d2.pull_image(&image)
        .expect("a pull with the file's credentials");

    let f = forbidden(&fake);
    // The checks catch what they look for.
    for probe in [
        format!("x{PASSWORD}x"),
        format!("x{}x", URL_SAFE_NO_PAD.encode(PASSWORD)),
        format!("x{}x", STANDARD.encode(format!("{USER}:{PASSWORD}"))),
        format!("x{}x", encode_auth(&auth).unwrap()),
    ] {
        let caught = std::panic::catch_unwind(|| assert_clean("probe", &probe, &f));
        assert!(caught.is_err(), "{probe} passes the checks");
    }
    assert_debug_clean("PullResult", &result, &f);
    assert_debug_clean("AuthConfigurations", &auths, &f);
    assert_values_clean(&auth, &d, &fake, &f);
    assert_values_clean(&from_file, &d2, &fake, &f);
    assert_logs_clean(&f);
}

#[test]
fn pulls_with_an_identity_token() {
    let _serial = setup();
    let fake = engine();
    let auth = AuthConfig {
        identity_token: IDENTITY_TOKEN.into(),
        server_address: OPEN_REGISTRY.into(),
        ..Default::default()
    };
    let d = docker(&fake, auth.clone());
    d.pull_image(&format!("{OPEN_REGISTRY}/app:1"))
        .expect("a pull with the token from an open registry");
    // The registry that wants a password does not take the token.
    let e = d.pull_image(&format!("{REGISTRY}/app:1")).unwrap_err();
    assert!(format!("{e:?}").contains("unauthorized"), "{e:?}");
    let f = forbidden(&fake);
    assert_error_clean("the refused token's error", &e, &f);
    assert_values_clean(&auth, &d, &fake, &f);
    assert_logs_clean(&f);
}

#[test]
fn pulls_with_credential_helpers() {
    let _serial = setup();
    let credential_helpers = CredentialHelpers::install();
    let fake = engine();
    let image = format!("{REGISTRY}/app:1");

    let by_password = auth_configurations(Some("s2ipass"));
    let auth = get_image_registry_auth(Some(&by_password), &image);
    assert_eq!(
        (auth.username.as_str(), auth.password.as_str()),
        (USER, PASSWORD)
    );
    let d = docker(&fake, auth.clone());
    d.pull_image(&image)
        .expect("a pull with the helper's password");

    let by_token = auth_configurations(Some("s2itoken"));
    let token_auth = by_token
        .get_registry_auth(REGISTRY)
        .expect("the helper answers")
        .expect("credentials");
    assert_eq!(token_auth.identity_token, HELPER_TOKEN);
    let d2 = docker(&fake, token_auth.clone());
    let e = d2.pull_image(&image).unwrap_err();

    // A helper that fails, having printed its secret on both streams.
    let broken = auth_configurations(Some("s2ibroken"));
    let helper_error = broken.get_registry_auth(REGISTRY).unwrap_err();
    let fallback = get_image_registry_auth(Some(&broken), &image);
    assert!(fallback.is_empty(), "{fallback:?}");

    let f = forbidden(&fake);
    let lines = log_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains("docker-credential-s2ibroken")),
        "the failed helper is logged: {lines:#?}"
    );
    assert_error_clean("the token pull's error", &e, &f);
    assert_error_clean("the failed helper's error", &helper_error, &f);
    for (what, auths) in [
        ("s2ipass", &by_password),
        ("s2itoken", &by_token),
        ("s2ibroken", &broken),
    ] {
        assert_debug_clean(what, auths, &f);
    }
    assert_values_clean(&auth, &d, &fake, &f);
    assert_values_clean(&token_auth, &d2, &fake, &f);
    assert_logs_clean(&f);
    let dir = credential_helpers.dir.clone();
    drop(credential_helpers);
    assert!(!dir.exists());
}

#[test]
fn failed_logins() {
    let _serial = setup();
    let fake = engine();
    let image = format!("{REGISTRY}/app:1");
    let wrong = AuthConfig {
        username: USER.into(),
        password: WRONG_PASSWORD.into(),
        server_address: REGISTRY.into(),
        ..Default::default()
    };
    let d = docker(&fake, wrong.clone());
    let e = d.pull_image(&image).unwrap_err();
    assert!(format!("{e:?}").contains("unauthorized"), "{e:?}");
    let e2 = pull_image(&image, &d, PullPolicy::IfNotPresent).unwrap_err();
    // No credentials at all: refused too.
    let anonymous = docker(&fake, AuthConfig::default());
    let e3 = anonymous.pull_image(&image).unwrap_err();
    let f = forbidden(&fake);
    for (what, e) in [
        ("wrong password", &e),
        ("pull_image", &e2),
        ("anonymous", &e3),
    ] {
        assert_error_clean(what, e, &f);
    }
    assert_values_clean(&wrong, &d, &fake, &f);
    assert_logs_clean(&f);
}
