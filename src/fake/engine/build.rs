//! `POST /build`: a minimal reading of a Dockerfile, enough for a built image to have a config
//! and files.
//!
//! Supported: `FROM` (an image the fake has, one from its registry, or `scratch`), `LABEL`,
//! `ENV`, `USER`, `WORKDIR`, `ENTRYPOINT`, `CMD` (exec and shell forms), `EXPOSE`, `VOLUME`,
//! `ONBUILD` (recorded, not run), `COPY`/`ADD` from the context (no URLs, no wildcards, no
//! `--from`), and `ARG`/`MAINTAINER`/`STOPSIGNAL`. `RUN`, `HEALTHCHECK` and `SHELL` cannot be
//! faked and fail the build in-band, as a failing step does on the daemon.
//!
//! It works on the fake's state and filesystem only; the `http` reply is for the errors the
//! daemon sends before its stream starts.

use serde_json::{json, Map, Value};

use super::clock::{self, short_id};
use super::fs::{is_within, normalize, Fs, Kind, SEED_MTIME};
use super::http::Reply;
use super::state::{empty_config, merge_env, parse_reference, Image, Reference, State};

/// A step's failure, reported in-band.
type StepResult = Result<(), String>;

fn stream(text: impl Into<String>) -> Value {
    json!({ "stream": text.into() })
}

/// The daemon's in-band error line.
pub(crate) fn error_line(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

/// The message a failed pull of `r` gets: the Hub hides missing repositories behind
/// "pull access denied", other registries say the manifest is unknown.
pub(crate) fn not_found_message(r: &Reference) -> String {
    if r.domain == "docker.io" {
        format!(
            "pull access denied for {}, repository does not exist or may require 'docker login': \
             denied: requested access to the resource is denied",
            r.familiar_repo()
        )
    } else {
        format!(
            "manifest for {} not found: manifest unknown: manifest unknown",
            r.familiar()
        )
    }
}

/// Splits on unquoted whitespace; quotes are removed and `\` escapes the next character.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, quote) {
            ('\\', q) if q != Some('\'') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                in_word = true;
            }
            (q @ ('"' | '\''), None) => {
                quote = Some(q);
                in_word = true;
            }
            (c, Some(q)) if c == q => quote = None,
            (c, None) if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (c, _) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// `k=v k2="v 2"`, or the legacy `k v with spaces`.
fn pairs(args: &str) -> Vec<(String, String)> {
    let w = words(args);
    match w.first() {
        Some(first) if !first.contains('=') => {
            let value = args.trim_start()[first.len()..].trim().to_string();
            vec![(first.clone(), words(&value).join(" "))]
        }
        _ => w
            .iter()
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_string(), v.to_string())
            })
            .collect(),
    }
}

/// The exec form `["a","b"]`, or the shell form wrapped in `/bin/sh -c`.
fn command(args: &str) -> Value {
    let t = args.trim();
    if t.starts_with('[') {
        if let Ok(Value::Array(a)) = serde_json::from_str::<Value>(t) {
            if a.iter().all(Value::is_string) {
                return Value::Array(a);
            }
        }
    }
    json!(["/bin/sh", "-c", t])
}

/// Logical lines of a Dockerfile: comments dropped, `\` continuations joined, with the line
/// number each starts on.
fn instructions(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if cur.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        if cur.is_empty() {
            start = i + 1;
        } else if line.starts_with('#') {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                cur.push_str(head);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push((start, cur.trim().to_string()));
                cur.clear();
            }
        }
    }
    if !cur.trim().is_empty() {
        out.push((start, cur.trim().to_string()));
    }
    out
}

/// The image being built.
struct Work {
    config: Value,
    fs: Fs,
    parent: String,
    author: String,
    cmd_set: bool,
    started: bool,
}

/// The instructions the fake knows; any other is a parse error, as on the daemon. `RUN`,
/// `HEALTHCHECK` and `SHELL` are known but fail when their step comes.
const KNOWN: &[&str] = &[
    "FROM",
    "LABEL",
    "ENV",
    "USER",
    "WORKDIR",
    "ENTRYPOINT",
    "CMD",
    "EXPOSE",
    "VOLUME",
    "ONBUILD",
    "COPY",
    "ADD",
    "ARG",
    "MAINTAINER",
    "STOPSIGNAL",
    "RUN",
    "HEALTHCHECK",
    "SHELL",
];

