//! Image handlers: inspect, pull (from the fake's registry, with its credentials), remove,
//! build and commit, with the daemon's texts for missing images and conflicts.
//!
//! Like every handler, it reads and changes the fake's state and nothing else (`build` reads
//! the Dockerfiles).

use serde_json::{json, Map, Value};

use super::{no_such_container, Query};
use crate::fake::engine::build::{self as dockerfile, error_line, not_found_message};
use crate::fake::engine::clock::{self, short_id};
use crate::fake::engine::http::{Reply, Request};
use crate::fake::engine::state::{
    decode_registry_auth, merge_commit_config, parse_reference, Image, Reference, Shared, State,
    Status,
};

/// `GET /images/{name}/json`.
pub(super) fn inspect(shared: &Shared, name: &str) -> Reply {
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

/// `POST /images/create?fromImage=&tag=`: a pull from the fake's registry, as a progress stream.
pub(super) fn pull(shared: &Shared, req: &Request, q: &Query) -> Reply {
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
    let layer = short_id(&image.id).to_string();
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

/// `DELETE /images/{name}?force=`: untags, or deletes when the last tag goes.
pub(super) fn remove(shared: &Shared, name: &str, q: &Query) -> Reply {
    let force = q.flag("force");
    let mut st = shared.lock();
    let by_ref = parse_reference(name).and_then(|r| {
        let key = r.canonical();
        st.tags.get(&key).map(|id| (r, key, id.clone()))
    });
    let doomed = match by_ref {
        Some((r, key, id)) => remove_tag(&mut st, name, force, &r, key, id),
        None => remove_by_id(&st, name, force),
    };
    let (id, untag) = match doomed {
        Ok(doomed) => doomed,
        Err(reply) => return reply,
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

/// The image ID to delete and the tag keys to drop with it; `Err` is the reply when nothing is
/// deleted (a conflict, a missing image, or a tag removed from an image that keeps others).
type Doomed = Result<(String, Vec<String>), Reply>;

/// `DELETE /images/{name}` by a tag, `key`, of image `id`: only untags while the image has
/// other tags; otherwise deletes it, unless a container uses it and `force` is not given.
fn remove_tag(
    st: &mut State,
    name: &str,
    force: bool,
    r: &Reference,
    key: String,
    id: String,
) -> Doomed {
    let other_tags = st
        .tags
        .iter()
        .filter(|(k, v)| **v == id && **k != key)
        .count();
    if other_tags > 0 {
        st.tags.remove(&key);
        return Err(Reply::json(200, &json!([{ "Untagged": r.familiar() }])));
    }
    if !force {
        if let Some(c) = st.containers.values().find(|c| c.image_id == id) {
            return Err(Reply::error(
                409,
                &format!(
                    "conflict: unable to remove repository reference \"{name}\" (must \
                     force) - container {} is using its referenced image {}",
                    short_id(&c.id),
                    short_id(&id)
                ),
            ));
        }
    }
    Ok((id, vec![key]))
}

/// `DELETE /images/{name}` by ID or ID prefix: deletes the image with all its tags, unless it
/// has several and `force` is not given, or a container uses it (a running one even with
/// `force`).
fn remove_by_id(st: &State, name: &str, force: bool) -> Doomed {
    let Some(image) = st.find_image(name) else {
        return Err(Reply::error(404, &format!("No such image: {name}")));
    };
    let id = image.id.clone();
    let tags: Vec<String> = st
        .tags
        .iter()
        .filter(|(_, v)| **v == id)
        .map(|(k, _)| k.clone())
        .collect();
    if !force && tags.len() > 1 {
        return Err(Reply::error(
            409,
            &format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in \
                 multiple repositories",
                short_id(&id)
            ),
        ));
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
            return Err(Reply::error(
                409,
                &format!(
                    "conflict: {verb} {} (must be forced) - image is being used by {state} \
                     container {}",
                    short_id(&id),
                    short_id(&c.id)
                ),
            ));
        }
    }
    Ok((id, tags))
}

/// `POST /build?t=&dockerfile=&labels=`: see `engine::build`.
pub(super) fn build(shared: &Shared, req: &Request, q: &Query) -> Reply {
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
    match dockerfile::build(
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

/// `POST /commit?container=&repo=&tag=`: a new image from a container's config and files.
pub(super) fn commit(shared: &Shared, req: &Request, q: &Query) -> Reply {
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
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    use base64::Engine as _;

    use crate::fake::engine::tests::{call, read_reply, request};
    use crate::fake::engine::{FakeEngine, FakeImage};

    #[test]
    fn pulls_need_known_images_and_matching_credentials() {
        let fake = FakeEngine::new()
            .registry_image("127.0.0.1:5000/x:1", FakeImage::default().user("1001"))
            .registry_login("127.0.0.1:5000", "user", "pass")
            .serve_unix()
            .unwrap();
        let pull = |auth: Option<&str>| {
            let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
            let header = auth.map_or(String::new(), |a| {
                let v = base64::engine::general_purpose::URL_SAFE.encode(a);
                format!("X-Registry-Auth: {v}\r\n")
            });
            s.write_all(&request(
                "POST",
                "/v1.41/images/create?fromImage=127.0.0.1%3A5000%2Fx&tag=1",
                &header,
                b"",
            ))
            .unwrap();
            read_reply(&mut s, &mut Vec::new(), false)
        };
        let r = pull(None);
        assert_eq!(r.status, 200);
        assert!(String::from_utf8_lossy(&r.body).contains("unauthorized: authentication required"));
        let r = pull(Some(r#"{"username":"user","password":"nope"}"#));
        assert!(String::from_utf8_lossy(&r.body).contains("errorDetail"));
        assert!(fake.image("127.0.0.1:5000/x:1").is_none());
        let r = pull(Some(
            r#"{"username":"user","password":"pass","serveraddress":"127.0.0.1:5000"}"#,
        ));
        let text = String::from_utf8_lossy(&r.body).into_owned();
        assert!(
            text.contains("Status: Downloaded newer image for 127.0.0.1:5000/x:1"),
            "{text}"
        );
        assert_eq!(
            fake.image("127.0.0.1:5000/x:1").unwrap().config["User"],
            "1001"
        );
        let r = pull(Some(r#"{"username":"user","password":"pass"}"#));
        assert!(String::from_utf8_lossy(&r.body).contains("Image is up to date"));

        let r = call(
            &fake,
            "POST",
            "/images/create?fromImage=docker.io%2Flibrary%2Fnope&tag=latest",
            b"",
        );
        assert_eq!(r.status, 404);
        assert_eq!(
            r.json()["message"],
            "pull access denied for nope, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
        );
        let dbg = format!("{:?}", fake.requests()[1]);
        assert!(dbg.contains("<redacted>") && !dbg.contains("eyJ"), "{dbg}");
    }
}
