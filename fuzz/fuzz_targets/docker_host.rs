//! Docker host strings (`Host::parse`) and the engine from the environment (`DOCKER_HOST`,
//! `DOCKER_API_VERSION` read by `get_default_docker_config` and `new_engine_api_client`): no
//! panic; a parsed host prints to a string that parses back to it; the client's host is the
//! parsed one; the client builds exactly when the host and the version parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::transport::Host;
use s2i_docker::{get_default_docker_config, new_engine_api_client};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let (host, version) = text.split_once('\n').unwrap_or((&text, ""));
    let tls = flags & 1 != 0;
    let parsed = Host::parse(host, tls);
    if let Ok(h) = &parsed {
        let shown = h.to_string();
        assert_eq!(
            Host::parse(&shown, tls).as_ref().ok(),
            Some(h),
            "{host:?} shown as {shown:?}"
        );
        if let Host::Tcp {
            port, base_path, ..
        } = h
        {
            assert!(*port != 0 && !base_path.ends_with('/'));
        }
    }

    // From the environment: a set DOCKER_HOST is taken as it is (no socket is probed).
    if host.is_empty() || host.contains('\0') || version.contains('\0') {
        return;
    }
    std::env::set_var("DOCKER_HOST", host);
    std::env::set_var("DOCKER_API_VERSION", version);
    std::env::remove_var("DOCKER_TLS_VERIFY");
    std::env::remove_var("DOCKER_TLS");
    let config = get_default_docker_config();
    assert_eq!(config.endpoint, host);
    assert!(!config.use_tls && !config.tls_verify && config.tried_endpoints.is_empty());
    match new_engine_api_client(&config) {
        Ok(client) => {
            // No DOCKER_TLS*: the client's host is parsed without TLS (port 2375 by default).
            assert_eq!(Some(client.host()), Host::parse(host, false).as_ref().ok());
            let again = client.with_api_version(version);
            assert!(
                version.is_empty() || again.is_ok(),
                "{version:?} pinned but refused"
            );
        }
        Err(e) => {
            let version_ok = version.is_empty()
                || new_engine_api_client(&s2i_docker::DockerConfig {
                    endpoint: "unix:///fuzz.sock".into(),
                    ..config.clone()
                })
                .is_ok();
            assert!(
                Host::parse(host, false).is_err() || !version_ok,
                "{host:?} {version:?}: {e}"
            );
        }
    }
});
