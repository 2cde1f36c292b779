//! The command line: a small hand-written parser for the reference's flags.
//!
//! Flags take their value as the next argument or after `=` (`--env A=1`, `--env=A=1`,
//! `-e A=1`); booleans take no value, or `=true`/`=false`. A `--` ends the flags. Unknown flags
//! and missing values are errors that name the flag, as the reference's parser does
//! (`unknown flag: --foo`). `build --use-config` first takes what `.s2ifile` holds (see
//! [`s2ifile`](crate::s2ifile)) for every argument and flag not given, then saves them all there.

use std::path::{Path, PathBuf};

use s2i_docker::image_ref::parse_normalized_named;
use s2i_docker::user::{parse_range_list, RangeList};
use s2i_docker::PullPolicy;

/// What the command line asks for.
#[derive(Debug)]
pub enum Command {
    /// `build SOURCE BUILDER [TAG]`.
    Build(Box<BuildArgs>),
    /// `usage BUILDER`.
    Usage(Box<BuildArgs>),
    /// `rebuild IMAGE [NEW_TAG]`: the build options, with IMAGE and NEW_TAG (or IMAGE again) as
    /// `source` and `tag` until the image's labels tell the rest.
    Rebuild(Box<BuildArgs>),
    /// `create IMAGE_NAME DESTINATION`: a builder image's repository, laid down.
    Create {
        name: String,
        destination: PathBuf,
        quiet: bool,
    },
    /// `completion SHELL`.
    Completion { shell: String },
    /// `version`.
    Version,
    /// `help [COMMAND]`, `-h`, `--help`.
    Help,
}

/// The engine and the output, common to every command.
#[derive(Debug, Default, Clone)]
pub struct Global {
    /// `-U/--url`: the engine, instead of `DOCKER_HOST`.
    pub url: Option<String>,
    /// `--cert`, `--key`, `--ca`: TLS files, instead of those in `DOCKER_CERT_PATH`.
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
    pub ca: Option<PathBuf>,
    /// `--tls`, `--tlsverify`.
    pub tls: bool,
    pub tls_verify: bool,
    /// `--loglevel`: 0 (default) to 5.
    pub loglevel: u8,
    /// `-q/--quiet`.
    pub quiet: bool,
    /// `--dockercfg-path`: registry credentials, instead of `~/.docker/config.json`.
    pub dockercfg_path: Option<PathBuf>,
}

/// The options of `build` (and the few of them `usage` reads).
#[derive(Debug, Default)]
pub struct BuildArgs {
    pub global: Global,
    pub source: String,
    pub builder: String,
    pub tag: String,
    pub pull_policy: PullPolicy,
    pub incremental_pull_policy: PullPolicy,
    pub runtime_pull_policy: PullPolicy,
    pub env: Vec<String>,
    pub environment_file: Option<PathBuf>,
    pub scripts_url: String,
    pub destination: String,
    pub assemble_user: String,
    pub assemble_runtime_user: String,
    pub allowed_uids: RangeList,
    pub incremental: bool,
    pub remove_previous: bool,
    pub runtime_image: String,
    pub runtime_artifacts: Vec<String>,
    pub copy: bool,
    /// `--ref`: what a repository's clone checks out (`HEAD` when empty).
    pub reference: String,
    pub ignore_submodules: bool,
    /// `--callback-url`: where the outcome is posted when the build ends.
    pub callback_url: String,
    pub keep_symlinks: bool,
    /// `--exclude`, compiled; `None` for none (an empty pattern excludes nothing).
    pub exclude: Option<std::sync::Arc<crate::regex::Regex>>,
    pub injections: Vec<crate::inject::Injection>,
    pub run: bool,
    pub network: String,
    pub cap_drop: Vec<String>,
    pub description: String,
    pub display_name: String,
    pub volumes: Vec<String>,
    pub add_hosts: Vec<String>,
    pub context_dir: String,
    /// `--save-temp-dir`: the temporary directories stay when the build ends.
    pub save_temp_dir: bool,
}

/// A flag of the command line: its names and whether it takes a value.
pub struct Flag {
    pub long: &'static str,
    pub short: Option<char>,
    pub takes_value: bool,
}

/// Every flag the parser knows.
pub fn flags() -> &'static [Flag] {
    FLAGS
}

