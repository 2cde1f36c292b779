//! The routing table: one `match` on (method, path segments), the way the daemon's router reads
//! `/v1.41/containers/{id}/start`, with what every route shares: the record of the request,
//! the version check, the faults, and the answer to unknown paths. The handlers are in one file
//! per resource: `system`, `images` (with build and commit), `containers`, `archive`.
//!
//! A handler answers from the state alone; it never calls into `ops`, so the fake checks the
//! client instead of echoing it. Texts of errors are the daemon's (Docker 20.10).

use serde_json::json;

use super::build::error_line;
use super::http::{percent_decode, Damage, Reply, Request, MALFORMED_HEAD};
use super::state::{parse_reference, ApiVersions, Shared, State};
use super::{Fault, RecordedRequest, Route, MAX_RECORDED_BODY};

mod archive;
mod containers;
mod images;
mod system;

pub(crate) use containers::wait_result;

/// What the connection does next.
#[derive(Debug)]
pub(crate) enum Action {
    /// Send a reply.
    Reply(Reply),
    /// Send these bytes as they are, then close.
    Raw(Vec<u8>),
    /// Close without a word (the engine is stopping).
    Close,
    /// `POST /containers/{id}/wait`: the head goes out now, the body when the condition holds.
    Wait(WaitPlan),
    /// `POST /containers/{id}/attach`: switch protocols and pump the container's streams.
    Attach(AttachPlan),
}

/// A routed request: the action and the damage a fault asks for.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) action: Action,
    pub(crate) damage: Damage,
}

impl From<Action> for Outcome {
    fn from(action: Action) -> Outcome {
        Outcome {
            action,
            damage: Damage::None,
        }
    }
}

impl From<Reply> for Outcome {
    fn from(reply: Reply) -> Outcome {
        Action::Reply(reply).into()
    }
}

/// A pending `wait`.
#[derive(Debug, Clone)]
pub(crate) struct WaitPlan {
    pub(crate) id: String,
    pub(crate) condition: WaitCondition,
    /// The container's exit count when the request came, for `next-exit`.
    pub(crate) exits_before: u64,
}

/// `?condition=` of `wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitCondition {
    NotRunning,
    NextExit,
    Removed,
}

/// An accepted `attach`.
#[derive(Debug, Clone)]
pub(crate) struct AttachPlan {
    pub(crate) id: String,
    pub(crate) stdin: bool,
    pub(crate) stdout: bool,
    pub(crate) stderr: bool,
    pub(crate) stream: bool,
    pub(crate) logs: bool,
    pub(crate) tty: bool,
    /// The client asked to upgrade (`Upgrade: tcp`): `101`, else a bare `200`.
    pub(crate) upgrade: bool,
}

/// Query parameters, with the daemon's boolean parsing.
pub(super) struct Query(Vec<(String, String)>);

impl Query {
    pub(super) fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    pub(super) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Go's `httputils.BoolValue`: anything but "", "0", "no", "false", "none" is true.
    pub(super) fn flag(&self, key: &str) -> bool {
        !matches!(
            self.get(key).trim().to_ascii_lowercase().as_str(),
            "" | "0" | "no" | "false" | "none"
        )
    }
}

/// `v1.41` → `Some("1.41")`.
fn version_segment(s: &str) -> Option<String> {
    let v = s.strip_prefix('v')?;
    let (major, minor) = v.split_once('.').unwrap_or((v, "0"));
    if major.is_empty() || !major.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    if !minor.chars().all(|c| c.is_ascii_digit()) || minor.is_empty() {
        return None;
    }
    Some(v.to_string())
}

fn version_number(v: &str) -> (u64, u64) {
    let (a, b) = v.split_once('.').unwrap_or((v, "0"));
    (a.parse().unwrap_or(0), b.parse().unwrap_or(0))
}

/// The daemon's reply to a missing container.
fn no_such_container(id: &str) -> Reply {
    Reply::error(404, &format!("No such container: {id}"))
}

