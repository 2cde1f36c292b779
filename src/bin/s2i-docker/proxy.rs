//! The HTTP proxy of a URL, from the environment as Go's `http.ProxyFromEnvironment` (through
//! which the reference posts its callback) reads it: `HTTP_PROXY` (or `http_proxy`) for an
//! `http://` URL and `HTTPS_PROXY` (or `https_proxy`) for an `https://` one, unless the host is
//! `localhost`, a loopback address, or named by `NO_PROXY` (or `no_proxy`).
//!
//! `NO_PROXY` is a comma-separated list of `*` (no proxy at all), domain names (`example.com`
//! matches it and its subdomains, `.example.com` and `*.example.com` its subdomains only), IP
//! addresses and CIDR blocks (`10.0.0.0/8`), each name or address with an optional `:port`.
//! A proxy is `http://[user:password@]host[:port]` (the scheme may be left out; the port is 80
//! by default); its credentials go in a `Proxy-Authorization` header and are never shown.

use std::net::IpAddr;

use base64::Engine as _;

/// A proxy to send requests through.
pub struct Proxy {
    /// `host:port`, to connect to.
    pub authority: String,
    /// The `Proxy-Authorization` header's value, when the proxy's URL has credentials.
    pub authorization: Option<String>,
}

impl std::fmt::Debug for Proxy {
    /// Without the credentials.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Proxy(http://{})", self.authority)
    }
}

/// The proxy for a request to `host` (as a URL writes it: a name, an IPv4 address, or an IPv6
/// one in brackets) on `port` over `scheme`, reading the environment through `env`; `None`
/// for a direct connection.
///
/// # Errors
/// A proxy that is not an `http://` URL, or `HTTP_PROXY` in a CGI program (`REQUEST_METHOD`
/// set: a request's `Proxy:` header would have set it), which Go refuses too.
pub fn for_url(
    scheme: &str,
    host: &str,
    port: u16,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, String> {
    let any = |names: [&str; 2]| {
        names
            .into_iter()
            .find_map(|n| env(n).filter(|v| !v.is_empty()))
    };
    let proxy = match scheme {
        "https" => any(["HTTPS_PROXY", "https_proxy"]),
        _ => any(["HTTP_PROXY", "http_proxy"]),
    };
    let Some(proxy) = proxy else { return Ok(None) };
    if scheme == "http" && env("REQUEST_METHOD").is_some_and(|v| !v.is_empty()) {
        return Err("refusing to use HTTP_PROXY value in CGI environment".into());
    }
    let host = host.to_ascii_lowercase();
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let ip = bare.parse::<IpAddr>().ok();
    if host == "localhost" || ip.is_some_and(|ip| ip.is_loopback()) {
        return Ok(None);
    }
    let no_proxy = any(["NO_PROXY", "no_proxy"]).unwrap_or_default();
    if no_proxy
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .any(|entry| excluded(&entry, bare, ip, port))
    {
        return Ok(None);
    }
    parse(&proxy).map(Some)
}

/// Whether the `NO_PROXY` entry (lowercase) names `host` (lowercase, without brackets) on `port`.
fn excluded(entry: &str, host: &str, ip: Option<IpAddr>, port: u16) -> bool {
    if entry == "*" {
        return true;
    }
    if let Some((net, bits)) = entry.split_once('/') {
        return match (net.parse::<IpAddr>(), bits.parse::<u32>(), ip) {
            (Ok(net), Ok(bits), Some(ip)) => in_block(ip, net, bits),
            _ => false,
        };
    }
    // An address or name, with or without a port.
    let (name, entry_port) = split_port(entry);
    if entry_port.is_some_and(|p| p != port) {
        return false;
    }
    let name = name.trim_start_matches('[').trim_end_matches(']');
    if let Ok(address) = name.parse::<IpAddr>() {
        return ip == Some(address);
    }
    let name = name.strip_prefix('*').unwrap_or(name);
    match name.strip_prefix('.') {
        Some(_) => host.ends_with(name),
        None => host == name || host.strip_suffix(name).is_some_and(|h| h.ends_with('.')),
    }
}

/// `name:port` as the name and the port, when the part after the last colon is a port (an IPv6
/// address without brackets has colons of its own).
fn split_port(entry: &str) -> (&str, Option<u16>) {
    match entry.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') || name.ends_with(']') => {
            match port.parse::<u16>() {
                Ok(p) => (name, Some(p)),
                Err(_) => (entry, None),
            }
        }
        _ => (entry, None),
    }
}

/// Whether `ip` is in the block `net/bits`.
fn in_block(ip: IpAddr, net: IpAddr, bits: u32) -> bool {
    let (ip, net, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => (u128::from(u32::from(a)), u128::from(u32::from(n)), 32),
        (IpAddr::V6(a), IpAddr::V6(n)) => (u128::from(a), u128::from(n), 128),
        _ => return false,
    };
    if bits > width {
        return false;
    }
    let mask = match width - bits {
        128 => 0,
        host_bits => (u128::MAX << host_bits) & (u128::MAX >> (128 - width)),
    };
    ip & mask == net & mask
}

/// A proxy's URL: `[http://][user:password@]host[:port][/]`.
fn parse(url: &str) -> Result<Proxy, String> {
    let rest = match url.split_once("://") {
        None => url,
        Some(("http", rest)) => rest,
        // The scheme alone: the rest may hold credentials.
        Some((scheme, _)) => {
            return Err(format!(
                "the proxy's scheme {scheme:?} is not supported: only http:// proxies are"
            ))
        }
    };
    let rest = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let (userinfo, host) = match rest.rsplit_once('@') {
        Some((userinfo, host)) => (Some(userinfo), host),
        None => (None, rest),
    };
    if host.is_empty() {
        return Err("the proxy's URL names no host".into());
    }
    let authority = match split_port(host) {
        (_, Some(_)) => host.to_string(),
        _ => format!("{host}:80"),
    };
    let authorization = userinfo.map(basic_authorization);
    Ok(Proxy {
        authority,
        authorization,
    })
}

