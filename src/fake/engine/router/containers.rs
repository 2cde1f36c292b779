//! Container handlers: create, attach, start, wait, inspect, kill, remove and list, with the daemon's
//! rules (names, commands, running containers) and texts.
//!
//! Like every handler, it reads and changes the fake's state and nothing else; `server` pumps
//! the attached streams, and sends the body of `wait` once `wait_result` has it.

use serde_json::{json, Value};

use super::{no_such_container, Action, AttachPlan, Outcome, Query, WaitCondition, WaitPlan};
use crate::fake::engine::http::{Body, Reply, Request};
use crate::fake::engine::state::{Container, Shared, Status};

/// The daemon's container name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, an optional leading `/`.
fn valid_name(name: &str) -> bool {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `POST /containers/create?name=`.
pub(super) fn create(shared: &Shared, req: &Request, q: &Query) -> Reply {
    let name = q.get("name");
    if !name.is_empty() && !valid_name(name) {
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

/// `POST /containers/{id}/attach`: the plan the connection carries out after the upgrade.
pub(super) fn attach(shared: &Shared, req: &Request, key: &str, q: &Query) -> Outcome {
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

/// `POST /containers/{id}/start`.
pub(super) fn start(shared: &Shared, key: &str) -> Reply {
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

/// `POST /containers/{id}/wait?condition=`: the plan; [`wait_result`] gives the body.
pub(super) fn wait(shared: &Shared, key: &str, q: &Query) -> Outcome {
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

/// `GET /containers/{id}/json`.
pub(super) fn inspect(shared: &Shared, key: &str) -> Reply {
    let st = shared.lock();
    match st.find_container_id(key) {
        Some(id) => Reply::json(200, &st.containers[&id].inspect_json()),
        None => no_such_container(key),
    }
}

/// `GET /containers/json?all=&filters=`: running containers, or all with `all`, that carry
/// every label of the `label` filter (`key` or `key=value`), newest first. Other filters are
/// refused as the daemon refuses unknown ones.
pub(super) fn list(shared: &Shared, q: &Query) -> Reply {
    let filters: Value = match q.get("filters") {
        "" => json!({}),
        f => match serde_json::from_str(f) {
            Ok(v @ Value::Object(_)) => v,
            _ => return Reply::error(400, &format!("invalid filter '{f}'")),
        },
    };
    let mut wanted = Vec::new();
    for (key, values) in filters.as_object().into_iter().flatten() {
        if key != "label" {
            return Reply::error(400, &format!("invalid filter '{key}'"));
        }
        // The daemon takes `["a","b"]` and the older `{"a":true,"b":true}`.
        match values {
            Value::Array(a) => wanted.extend(a.iter().filter_map(Value::as_str).map(String::from)),
            Value::Object(m) => wanted.extend(m.keys().cloned()),
            _ => return Reply::error(400, "invalid filter 'label'"),
        }
    }
    let all = q.flag("all");
    let st = shared.lock();
    let mut listed: Vec<&Container> = st
        .containers
        .values()
        .filter(|c| all || c.status == Status::Running)
        .filter(|c| {
            let labels = &c.config["Labels"];
            wanted.iter().all(|f| match f.split_once('=') {
                Some((k, v)) => labels[k].as_str() == Some(v),
                None => labels.get(f.as_str()).is_some(),
            })
        })
        .collect();
    listed.sort_by(|a, b| b.created_unix.cmp(&a.created_unix).then(a.id.cmp(&b.id)));
    let out: Vec<Value> = listed.iter().map(|c| c.summary_json()).collect();
    Reply::json(200, &Value::Array(out))
}

/// A signal name or number (`SIGKILL`, `KILL`, `9`).
pub(super) fn signal_number(s: &str) -> Option<i64> {
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

/// `POST /containers/{id}/kill?signal=`.
pub(super) fn kill(shared: &Shared, key: &str, q: &Query) -> Reply {
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

/// `DELETE /containers/{id}?force=`.
pub(super) fn remove(shared: &Shared, key: &str, q: &Query) -> Reply {
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

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::unix::net::UnixStream;
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::fake::engine::tests::{builder, call, read_reply, request};
    use crate::fake::engine::FakeRun;

    #[test]
    fn container_names() {
        for ok in ["ab", "/s2i_x-1.y", "a1"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["a", "_ab", "a b", "a/b", ""] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn kill_wait_and_removal_rules() {
        let fake = builder()
            .on_command("sleep", FakeRun::new().delay(Duration::from_secs(60)))
            .serve_unix()
            .unwrap();
        let body = br#"{"Image":"busybox","Cmd":["sleep","60"]}"#;
        let id = call(&fake, "POST", "/containers/create", body).json()["Id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            call(&fake, "POST", &format!("/containers/{id}/start"), b"").status,
            204
        );
        let del = call(&fake, "DELETE", &format!("/containers/{id}"), b"");
        assert_eq!(del.status, 409);
        assert!(del.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("You cannot remove a running container"));
        let waiter = {
            let path = fake.socket_path().unwrap().to_path_buf();
            let id = id.clone();
            std::thread::spawn(move || {
                let mut s = UnixStream::connect(path).unwrap();
                s.write_all(&request("POST", &format!("/containers/{id}/wait"), "", b""))
                    .unwrap();
                read_reply(&mut s, &mut Vec::new(), false).json()
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            call(
                &fake,
                "POST",
                &format!("/containers/{id}/kill?signal=SIGKILL"),
                b""
            )
            .status,
            204
        );
        assert_eq!(
            waiter.join().unwrap(),
            json!({"Error": null, "StatusCode": 137})
        );
        assert_eq!(
            call(
                &fake,
                "DELETE",
                &format!("/containers/{}?force=1", &id[..12]),
                b""
            )
            .status,
            204
        );
        assert!(fake.containers().is_empty());
    }
}
