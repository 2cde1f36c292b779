//! Requests to `http://` and `https://` URLs, the callback's and the scripts': the route to
//! the URL (through the proxy the environment names for it, see [`proxy`](crate::proxy), as the
//! reference's Go client goes), and the download of a URL into a file, following redirects.
//!
//! Every request goes over the library's own transport. `https://` needs the `tls` feature (the
//! static binary is built without it, and says so) and goes directly: a tunnel through a proxy
//! is not made (when `HTTPS_PROXY` names one, the messages say so).

use std::io::{Read, Write};
use std::time::Duration;

use s2i_docker::transport::{Body, Host, Request, Response, Timeouts, TlsSettings, Transport};
use s2i_docker::Error;

/// The time limits of a download.
const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_secs(30),
    response: Some(Duration::from_secs(60)),
    idle: Some(Duration::from_secs(60)),
};

/// How many redirects a download follows, as Go's client.
const MAX_REDIRECTS: usize = 10;

/// Where a request to a URL goes: the transport to the URL's host or to its proxy, the request
/// target (the path and query, or the whole URL for a proxy), and the proxy's credentials.
pub struct Route {
    pub transport: Transport,
    pub target: String,
    pub proxy_authorization: Option<String>,
    /// The `Authorization` header's value, from the URL's `user:password@`, as Go's client
    /// sends it.
    pub authorization: Option<String>,
    /// `host:port` of what is connected to (the URL's host, or the proxy).
    pub authority: String,
}

impl Route {
    /// A request of `method` to the URL with `headers` (and the proxy's credentials).
    pub fn request<'a>(
        &self,
        method: &'static str,
        mut headers: Vec<(&'static str, String)>,
        body: Body<'a>,
        timeouts: Timeouts,
    ) -> Request<'a> {
        if let Some(auth) = &self.proxy_authorization {
            headers.push(("Proxy-Authorization", auth.clone()));
        }
        if let Some(auth) = &self.authorization {
            headers.push(("Authorization", auth.clone()));
        }
        Request {
            method,
            target: self.target.clone(),
            headers,
            body,
            timeouts,
        }
    }

    /// Sends `request`; an error is told as one of a request to this URL (the transport's own
    /// words for a failed connection are an engine's).
    pub fn send(&self, request: Request<'_>) -> Result<Response, String> {
        self.transport.send(request, None).map_err(|e| match e {
            Error::Connect { source, .. } => {
                format!("cannot connect to {}: {source}", self.authority)
            }
            other => other.to_string(),
        })
    }
}

/// The route to `url`; a proxy that is not used is told in `messages`. The URL's
/// `user:password@`, if any, becomes Basic authentication, and its password is never shown.
///
/// # Errors
/// `url` is not an `http://` or `https://` URL naming a host, its port is out of range, the
/// environment's proxy cannot be used, or `https://` without the `tls` feature.
pub fn route(
    url: &str,
    env: &dyn Fn(&str) -> Option<String>,
    messages: &mut Vec<String>,
) -> Result<Route, String> {
    let shown = crate::git::shown(url);
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{shown:?} is not an http:// or https:// URL"))?;
    let (port, tls) = match scheme {
        "http" => (80, None),
        "https" => (
            443,
            Some(TlsSettings {
                ca_file: None,
                cert_file: None,
                key_file: None,
                verify: true,
            }),
        ),
        _ => return Err(format!("{shown:?} is not an http:// or https:// URL")),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let (authorization, authority) = match authority.rsplit_once('@') {
        Some((userinfo, authority)) => {
            (Some(crate::proxy::basic_authorization(userinfo)), authority)
        }
        None => (None, authority),
    };
    let no_host = || format!("{shown:?} must name a host: http://host[:port]/path");
    if authority.is_empty() {
        return Err(no_host());
    }
    let has_port = match authority.rsplit_once(':') {
        Some((host, p)) => {
            !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) && !host.ends_with(':')
        }
        None => false,
    };
    let target = match target {
        "" => "/".to_string(),
        t if t.starts_with('?') => format!("/{t}"),
        t => t.to_string(),
    };
    let (host_name, port) = match has_port {
        true => authority
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h, p.parse::<u16>().ok()?)))
            .ok_or_else(|| format!("{shown:?} has a port out of range"))?,
        false => (authority, port),
    };
    if host_name.is_empty() {
        return Err(no_host());
    }
    let proxy = crate::proxy::for_url(scheme, host_name, port, env)?;
    let (authority, target, proxy_authorization) = match proxy {
        Some(proxy) if tls.is_none() => (
            proxy.authority,
            format!("{scheme}://{authority}{target}"),
            proxy.authorization,
        ),
        Some(proxy) => {
            messages.push(format!(
                "Not going through the proxy at {}: a tunnel to an https:// URL is not made; \
                 connecting directly",
                proxy.authority
            ));
            (format!("{host_name}:{port}"), target, None)
        }
        None => (format!("{host_name}:{port}"), target, None),
    };
    let host =
        Host::parse(&format!("tcp://{authority}"), tls.is_some()).map_err(|e| e.to_string())?;
    let transport = Transport::new(host, tls).map_err(|e| e.to_string())?;
    Ok(Route {
        transport,
        target,
        proxy_authorization,
        authorization,
        authority,
    })
}

