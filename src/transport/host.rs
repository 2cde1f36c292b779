//! Docker host strings: `unix:///path`, `tcp://host[:port][/base]` and `ssh://[user@]host[:port]`,
//! parsed as the docker CLI parses `DOCKER_HOST`, and the `Host` header each kind of host sends.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The port of a plain-HTTP engine (`dockerd -H tcp://0.0.0.0:2375`).
pub const DEFAULT_HTTP_PORT: u16 = 2375;
/// The port of a TLS engine (`dockerd --tlsverify -H tcp://0.0.0.0:2376`).
pub const DEFAULT_TLS_PORT: u16 = 2376;

/// Where the engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A Unix socket, e.g. `/var/run/docker.sock`.
    Unix(PathBuf),
    /// A TCP endpoint.
    Tcp {
        /// A host name or an IP address (IPv6 without brackets, e.g. `::1`).
        host: String,
        /// The port.
        port: u16,
        /// A path prefix put before every request target (`""`, or e.g. `/docker`; never ends
        /// with `/`).
        base_path: String,
    },
    /// An engine reached through the system `ssh` client, which runs `docker system dial-stdio` on
    /// the remote host (as the docker CLI does for `ssh://` hosts).
    Ssh {
        /// The remote user (`ssh -l`); `None` leaves it to ssh (its configuration, or the local
        /// user name).
        user: Option<String>,
        /// A host name, an alias of the ssh configuration, or an IP address (IPv6 without
        /// brackets).
        host: String,
        /// The port (`ssh -p`); `None` leaves it to ssh (its configuration, or 22).
        port: Option<u16>,
    },
}

impl Host {
    /// Parses a docker host string (`DOCKER_HOST`).
    ///
    /// - `unix:///var/run/docker.sock` (everything after `unix://` is the socket path);
    /// - `tcp://host[:port][/base]`: the port defaults to 2375, or 2376 when `tls` is set; an IPv6
    ///   address goes in brackets (`tcp://[::1]:2375`); an empty host means `localhost` (as the
    ///   docker CLI does); a path becomes a prefix of every request target.
    /// - `ssh://[user@]host[:port]`: user and port are passed to `ssh` when given, otherwise ssh's
    ///   configuration decides; an IPv6 address goes in brackets. `tls` plays no part.
    ///
    /// ```
    /// use s2i_docker::transport::Host;
    ///
    /// let host = Host::parse("ssh://builder@docker.example.com:2222", false)?;
    /// assert_eq!(
    ///     host,
    ///     Host::Ssh {
    ///         user: Some("builder".into()),
    ///         host: "docker.example.com".into(),
    ///         port: Some(2222),
    ///     }
    /// );
    /// let err = Host::parse("ssh://docker.example.com/var/run/docker.sock", false).unwrap_err();
    /// assert_eq!(
    ///     err.to_string(),
    ///     "unable to parse docker host `ssh://docker.example.com/var/run/docker.sock`: \
    ///      extra path after the host: \"/var/run/docker.sock\" (an ssh:// host reaches the \
    ///      remote engine's default socket; set DOCKER_HOST on the remote host to choose another)"
    /// );
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] with ``unable to parse docker host `<s>` `` when there is no `://`,
    /// the scheme is not `unix`, `tcp` or `ssh`, the port is not a number in 1-65535, or the
    /// address carries something a docker host cannot (user info on `tcp://`, a query, a
    /// fragment, spaces); for `ssh://` the message goes on to say what is wrong (a path, a query,
    /// a password, no host name), in the docker CLI's words where it has them.
    pub fn parse(s: &str, tls: bool) -> Result<Host> {
        let invalid = || Error::InvalidInput(format!("unable to parse docker host `{s}`"));
        let (scheme, rest) = s.split_once("://").ok_or_else(invalid)?;
        match scheme {
            "ssh" => parse_ssh(rest).map_err(|why| {
                Error::InvalidInput(format!("unable to parse docker host `{s}`: {why}"))
            }),
            "unix" => {
                if rest.is_empty() || rest.contains('\0') {
                    return Err(invalid());
                }
                Ok(Host::Unix(PathBuf::from(rest)))
            }
            "tcp" => {
                if rest
                    .bytes()
                    .any(|b| !(0x21..=0x7e).contains(&b) || matches!(b, b'?' | b'#' | b'@' | b'\\'))
                {
                    return Err(invalid());
                }
                let (authority, path) = match rest.find('/') {
                    Some(i) => rest.split_at(i),
                    None => (rest, ""),
                };
                let default_port = if tls {
                    DEFAULT_TLS_PORT
                } else {
                    DEFAULT_HTTP_PORT
                };
                let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
                    let (ip6, after) = bracketed.split_once(']').ok_or_else(invalid)?;
                    if ip6.is_empty() || ip6.parse::<std::net::Ipv6Addr>().is_err() {
                        return Err(invalid());
                    }
                    let port = match after {
                        "" => default_port,
                        p => parse_port(p.strip_prefix(':').ok_or_else(invalid)?)
                            .ok_or_else(invalid)?,
                    };
                    (ip6, port)
                } else {
                    match authority.split_once(':') {
                        Some((h, p)) => (h, parse_port(p).ok_or_else(invalid)?),
                        None => (authority, default_port),
                    }
                };
                if host.contains(['[', ']']) {
                    return Err(invalid());
                }
                let host = if host.is_empty() { "localhost" } else { host };
                Ok(Host::Tcp {
                    host: host.to_string(),
                    port,
                    base_path: path.trim_end_matches('/').to_string(),
                })
            }
            _ => Err(invalid()),
        }
    }

    /// The `Host` header sent on this connection.
    pub(crate) fn header_value(&self) -> String {
        match self {
            Host::Unix(_) => super::UNIX_HOST_HEADER.to_string(),
            Host::Tcp { host, port, .. } if host.contains(':') => format!("[{host}]:{port}"),
            Host::Tcp { host, port, .. } => format!("{host}:{port}"),
            // The request ends on the remote engine's Unix socket, which sees it as a local
            // client's.
            Host::Ssh { .. } => super::UNIX_HOST_HEADER.to_string(),
        }
    }
}

