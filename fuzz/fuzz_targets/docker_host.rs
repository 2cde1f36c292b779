//! Docker host strings (`Host::parse`), `DOCKER_HOST` as `new_engine_api_client` takes it, and
//! API versions (`EngineClient::with_api_version`, as `DOCKER_API_VERSION` is read): no panic; a
//! parsed host prints to a string that parses back to it; the client builds exactly when the
//! host parses, with that host; a version is taken exactly when it is `[v]<digits>.<digits>`
//! and not older than 1.30.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::transport::Host;
use s2i_docker::{new_engine_api_client, DockerConfig};

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

    // What `get_default_docker_config` makes of a set DOCKER_HOST (taken as it is) goes to
    // `new_engine_api_client`. The variable itself is not set here: glibc keeps every value
    // ever given to setenv, so setting it on each input would grow the process without bound.
    let config = DockerConfig {
        endpoint: host.to_string(),
        ..DockerConfig::default()
    };
    match new_engine_api_client(&config) {
        Ok(client) => {
            // No TLS asked for: the client's host is parsed without it (port 2375 by default).
            assert_eq!(Some(client.host()), Host::parse(host, false).as_ref().ok());
            let pinned = client.with_api_version(version);
            let v = version.strip_prefix('v').unwrap_or(version);
            let well_formed = v.split_once('.').is_some_and(|(a, b)| {
                [a, b]
                    .iter()
                    .all(|p| p.bytes().all(|c| c.is_ascii_digit()) && p.parse::<u32>().is_ok())
            });
            // Versions older than the client's oldest are refused.
            let supported = well_formed
                && v.split_once('.').is_some_and(|(a, b)| {
                    (a.parse::<u32>().unwrap_or(0), b.parse::<u32>().unwrap_or(0)) >= (1, 30)
                });
            if pinned.is_ok() != supported {
                panic!("API version {version:?}: {:?}", pinned.err());
            }
        }
        Err(e) => assert!(Host::parse(host, false).is_err(), "{host:?}: {e}"),
    }
});