/// The Basic `Authorization` (or `Proxy-Authorization`) value of a URL's `user[:password]`,
/// percent-encoded as a URL holds it.
pub fn basic_authorization(userinfo: &str) -> String {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let credentials = format!("{}:{}", percent_decoded(user), percent_decoded(password));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// `%XX` escapes decoded (a malformed one is kept as it is).
fn percent_decoded(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_escapes_are_decoded_and_malformed_ones_kept() {
        assert_eq!(percent_decoded("a%2Fb%zz%"), "a/b%zz%");
    }

    fn proxy_of(url_host: &str, port: u16, vars: &[(&str, &str)]) -> Option<String> {
        let env = |name: &str| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        };
        for_url("http", url_host, port, &env)
            .unwrap()
            .map(|p| p.authority)
    }

    #[test]
    fn the_environment_names_the_proxy() {
        let p = [("HTTP_PROXY", "proxy.corp:3128")];
        assert_eq!(
            proxy_of("hooks.example.com", 80, &p).as_deref(),
            Some("proxy.corp:3128")
        );
        assert_eq!(
            proxy_of("h", 80, &[("http_proxy", "http://p/")]).as_deref(),
            Some("p:80")
        );
        // Upper case first; an empty value is no value.
        let both = [("HTTP_PROXY", "upper:1"), ("http_proxy", "lower:2")];
        assert_eq!(proxy_of("h", 80, &both).as_deref(), Some("upper:1"));
        let empty = [("HTTP_PROXY", ""), ("http_proxy", "lower:2")];
        assert_eq!(proxy_of("h", 80, &empty).as_deref(), Some("lower:2"));
        assert_eq!(proxy_of("h", 80, &[]), None);
        // HTTPS_PROXY is for https:// URLs only.
        assert_eq!(proxy_of("h", 80, &[("HTTPS_PROXY", "p:1")]), None);
        let env = |n: &str| (n == "HTTPS_PROXY").then(|| "p:1".to_string());
        assert_eq!(
            for_url("https", "h", 443, &env).unwrap().unwrap().authority,
            "p:1"
        );
    }

    #[test]
    fn local_hosts_and_no_proxy_go_direct() {
        let with = |no_proxy: &'static str| {
            move |host: &str, port: u16| {
                proxy_of(host, port, &[("HTTP_PROXY", "p:1"), ("NO_PROXY", no_proxy)]).is_none()
            }
        };
        let none = with("");
        assert!(none("localhost", 80) && none("127.0.0.1", 80) && none("[::1]", 80));
        assert!(!none("example.com", 80) && !none("10.1.2.3", 80));
        let direct = with(
            " Example.com, .sub.org,*.star.net ,10.0.0.0/8, 192.168.1.1:8080,[fd00::1],x.io:81",
        );
        assert!(direct("example.com", 80) && direct("a.b.example.com", 80));
        assert!(!direct("notexample.com", 80));
        assert!(direct("a.sub.org", 80) && !direct("sub.org", 80));
        assert!(direct("a.star.net", 80) && !direct("star.net", 80));
        assert!(direct("10.200.0.1", 80) && !direct("11.0.0.1", 80));
        assert!(direct("192.168.1.1", 8080) && !direct("192.168.1.1", 80));
        assert!(direct("[fd00::1]", 80) && !direct("[fd00::2]", 80));
        assert!(direct("x.io", 81) && !direct("x.io", 80));
        assert!(with("*")("anything", 80));
        let v6 = with("fd00::/16");
        assert!(v6("[fd00:1::5]", 80) && !v6("[fe80::1]", 80) && !v6("10.0.0.1", 80));
        assert!(with("0.0.0.0/0")("1.2.3.4", 80));
    }

    #[test]
    fn credentials_are_sent_and_never_shown() {
        let env = |n: &str| (n == "HTTP_PROXY").then(|| "http://us%40r:p%3Ass@p:3128".to_string());
        let proxy = for_url("http", "h", 80, &env).unwrap().unwrap();
        assert_eq!(proxy.authority, "p:3128");
        let expected = base64::engine::general_purpose::STANDARD.encode("us@r:p:ss");
        assert_eq!(proxy.authorization, Some(format!("Basic {expected}")));
        let shown = format!("{proxy:?}");
        assert!(!shown.contains("ss") && !shown.contains("us"), "{shown}");
    }

    #[test]
    fn what_is_not_taken_is_said() {
        let with = |v: &'static str| move |n: &str| (n == "HTTP_PROXY").then(|| v.to_string());
        let e = for_url("http", "h", 80, &with("socks5://u:secret@p:1080")).unwrap_err();
        assert!(
            e.contains("only http:// proxies") && !e.contains("secret"),
            "{e}"
        );
        assert!(for_url("http", "h", 80, &with("http://u@/")).is_err());
        let cgi = |n: &str| match n {
            "HTTP_PROXY" => Some("p:1".to_string()),
            "REQUEST_METHOD" => Some("GET".to_string()),
            _ => None,
        };
        assert!(for_url("http", "h", 80, &cgi)
            .unwrap_err()
            .contains("CGI environment"));
    }
}
