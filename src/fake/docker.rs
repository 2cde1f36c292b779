//! [`FakeDocker`]: canned answers for the [`Docker`] trait, with its arguments recorded.
//!
//! Like the rest of `fake`, this stands above the layers and may use any of them (here: docker,
//! config, archive, ops and error).

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::archive::{FileSystem, MakeTarWriter};
use crate::config::{ContainerConfig, Image};
use crate::docker::{BuildImageOptions, CommitContainerOptions, Docker, RunContainerOptions};
use crate::error::{Error, Result};
use crate::fake::{clone_error, fail};
use crate::ops::image::ImageInspect;
use crate::ops::system::Version;

/// A value a fake records while it is shared (`&self`): read it after the call.
#[derive(Default)]
pub struct Recorded<T>(Mutex<T>);

impl<T> Recorded<T> {
    /// A recorded value that starts as `value`.
    pub fn new(value: T) -> Recorded<T> {
        Recorded(Mutex::new(value))
    }

    fn lock(&self) -> MutexGuard<'_, T> {
        // Plain data: a panic elsewhere cannot leave it half-written.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replaces the value.
    pub fn set(&self, value: T) {
        *self.lock() = value;
    }

    /// A copy of the value.
    pub fn get(&self) -> T
    where
        T: Clone,
    {
        self.lock().clone()
    }

    /// Takes the value out, leaving the default.
    pub fn take(&self) -> T
    where
        T: Default,
    {
        std::mem::take(&mut *self.lock())
    }

    /// Runs `f` on the value (for values that cannot be cloned, e.g. options with streams).
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.lock())
    }
}

impl<T: fmt::Debug> fmt::Debug for Recorded<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.lock().fmt(f)
    }
}

