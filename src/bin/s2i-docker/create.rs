//! `s2i-docker create IMAGE_NAME DESTINATION`: the repository of a new builder image, as the
//! reference's `s2i create` lays one down: a `Dockerfile`, the S2I scripts in `s2i/bin`, a
//! `Makefile`, a test that builds `test/test-app` with the builder, and a `README.md`.
//!
//! The skeleton works as it is: on a busybox base it builds static sites and serves them with
//! busybox's `httpd` on port 8080, so `make test` passes before the first change; `TODO`s mark
//! what to make one's own. A file that exists already is left as it is, with a warning (as in
//! the reference). Files are `0644` and scripts `0755` (the reference makes some files
//! executable and others readable by their owner only).

use std::path::Path;

use s2i_docker::{Error, Result};

use crate::progress;

/// Where each file goes, whether it is a script, and its text (`{{IMAGE_NAME}}` is replaced).
const FILES: &[(&str, bool, &str)] = &[
    ("Dockerfile", false, DOCKERFILE),
    ("s2i/bin/assemble", true, ASSEMBLE),
    ("s2i/bin/run", true, RUN),
    ("s2i/bin/usage", true, USAGE),
    ("s2i/bin/save-artifacts", true, SAVE_ARTIFACTS),
    ("Makefile", false, MAKEFILE),
    ("test/run", true, TEST_RUN),
    ("test/test-app/index.html", false, INDEX),
    ("README.md", false, README),
];

/// Lays the skeleton of builder `name` down in `destination` (made if missing).
///
/// # Errors
/// A directory or a file cannot be made.
pub fn run(name: &str, destination: &Path) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    for (path, script, text) in FILES {
        let file = destination.join(path);
        let cannot = |e| Error::other(format!("cannot create {}: {e}", file.display()));
        if let Some(dir) = file.parent() {
            std::fs::create_dir_all(dir).map_err(cannot)?;
        }
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(if *script { 0o755 } else { 0o644 })
            .open(&file);
        let mut f = match created {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                progress::warn(format!("File already exists: {path}, skipping"));
                continue;
            }
            Err(e) => return Err(cannot(e)),
        };
        std::io::Write::write_all(&mut f, text.replace("{{IMAGE_NAME}}", name).as_bytes())
            .map_err(cannot)?;
    }
    Ok(())
}

const DOCKERFILE: &str = r#"# {{IMAGE_NAME}}: a source-to-image (S2I) builder image.
#
#   make build                  builds it
#   make test                   builds it as {{IMAGE_NAME}}-candidate and tests it (test/run)
#   s2i-docker build SOURCES {{IMAGE_NAME}} APP_IMAGE
#                               builds an application image from SOURCES with it
#
# As it is, it builds static web sites and serves them on port 8080.

# TODO: the base of your platform. The builder needs /bin/sh and tar: the sources reach
# assemble as a tar on its standard input.
FROM docker.io/library/busybox:1

# TODO: describe what the builder builds.
LABEL io.k8s.description="Builds static web sites and serves them on port 8080" \
      io.k8s.display-name="{{IMAGE_NAME}}" \
      io.openshift.expose-services="8080:http" \
      io.openshift.tags="builder,static" \
      io.openshift.s2i.scripts-url="image:///usr/libexec/s2i"

USER 0

# TODO: install what building and running applications needs.

# The application lives in /opt/app-root, which the user that builds and runs it owns.
RUN mkdir -p /opt/app-root/src && chown -R 1001:0 /opt/app-root && chmod -R g+rwX /opt/app-root

COPY ./s2i/bin/ /usr/libexec/s2i

USER 1001
WORKDIR /opt/app-root
EXPOSE 8080
CMD ["/usr/libexec/s2i/usage"]
"#;

const ASSEMBLE: &str = r#"#!/bin/sh -e
#
# S2I assemble: makes the application out of its sources, which are in /tmp/src. It runs as
# the image's user, with the build's environment (-e, -E and the sources' .s2i/environment),
# and what it leaves in the container becomes the application image.

# An incremental build (--incremental) finds what save-artifacts kept in /tmp/artifacts.
if [ -d /tmp/artifacts ]; then
  echo "---> Restoring build artifacts"
  cp -Rp /tmp/artifacts/. /opt/app-root/
fi

echo "---> Installing the application's sources"
cp -Rp /tmp/src/. /opt/app-root/src/

echo "---> Building the application"
# TODO: build the application (compile it, fetch its dependencies, ...).
"#;

const RUN: &str = r#"#!/bin/sh -e
#
# S2I run: starts the application; the application image's command.

# TODO: start your application.
exec httpd -f -p 8080 -h /opt/app-root/src
"#;

const USAGE: &str = r#"#!/bin/sh
#
# S2I usage: what the builder is and how to use it; the builder image's command.
cat <<EOF
{{IMAGE_NAME}} builds static web sites and serves them on port 8080.