/// What a download came to.
pub enum Download {
    /// The body was written.
    Written,
    /// The server answered with this status, which is not 200 or 201 (nor a redirect).
    Status(u16),
}

/// Writes the body of a `GET` of `url` to `out`, following redirects; reads the environment
/// through `env`. `messages` says what of the route was not used.
///
/// # Errors
/// What [`route`] refuses, the request failed, the body has more than `limit` bytes (what came
/// of it is written), or too many redirects.
pub fn download(
    url: &str,
    out: &mut dyn Write,
    limit: u64,
    env: &dyn Fn(&str) -> Option<String>,
    messages: &mut Vec<String>,
) -> Result<Download, String> {
    let mut url = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let route = route(&url, env, messages)?;
        let response = route.send(route.request("GET", Vec::new(), Body::Empty, TIMEOUTS))?;
        match response.status {
            200 | 201 => {
                let mut body = response.into_body().take(limit + 1);
                return match std::io::copy(&mut body, out) {
                    Ok(n) if n > limit => Err(format!(
                        "{} has more than {limit} bytes",
                        crate::git::shown(&url)
                    )),
                    Ok(_) => Ok(Download::Written),
                    Err(e) => Err(e.to_string()),
                };
            }
            301 | 302 | 303 | 307 | 308 => {
                let location = response.header("Location").unwrap_or_default().to_string();
                url = redirected(&url, &location).ok_or_else(|| {
                    format!(
                        "{} redirects to {location:?}, which is not a URL",
                        crate::git::shown(&url)
                    )
                })?;
            }
            status => return Ok(Download::Status(status)),
        }
    }
    Err(format!(
        "{}: stopped after {MAX_REDIRECTS} redirects",
        crate::git::shown(&url)
    ))
}

/// Where a redirect from `url` to `location` leads: `location` if it is a whole URL, else the
/// path it names on `url`'s host.
fn redirected(url: &str, location: &str) -> Option<String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        return Some(location.to_string());
    }
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    if let Some(path) = location.strip_prefix('/') {
        return Some(format!("{scheme}://{authority}/{path}"));
    }
    // A path relative to the directory of `url`'s path.
    let path = &rest[authority.len()..];
    let path = &path[..path.find('?').unwrap_or(path.len())];
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    let dir = if dir.is_empty() { "/" } else { dir };
    (!location.is_empty()).then(|| format!("{scheme}://{authority}{dir}{location}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_a_host_and_a_target() {
        let target = |url: &str| route(url, &|_| None, &mut Vec::new()).unwrap().target;
        assert_eq!(target("http://example.com"), "/");
        assert_eq!(target("http://example.com:8080?x=1"), "/?x=1");
        assert_eq!(target("http://[::1]/a/b"), "/a/b");
        assert!(route("http://h:99999/", &|_| None, &mut Vec::new()).is_err());
    }

    #[test]
    fn a_urls_user_is_basic_authentication_and_its_password_is_never_shown() {
        let r = route(
            "http://me:s%40cret@example.com:81/x",
            &|_| None,
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(r.authorization.as_deref(), Some("Basic bWU6c0BjcmV0"));
        assert_eq!(
            (r.authority.as_str(), r.target.as_str()),
            ("example.com:81", "/x")
        );
        let e = route("http://me:secret@:99999/x", &|_| None, &mut Vec::new()).err();
        assert!(e.as_deref().is_some_and(|e| !e.contains("secret")), "{e:?}");
        let e = route("ftp://me:secret@h/x", &|_| None, &mut Vec::new()).err();
        assert!(e.as_deref().is_some_and(|e| !e.contains("secret")), "{e:?}");
    }

    #[test]
    fn redirects_lead_to_whole_urls_or_paths_on_the_same_host() {
        let to = |location: &str| redirected("http://h:8/a/b/c?x=1", location);
        assert_eq!(to("https://o/p").as_deref(), Some("https://o/p"));
        assert_eq!(to("/p/q").as_deref(), Some("http://h:8/p/q"));
        assert_eq!(to("d").as_deref(), Some("http://h:8/a/b/d"));
        assert_eq!(to(""), None);
    }
}