/// Routes one request: records it, checks the version of its prefix, applies the faults
/// registered for its route, and runs the handler.
pub(crate) fn route(shared: &Shared, req: &Request) -> Outcome {
    let (version, segs) = split_path(req);
    let q = Query(req.query());
    let seq = record(shared, req, &segs, version.clone(), &q.0);
    let versions = shared.lock().versions.clone();
    let mut outcome = match version
        .as_deref()
        .and_then(|v| refuse_version(v, &versions))
    {
        Some(refused) => Outcome::from(refused),
        None => {
            let s: Vec<&str> = segs.iter().map(String::as_str).collect();
            let cx = Cx {
                shared,
                seq,
                q: &q,
                versions: &versions,
            };
            dispatch(&cx, req, &s)
        }
    };
    if let Action::Reply(reply) = &mut outcome.action {
        reply.api_version = Some(versions.max);
    }
    outcome
}

/// The table: which handler answers (method, path segments without the version prefix).
fn dispatch(cx: &Cx<'_>, req: &Request, s: &[&str]) -> Outcome {
    let (shared, q) = (cx.shared, cx.q);
    let head = req.method == "HEAD";
    match (req.method.as_str(), s) {
        ("GET" | "HEAD", ["_ping"]) => cx.on(Route::Ping, || system::ping(head)),
        ("GET", ["version"]) => cx.on(Route::Version, || system::version(cx.versions)),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => cx
            .on(Route::ImageInspect, || {
                images::inspect(shared, &name.join("/"))
            }),
        ("POST", ["images", "create"]) => {
            cx.on(Route::ImagesCreate, || images::pull(shared, req, q))
        }
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => cx.on(Route::ImageRemove, || {
            images::remove(shared, &name.join("/"), q)
        }),
        ("POST", ["build"]) => cx.on(Route::Build, || images::build(shared, req, q)),
        ("POST", ["containers", "create"]) => cx.on(Route::ContainersCreate, || {
            containers::create(shared, req, q)
        }),
        ("GET", ["containers", "json"]) => {
            cx.on(Route::ContainerList, || containers::list(shared, q))
        }
        ("POST", ["containers", id, "attach"]) => cx.on(Route::ContainerAttach, || {
            containers::attach(shared, req, id, q)
        }),
        ("POST", ["containers", id, "start"]) => {
            cx.on(Route::ContainerStart, || containers::start(shared, id))
        }
        ("POST", ["containers", id, "wait"]) => {
            cx.on(Route::ContainerWait, || containers::wait(shared, id, q))
        }
        ("GET", ["containers", id, "json"]) => {
            cx.on(Route::ContainerInspect, || containers::inspect(shared, id))
        }
        ("POST", ["containers", id, "kill"]) => {
            cx.on(Route::ContainerKill, || containers::kill(shared, id, q))
        }
        ("DELETE", ["containers", id]) => {
            cx.on(Route::ContainerRemove, || containers::remove(shared, id, q))
        }
        ("PUT", ["containers", id, "archive"]) => {
            cx.on(Route::ArchivePut, || archive::put(shared, id, q, &req.body))
        }
        ("GET", ["containers", id, "archive"]) => {
            cx.on(Route::ArchiveGet, || archive::get(shared, id, q, false))
        }
        ("HEAD", ["containers", id, "archive"]) => {
            cx.on(Route::ArchiveHead, || archive::get(shared, id, q, true))
        }
        ("POST", ["commit"]) => cx.on(Route::Commit, || images::commit(shared, req, q)),
        _ => unknown(cx.shared, cx.seq),
    }
}

/// The version of the path's prefix (`/v1.41/...`), if any, and the percent-decoded segments
/// after it.
fn split_path(req: &Request) -> (Option<String>, Vec<String>) {
    let mut segs: Vec<String> = req
        .raw_path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let version = segs.first().and_then(|s| version_segment(s));
    if version.is_some() {
        segs.remove(0);
    }
    (version, segs)
}

/// The daemon's `400` for a version it does not speak; `None` for one it does.
fn refuse_version(v: &str, versions: &ApiVersions) -> Option<Reply> {
    let n = version_number(v);
    let ApiVersions { max, min } = versions;
    if n > version_number(max) {
        return Some(Reply::error(
            400,
            &format!("client version {v} is too new. Maximum supported API version is {max}"),
        ));
    }
    if n < version_number(min) {
        return Some(Reply::error(
            400,
            &format!(
                "client version {v} is too old. Minimum supported API version is {min}, please \
                 upgrade your client to a newer version"
            ),
        ));
    }
    None
}