const fn flag(long: &'static str, short: Option<char>, takes_value: bool) -> Flag {
    Flag {
        long,
        short,
        takes_value,
    }
}

const FLAGS: &[Flag] = &[
    flag("url", Some('U'), true),
    flag("cert", None, true),
    flag("key", None, true),
    flag("ca", None, true),
    flag("tls", None, false),
    flag("tlsverify", None, false),
    flag("loglevel", None, true),
    flag("quiet", Some('q'), false),
    flag("help", Some('h'), false),
    flag("dockercfg-path", None, true),
    flag("pull-policy", Some('p'), true),
    flag("incremental-pull-policy", None, true),
    flag("runtime-pull-policy", None, true),
    flag("env", Some('e'), true),
    flag("environment-file", Some('E'), true),
    flag("scripts-url", Some('s'), true),
    flag("destination", Some('d'), true),
    flag("assemble-user", None, true),
    flag("assemble-runtime-user", None, true),
    flag("allowed-uids", Some('u'), true),
    flag("incremental", None, false),
    flag("rm", None, false),
    flag("runtime-image", None, true),
    flag("runtime-artifact", Some('a'), true),
    flag("copy", Some('c'), false),
    flag("scripts", None, true),
    flag("location", Some('l'), true),
    flag("ref", Some('r'), true),
    flag("ignore-submodules", None, false),
    flag("callback-url", None, true),
    flag("keep-symlinks", None, false),
    flag("inject", Some('i'), true),
    flag("exclude", None, true),
    flag("run", None, false),
    flag("network", None, true),
    flag("cap-drop", None, true),
    flag("description", None, true),
    flag("application-name", Some('n'), true),
    flag("volume", Some('v'), true),
    flag("add-host", None, true),
    flag("context-dir", None, true),
    flag("use-config", None, false),
    flag("save-temp-dir", None, false),
];

/// Whether flag `name` may be given several times, each value adding to the others.
fn repeatable(name: &str) -> bool {
    matches!(
        name,
        "env" | "runtime-artifact" | "inject" | "volume" | "add-host" | "cap-drop"
    )
}

/// Parses the arguments after the program's name (`.s2ifile` is read and written in the current
/// directory).
///
/// # Errors
/// A text naming what is wrong: an unknown flag, a flag without its value, a value that does
/// not parse, a missing or extra argument, an `.s2ifile` that cannot be read.
pub fn parse(args: &[String]) -> Result<Command, String> {
    parse_in(args, Path::new("."))
}

/// As [`parse`], with `.s2ifile` in `dir`.
fn parse_in(args: &[String], dir: &Path) -> Result<Command, String> {
    let Some((command, rest)) = args.split_first() else {
        return Ok(Command::Help);
    };
    match command.as_str() {
        "build" | "usage" | "rebuild" | "create" => {}
        "version" | "--version" => return Ok(Command::Version),
        "completion" => {
            return match rest {
                [shell] => Ok(Command::Completion {
                    shell: shell.clone(),
                }),
                _ => Err("completion takes one argument, the shell: bash or zsh".into()),
            }
        }
        "help" | "-h" | "--help" => return Ok(Command::Help),
        other => return Err(format!("unknown command \"{other}\" for \"s2i-docker\"")),
    }
    let mut b = BuildArgs {
        pull_policy: PullPolicy::IfNotPresent,
        incremental_pull_policy: PullPolicy::IfNotPresent,
        runtime_pull_policy: PullPolicy::IfNotPresent,
        ..Default::default()
    };
    let mut positional = Vec::new();
    // Each flag given (its long name) and its value, in order.
    let mut given: Vec<(&'static str, String)> = Vec::new();
    let mut it = rest.iter();
    let mut flags_done = false;
    while let Some(arg) = it.next() {
        if flags_done || arg == "-" || !arg.starts_with('-') {
            positional.push(arg.clone());
            continue;
        }
        if arg == "--" {
            flags_done = true;
            continue;
        }
        let (f, inline) = find_flag(arg)?;
        let value = if f.takes_value {
            match inline {
                Some(v) => v,
                None => it
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("flag needs an argument: {}", shown(f)))?,
            }
        } else {
            match inline.as_deref() {
                None | Some("true") => "true".to_string(),
                Some("false") => "false".to_string(),
                Some(v) => {
                    return Err(format!(
                        "invalid argument \"{v}\" for {}: not true or false",
                        shown(f)
                    ))
                }
            }
        };
        if f.long == "help" {
            return Ok(Command::Help);
        }
        given.push((f.long, value));
    }
    let use_config = given
        .iter()
        .rev()
        .find(|(name, _)| *name == "use-config")
        .is_some_and(|(_, v)| v == "true");
    if !use_config {
        for (name, value) in given {
            set(&mut b, name, value)?;
        }
        return finish(command, b, positional);
    }
    with_config(command, b, given, positional, dir)
}