To build an application image from SOURCES (a directory or a git URL):

  s2i-docker build SOURCES {{IMAGE_NAME}} APP_IMAGE

then run it:

  docker run -p 8080:8080 APP_IMAGE
EOF
"#;

const SAVE_ARTIFACTS: &str = r#"#!/bin/sh -e
#
# S2I save-artifacts: writes, as a tar on its standard output, what the next incremental build
# (--incremental) of the application may reuse; assemble finds it in /tmp/artifacts.

# TODO: keep what builds can reuse (downloaded dependencies, caches) in /opt/app-root/cache.
cd /opt/app-root
mkdir -p cache
tar -cf - cache
"#;

const MAKEFILE: &str = "IMAGE_NAME = {{IMAGE_NAME}}

.PHONY: build test

build:
\tdocker build -t $(IMAGE_NAME) .

test:
\tdocker build -t $(IMAGE_NAME)-candidate .
\tIMAGE_NAME=$(IMAGE_NAME)-candidate test/run
";

const TEST_RUN: &str = r#"#!/bin/sh -e
#
# Tests the builder IMAGE_NAME (default {{IMAGE_NAME}}-candidate, which `make test` builds):
# builds the application in test/test-app with it, runs that, and checks the page it serves.
# S2I names the builder command (default s2i-docker).

IMAGE_NAME=${IMAGE_NAME:-{{IMAGE_NAME}}-candidate}
S2I=${S2I:-s2i-docker}
app="$(cd "$(dirname "$0")" && pwd)/test-app"
app_image="$IMAGE_NAME-test-app"
container=""

cleanup() {
  if [ -n "$container" ]; then docker rm -f "$container" >/dev/null; fi
  docker rmi "$app_image" >/dev/null 2>&1 || true
}
trap cleanup EXIT

echo "---> The builder's usage"
docker run --rm "$IMAGE_NAME" | grep -q "s2i-docker build"

echo "---> Building $app with $IMAGE_NAME"
"$S2I" build "$app" "$IMAGE_NAME" "$app_image" --pull-policy never

echo "---> Running $app_image"
container=$(docker run -d "$app_image")
for _ in 1 2 3 4 5 6 7 8 9 10; do
  page=$(docker exec "$container" wget -qO- http://127.0.0.1:8080/ 2>/dev/null) && break
  sleep 1
done
case $page in
  *"Hello from {{IMAGE_NAME}}"*) echo "---> The application answers: the test passed" ;;
  *) echo "---> The application did not answer as expected: the test failed" >&2; exit 1 ;;
esac
"#;

const INDEX: &str = "<!doctype html>
<title>{{IMAGE_NAME}}</title>
<p>Hello from {{IMAGE_NAME}}!</p>
";

const README: &str = "# {{IMAGE_NAME}}

A [source-to-image](https://github.com/openshift/source-to-image) builder image: it turns
an application's sources into an image that runs the application. As it is, it builds static
web sites and serves them on port 8080.

- `Dockerfile`: the builder image.
- `s2i/bin/assemble`: builds the application from its sources (in `/tmp/src`).
- `s2i/bin/run`: starts the application; the command of the images the builder makes.
- `s2i/bin/save-artifacts`: what an incremental build (`--incremental`) may reuse.
- `s2i/bin/usage`: how to use the builder; the builder image's command.
- `test/run`: builds `test/test-app` with the builder, runs it and checks the page it serves.

```sh
make build                                  # the builder, {{IMAGE_NAME}}
make test                                   # {{IMAGE_NAME}}-candidate, tested
s2i-docker build SOURCES {{IMAGE_NAME}} APP_IMAGE
docker run -p 8080:8080 APP_IMAGE
```

The `TODO`s in the files mark what to make your own.
";

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_skeleton_is_laid_down_and_what_exists_is_kept() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-create-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("README.md"), "mine").unwrap();
        run("acme/static:1", &dir).unwrap();
        for (path, script, _) in FILES {
            let meta = std::fs::metadata(dir.join(path)).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if *path != "README.md" {
                assert_eq!(mode, if *script { 0o755 } else { 0o644 }, "{path}");
            }
        }
        assert_eq!(
            std::fs::read_to_string(dir.join("README.md")).unwrap(),
            "mine"
        );
        let usage = std::fs::read_to_string(dir.join("s2i/bin/usage")).unwrap();
        assert!(usage.contains("s2i-docker build SOURCES acme/static:1 APP_IMAGE"));
        let makefile = std::fs::read_to_string(dir.join("Makefile")).unwrap();
        assert!(makefile.contains("\n\tdocker build -t $(IMAGE_NAME) .\n"));
        assert!(!std::fs::read_to_string(dir.join("test/run"))
            .unwrap()
            .contains("{{"));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