/// Runs a build. `Err` is a reply sent instead of a progress stream (the daemon fails before
/// its first flush); otherwise the progress lines, ending in an error line if a step failed.
pub(crate) fn build(
    st: &mut State,
    context: &[u8],
    dockerfile: &str,
    tags: &[Reference],
    labels: Option<&Map<String, Value>>,
) -> Result<Vec<Value>, Reply> {
    let ctx = read_context(context)?;
    let steps = read_dockerfile(&ctx, dockerfile)?;
    if let Some(line) = unknown_instruction(&steps) {
        return Ok(vec![line]);
    }
    let mut lines = Vec::new();
    let Some(mut work) = run_steps(st, &ctx, &steps, &mut lines) else {
        return Ok(lines);
    };
    if let Some(labels) = labels {
        add_labels(&mut work, labels);
    }
    store_image(st, work, tags, &mut lines);
    Ok(lines)
}

/// The build context, a plain tar, as a filesystem.
fn read_context(context: &[u8]) -> Result<Fs, Reply> {
    let mut ctx = Fs::root();
    if let Err(e) = ctx.extract("/", context, false) {
        return Err(Reply::error(
            500,
            &format!("the build context is not a tar archive (the fake reads plain tar only): {e}"),
        ));
    }
    Ok(ctx)
}

/// The instructions of the Dockerfile named `dockerfile` (`Dockerfile` when empty) in the
/// context; the daemon's `500` when it is missing or empty.
fn read_dockerfile(ctx: &Fs, dockerfile: &str) -> Result<Vec<(usize, String)>, Reply> {
    let name = if dockerfile.is_empty() {
        "Dockerfile"
    } else {
        dockerfile
    };
    let text = match ctx.get(&normalize("/", name)).map(|e| &e.kind) {
        Some(Kind::File(b)) => String::from_utf8_lossy(b).into_owned(),
        _ => {
            return Err(Reply::error(
                500,
                &format!("Cannot locate specified Dockerfile: {name}"),
            ))
        }
    };
    let steps = instructions(&text);
    if steps.is_empty() {
        return Err(Reply::error(
            500,
            &format!("the Dockerfile ({name}) cannot be empty"),
        ));
    }
    Ok(steps)
}

/// The error line for the first instruction not in [`KNOWN`]: the daemon parses the whole
/// Dockerfile before it runs a step.
fn unknown_instruction(steps: &[(usize, String)]) -> Option<Value> {
    for (line, text) in steps {
        let keyword = text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        if !KNOWN.contains(&keyword.as_str()) {
            return Some(error_line(&format!(
                "dockerfile parse error line {line}: unknown instruction: {keyword}"
            )));
        }
    }
    None
}

/// Runs the steps, pushing their progress lines; `None` when one failed (its error line is
/// then the last of `lines`).
fn run_steps(
    st: &mut State,
    ctx: &Fs,
    steps: &[(usize, String)],
    lines: &mut Vec<Value>,
) -> Option<Work> {
    let mut work = Work {
        config: empty_config(),
        fs: Fs::root(),
        parent: String::new(),
        author: String::new(),
        cmd_set: false,
        started: false,
    };
    let total = steps.len();
    for (i, (_, text)) in steps.iter().enumerate() {
        lines.push(stream(format!("Step {}/{total} : {text}", i + 1)));
        lines.push(stream("\n"));
        let (keyword, args) = match text.split_once(char::is_whitespace) {
            Some((k, a)) => (k.to_ascii_uppercase(), a.trim()),
            None => (text.to_ascii_uppercase(), ""),
        };
        if let Err(message) = step(st, ctx, &mut work, &keyword, args) {
            lines.push(error_line(&message));
            return None;
        }
        let shown = if keyword == "FROM" && !work.parent.is_empty() {
            short_id(&work.parent).to_string()
        } else if keyword == "FROM" {
            String::new()
        } else {
            st.new_id()[..12].to_string()
        };
        lines.push(stream(format!(" ---> {shown}\n")));
    }
    Some(work)
}