/// A [`Docker`] with canned answers that records its arguments (the reference's `FakeDocker`),
/// for tests of code that uses the S2I operations.
///
/// Every field of the reference's fake is here in snake case. `*_result`/`*_error` fields are
/// the answers (errors are handed out afresh on every call); fields of type [`Recorded`] hold
/// the last argument of their method. Methods without a field answer success with empty
/// values.
///
/// [`run_container`](Docker::run_container) behaves like the real one where a caller can tell:
/// it drops `stdout` and `stderr`, calls `on_start` with
/// [`run_container_container_id`](FakeDocker::run_container_container_id) (its error is
/// returned), reads `stdin` to its end, returns
/// [`run_container_error`](FakeDocker::run_container_error) if set, and otherwise calls
/// `post_exec` with the container ID and the options' destination and returns its error. With
/// [`run_container_error_before_start`](FakeDocker::run_container_error_before_start) it returns
/// the error at once and keeps the options (and their streams) untouched in
/// [`run_container_opts`](FakeDocker::run_container_opts).
///
/// # Example
/// A test of a function that runs `assemble` in a builder and commits the result:
/// ```
/// use s2i_docker::fake::FakeDocker;
/// use s2i_docker::{CommitContainerOptions, Docker, Error, RunContainerOptions};
///
/// // The code under test.
/// fn build(d: &dyn Docker, builder: &str, tag: &str) -> Result<String, Error> {
///     let scripts = d.get_scripts_url(builder)?;
///     d.run_container(RunContainerOptions {
///         image: builder.into(),
///         command: "assemble".into(),
///         scripts_url: scripts,
///         ..Default::default()
///     })?;
///     d.commit_container(CommitContainerOptions {
///         repository: tag.into(),
///         command: vec!["/usr/libexec/s2i/run".into()],
///         ..Default::default()
///     })
/// }
///
/// // The test.
/// let fake = FakeDocker {
///     default_url_result: "image:///usr/libexec/s2i".into(),
///     commit_container_result: "sha256:new".into(),
///     ..Default::default()
/// };
/// assert_eq!(build(&fake, "builder:1", "app:latest")?, "sha256:new");
/// assert_eq!(fake.default_url_image.get(), "builder:1");
/// let scripts = fake.run_container_opts.with(|o| o.as_ref().map(|o| o.scripts_url.clone()));
/// assert_eq!(scripts.as_deref(), Some("image:///usr/libexec/s2i"));
/// assert_eq!(fake.commit_container_opts.get().repository, "app:latest");
///
/// // A failing container.
/// let failing = FakeDocker {
///     run_container_error: Some(Error::container("c1", 3, "")),
///     ..Default::default()
/// };
/// assert_eq!(build(&failing, "builder:1", "app").unwrap_err().exit_code(), Some(3));
/// # Ok::<(), Error>(())
/// ```
#[derive(Debug, Default)]
pub struct FakeDocker {
    /// Argument of `is_image_in_local_registry`.
    pub local_registry_image: Recorded<String>,
    /// Answer of `is_image_in_local_registry`.
    pub local_registry_result: bool,
    /// Error of `is_image_in_local_registry`.
    pub local_registry_error: Option<Error>,
    /// Argument of `remove_container`.
    pub remove_container_id: Recorded<String>,
    /// Error of `remove_container`.
    pub remove_container_error: Option<Error>,
    /// Argument of `get_scripts_url`.
    pub default_url_image: Recorded<String>,
    /// Answer of `get_scripts_url`.
    pub default_url_result: String,
    /// Error of `get_scripts_url`.
    pub default_url_error: Option<Error>,
    /// Answer of `get_assemble_input_files`.
    pub assemble_input_files_result: String,
    /// Error of `get_assemble_input_files`.
    pub assemble_input_files_error: Option<Error>,
    /// Answer of `get_assemble_runtime_user`.
    pub assemble_runtime_user_result: String,
    /// Error of `get_assemble_runtime_user`.
    pub assemble_runtime_user_error: Option<Error>,
    /// The options of the last `run_container` (their consumed streams and hooks taken out).
    pub run_container_opts: Recorded<Option<RunContainerOptions>>,
    /// Error of `run_container`.
    pub run_container_error: Option<Error>,
    /// `run_container` fails before "starting": no stream is touched, no hook runs.
    pub run_container_error_before_start: bool,
    /// The container ID given to the `on_start` and `post_exec` hooks.
    pub run_container_container_id: String,
    /// Kept for parity with the reference's fake; never written.
    pub run_container_cmd: Vec<String>,
    /// Argument of `get_image_id`.
    pub get_image_id_image: Recorded<String>,
    /// Answer of `get_image_id`.
    pub get_image_id_result: String,
    /// Error of `get_image_id`.
    pub get_image_id_error: Option<Error>,
    /// Argument of `get_image_user`.
    pub get_image_user_image: Recorded<String>,
    /// Answer of `get_image_user`.
    pub get_image_user_result: String,
    /// Error of `get_image_user`.
    pub get_image_user_error: Option<Error>,
    /// Answer of `get_image_entrypoint`.
    pub get_image_entrypoint_result: Vec<String>,
    /// Error of `get_image_entrypoint`.
    pub get_image_entrypoint_error: Option<Error>,
    /// Argument of `commit_container`.
    pub commit_container_opts: Recorded<CommitContainerOptions>,
    /// Answer of `commit_container`.
    pub commit_container_result: String,
    /// Error of `commit_container`.
    pub commit_container_error: Option<Error>,
    /// Argument of `remove_image`.
    pub remove_image_name: Recorded<String>,
    /// Error of `remove_image`.
    pub remove_image_error: Option<Error>,
    /// The options of the last `build_image` (its `stdin` read and taken out).
    pub build_image_opts: Recorded<Option<BuildImageOptions>>,
    /// Error of `build_image`.
    pub build_image_error: Option<Error>,
    /// `pull_image` and `check_and_pull_image` succeed with an empty image.
    pub pull_result: bool,
    /// Error of `pull_image` and `check_and_pull_image` when `pull_result` is false.
    pub pull_error: Option<Error>,
    /// Argument of `get_on_build`.
    pub on_build_image: Recorded<String>,
    /// Answer of `get_on_build`.
    pub on_build_result: Vec<String>,
    /// Error of `get_on_build`.
    pub on_build_error: Option<Error>,
    /// Answer of `is_image_on_build`.
    pub is_on_build_result: bool,
    /// Argument of `is_image_on_build`.
    pub is_on_build_image: Recorded<String>,
    /// Answer of `get_labels`.
    pub labels: HashMap<String, String>,
    /// Error of `get_labels`.
    pub labels_error: Option<Error>,
}

fn answer<T: Clone>(value: &T, error: &Option<Error>) -> Result<T> {
    fail(error)?;
    Ok(value.clone())
}

impl FakeDocker {
    fn pull_answer(&self) -> Result<Option<Image>> {
        if self.pull_result {
            return Ok(Some(Image::default()));
        }
        fail(&self.pull_error)?;
        Ok(None)
    }
}

impl Docker for FakeDocker {
    fn is_image_in_local_registry(&self, name: &str) -> Result<bool> {
        self.local_registry_image.set(name.to_string());
        answer(&self.local_registry_result, &self.local_registry_error)
    }

    fn is_image_on_build(&self, name: &str) -> bool {
        self.is_on_build_image.set(name.to_string());
        self.is_on_build_result
    }

    fn get_on_build(&self, name: &str) -> Result<Vec<String>> {
        self.on_build_image.set(name.to_string());
        answer(&self.on_build_result, &self.on_build_error)
    }

    fn remove_container(&self, id: &str) -> Result<()> {
        self.remove_container_id.set(id.to_string());
        fail(&self.remove_container_error)
    }

    fn kill_container(&self, _id: &str) -> Result<()> {
        Ok(())
    }

    fn get_scripts_url(&self, image: &str) -> Result<String> {
        self.default_url_image.set(image.to_string());
        answer(&self.default_url_result, &self.default_url_error)
    }

