//! Where the scripts of `--scripts-url` are, when they travel with the build: a local
//! directory, or the scripts of an `http://` or `https://` URL downloaded into a temporary one,
//! as the reference's script URL handler downloads them.

use std::fs::File;
use std::path::{Path, PathBuf};

use s2i_docker::{Error, ErrorCode, Result};

use crate::http::{self, Download};
use crate::progress;
use crate::sources;
use crate::temp::TempDir;

/// The most bytes a downloaded script may have.
const MAX_SCRIPT: u64 = 16 << 20;

/// The directory of the scripts of `--scripts-url` that travel with the build.
pub enum ScriptsDir {
    /// A local directory.
    Local(PathBuf),
    /// The scripts of an `http://` or `https://` URL, downloaded.
    Downloaded(TempDir),
}

impl ScriptsDir {
    pub fn path(&self) -> &Path {
        match self {
            ScriptsDir::Local(p) => p,
            ScriptsDir::Downloaded(d) => d.path(),
        }
    }
}

/// The directory of the scripts `--scripts-url` names, if it names scripts outside the image.
///
/// # Errors
/// A path that is not a directory, or an HTTP URL that cannot be asked (see
/// [`download_scripts`]).
pub fn scripts_dir(flag: &str) -> Result<Option<ScriptsDir>> {
    let unusable = |why: String| {
        Error::s2i(
            ErrorCode::UrlHandler,
            format!(
                "could not download any scripts from URL {}",
                crate::git::shown(flag)
            ),
            why,
            None,
        )
    };
    Ok(match flag {
        "" => None,
        f if f.starts_with("image://") => None,
        f if f.starts_with("http://") || f.starts_with("https://") => Some(ScriptsDir::Downloaded(
            download_scripts(f).map_err(unusable)?,
        )),
        f => {
            let dir = PathBuf::from(f.strip_prefix("file://").unwrap_or(f));
            if !dir.is_dir() {
                return Err(unusable(
                    "give --scripts-url an image:// or http:// URL, or a local directory that holds the scripts".into(),
                ));
            }
            Some(ScriptsDir::Local(dir))
        }
    })
}

/// Downloads the scripts of `url` (each `URL/NAME`) into a new temporary directory, as the
/// reference's script URL handler does: a script the server does not answer with 200 or 201
/// (said at `--loglevel 1` for a 404, else as a warning) is looked for elsewhere, in the sources and
/// then in the image. A script may have at most 16 MiB.
///
/// # Errors
/// `url` cannot be asked at all (not a URL naming a host, a proxy that cannot be used,
/// `https://` without the `tls` feature), or the directory cannot be made.
fn download_scripts(url: &str) -> std::result::Result<TempDir, String> {
    let env = |name: &str| std::env::var(name).ok();
    let base = url.trim_end_matches('/');
    // Asked before anything is made: whatever is wrong with the URL itself is said once.
    http::route(&format!("{base}/assemble"), &env, &mut Vec::new())?;
    let dir = TempDir::new("scripts").map_err(|e| e.to_string())?;
    let mut told = Vec::new();
    for name in sources::SCRIPTS {
        let script_url = format!("{base}/{name}");
        let shown = crate::git::shown(&script_url);
        let path = dir.path().join(name);
        let mut file = File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut messages = Vec::new();
        let got = http::download(&script_url, &mut file, MAX_SCRIPT, &env, &mut messages);
        for m in messages {
            if !told.contains(&m) {
                progress::warn(&m);
                told.push(m);
            }
        }
        let failed = match got {
            Ok(Download::Written) => {
                progress::detail(2, format!("Downloaded '{shown}'"));
                continue;
            }
            Ok(Download::Status(status)) => {
                format!("failed to retrieve {shown}, response code {status}")
            }
            Err(e) => e,
        };
        let _ = std::fs::remove_file(&path);
        let text = format!(
            "script {name:?} found by the script URL handler, but failed to install: {failed}"
        );
        match failed.ends_with("response code 404") {
            true => progress::detail(1, text),
            false => progress::warn(text),
        }
    }
    Ok(dir)
}