/// `build --use-config`: the flags and arguments of `.s2ifile` in `dir` where `given` and
/// `positional` leave them out; then all of them saved there again.
fn with_config(
    command: &str,
    mut b: BuildArgs,
    given: Vec<(&'static str, String)>,
    positional: Vec<String>,
    dir: &Path,
) -> Result<Command, String> {
    if command != "build" {
        return Err(format!("--use-config is a flag of build, not of {command}"));
    }
    let given: Vec<_> = given
        .into_iter()
        .filter(|(name, _)| *name != "use-config")
        .collect();
    let mut saved = crate::s2ifile::restore(dir)?.unwrap_or_default();
    // The stored flags not given again, then those given (which replace the stored ones).
    saved.flags.remove("use-config");
    // Each flag given with its values, in the order first given.
    let mut values: Vec<(&str, Vec<String>)> = Vec::new();
    for (name, value) in &given {
        match values.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => v.push(value.clone()),
            None => values.push((name, vec![value.clone()])),
        }
    }
    for (name, _) in &values {
        saved.flags.remove(*name);
    }
    for (name, text) in &saved.flags {
        let f = FLAGS.iter().find(|f| f.long == name).ok_or_else(|| {
            format!(
                "{}: unknown flag {name:?} (remove it from the file)",
                crate::s2ifile::FILE
            )
        })?;
        for value in crate::s2ifile::split(name, repeatable(name), text)? {
            set(&mut b, f.long, value)
                .map_err(|e| format!("{} (from {})", e, crate::s2ifile::FILE))?;
        }
    }
    for (name, value) in given {
        set(&mut b, name, value)?;
    }
    for (name, values) in values {
        let text = crate::s2ifile::join(name, repeatable(name), &values);
        saved.flags.insert(name.to_string(), text);
    }
    // SOURCE and BUILDER come from the file unless both are given; TAG unless it is given.
    let stored = [saved.source, saved.builder, saved.tag];
    let positional = match <[String; 2]>::try_from(positional) {
        // The stored ones, up to the first that is missing.
        Err(none) if none.is_empty() => stored.into_iter().take_while(|a| !a.is_empty()).collect(),
        Ok([source, builder]) => {
            let tag = Some(stored[2].clone()).filter(|t| !t.is_empty());
            [source, builder].into_iter().chain(tag).collect()
        }
        Err(given) => given,
    };
    let parsed = finish(command, b, positional)?;
    if let Command::Build(b) = &parsed {
        let saved = crate::s2ifile::Saved {
            source: b.source.clone(),
            builder: b.builder.clone(),
            tag: b.tag.clone(),
            flags: saved.flags,
        };
        if let Err(e) = crate::s2ifile::save(dir, &saved) {
            eprintln!("WARNING: {e}");
        }
    }
    Ok(parsed)
}

/// The flag `arg` names, and the value written after `=` (or after a short flag's letter).
fn find_flag(arg: &str) -> Result<(&'static Flag, Option<String>), String> {
    if let Some(long) = arg.strip_prefix("--") {
        let (name, value) = match long.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (long, None),
        };
        return FLAGS
            .iter()
            .find(|f| f.long == name)
            .map(|f| (f, value))
            .ok_or_else(|| format!("unknown flag: --{name}"));
    }
    let mut chars = arg[1..].chars();
    let c = chars.next().unwrap_or('-');
    let rest: String = chars.collect();
    let f = FLAGS
        .iter()
        .find(|f| f.short == Some(c))
        .ok_or_else(|| format!("unknown shorthand flag: '{c}' in {arg}"))?;
    let value = match rest.strip_prefix('=') {
        Some(v) => Some(v.to_string()),
        None if rest.is_empty() => None,
        None if f.takes_value => Some(rest),
        None => return Err(format!("unknown shorthand flag: '{c}' in {arg}")),
    };
    Ok((f, value))
}