    fn get_assemble_input_files(&self, _image: &str) -> Result<String> {
        answer(
            &self.assemble_input_files_result,
            &self.assemble_input_files_error,
        )
    }

    fn get_assemble_runtime_user(&self, _image: &str) -> Result<String> {
        answer(
            &self.assemble_runtime_user_result,
            &self.assemble_runtime_user_error,
        )
    }

    fn run_container(&self, mut opts: RunContainerOptions) -> Result<()> {
        if self.run_container_error_before_start {
            self.run_container_opts.set(Some(opts));
            return fail(&self.run_container_error);
        }
        drop(opts.stdout.take());
        drop(opts.stderr.take());
        let id = self.run_container_container_id.as_str();
        let mut run = || -> Result<()> {
            if let Some(on_start) = opts.on_start.take() {
                on_start(id)?;
            }
            if let Some(mut stdin) = opts.stdin.take() {
                io::copy(&mut stdin, &mut io::sink())?;
            }
            fail(&self.run_container_error)?;
            match &opts.post_exec {
                Some(post) => post.post_execute(id, &opts.destination),
                None => Ok(()),
            }
        };
        let result = run();
        self.run_container_opts.set(Some(opts));
        result
    }

    fn get_image_id(&self, name: &str) -> Result<String> {
        self.get_image_id_image.set(name.to_string());
        answer(&self.get_image_id_result, &self.get_image_id_error)
    }

    fn get_image_workdir(&self, _name: &str) -> Result<String> {
        Ok("/".to_string())
    }

    fn commit_container(&self, opts: CommitContainerOptions) -> Result<String> {
        self.commit_container_opts.set(opts);
        answer(&self.commit_container_result, &self.commit_container_error)
    }

    fn remove_image(&self, name: &str) -> Result<()> {
        self.remove_image_name.set(name.to_string());
        fail(&self.remove_image_error)
    }

    fn check_image(&self, _name: &str) -> Result<Option<Image>> {
        Ok(None)
    }

    fn pull_image(&self, _name: &str) -> Result<Option<Image>> {
        self.pull_answer()
    }

    fn check_and_pull_image(&self, _name: &str) -> Result<Option<Image>> {
        self.pull_answer()
    }

    fn build_image(&self, mut opts: BuildImageOptions) -> Result<()> {
        let drained = match opts.stdin.take() {
            Some(mut stdin) => io::copy(&mut stdin, &mut io::sink()).map(|_| ()),
            None => Ok(()),
        };
        if let Some(mut out) = opts.stdout.take() {
            out.flush()?;
        }
        self.build_image_opts.set(Some(opts));
        drained?;
        fail(&self.build_image_error)
    }

    fn get_image_user(&self, name: &str) -> Result<String> {
        self.get_image_user_image.set(name.to_string());
        answer(&self.get_image_user_result, &self.get_image_user_error)
    }

    fn get_image_entrypoint(&self, _name: &str) -> Result<Vec<String>> {
        answer(
            &self.get_image_entrypoint_result,
            &self.get_image_entrypoint_error,
        )
    }

    fn get_labels(&self, _name: &str) -> Result<HashMap<String, String>> {
        answer(&self.labels, &self.labels_error)
    }

    fn upload_to_container(
        &self,
        _fs: &dyn FileSystem,
        _src: &Path,
        _dest: &str,
        _container: &str,
    ) -> Result<()> {
        Ok(())
    }

    fn upload_to_container_with_tar_writer(
        &self,
        _fs: &dyn FileSystem,
        _src: &Path,
        _dest: &str,
        _container: &str,
        _make_tar_writer: &MakeTarWriter,
    ) -> Result<()> {
        Err(Error::Unsupported("not implemented".into()))
    }

    fn download_from_container(
        &self,
        _container_path: &str,
        _w: &mut dyn Write,
        _container: &str,
    ) -> Result<()> {
        Err(Error::Unsupported("not implemented".into()))
    }

    fn version(&self) -> Result<Version> {
        Ok(Version::default())
    }

    fn check_reachable(&self) -> Result<()> {
        Ok(())
    }

    /// Built from the fake's answers: ID, user, entrypoint, labels and `ONBUILD` triggers.
    fn inspect_image(&self, _name: &str) -> Result<ImageInspect> {
        if let Some(e) = &self.get_image_id_error {
            return Err(clone_error(e));
        }
        let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        Ok(ImageInspect {
            id: self.get_image_id_result.clone(),
            config: Some(ContainerConfig {
                user: self.get_image_user_result.clone(),
                entrypoint: some(&self.get_image_entrypoint_result),
                labels: (!self.labels.is_empty()).then(|| self.labels.clone()),
                on_build: some(&self.on_build_result),
                ..Default::default()
            }),
            ..Default::default()
        })
    }
}