/// The `labels` of the build request, over those of the Dockerfile.
fn add_labels(work: &mut Work, labels: &Map<String, Value>) {
    let mut m = work.config["Labels"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    m.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    work.config["Labels"] = Value::Object(m);
}

/// Stores the built image under `tags` and pushes the closing lines (its ID, then the tags).
fn store_image(st: &mut State, work: Work, tags: &[Reference], lines: &mut Vec<Value>) {
    let (secs, nanos) = clock::now();
    let image = Image {
        id: format!("sha256:{}", st.new_id()),
        config: work.config,
        fs: work.fs,
        created: clock::rfc3339(secs, nanos),
        parent: work.parent,
        comment: String::new(),
        author: work.author,
        container: String::new(),
    };
    let id = st.add_image(image, tags);
    lines.push(json!({ "aux": { "ID": id } }));
    lines.push(stream(format!("Successfully built {}\n", short_id(&id))));
    for t in tags {
        lines.push(stream(format!("Successfully tagged {}\n", t.familiar())));
    }
}

fn step(st: &mut State, ctx: &Fs, work: &mut Work, keyword: &str, args: &str) -> StepResult {
    if keyword != "FROM" && keyword != "ARG" && !work.started {
        return Err("Please provide a source image with `from` prior to commit".to_string());
    }
    match keyword {
        "FROM" => from(st, work, args),
        "LABEL" => {
            let mut m = work.config["Labels"].as_object().cloned().unwrap_or_default();
            for (k, v) in pairs(args) {
                m.insert(k, json!(v));
            }
            work.config["Labels"] = Value::Object(m);
            Ok(())
        }
        "ENV" => {
            let add: Vec<String> = pairs(args).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
            work.config["Env"] = merge_env(&work.config["Env"], &json!(add));
            Ok(())
        }
        "USER" => {
            work.config["User"] = json!(args);
            Ok(())
        }
        "WORKDIR" => {
            let base = work.config["WorkingDir"].as_str().unwrap_or("/").to_string();
            let dir = normalize(if base.is_empty() { "/" } else { &base }, args);
            work.fs.mkdir_all(&dir, 0o755, SEED_MTIME);
            work.config["WorkingDir"] = json!(dir);
            Ok(())
        }
        "ENTRYPOINT" => {
            work.config["Entrypoint"] = command(args);
            if !work.cmd_set {
                work.config["Cmd"] = Value::Null;
            }
            Ok(())
        }
        "CMD" => {
            work.config["Cmd"] = command(args);
            work.cmd_set = true;
            Ok(())
        }
        "EXPOSE" => {
            let mut m = work.config["ExposedPorts"].as_object().cloned().unwrap_or_default();
            for p in words(args) {
                let p = if p.contains('/') { p } else { format!("{p}/tcp") };
                m.insert(p, json!({}));
            }
            work.config["ExposedPorts"] = Value::Object(m);
            Ok(())
        }
        "VOLUME" => {
            let list = match serde_json::from_str::<Vec<String>>(args) {
                Ok(v) => v,
                Err(_) => words(args),
            };
            let mut m = work.config["Volumes"].as_object().cloned().unwrap_or_default();
            for v in list {
                m.insert(v, json!({}));
            }
            work.config["Volumes"] = Value::Object(m);
            Ok(())
        }
        "ONBUILD" => {
            let mut list = work.config["OnBuild"].as_array().cloned().unwrap_or_default();
            list.push(json!(args));
            work.config["OnBuild"] = Value::Array(list);
            Ok(())
        }
        "COPY" | "ADD" => copy(ctx, work, keyword, args),
        "ARG" => Ok(()),
        "MAINTAINER" => {
            work.author = args.to_string();
            Ok(())
        }
        "STOPSIGNAL" => {
            work.config["StopSignal"] = json!(args);
            Ok(())
        }
        other => Err(format!(
            "the fake engine cannot run {other}: it interprets Dockerfiles without executing anything"
        )),
    }
}

fn from(st: &mut State, work: &mut Work, args: &str) -> StepResult {
    let name = args.split_whitespace().next().unwrap_or("");
    work.started = true;
    if name == "scratch" {
        return Ok(());
    }
    let image = match st.find_image(name) {
        Some(i) => i.clone(),
        None => {
            let r = parse_reference(name).ok_or_else(|| "invalid reference format".to_string())?;
            let pulled = st
                .registry
                .get(&r.canonical())
                .filter(|_| !st.logins.contains_key(&r.domain))
                .cloned();
            match pulled {
                Some(i) => {
                    st.add_image(i.clone(), &[r]);
                    i
                }
                None => return Err(not_found_message(&r)),
            }
        }
    };
    work.config = image.config.clone();
    work.config["Image"] = json!(image.id);
    work.fs = image.fs.clone();
    work.parent = image.id;
    Ok(())
}

fn copy(ctx: &Fs, work: &mut Work, keyword: &str, args: &str) -> StepResult {
    let mut list = match serde_json::from_str::<Vec<String>>(args.trim()) {
        Ok(v) => v,
        Err(_) => words(args),
    };
    list.retain(|w| {
        // `--chown`/`--chmod` change ownership the fake does not model; `--from` is refused below.
        !(w.starts_with("--chown=") || w.starts_with("--chmod="))
    });
    if let Some(flag) = list.iter().find(|w| w.starts_with("--")) {
        return Err(format!("the fake engine does not support {keyword} {flag}"));
    }
    if list.len() < 2 {
        return Err(format!("{keyword} requires at least two arguments"));
    }
    let dest_raw = list.pop().unwrap_or_default();
    let workdir = work.config["WorkingDir"].as_str().unwrap_or("").to_string();
    let dest = normalize(if workdir.is_empty() { "/" } else { &workdir }, &dest_raw);
    let into_dir = dest_raw.ends_with('/')
        || list.len() > 1
        || matches!(work.fs.get(&dest).map(|e| &e.kind), Some(Kind::Dir));
    for src in &list {
        if src.contains("://") {
            return Err(format!(
                "the fake engine does not support {keyword} from a URL"
            ));
        }
        let path = normalize("/", src);
        let Some(entry) = ctx.get(&path) else {
            return Err(format!(
                "{keyword} failed: file not found in build context or excluded by .dockerignore: \
                 stat {}: file does not exist",
                src.trim_start_matches("./")
            ));
        };
        match (&entry.kind, into_dir) {
            (Kind::Dir, _) => {
                work.fs.mkdir_all(&dest, 0o755, SEED_MTIME);
                for (p, e) in ctx
                    .iter()
                    .filter(|(p, _)| **p != path && is_within(p, &path))
                {
                    let rel = p[path.len()..].trim_start_matches('/');
                    work.fs.put(&normalize(&dest, rel), e.clone());
                }
            }
            (_, true) => {
                let base = path.rsplit('/').next().unwrap_or("");
                work.fs.copy_from(ctx, &path, &normalize(&dest, base));
            }
            (_, false) => work.fs.copy_from(ctx, &path, &dest),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::engine::tests::{builder, call, tar_of};

    #[test]
    fn words_and_pairs() {
        assert_eq!(words(r#"a "b c" d\ e 'f\g'"#), ["a", "b c", "d e", r"f\g"]);
        assert_eq!(
            pairs(r#"a=1 "b c"="x y" d="""#),
            [
                ("a".into(), "1".into()),
                ("b c".into(), "x y".into()),
                ("d".into(), String::new())
            ]
        );
        assert_eq!(
            pairs("key some value"),
            [("key".into(), "some value".into())]
        );
    }

    #[test]
    fn instructions_join_continuations_and_skip_comments() {
        let text = "# c\nFROM x\n\nRUN a \\\n  # inner\n  b\nCMD [\"y\"]";
        assert_eq!(
            instructions(text),
            [
                (2, "FROM x".to_string()),
                (4, "RUN a  b".to_string()),
                (7, "CMD [\"y\"]".to_string())
            ]
        );
    }

    #[test]
    fn commands_have_both_forms() {
        assert_eq!(command(r#"["/run", "x"]"#), json!(["/run", "x"]));
        assert_eq!(command("echo hi"), json!(["/bin/sh", "-c", "echo hi"]));
    }

    #[test]
    fn build_reads_the_dockerfile() {
        let fake = builder().serve_unix().unwrap();
        let dockerfile = b"FROM busybox\nLABEL a=b \"c d\"=e\nENV X=1 Y=\"two words\"\nUSER 1001\nWORKDIR /opt/app\nCOPY src/ ./\nENTRYPOINT [\"/entry\"]\nEXPOSE 8080\nONBUILD USER root\n";
        let ctx = tar_of(&[("Dockerfile", dockerfile), ("src/main.rb", b"main")]);
        let r = call(
            &fake,
            "POST",
            "/v1.41/build?t=built%3A1&nocache=1&rm=1",
            &ctx,
        );
        assert_eq!(r.status, 200);
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.starts_with("{\"stream\":\"Step 1/9 : FROM busybox\"}\r\n"),
            "{text}"
        );
        assert!(text.contains("Successfully tagged built:1"), "{text}");
        let image = fake.image("built:1").unwrap();
        assert_eq!(
            image.config["Labels"],
            json!({"a": "b", "c d": "e", "io.openshift.s2i.scripts-url": "image:///usr/libexec/s2i"})
        );
        assert_eq!(image.config["Env"], json!(["X=1", "Y=two words"]));
        assert_eq!(image.config["User"], "1001");
        assert_eq!(image.config["Entrypoint"], json!(["/entry"]));
        assert_eq!(image.config["Cmd"], Value::Null);
        assert_eq!(image.config["OnBuild"], json!(["USER root"]));
        assert_eq!(image.config["ExposedPorts"], json!({"8080/tcp": {}}));
        assert_eq!(
            fake.image_file("built:1", "/opt/app/main.rb").unwrap(),
            b"main"
        );
        assert!(fake
            .image_file("built:1", "/usr/libexec/s2i/assemble")
            .is_some());

        let ctx = tar_of(&[("Dockerfile", b"FROM busybox\nRUN make\n")]);
        let r = call(&fake, "POST", "/build?t=x", &ctx);
        let text = String::from_utf8(r.body).unwrap();
        assert!(
            text.contains("\"errorDetail\"") && text.contains("cannot run RUN"),
            "{text}"
        );
        let r = call(&fake, "POST", "/build", &tar_of(&[("x", b"")]));
        assert_eq!(
            (r.status, r.json()["message"].as_str()),
            (500, Some("Cannot locate specified Dockerfile: Dockerfile"))
        );
    }
}