/// The part of an `ssh://` host after the scheme; the error says what is wrong with it.
fn parse_ssh(rest: &str) -> std::result::Result<Host, String> {
    if let Some(bad) = rest.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{bad:?} is not allowed in an ssh:// host"));
    }
    if let Some((_, fragment)) = rest.split_once('#') {
        return Err(format!("fragments are not allowed: {fragment:?}"));
    }
    if let Some((_, query)) = rest.split_once('?') {
        return Err(format!("query parameters are not allowed: {query:?}"));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if !matches!(path, "" | "/") {
        return Err(format!(
            "extra path after the host: {path:?} (an ssh:// host reaches the remote engine's \
             default socket; set DOCKER_HOST on the remote host to choose another)"
        ));
    }
    let (user, address) = match authority.rsplit_once('@') {
        Some((user, address)) => (Some(user), address),
        None => (None, authority),
    };
    let user = match user {
        None => None,
        Some(u) if u.contains(':') => return Err("plain-text password is not supported".into()),
        Some("") => return Err("empty user name before `@`".into()),
        Some(u) if u.contains(['@', '%', '[', ']']) || u.starts_with('-') => {
            return Err(format!("invalid user name {u:?}"))
        }
        Some(u) => Some(u.to_string()),
    };
    let (host, port) = if let Some(bracketed) = address.strip_prefix('[') {
        let (ip6, after) = bracketed
            .split_once(']')
            .ok_or("missing `]` after an IPv6 address")?;
        if ip6.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("invalid IPv6 address {ip6:?}"));
        }
        match after {
            "" => (ip6, None),
            p => match p.strip_prefix(':') {
                Some(p) => (ip6, Some(p)),
                None => return Err(format!("unexpected {p:?} after the address")),
            },
        }
    } else {
        match address.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err("hostname is empty".into());
    }
    // A leading `-` would read as an option if the host ever came before ssh's `--`.
    if host.starts_with('-') || host.contains(['[', ']', '%']) {
        return Err(format!("invalid host name {host:?}"));
    }
    let port = match port {
        None => None,
        Some(p) => Some(parse_port(p).ok_or_else(|| format!("invalid port {p:?}"))?),
    };
    Ok(Host::Ssh {
        user,
        host: host.to_string(),
        port,
    })
}

// Digits only: `u16::from_str` would also take a leading `+`.
fn parse_port(p: &str) -> Option<u16> {
    if p.is_empty() || p.len() > 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    p.parse::<u16>().ok().filter(|&port| port != 0)
}

