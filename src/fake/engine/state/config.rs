//! `Config` objects: the empty one, the `HostConfig` of a container created without one, and
//! the daemon's rules for merging a create or commit request over an image's or a container's
//! config.
//!
//! JSON only: it uses nothing else of the fake or of the crate.

use serde_json::{json, Map, Value};

/// An empty `Config` object with every field the daemon writes.
pub(crate) fn empty_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

pub(super) fn strings_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The `HostConfig` the daemon reports for a container created without one.
pub(super) fn default_host_config() -> Value {
    // Parsed rather than built with `json!`, whose macro recursion an object this size exceeds.
    const DEFAULT: &str = r#"{
        "Binds": null, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": null,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null,
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host",
        "Dns": null, "DnsOptions": null, "DnsSearch": null, "ExtraHosts": null, "GroupAdd": null,
        "IpcMode": "private", "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false,
        "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "runc", "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": null, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": false, "PidsLimit": null, "Ulimits": null
    }"#;
    serde_json::from_str(DEFAULT).unwrap_or_else(|_| json!({}))
}

/// The container `Config`: the request's fields over the image's, with the daemon's rules:
/// `Env` and `Labels` merge by key, and an `Entrypoint` given without a `Cmd` drops the
/// image's `Cmd`.
pub(super) fn merge_create_config(image: &Value, body: &Value) -> Value {
    let mut c = image.clone();
    let Some(req) = body.as_object() else {
        return c;
    };
    for (k, v) in req {
        if matches!(
            k.as_str(),
            "HostConfig" | "NetworkingConfig" | "Env" | "Labels" | "ExposedPorts"
        ) || is_unset(v)
        {
            continue;
        }
        c[k] = v.clone();
    }
    let entry_given = req.get("Entrypoint").is_some_and(|v| !is_unset(v));
    let cmd_given = req.get("Cmd").is_some_and(|v| !is_unset(v));
    if entry_given && !cmd_given {
        c["Cmd"] = Value::Null;
    }
    c["Env"] = merge_env(&c["Env"], req.get("Env").unwrap_or(&Value::Null));
    merge_maps(&mut c, req, &["Labels", "ExposedPorts"]);
    c
}

/// The daemon fills a request's empty fields (`""`, `[]`, `null`) from the image.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The request's keys are added to (or replace those of) the maps `keys` of `config`.
fn merge_maps(config: &mut Value, req: &Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(Value::Object(add)) = req.get(*key) {
            let mut m = config[*key].as_object().cloned().unwrap_or_default();
            m.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
            config[*key] = Value::Object(m);
        }
    }
}

/// The image `Config` of a commit: the container's, with the request's set fields over it
/// (`Env` and the maps merged by key).
pub(crate) fn merge_commit_config(container: &Value, body: Option<&Value>) -> Value {
    let mut c = container.clone();
    let Some(req) = body.and_then(Value::as_object) else {
        return c;
    };
    for (k, v) in req {
        if matches!(k.as_str(), "Env" | "Labels" | "ExposedPorts" | "Volumes") || is_unset(v) {
            continue;
        }
        c[k] = v.clone();
    }
    c["Env"] = merge_env(&c["Env"], req.get("Env").unwrap_or(&Value::Null));
    merge_maps(&mut c, req, &["Labels", "ExposedPorts", "Volumes"]);
    c
}

/// `base` with `over`'s `NAME=value` entries replacing the same names and the rest appended.
pub(crate) fn merge_env(base: &Value, over: &Value) -> Value {
    let mut env = strings_of(base);
    for e in strings_of(over) {
        let name = e.split('=').next().unwrap_or("").to_string();
        match env
            .iter_mut()
            .find(|x| x.split('=').next().unwrap_or("") == name)
        {
            Some(slot) => *slot = e,
            None => env.push(e),
        }
    }
    if env.is_empty() && base.is_null() {
        Value::Null
    } else {
        Value::from(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_config_merges_like_the_daemon() {
        let image = json!({"Env": ["PATH=/bin", "A=1"], "Cmd": ["run"], "Entrypoint": ["/ep"],
                           "User": "1001", "Labels": {"a": "1"}});
        let c = merge_create_config(
            &image,
            &json!({"Env": ["A=2", "B=3"], "Entrypoint": ["/usr/bin/env"], "User": "",
                    "Labels": {"b": "2"}}),
        );
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(c["Cmd"], Value::Null);
        assert_eq!(c["Entrypoint"], json!(["/usr/bin/env"]));
        assert_eq!(c["User"], "1001");
        assert_eq!(c["Labels"], json!({"a": "1", "b": "2"}));
        let c = merge_create_config(&image, &json!({"Cmd": ["x"]}));
        assert_eq!(
            (c["Cmd"].clone(), c["Entrypoint"].clone()),
            (json!(["x"]), json!(["/ep"]))
        );
    }
}
