//! `s2i-docker`: the command-line builder, `s2i build` on the s2i-docker library.
//!
//! ```text
//! s2i-docker build SOURCE BUILDER [TAG] [flags]
//! s2i-docker usage BUILDER [flags]
//! s2i-docker rebuild IMAGE [NEW_TAG] [flags]
//! s2i-docker create IMAGE_NAME DESTINATION
//! s2i-docker completion bash|zsh
//! ```
//!
//! Built with the `cli` feature. The modules, in the order of a build: `args` (the command
//! line), `engine` (the engine, and the client that answers repeated inspects), `build` (the
//! steps of a build), `git` (a repository's or a git URL's clone), `sources` (the input tar),
//! `ignore` (`.s2iignore`), `scripts` (the scripts of `--scripts-url`), `incremental`,
//! `extended`, `inject`, `onbuild` (builders with `ONBUILD` instructions), `layered` (builders
//! without `sh` or `tar`), `metadata` (the labels a script asks for, and the limit on labels),
//! `callback` (`--callback-url`), `http` (requests to `http://` URLs: the callback's, the
//! scripts') and `proxy` (the proxy the environment names for them), `usage`, `create` (a
//! builder image's repository), `completion` (the shells' completion scripts), `progress` (what
//! is shown, and the exit codes), `temp` (temporary directories), `records` (what a killed
//! command left, removed by the next), `signals` and `s2ifile` (`--use-config`).

mod args;
mod build;
mod callback;
mod completion;
mod create;
mod engine;
mod extended;
mod git;
mod http;
mod ignore;
mod incremental;
mod inject;
mod layered;
mod metadata;
mod onbuild;
mod progress;
mod proxy;
mod records;
mod regex;
mod s2ifile;
mod scripts;
mod signals;
mod sources;
mod temp;
mod usage;

use std::process::ExitCode;

use args::Command;

const HELP: &str = "\
s2i-docker builds container images from sources, as source-to-image's `s2i build` does.

Usage:
  s2i-docker build SOURCE BUILDER [TAG] [flags]   build TAG from SOURCE: a directory or a git URL
  s2i-docker usage BUILDER [flags]                print the usage of a builder image
  s2i-docker rebuild IMAGE [NEW_TAG] [flags]      build again what built IMAGE, as its labels tell
  s2i-docker create IMAGE_NAME DESTINATION        lay down the repository of a new builder image
  s2i-docker completion bash|zsh                  print a script that completes s2i-docker's
                                                  command lines (source <(s2i-docker completion bash))
  s2i-docker version

Build flags:
  -p, --pull-policy POLICY           when to pull the builder image: always, never or if-not-present (default)
      --incremental                  perform an incremental build (save-artifacts of TAG go to /tmp/artifacts)
      --incremental-pull-policy P    when to pull the previous image (default if-not-present)
      --rm                           remove the previous image during incremental builds
  -e, --env NAME=VALUE               an environment variable of assemble and of the image (repeatable)
  -E, --environment-file FILE        a file of NAME=VALUE lines
  -s, --scripts-url URL              where the scripts are: image:///path, http://host/path, or a local directory
  -d, --destination DIR              where the sources are extracted in the container (default: label, or /tmp)
      --scripts URL                  DEPRECATED: use --scripts-url
  -l, --location DIR                 DEPRECATED: use --destination
      --assemble-user USER           the user that runs assemble
      --assemble-runtime-user USER   the user that runs assemble-runtime
  -u, --allowed-uids RANGES          user IDs the images may run as, e.g. 1- or 1000-2000,5000
      --runtime-image IMAGE          an extended build: the artifacts go into this image
  -a, --runtime-artifact SRC[:DEST]  a file or directory copied from the builder into the runtime image
      --runtime-pull-policy POLICY   when to pull the runtime image (default if-not-present)
  -c, --copy                         copy a git repository as it is, instead of a clone of it (uncommitted changes included)
  -r, --ref REF                      what the clone of a git repository checks out (default HEAD)
      --ignore-submodules            leave out the submodules of a git repository's clone
      --keep-symlinks                send the sources' symbolic links as links (default: what they point to)
      --exclude REGEX                leave out sources whose relative path matches (.git is always left out)
  -i, --inject SRC:DEST              a file or directory assemble can read, emptied before the commit (repeatable)
      --run                          run the new image once it is built
      --callback-url URL             post the outcome as JSON to this http:// URL when the build ends
      --network MODE                 the network of the build's containers
      --cap-drop CAPS                capabilities to drop, comma-separated
  -v, --volume SRC:DEST              a bind mount of the assemble container (repeatable)
      --add-host HOST:IP             an /etc/hosts line of the assemble container (repeatable)
      --context-dir DIR              the application's directory inside SOURCE
  -n, --application-name NAME        the image's display name (default: TAG)
      --description TEXT             the image's description
      --dockercfg-path FILE          registry credentials (default ~/.docker/config.json)
      --use-config                   take what is not given from ./.s2ifile, and save all of it there
      --save-temp-dir                keep the temporary directories (a repository's clone, the runtime artifacts)

Global flags:
  -U, --url URL                      the engine (default: DOCKER_HOST, or unix:///var/run/docker.sock)
      --cert FILE, --key FILE, --ca FILE   TLS files (default: in DOCKER_CERT_PATH)
      --tls, --tlsverify             use TLS (and verify the engine)
      --loglevel N                   more detail, 0 to 5
  -q, --quiet                        errors only
  -h, --help                         this text

SOURCE is a local directory (one that is a git repository is cloned at HEAD or --ref, unless
--copy), or a git URL: git://, http://, https://, ssh:// or [user@]host:path, with an optional #REF.";

fn main() -> ExitCode {
    signals::install();
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(c) => c,
        Err(why) => {
            eprintln!("Error: {why}\nRun 's2i-docker --help' for usage.");
            return ExitCode::from(1);
        }
    };
    let result = match command {
        Command::Help => {
            println!("{HELP}");
            return ExitCode::SUCCESS;
        }
        Command::Create {
            name,
            destination,
            quiet,
        } => {
            progress::init(quiet, 0);
            return match create::run(&name, &destination) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("ERROR: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Completion { shell } => {
            return match completion::script(&shell) {
                Ok(script) => {
                    print!("{script}");
                    ExitCode::SUCCESS
                }
                Err(why) => {
                    eprintln!("Error: {why}");
                    ExitCode::from(1)
                }
            };
        }
        Command::Version => {
            println!("s2i-docker {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Build(b) => {
            progress::init(b.global.quiet, b.global.loglevel);
            if b.save_temp_dir {
                temp::keep_all();
            }
            build::run(*b)
        }
        Command::Usage(b) => {
            progress::init(b.global.quiet, b.global.loglevel);
            usage::run(*b)
        }
        Command::Rebuild(b) => {
            progress::init(b.global.quiet, b.global.loglevel);
            if b.save_temp_dir {
                temp::keep_all();
            }
            build::rebuild(*b)
        }
    };
    records::end();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let e = progress::connection_first(e);
            if !progress::quiet() {
                eprintln!("Build failed");
            }
            let code = progress::report(&e);
            ExitCode::from(if e.is_cancelled() { 2 } else { code })
        }
    }
}