/// The reference's warning for a flag kept under an old name.
fn deprecated(old: &str, new: &str) {
    eprintln!("WARNING: DEPRECATED: Flag --{old} is deprecated, use --{new} instead");
}

fn shown(f: &Flag) -> String {
    match f.short {
        Some(c) => format!("-{c}, --{}", f.long),
        None => format!("--{}", f.long),
    }
}

fn policy(name: &str, value: &str) -> Result<PullPolicy, String> {
    value
        .parse()
        .map_err(|e| format!("invalid argument \"{value}\" for --{name}: {e}"))
}

/// Stores one flag's value.
fn set(b: &mut BuildArgs, name: &str, value: String) -> Result<(), String> {
    let on = value == "true";
    let g = &mut b.global;
    match name {
        "url" => g.url = Some(value),
        "cert" => g.cert = Some(value.into()),
        "key" => g.key = Some(value.into()),
        "ca" => g.ca = Some(value.into()),
        "tls" => g.tls = on,
        "tlsverify" => g.tls_verify = on,
        "loglevel" => {
            g.loglevel = value
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= 5)
                .ok_or_else(|| {
                    format!("invalid argument \"{value}\" for --loglevel: a level from 0 to 5")
                })?
        }
        "quiet" => g.quiet = on,
        "dockercfg-path" => g.dockercfg_path = Some(value.into()),
        "pull-policy" => b.pull_policy = policy(name, &value)?,
        "incremental-pull-policy" => b.incremental_pull_policy = policy(name, &value)?,
        "runtime-pull-policy" => b.runtime_pull_policy = policy(name, &value)?,
        "env" => b.env.extend(parse_env_flag(&value)?),
        "environment-file" => b.environment_file = Some(value.into()),
        "scripts-url" => b.scripts_url = value,
        "destination" => b.destination = value,
        "scripts" => {
            deprecated("scripts", "scripts-url");
            b.scripts_url = value;
        }
        "location" => {
            deprecated("location", "destination");
            b.destination = value;
        }
        "assemble-user" => b.assemble_user = value,
        "assemble-runtime-user" => b.assemble_runtime_user = value,
        "allowed-uids" => {
            b.allowed_uids = parse_range_list(&value)
                .map_err(|e| format!("invalid argument \"{value}\" for --allowed-uids: {e}"))?
        }
        "incremental" => b.incremental = on,
        "rm" => b.remove_previous = on,
        "runtime-image" => b.runtime_image = value,
        "runtime-artifact" => b.runtime_artifacts.push(value),
        "copy" => b.copy = on,
        "ref" => b.reference = value,
        "ignore-submodules" => b.ignore_submodules = on,
        "callback-url" => b.callback_url = value,
        "keep-symlinks" => b.keep_symlinks = on,
        "inject" => b.injections.push(crate::inject::parse(&value)?),
        "exclude" if value.is_empty() => b.exclude = None,
        "exclude" => {
            let re = crate::regex::Regex::new(&value)
                .map_err(|e| format!("invalid argument {value:?} for --exclude: {e}"))?;
            b.exclude = Some(std::sync::Arc::new(re));
        }
        "run" => b.run = on,
        "network" => b.network = value,
        "cap-drop" => b
            .cap_drop
            .extend(value.split(',').filter(|c| !c.is_empty()).map(String::from)),
        "description" => b.description = value,
        "application-name" => b.display_name = value,
        "volume" => b.volumes.push(value),
        "add-host" => b.add_hosts.push(value),
        "context-dir" => b.context_dir = value,
        "save-temp-dir" => b.save_temp_dir = on,
        // Read before the other flags (see `parse_in`).
        "use-config" => {}
        _ => return Err(format!("unknown flag: --{name}")),
    }
    Ok(())
}

/// `-e` values: `NAME=VALUE`, or several separated by commas (as the reference's flag reads
/// them: a comma followed by `NAME=` starts the next one).
fn parse_env_flag(value: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for part in value.split(',') {
        let starts_new = part
            .split_once('=')
            .is_some_and(|(n, _)| !n.is_empty() && !n.contains(char::is_whitespace));
        match out.last_mut() {
            Some(last) if !starts_new => {
                last.push(',');
                last.push_str(part);
            }
            _ if starts_new => out.push(part.to_string()),
            _ => {
                return Err(format!(
                    "invalid argument \"{value}\" for -e, --env: {part:?} must be formatted as key=value"
                ))
            }
        }
    }
    Ok(out)
}