fn record(
    shared: &Shared,
    req: &Request,
    segs: &[String],
    api_version: Option<String>,
    query: &[(String, String)],
) -> u64 {
    let mut st = shared.lock();
    let seq = st.records.last().map_or(1, |r| r.seq + 1);
    st.records.push(RecordedRequest {
        method: req.method.clone(),
        path: format!("/{}", segs.join("/")),
        api_version,
        query: query.to_vec(),
        headers: req.headers.clone(),
        body_len: req.body.len(),
        body: req.body[..req.body.len().min(MAX_RECORDED_BODY)].to_vec(),
        route: None,
        seq,
    });
    seq
}

/// Takes the first fault registered for `route`, counting it down.
fn take_fault(st: &mut State, route: Route) -> Option<Fault> {
    let i = st.faults.iter().position(|f| f.route == route)?;
    let fault = st.faults[i].fault.clone();
    if let Some(n) = &mut st.faults[i].remaining {
        *n = n.saturating_sub(1);
        if *n == 0 {
            st.faults.remove(i);
        }
    }
    Some(fault)
}

/// What a matched route needs to run: the state, the request's record, its query, the API
/// versions the daemon speaks.
struct Cx<'a> {
    shared: &'a Shared,
    seq: u64,
    q: &'a Query,
    versions: &'a ApiVersions,
}

impl Cx<'_> {
    /// Runs `handler` for `route`, unless a fault registered for the route says otherwise.
    fn on<O: Into<Outcome>>(&self, route: Route, handler: impl FnOnce() -> O) -> Outcome {
        let fault = {
            let mut st = self.shared.lock();
            if let Some(r) = st.records.iter_mut().rev().find(|r| r.seq == self.seq) {
                r.route = Some(route);
            }
            take_fault(&mut st, route)
        };
        let damage = match fault {
            None => Damage::None,
            Some(Fault::Delay(d)) if self.shared.sleep(d) => Damage::None,
            Some(Fault::Delay(_)) => return Action::Close.into(),
            Some(Fault::Status(code, message)) => return Reply::error(code, &message).into(),
            Some(Fault::InBand(message)) => return self.in_band(route, &message).into(),
            Some(Fault::HangUpAfter(n)) => Damage::HangUpAfter(n),
            Some(Fault::TruncatedChunk) => Damage::TruncatedChunk,
            Some(Fault::MalformedHead) => return Action::Raw(MALFORMED_HEAD.to_vec()).into(),
        };
        Outcome {
            damage,
            ..handler().into()
        }
    }

    /// A `200` progress stream that fails: a first line as the route's stream would start,
    /// then the error.
    fn in_band(&self, route: Route, message: &str) -> Reply {
        let mut lines = Vec::new();
        match route {
            Route::ImagesCreate => {
                let from = self.q.get("fromImage");
                let name = parse_reference(from).map_or(from.to_string(), |r| r.path);
                let tag = match self.q.get("tag") {
                    "" => "latest",
                    t => t,
                };
                lines.push(json!({"status": format!("Pulling from {name}"), "id": tag}));
            }
            Route::Build => {
                lines.push(json!({"stream": "Step 1/1 : FROM scratch"}));
                lines.push(json!({"stream": "\n"}));
            }
            _ => {}
        }
        lines.push(error_line(message));
        Reply::stream(lines)
    }
}

/// The daemon's router answers unknown paths itself, without its middleware headers.
fn unknown(shared: &Shared, seq: u64) -> Outcome {
    let mut st = shared.lock();
    st.unhandled.push(seq);
    let mut reply = Reply::error(404, "page not found");
    reply.daemon_headers = false;
    Outcome::from(reply)
}

#[cfg(test)]
mod tests {
    use super::containers::signal_number;
    use super::*;

    #[test]
    fn versions_and_signals() {
        assert_eq!(version_segment("v1.41").as_deref(), Some("1.41"));
        assert_eq!(version_segment("v1").as_deref(), Some("1"));
        assert_eq!(version_segment("vx"), None);
        assert_eq!(version_segment("version"), None);
        assert!(version_number("1.45") > version_number("1.41"));
        assert!(version_number("1.9") < version_number("1.12"));
        assert_eq!(signal_number("SIGTERM"), Some(15));
        assert_eq!(signal_number("kill"), Some(9));
        assert_eq!(signal_number(""), Some(9));
        assert_eq!(signal_number("99"), None);
        assert_eq!(signal_number("SIGFOO"), None);
    }
}
