//! The routing table: one `match` on (method, path segments), the way the daemon's router reads
//! `/v1.41/containers/{id}/start`, and one handler per endpoint.
//!
//! A handler answers from the state alone; it never calls into `ops`, so the fake checks the
//! client instead of echoing it. Texts of errors are the daemon's (Docker 20.10).

use serde_json::{json, Map, Value};

use super::build::{self, error_line, not_found_message};
use super::clock;
use super::http::{percent_decode, Body, Damage, Reply, Request, MALFORMED_HEAD};
use super::state::{
    decode_registry_auth, merge_commit_config, parse_reference, Image, Shared, State, Status,
    API_VERSION, DOCKER_VERSION, MIN_API_VERSION,
};
use super::{Fault, RecordedRequest, Route, MAX_RECORDED_BODY};

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
struct Query(Vec<(String, String)>);

impl Query {
    fn get(&self, key: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map_or("", |(_, v)| v.as_str())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Go's `httputils.BoolValue`: anything but "", "0", "no", "false", "none" is true.
    fn flag(&self, key: &str) -> bool {
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

fn no_such_container(id: &str) -> Reply {
    Reply::error(404, &format!("No such container: {id}"))
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// Routes one request: records it, applies the faults registered for its route, and runs the
/// handler.
pub(crate) fn route(shared: &Shared, req: &Request) -> Outcome {
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
    let q = Query(req.query());
    let seq = record(shared, req, &segs, version.clone(), &q.0);

    if let Some(v) = &version {
        let n = version_number(v);
        if n > version_number(API_VERSION) {
            return Outcome::from(Reply::error(
                400,
                &format!(
                    "client version {v} is too new. Maximum supported API version is {API_VERSION}"
                ),
            ));
        }
        if n < version_number(MIN_API_VERSION) {
            return Outcome::from(Reply::error(
                400,
                &format!(
                    "client version {v} is too old. Minimum supported API version is \
                     {MIN_API_VERSION}, please upgrade your client to a newer version"
                ),
            ));
        }
    }

    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let cx = Cx { shared, seq, q: &q };
    let head = req.method == "HEAD";
    match (req.method.as_str(), s.as_slice()) {
        ("GET" | "HEAD", ["_ping"]) => cx.on(Route::Ping, || ping(head)),
        ("GET", ["version"]) => cx.on(Route::Version, server_version),
        ("GET", ["images", name @ .., "json"]) if !name.is_empty() => cx
            .on(Route::ImageInspect, || {
                image_inspect(shared, &name.join("/"))
            }),
        ("POST", ["images", "create"]) => cx.on(Route::ImagesCreate, || pull(shared, req, &q)),
        ("DELETE", ["images", name @ ..]) if !name.is_empty() => cx.on(Route::ImageRemove, || {
            image_remove(shared, &name.join("/"), &q)
        }),
        ("POST", ["build"]) => cx.on(Route::Build, || image_build(shared, req, &q)),
        ("POST", ["containers", "create"]) => cx.on(Route::ContainersCreate, || {
            container_create(shared, req, &q)
        }),
        ("POST", ["containers", id, "attach"]) => cx.on(Route::ContainerAttach, || {
            container_attach(shared, req, id, &q)
        }),
        ("POST", ["containers", id, "start"]) => {
            cx.on(Route::ContainerStart, || container_start(shared, id))
        }
        ("POST", ["containers", id, "wait"]) => {
            cx.on(Route::ContainerWait, || container_wait(shared, id, &q))
        }
        ("GET", ["containers", id, "json"]) => {
            cx.on(Route::ContainerInspect, || container_inspect(shared, id))
        }
        ("POST", ["containers", id, "kill"]) => {
            cx.on(Route::ContainerKill, || container_kill(shared, id, &q))
        }
        ("DELETE", ["containers", id]) => {
            cx.on(Route::ContainerRemove, || container_remove(shared, id, &q))
        }
        ("PUT", ["containers", id, "archive"]) => {
            cx.on(Route::ArchivePut, || archive_put(shared, id, &q, &req.body))
        }
        ("GET", ["containers", id, "archive"]) => {
            cx.on(Route::ArchiveGet, || archive_get(shared, id, &q, false))
        }
        ("HEAD", ["containers", id, "archive"]) => {
            cx.on(Route::ArchiveHead, || archive_get(shared, id, &q, true))
        }
        ("POST", ["commit"]) => cx.on(Route::Commit, || commit(shared, req, &q)),
        _ => unknown(shared, seq),
    }
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

/// What a matched route needs to run: the state, the request's record, its query.
struct Cx<'a> {
    shared: &'a Shared,
    seq: u64,
    q: &'a Query,
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

// ---------------------------------------------------------------------------------------------
// System

fn ping(head: bool) -> Reply {
    let body = if head { Vec::new() } else { b"OK".to_vec() };
    Reply::new(200, Body::Bytes(body))
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Pragma", "no-cache")
}

fn server_version() -> Reply {
    Reply::json(
        200,
        &json!({
            "Platform": {"Name": "Docker Engine - Community"},
            "Components": [{
                "Name": "Engine",
                "Version": DOCKER_VERSION,
                "Details": {
                    "ApiVersion": API_VERSION, "Arch": "amd64", "Experimental": "false",
                    "GitCommit": "fake", "GoVersion": "go1.19.8", "KernelVersion": "6.1.0",
                    "MinAPIVersion": MIN_API_VERSION, "Os": "linux"
                }
            }],
            "Version": DOCKER_VERSION,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "fake",
            "GoVersion": "go1.19.8",
            "Os": "linux",
            "Arch": "amd64",
            "KernelVersion": "6.1.0",
            "BuildTime": "2023-04-04T00:00:00.000000000+00:00"
        }),
    )
}

// ---------------------------------------------------------------------------------------------
// Images

fn image_inspect(shared: &Shared, name: &str) -> Reply {
    let st = shared.lock();
    match st.find_image(name) {
        Some(image) => Reply::json(200, &st.image_json(image)),
        None => {
            let full = parse_reference(name).map_or(name.to_string(), |r| r.familiar());
            Reply::error(
                404,
                &format!("no such image: {name}: No such image: {full}"),
            )
        }
    }
}

fn pull(shared: &Shared, req: &Request, q: &Query) -> Reply {
    let from = q.get("fromImage");
    if from.is_empty() {
        return Reply::error(
            400,
            "fromImage is required (the fake engine does not import)",
        );
    }
    let name = match q.get("tag") {
        "" => from.to_string(),
        t if t.contains(':') => format!("{from}@{t}"),
        t => format!("{from}:{t}"),
    };
    let Some(r) = parse_reference(&name) else {
        return Reply::error(400, "invalid reference format");
    };
    let mut st = shared.lock();
    let Some(image) = st.registry.get(&r.canonical()).cloned() else {
        return Reply::error(404, &not_found_message(&r));
    };
    let tag = r
        .digest
        .clone()
        .unwrap_or_else(|| r.tag_or_latest().to_string());
    let mut lines = vec![json!({"status": format!("Pulling from {}", r.path), "id": tag})];
    if let Some((user, pass)) = st.logins.get(&r.domain) {
        let given = req.header("X-Registry-Auth").and_then(decode_registry_auth);
        if given.as_ref() != Some(&(user.clone(), pass.clone())) {
            // What a registry's 401 turns into once the daemon has started its stream.
            lines.push(error_line("unauthorized: authentication required"));
            return Reply::stream(lines);
        }
    }
    let up_to_date = st.tags.get(&r.canonical()) == Some(&image.id);
    if up_to_date {
        lines.push(json!({"status": format!("Status: Image is up to date for {}", r.familiar())}));
        return Reply::stream(lines);
    }
    let layer = short(&image.id).to_string();
    let size = image.fs.size();
    lines.extend([
        json!({"status": "Pulling fs layer", "progressDetail": {}, "id": layer}),
        json!({"status": "Downloading", "progressDetail": {"current": size, "total": size},
               "progress": format!("[==================================================>]  {size}B/{size}B"),
               "id": layer}),
        json!({"status": "Download complete", "progressDetail": {}, "id": layer}),
        json!({"status": "Extracting", "progressDetail": {"current": size, "total": size}, "id": layer}),
        json!({"status": "Pull complete", "progressDetail": {}, "id": layer}),
        json!({"status": format!("Digest: sha256:{}", &image.id["sha256:".len()..])}),
        json!({"status": format!("Status: Downloaded newer image for {}", r.familiar())}),
    ]);
    st.add_image(image, &[r]);
    Reply::stream(lines)
}

fn image_remove(shared: &Shared, name: &str, q: &Query) -> Reply {
    let force = q.flag("force");
    let mut st = shared.lock();
    let by_ref = parse_reference(name).and_then(|r| {
        let key = r.canonical();
        st.tags.get(&key).map(|id| (r, key, id.clone()))
    });
    let (id, untag): (String, Vec<String>) = match by_ref {
        Some((r, key, id)) => {
            let other_tags = st
                .tags
                .iter()
                .filter(|(k, v)| **v == id && **k != key)
                .count();
            if other_tags > 0 {
                st.tags.remove(&key);
                return Reply::json(200, &json!([{ "Untagged": r.familiar() }]));
            }
            if !force {
                if let Some(c) = st.containers.values().find(|c| c.image_id == id) {
                    return Reply::error(
                        409,
                        &format!(
                            "conflict: unable to remove repository reference \"{name}\" (must \
                             force) - container {} is using its referenced image {}",
                            short(&c.id),
                            short(&id)
                        ),
                    );
                }
            }
            (id, vec![key])
        }
        None => {
            let Some(image) = st.find_image(name) else {
                return Reply::error(404, &format!("No such image: {name}"));
            };
            let id = image.id.clone();
            let tags: Vec<String> = st
                .tags
                .iter()
                .filter(|(_, v)| **v == id)
                .map(|(k, _)| k.clone())
                .collect();
            if !force && tags.len() > 1 {
                return Reply::error(
                    409,
                    &format!(
                        "conflict: unable to delete {} (must be forced) - image is referenced in \
                         multiple repositories",
                        short(&id)
                    ),
                );
            }
            if let Some(c) = st.containers.values().find(|c| c.image_id == id) {
                let state = if c.status == Status::Running {
                    "running"
                } else {
                    "stopped"
                };
                if !force || c.status == Status::Running {
                    let verb = if force {
                        "cannot delete"
                    } else {
                        "unable to delete"
                    };
                    return Reply::error(
                        409,
                        &format!(
                            "conflict: {verb} {} (must be forced) - image is being used by {state} \
                             container {}",
                            short(&id),
                            short(&c.id)
                        ),
                    );
                }
            }
            (id, tags)
        }
    };
    let mut items: Vec<Value> = Vec::new();
    for key in untag {
        st.tags.remove(&key);
        if let Some(r) = parse_reference(&key) {
            items.push(json!({ "Untagged": r.familiar() }));
        }
    }
    st.images.remove(&id);
    items.push(json!({ "Deleted": id }));
    Reply::json(200, &Value::Array(items))
}

fn image_build(shared: &Shared, req: &Request, q: &Query) -> Reply {
    let mut tags = Vec::new();
    for t in q.all("t") {
        match parse_reference(t) {
            Some(r) if r.digest.is_none() => tags.push(r),
            _ => return Reply::error(400, &format!("invalid reference format: {t}")),
        }
    }
    let labels: Option<Map<String, Value>> = match q.get("labels") {
        "" => None,
        l => match serde_json::from_str(l) {
            Ok(m) => Some(m),
            Err(e) => return Reply::error(400, &e.to_string()),
        },
    };
    let mut st = shared.lock();
    match build::build(
        &mut st,
        &req.body,
        q.get("dockerfile"),
        &tags,
        labels.as_ref(),
    ) {
        Ok(lines) => Reply::stream(lines),
        Err(reply) => reply,
    }
}

// ---------------------------------------------------------------------------------------------
// Containers

fn valid_container_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn container_create(shared: &Shared, req: &Request, q: &Query) -> Reply {
    let name = q.get("name");
    if !name.is_empty() && !valid_container_name(name) {
        return Reply::error(
            400,
            &format!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"),
        );
    }
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Reply::error(400, "config cannot be empty in order to create a container");
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => return Reply::error(400, "config cannot be empty in order to create a container"),
        Err(e) => return Reply::error(400, &e.to_string()),
    };
    let image_name = body["Image"].as_str().unwrap_or("");
    let mut st = shared.lock();
    let Some(image) = st.find_image(image_name).cloned() else {
        return Reply::error(404, &format!("No such image: {image_name}"));
    };
    let no_cmd = |v: &Value| v.as_array().map_or(true, Vec::is_empty);
    let entry = body.get("Entrypoint").filter(|v| !v.is_null());
    let cmd = body.get("Cmd").filter(|v| !v.is_null());
    let effective_entry = entry.unwrap_or(&image.config["Entrypoint"]);
    let effective_cmd = match (entry, cmd) {
        (_, Some(c)) => c,
        (Some(_), None) => &Value::Null,
        (None, None) => &image.config["Cmd"],
    };
    if no_cmd(effective_entry) && no_cmd(effective_cmd) {
        return Reply::error(400, "No command specified");
    }
    if !name.is_empty() {
        let bare = name.trim_start_matches('/');
        if let Some(c) = st.containers.values().find(|c| c.name == bare) {
            return Reply::error(
                409,
                &format!(
                    "Conflict. The container name \"/{bare}\" is already in use by container \
                     \"{}\". You have to remove (or rename) that container to be able to reuse \
                     that name.",
                    c.id
                ),
            );
        }
    }
    let name = (!name.is_empty()).then_some(name);
    let id = st.create_container(name, &body, &image);
    Reply::json(201, &json!({ "Id": id, "Warnings": [] }))
}

fn container_attach(shared: &Shared, req: &Request, key: &str, q: &Query) -> Outcome {
    let st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        // The daemon has already hijacked the connection when it looks the container up.
        let raw = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n\
             No such container: {key}\r\n"
        );
        return Action::Raw(raw.into_bytes()).into();
    };
    let tty = st.containers[&id].config["Tty"].as_bool().unwrap_or(false);
    Action::Attach(AttachPlan {
        id,
        stdin: q.flag("stdin"),
        stdout: q.flag("stdout"),
        stderr: q.flag("stderr"),
        stream: q.flag("stream"),
        logs: q.flag("logs"),
        tty,
        upgrade: req.header("Upgrade").is_some(),
    })
    .into()
}

fn container_start(shared: &Shared, key: &str) -> Reply {
    let mut st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    if st.containers[&id].status == Status::Running {
        return Reply::new(304, Body::None);
    }
    st.start_container(&id);
    drop(st);
    shared.notify();
    Reply::new(204, Body::None)
}

fn container_wait(shared: &Shared, key: &str, q: &Query) -> Outcome {
    let condition = match q.get("condition") {
        "" | "not-running" => WaitCondition::NotRunning,
        "next-exit" => WaitCondition::NextExit,
        "removed" => WaitCondition::Removed,
        other => {
            return Outcome::from(Reply::error(
                400,
                &format!("invalid condition: \"{other}\""),
            ))
        }
    };
    let st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return Outcome::from(no_such_container(key));
    };
    Action::Wait(WaitPlan {
        exits_before: st.containers[&id].exits,
        id,
        condition,
    })
    .into()
}

/// Blocks until `plan`'s condition holds; the exit code, or `None` if the engine stops.
pub(crate) fn wait_result(shared: &Shared, plan: &WaitPlan) -> Option<Value> {
    let code = shared.wait_for(None, |st| match st.containers.get(&plan.id) {
        None => Some(st.removed.get(&plan.id).copied().unwrap_or(0)),
        Some(c) => match plan.condition {
            WaitCondition::NotRunning if c.status != Status::Running => Some(c.exit_code),
            WaitCondition::NextExit if c.exits > plan.exits_before => Some(c.exit_code),
            _ => None,
        },
    })?;
    Some(json!({ "Error": null, "StatusCode": code }))
}

fn container_inspect(shared: &Shared, key: &str) -> Reply {
    let st = shared.lock();
    match st.find_container_id(key) {
        Some(id) => Reply::json(200, &st.containers[&id].inspect_json()),
        None => no_such_container(key),
    }
}

/// A signal name or number (`SIGKILL`, `KILL`, `9`).
fn signal_number(s: &str) -> Option<i64> {
    if s.is_empty() {
        return Some(9);
    }
    if let Ok(n) = s.parse::<i64>() {
        return (1..=64).contains(&n).then_some(n);
    }
    let name = s.to_ascii_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let n = match name {
        "HUP" => 1,
        "INT" => 2,
        "QUIT" => 3,
        "ABRT" => 6,
        "KILL" => 9,
        "USR1" => 10,
        "USR2" => 12,
        "PIPE" => 13,
        "ALRM" => 14,
        "TERM" => 15,
        _ => return None,
    };
    Some(n)
}

fn container_kill(shared: &Shared, key: &str, q: &Query) -> Reply {
    let Some(signal) = signal_number(q.get("signal")) else {
        return Reply::error(400, &format!("Invalid signal: {}", q.get("signal")));
    };
    let mut st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let killed = st.containers.get_mut(&id).is_some_and(|c| c.kill(signal));
    drop(st);
    if !killed {
        return Reply::error(
            409,
            &format!("Cannot kill container: {key}: Container {id} is not running"),
        );
    }
    shared.notify();
    Reply::new(204, Body::None)
}

fn container_remove(shared: &Shared, key: &str, q: &Query) -> Reply {
    let mut st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    if st.containers[&id].status == Status::Running {
        if !q.flag("force") {
            return Reply::error(
                409,
                &format!(
                    "You cannot remove a running container {id}. Stop the container before \
                     attempting removal or force remove"
                ),
            );
        }
        if let Some(c) = st.containers.get_mut(&id) {
            c.kill(9);
        }
    }
    if let Some(c) = st.containers.remove(&id) {
        st.removed.insert(id, c.exit_code);
    }
    drop(st);
    shared.notify();
    Reply::new(204, Body::None)
}

// ---------------------------------------------------------------------------------------------
// Copy

fn archive_put(shared: &Shared, key: &str, q: &Query, body: &[u8]) -> Reply {
    let mut st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let path = q.get("path");
    if path.is_empty() {
        return Reply::error(400, "bad parameter: pathcannot be empty");
    }
    let Some(c) = st.containers.get_mut(&id) else {
        return no_such_container(key);
    };
    match c.fs.get(path).map(|e| &e.kind) {
        None => {
            return Reply::error(
                404,
                &format!("Could not find the file {path} in container {key}"),
            )
        }
        Some(super::fs::Kind::Dir) => {}
        Some(_) => return Reply::error(400, "extraction point is not a directory"),
    }
    match c.fs.extract(path, body, q.flag("noOverwriteDirNonDir")) {
        Ok(()) => Reply::new(200, Body::Bytes(Vec::new())),
        Err(e) => Reply::error(400, &e),
    }
}

fn archive_get(shared: &Shared, key: &str, q: &Query, head: bool) -> Reply {
    let st = shared.lock();
    let Some(id) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let path = q.get("path");
    if path.is_empty() {
        return Reply::error(400, "bad parameter: pathcannot be empty");
    }
    let fs = &st.containers[&id].fs;
    let Some(stat) = fs.stat(path) else {
        return Reply::error(
            404,
            &format!("Could not find the file {path} in container {key}"),
        );
    };
    if head {
        return Reply::new(200, Body::None)
            .header("X-Docker-Container-Path-Stat", stat.header_value());
    }
    match fs.archive(path) {
        Some(tar) => Reply::new(200, Body::Bytes(tar))
            .header("Content-Type", "application/x-tar")
            .header("X-Docker-Container-Path-Stat", stat.header_value()),
        None => Reply::error(500, &format!("cannot archive {path}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Commit

fn commit(shared: &Shared, req: &Request, q: &Query) -> Reply {
    let key = q.get("container");
    let body: Option<Value> = if req.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(Value::Null) => None,
            Ok(v @ Value::Object(_)) => Some(v),
            Ok(_) => return Reply::error(400, "the commit config must be a JSON object"),
            Err(e) => return Reply::error(400, &e.to_string()),
        }
    };
    let reference = match (q.get("repo"), q.get("tag")) {
        ("", _) => None,
        (repo, tag) => {
            let name = if tag.is_empty() {
                repo.to_string()
            } else {
                format!("{repo}:{tag}")
            };
            match parse_reference(&name) {
                Some(r) if r.digest.is_none() => Some(r),
                _ => return Reply::error(400, "invalid reference format"),
            }
        }
    };
    let mut st = shared.lock();
    let Some(cid) = st.find_container_id(key) else {
        return no_such_container(key);
    };
    let (config, files, parent) = {
        let c = &st.containers[&cid];
        (
            merge_commit_config(&c.config, body.as_ref()),
            c.fs.clone(),
            c.image_id.clone(),
        )
    };
    let (secs, nanos) = clock::now();
    let image = Image {
        id: format!("sha256:{}", st.new_id()),
        config,
        fs: files,
        created: clock::rfc3339(secs, nanos),
        parent,
        comment: q.get("comment").to_string(),
        author: q.get("author").to_string(),
        container: cid.clone(),
    };
    let tags: Vec<_> = reference.into_iter().collect();
    let id = st.add_image(image, &tags);
    Reply::json(201, &json!({ "Id": id }))
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn container_names() {
        for ok in ["ab", "/s2i_x-1.y", "a1"] {
            assert!(valid_container_name(ok), "{ok}");
        }
        for bad in ["a", "_ab", "a b", "a/b", ""] {
            assert!(!valid_container_name(bad), "{bad}");
        }
    }
}