impl fmt::Display for Host {
    /// The URL form: `unix:///var/run/docker.sock`, `tcp://[::1]:2375/base`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Unix(path) => write!(f, "unix://{}", path.display()),
            Host::Tcp {
                host,
                port,
                base_path,
            } if host.contains(':') => write!(f, "tcp://[{host}]:{port}{base_path}"),
            Host::Tcp {
                host,
                port,
                base_path,
            } => write!(f, "tcp://{host}:{port}{base_path}"),
            Host::Ssh { user, host, port } => {
                f.write_str("ssh://")?;
                if let Some(user) = user {
                    write!(f, "{user}@")?;
                }
                if host.contains(':') {
                    write!(f, "[{host}]")?;
                } else {
                    f.write_str(host)?;
                }
                match port {
                    Some(port) => write!(f, ":{port}"),
                    None => Ok(()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16, base: &str) -> Host {
        Host::Tcp {
            host: host.into(),
            port,
            base_path: base.into(),
        }
    }

    #[test]
    fn parses_good_hosts() {
        let cases: &[(&str, bool, Host, &str)] = &[
            (
                "unix:///var/run/docker.sock",
                false,
                Host::Unix("/var/run/docker.sock".into()),
                "unix:///var/run/docker.sock",
            ),
            (
                "unix://relative.sock",
                false,
                Host::Unix("relative.sock".into()),
                "unix://relative.sock",
            ),
            (
                "tcp://1.2.3.4",
                false,
                tcp("1.2.3.4", 2375, ""),
                "tcp://1.2.3.4:2375",
            ),
            (
                "tcp://1.2.3.4",
                true,
                tcp("1.2.3.4", 2376, ""),
                "tcp://1.2.3.4:2376",
            ),
            (
                "tcp://example.com:1234",
                true,
                tcp("example.com", 1234, ""),
                "tcp://example.com:1234",
            ),
            (
                "tcp://[::1]:2375",
                false,
                tcp("::1", 2375, ""),
                "tcp://[::1]:2375",
            ),
            (
                "tcp://[::1]",
                true,
                tcp("::1", 2376, ""),
                "tcp://[::1]:2376",
            ),
            (
                "tcp://h:80/base/",
                false,
                tcp("h", 80, "/base"),
                "tcp://h:80/base",
            ),
            (
                "tcp://h:80/a/b",
                false,
                tcp("h", 80, "/a/b"),
                "tcp://h:80/a/b",
            ),
            ("tcp://h/", false, tcp("h", 2375, ""), "tcp://h:2375"),
            (
                "tcp://:2375",
                false,
                tcp("localhost", 2375, ""),
                "tcp://localhost:2375",
            ),
        ];
        for (input, tls, want, display) in cases {
            let got = Host::parse(input, *tls).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(&got, want, "{input}");
            assert_eq!(got.to_string(), *display, "{input}");
            // The URL form parses back to the same host.
            assert_eq!(Host::parse(display, *tls).ok().as_ref(), Some(want));
        }
    }

    #[test]
    fn rejects_bad_hosts_quoting_them() {
        for input in [
            "",
            "/var/run/docker.sock",
            "localhost:2375",
            "http://localhost:2375",
            "npipe:////./pipe/docker_engine",
            "unix://",
            "tcp://h:",
            "tcp://h:0",
            "tcp://h:65536",
            "tcp://h:+80",
            "tcp://h:80x",
            "tcp://h:1:2",
            "tcp://[::1",
            "tcp://[::1]x",
            "tcp://[nothex]:1",
            "tcp://user@h:1",
            "tcp://h:1/a?b",
            "tcp://h:1/a b",
            "tcp://::1:2375",
        ] {
            match Host::parse(input, false) {
                Err(Error::InvalidInput(m)) => {
                    assert_eq!(m, format!("unable to parse docker host `{input}`"))
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_prefix_is_handled() {
        // Host strings arrive whole, but no prefix of one may panic or be misread as the whole.
        let input = "tcp://[::1]:2375/base";
        for i in 0..input.len() {
            if let Ok(h) = Host::parse(&input[..i], false) {
                assert_ne!(h.to_string(), input);
            }
        }
        for i in 0..=input.len() {
            let _ = Host::parse(&input[i..], true);
        }
    }

    #[test]
    fn parses_ssh_hosts() {
        let ssh = |user: Option<&str>, host: &str, port: Option<u16>| Host::Ssh {
            user: user.map(String::from),
            host: host.into(),
            port,
        };
        let cases: &[(&str, Host, &str)] = &[
            ("ssh://h", ssh(None, "h", None), "ssh://h"),
            ("ssh://h/", ssh(None, "h", None), "ssh://h"),
            (
                "ssh://me@h:2222",
                ssh(Some("me"), "h", Some(2222)),
                "ssh://me@h:2222",
            ),
            (
                "ssh://me.x-y_z@10.0.0.1",
                ssh(Some("me.x-y_z"), "10.0.0.1", None),
                "ssh://me.x-y_z@10.0.0.1",
            ),
            (
                "ssh://[::1]:22",
                ssh(None, "::1", Some(22)),
                "ssh://[::1]:22",
            ),
            (
                "ssh://u@[fe80::1]",
                ssh(Some("u"), "fe80::1", None),
                "ssh://u@[fe80::1]",
            ),
        ];
        for (input, want, display) in cases {
            for tls in [false, true] {
                let got = Host::parse(input, tls).unwrap_or_else(|e| panic!("{input}: {e}"));
                assert_eq!(&got, want, "{input}");
                assert_eq!(got.to_string(), *display, "{input}");
                assert_eq!(Host::parse(display, tls).ok().as_ref(), Some(want));
            }
        }
        assert_eq!(ssh(None, "h", None).header_value(), "api.moby.localhost");
    }

    #[test]
    fn rejects_bad_ssh_hosts_saying_why() {
        let cases = [
            ("ssh://", "hostname is empty"),
            ("ssh://u@", "hostname is empty"),
            ("ssh://:22", "hostname is empty"),
            (
                "ssh://h/var/run/docker.sock",
                "extra path after the host: \"/var/run/docker.sock\"",
            ),
            (
                "ssh://h?socket=/x",
                "query parameters are not allowed: \"socket=/x\"",
            ),
            ("ssh://h/?x", "query parameters are not allowed: \"x\""),
            ("ssh://h#top", "fragments are not allowed: \"top\""),
            ("ssh://u:secret@h", "plain-text password is not supported"),
            ("ssh://@h", "empty user name before `@`"),
            (
                "ssh://-oProxyCommand=x@h",
                "invalid user name \"-oProxyCommand=x\"",
            ),
            ("ssh://a@b@h", "invalid user name \"a@b\""),
            (
                "ssh://-oProxyCommand=x",
                "invalid host name \"-oProxyCommand=x\"",
            ),
            ("ssh://h:0", "invalid port \"0\""),
            ("ssh://h:", "invalid port \"\""),
            ("ssh://h:22:1", "invalid port \"22:1\""),
            ("ssh://h:ssh", "invalid port \"ssh\""),
            ("ssh://[::1", "missing `]` after an IPv6 address"),
            ("ssh://[nothex]", "invalid IPv6 address \"nothex\""),
            ("ssh://[::1]x", "unexpected \"x\" after the address"),
            ("ssh://h x", "' ' is not allowed in an ssh:// host"),
            ("ssh://h\n", "'\\n' is not allowed in an ssh:// host"),
        ];
        for (input, why) in cases {
            match Host::parse(input, false) {
                Err(Error::InvalidInput(m)) => {
                    let want = format!("unable to parse docker host `{input}`: {why}");
                    assert!(m.starts_with(&want), "{input}: {m}")
                }
                other => panic!("{input}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_ssh_variant_that_parses_prints_back_to_itself() {
        let users = [
            "", "u@", "a.b-c@", "\u{fc}@", "u:p@", "@", "a@b@", "-u@", "u%40@",
        ];
        let hosts = [
            "h", "[::1]", "1.2.3.4", "", "-x", "h:1", "[::1]:2", "h:", "h:99999", "[h]",
        ];
        let tails = ["", "/", "/p", "?q", "#f", " ", "/?x"];
        let mut parsed = 0;
        for user in users {
            for host in hosts {
                for tail in tails {
                    let input = format!("ssh://{user}{host}{tail}");
                    let Ok(h) = Host::parse(&input, false) else {
                        continue;
                    };
                    parsed += 1;
                    let shown = h.to_string();
                    assert_eq!(
                        Host::parse(&shown, true).ok(),
                        Some(h),
                        "{input} -> {shown}"
                    );
                }
            }
        }
        assert_eq!(parsed, 4 * 5 * 2, "the valid users x hosts x tails");
    }

    #[test]
    fn host_headers() {
        assert_eq!(Host::Unix("/x".into()).header_value(), "api.moby.localhost");
        assert_eq!(tcp("::1", 5, "").header_value(), "[::1]:5");
        assert_eq!(tcp("h", 5, "/b").header_value(), "h:5");
    }
}