/// Checks the positional arguments and the combinations of flags.
fn finish(command: &str, mut b: BuildArgs, positional: Vec<String>) -> Result<Command, String> {
    if command == "create" {
        let [name, destination] = <[String; 2]>::try_from(positional)
            .map_err(|_| "create takes IMAGE_NAME DESTINATION".to_string())?;
        return Ok(Command::Create {
            name,
            destination: PathBuf::from(destination),
            quiet: b.global.quiet,
        });
    }
    if command == "rebuild" {
        let mut p = positional.into_iter();
        let (Some(image), new_tag, None) = (p.next(), p.next(), p.next()) else {
            return Err("rebuild takes IMAGE [NEW_TAG]".into());
        };
        b.tag = new_tag.unwrap_or_else(|| image.clone());
        b.source = image;
        check_build(&b)?;
        return Ok(Command::Rebuild(Box::new(b)));
    }
    if command == "usage" {
        let [builder] = <[String; 1]>::try_from(positional).map_err(|p| {
            format!(
                "usage needs exactly one argument, the builder image (got {})",
                p.len()
            )
        })?;
        b.builder = builder;
        return Ok(Command::Usage(Box::new(b)));
    }
    let mut p = positional.into_iter();
    match (p.next(), p.next(), p.next(), p.next()) {
        (Some(source), Some(builder), tag, None) => {
            b.source = source;
            b.builder = builder;
            b.tag = tag.unwrap_or_default();
        }
        (_, _, _, Some(extra)) => {
            return Err(format!(
                "unexpected argument \"{extra}\": build takes SOURCE BUILDER [TAG]"
            ))
        }
        (None, ..) => {
            return Err(
                "Required value not specified for \"source\": build takes SOURCE BUILDER [TAG]"
                    .into(),
            )
        }
        (Some(_), None, ..) => return Err(
            "Required value not specified for \"builderImage\": build takes SOURCE BUILDER [TAG]"
                .into(),
        ),
    }
    check_build(&b)?;
    Ok(Command::Build(Box::new(b)))
}

/// What a build's flags may not ask for together, and its TAG.
fn check_build(b: &BuildArgs) -> Result<(), String> {
    if b.incremental && !b.runtime_image.is_empty() {
        return Err("Incremental build with runtime image isn't supported".into());
    }
    if !b.runtime_artifacts.is_empty() && b.runtime_image.is_empty() {
        return Err("--runtime-artifact needs --runtime-image".into());
    }
    if b.tag.is_empty() && (b.incremental || b.run) {
        return Err("--incremental and --run need the TAG argument".into());
    }
    check_tag(&b.tag)
}

