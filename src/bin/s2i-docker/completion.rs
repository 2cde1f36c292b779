//! `s2i-docker completion SHELL`: a script that completes the commands, flags and values of
//! `s2i-docker` in bash or zsh, as `s2i completion` prints one.
//!
//! The flags come from the parser's own table, so the script knows every flag the parser does.
//! zsh loads the bash script through its `bashcompinit`:
//!
//! ```text
//! source <(s2i-docker completion bash)     # in ~/.bashrc
//! source <(s2i-docker completion zsh)      # in ~/.zshrc
//! ```

use crate::args;

/// The commands, in the order `--help` lists them.
const COMMANDS: &str = "build usage rebuild create version completion help";

/// The flags whose values are one of a few words, and those words.
const WORDS: &[(&str, &str)] = &[
    ("pull-policy", "always never if-not-present"),
    ("incremental-pull-policy", "always never if-not-present"),
    ("runtime-pull-policy", "always never if-not-present"),
    ("loglevel", "0 1 2 3 4 5"),
    ("network", "bridge host none"),
];

/// The flags whose values are files, and those whose values are directories.
const FILES: &[&str] = &["environment-file", "cert", "key", "ca", "dockercfg-path"];
const DIRECTORIES: &[&str] = &["context-dir"];

/// The script for `shell`.
///
/// # Errors
/// A shell other than `bash` and `zsh`, named in the text.
pub fn script(shell: &str) -> Result<String, String> {
    let bash = bash_script();
    match shell {
        "bash" => Ok(bash),
        "zsh" => Ok(format!(
            "# zsh completion for s2i-docker, through bash's\n\
             autoload -U +X bashcompinit && bashcompinit\n{bash}"
        )),
        other => Err(format!(
            "unsupported shell type \"{other}\": completion is for bash or zsh"
        )),
    }
}

/// A `case` pattern of the names of `flags` (`--name|-n`).
fn pattern<'a>(flags: impl Iterator<Item = &'a args::Flag>) -> String {
    let names: Vec<String> = flags
        .flat_map(|f| {
            std::iter::once(format!("--{}", f.long)).chain(f.short.map(|c| format!("-{c}")))
        })
        .collect();
    names.join("|")
}

fn bash_script() -> String {
    let flags = args::flags();
    let all = flags
        .iter()
        .map(|f| format!("--{}", f.long))
        .collect::<Vec<_>>()
        .join(" ");
    let named = |names: &[&str]| pattern(flags.iter().filter(|f| names.contains(&f.long)));
    let mut values = String::new();
    for (flag, words) in WORDS {
        values += &format!(
            "        {})\n            COMPREPLY=($(compgen -W \"{words}\" -- \"$cur\"))\n            return ;;\n",
            named(&[flag])
        );
    }
    values += &format!(
        "        {})\n            COMPREPLY=($(compgen -f -- \"$cur\"))\n            return ;;\n",
        named(FILES)
    );
    values += &format!(
        "        {})\n            COMPREPLY=($(compgen -d -- \"$cur\"))\n            return ;;\n",
        named(DIRECTORIES)
    );
    let valued = pattern(flags.iter().filter(|f| {
        f.takes_value
            && !FILES.contains(&f.long)
            && !DIRECTORIES.contains(&f.long)
            && !WORDS.iter().any(|(w, _)| *w == f.long)
    }));
    values += &format!("        {valued})\n            return ;;\n");
    format!(
        r#"# bash completion for s2i-docker
_s2i_docker() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    COMPREPLY=()
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "{COMMANDS}" -- "$cur"))
        return
    fi
    case "$prev" in
{values}    esac
    case "${{COMP_WORDS[1]}}" in
        completion)
            COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
        help)
            COMPREPLY=($(compgen -W "{COMMANDS}" -- "$cur")) ;;
        version) ;;
        *)
            if [[ "$cur" == -* ]]; then
                COMPREPLY=($(compgen -W "{all}" -- "$cur"))
            elif [ "${{COMP_WORDS[1]}}" = build ] || [ "${{COMP_WORDS[1]}}" = create ]; then
                COMPREPLY=($(compgen -d -- "$cur"))
            fi ;;
    esac
}}
complete -o default -F _s2i_docker s2i-docker
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the script completes for the words of a command line, the last being completed;
    /// `None` where bash is missing.
    fn complete(words: &[&str]) -> Option<Vec<String>> {
        let dir = std::env::temp_dir().join(format!("s2i-cli-completion-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app-dir")).ok()?;
        let script = dir.join("completion.bash");
        std::fs::write(&script, super::script("bash").unwrap()).ok()?;
        let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
        let line = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _s2i_docker; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            quoted.join(" "),
            words.len() - 1
        );
        let out = std::process::Command::new("bash")
            .args(["-c", &line])
            .current_dir(&dir)
            .output()
            .ok()?;
        let _ = std::fs::remove_dir_all(&dir);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    #[test]
    fn bash_completes_commands_flags_and_values() {
        let Some(commands) = complete(&["s2i-docker", "re"]) else {
            return;
        };
        assert_eq!(commands, ["rebuild"]);
        assert_eq!(
            complete(&["s2i-docker", "build", "--pull-p"]).unwrap(),
            ["--pull-policy"]
        );
        assert_eq!(
            complete(&["s2i-docker", "build", "-p", "if"]).unwrap(),
            ["if-not-present"]
        );
        assert_eq!(
            complete(&["s2i-docker", "build", "app"]).unwrap(),
            ["app-dir"]
        );
        assert_eq!(
            complete(&["s2i-docker", "build", "--tag-like", "-e", ""]).unwrap(),
            Vec::<String>::new()
        );
        assert_eq!(
            complete(&["s2i-docker", "completion", "z"]).unwrap(),
            ["zsh"]
        );
    }

    #[test]
    fn only_bash_and_zsh_have_scripts() {
        assert!(script("zsh").unwrap().contains("bashcompinit"));
        assert!(script("fish").unwrap_err().contains("\"fish\""));
    }
}