/// A TAG the commit would refuse, refused before the build (the reference learns of it only
/// when it commits, after `assemble` ran).
fn check_tag(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Ok(());
    }
    let bad = |why: &str| format!("invalid argument \"{tag}\" for TAG: {why}");
    match parse_normalized_named(tag) {
        Err(e) => Err(bad(&e.to_string())),
        Ok(r) if r.digest.is_some() => Err(bad("refusing to create a tag with a digest reference")),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn build(s: &str) -> BuildArgs {
        match parse(&args(s)) {
            Ok(Command::Build(b)) => *b,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn flags_in_every_form() {
        let b = build(
            "build . img out -e A=1 --env=B=2,C=3 -eD=4 -p never --incremental-pull-policy=always \
             --rm --incremental -q --loglevel 3 -U unix:///x.sock --assemble-user 1001 -u 1- \
             -v /a:/b --add-host h:1.2.3.4 --context-dir web --keep-symlinks -i /s:/d \
             --inject=/t --exclude (^|/)tmp$",
        );
        assert_eq!(
            (b.source.as_str(), b.builder.as_str(), b.tag.as_str()),
            (".", "img", "out")
        );
        assert_eq!(b.env, ["A=1", "B=2", "C=3", "D=4"]);
        assert_eq!(b.pull_policy, PullPolicy::Never);
        assert_eq!(b.incremental_pull_policy, PullPolicy::Always);
        assert!(b.remove_previous && b.incremental && b.global.quiet);
        assert_eq!(b.global.loglevel, 3);
        assert_eq!(b.global.url.as_deref(), Some("unix:///x.sock"));
        assert_eq!(b.assemble_user, "1001");
        assert!(b.allowed_uids.contains(5));
        assert_eq!(
            (b.volumes.as_slice(), b.add_hosts.as_slice()),
            (&["/a:/b".to_string()][..], &["h:1.2.3.4".to_string()][..])
        );
        assert_eq!(b.context_dir, "web");
        assert!(b.keep_symlinks && !build("build . img").keep_symlinks);
        // The reference's old names.
        let old = build("build . img --scripts image:///s -l /dest");
        assert_eq!(
            (old.scripts_url.as_str(), old.destination.as_str()),
            ("image:///s", "/dest")
        );
        match parse(&args("rebuild app:1 app:2 -p never")) {
            Ok(Command::Rebuild(r)) => {
                assert_eq!((r.source.as_str(), r.tag.as_str()), ("app:1", "app:2"));
                assert_eq!(r.pull_policy, PullPolicy::Never);
            }
            other => panic!("{other:?}"),
        }
        match parse(&args("rebuild app:1")) {
            Ok(Command::Rebuild(r)) => assert_eq!(r.tag, "app:1"),
            other => panic!("{other:?}"),
        }
        for bad in ["rebuild", "rebuild a b c", "rebuild a B@"] {
            assert!(parse(&args(bad)).is_err(), "{bad}");
        }
        let hook = build("build . img --callback-url http://h/x");
        assert_eq!(hook.callback_url, "http://h/x");
        let git = build("build . img -c -r v1 --ignore-submodules");
        assert!(git.copy && git.ignore_submodules);
        assert_eq!(
            (
                git.reference.as_str(),
                build("build . img --ref=main").reference.as_str()
            ),
            ("v1", "main")
        );
        let injected: Vec<(&str, &str)> = b
            .injections
            .iter()
            .map(|i| (i.source.to_str().unwrap(), i.destination.as_str()))
            .collect();
        assert_eq!(injected, [("/s", "/d"), ("/t", ".")]);
        let exclude = b.exclude.unwrap();
        assert!(exclude.is_match("a/tmp") && !exclude.is_match("a/tmpl"));
        assert!(build("build . img --exclude=").exclude.is_none());
    }

    #[test]
    fn use_config_takes_what_is_not_given_and_saves_it_all() {
        let dir = crate::temp::TempDir::new("test-use-config").unwrap();
        let parse = |s: &str| match parse_in(&args(s), dir.path()) {
            Ok(Command::Build(b)) => Ok(*b),
            Ok(other) => panic!("{s}: {other:?}"),
            Err(e) => Err(e),
        };
        // Nothing stored yet: the arguments are needed.
        assert!(parse("build --use-config").unwrap_err().contains("source"));
        parse(
            "build src img app:1 --use-config -e A=1 -e B=2,3 -v /a:/b -v /c,d:/e --incremental \
             -p never --scripts-url image:///s",
        )
        .unwrap();
        let saved = std::fs::read_to_string(dir.path().join(".s2ifile")).unwrap();
        assert_eq!(
            saved,
            r#"{"source":"src","builderImage":"img","tag":"app:1","flags":{"env":"A=1,B=2,3","incremental":"true","pull-policy":"never","scripts-url":"image:///s","volume":"[/a:/b,\"/c,d:/e\"]"}}"#
        );
        // All of it comes back; flags given again win, and are saved.
        let b = parse("build --use-config -p always").unwrap();
        assert_eq!(
            (b.source.as_str(), b.builder.as_str(), b.tag.as_str()),
            ("src", "img", "app:1")
        );
        assert_eq!(b.env, ["A=1", "B=2,3"]);
        assert_eq!(b.volumes, ["/a:/b", "/c,d:/e"]);
        assert!(b.incremental);
        assert_eq!(b.pull_policy, PullPolicy::Always);
        assert_eq!(b.scripts_url, "image:///s");
        let b = parse("build --use-config other img2 -e C=4").unwrap();
        assert_eq!(
            (b.source.as_str(), b.builder.as_str(), b.tag.as_str()),
            ("other", "img2", "app:1")
        );
        assert_eq!(b.env, ["C=4"]);
        assert_eq!(b.pull_policy, PullPolicy::Always);
        // Without the flag, the file is neither read nor written.
        let plain = parse("build x y").unwrap();
        assert!(plain.env.is_empty() && !plain.incremental);
        assert!(std::fs::read_to_string(dir.path().join(".s2ifile"))
            .unwrap()
            .contains("\"source\":\"other\""));
        // A stored flag this tool does not know, or a bad value, is named.
        let stored = |flags: &str| {
            let file = format!(r#"{{"source":"s","builderImage":"b","flags":{flags}}}"#);
            std::fs::write(dir.path().join(".s2ifile"), file).unwrap();
            parse("build --use-config").unwrap_err()
        };
        let e = stored(r#"{"as-dockerfile":"x"}"#);
        assert!(
            e.contains(".s2ifile: unknown flag \"as-dockerfile\""),
            "{e}"
        );
        let e = stored(r#"{"pull-policy":"sometimes"}"#);
        assert!(
            e.contains("--pull-policy") && e.ends_with("(from .s2ifile)"),
            "{e}"
        );
        assert!(parse_in(&args("usage img --use-config"), dir.path())
            .unwrap_err()
            .contains("a flag of build"));
        assert!(parse("build . b --save-temp-dir").unwrap().save_temp_dir);
    }

    #[test]
    fn env_values_may_hold_commas() {
        assert_eq!(parse_env_flag("A=1,2,B=3").unwrap(), ["A=1,2", "B=3"]);
        assert!(parse_env_flag("novalue").unwrap_err().contains("key=value"));
    }

    #[test]
    fn errors_name_what_to_fix() {
        let e = |s: &str| parse(&args(s)).unwrap_err();
        assert_eq!(e("build --foo"), "unknown flag: --foo");
        assert!(e("build . img -p").contains("flag needs an argument: -p, --pull-policy"));
        assert!(e("build . img -p bogus").contains(
            "invalid value \"bogus\", valid values are: always, never or if-not-present"
        ));
        assert!(e("build .").contains("builderImage"));
        assert!(e("build . a b c").contains("unexpected argument \"c\""));
        assert!(e("build . a b --incremental --runtime-image r").contains("isn't supported"));
        assert!(e("usage").contains("exactly one argument"));
        assert!(e("frobnicate").contains("unknown command"));
        assert!(e("build . a b --rm=maybe").contains("not true or false"));
        assert!(e("build . a b -i :/d").contains("SOURCE:DESTINATION"));
        assert!(e("build . a b --exclude (?i)x")
            .contains("invalid argument \"(?i)x\" for --exclude: a group with flags"));
        assert_eq!(
            e("build . a BAD:TAG"),
            "invalid argument \"BAD:TAG\" for TAG: invalid reference format: repository name \
             (library/BAD) must be lowercase"
        );
        assert!(e("build . a a:b:c").contains("for TAG: invalid reference format"));
        let digest = format!("build . a app@sha256:{}", "a".repeat(64));
        assert!(e(&digest).contains("refusing to create a tag with a digest reference"));
        assert!(parse(&args("build . a localhost:5000/app:1.0")).is_ok());
    }

    #[test]
    fn help_version_and_usage() {
        assert!(matches!(parse(&[]), Ok(Command::Help)));
        assert!(matches!(parse(&args("version")), Ok(Command::Version)));
        match parse(&args("create acme/static:1 ./static -q")) {
            Ok(Command::Create {
                name,
                destination,
                quiet: true,
            }) => assert_eq!(
                (name.as_str(), destination.to_str()),
                ("acme/static:1", Some("./static"))
            ),
            other => panic!("{other:?}"),
        }
        for bad in ["create", "create a", "create a b c"] {
            assert_eq!(
                parse(&args(bad)).unwrap_err(),
                "create takes IMAGE_NAME DESTINATION"
            );
        }
        assert!(matches!(parse(&args("build --help")), Ok(Command::Help)));
        match parse(&args("usage img -p never")) {
            Ok(Command::Usage(b)) => {
                assert_eq!(b.builder, "img");
                assert_eq!(b.pull_policy, PullPolicy::Never);
            }
            other => panic!("{other:?}"),
        }
    }
}
