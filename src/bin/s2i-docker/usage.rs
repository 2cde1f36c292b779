//! `s2i-docker usage BUILDER`: runs the builder's `usage` script, as the reference does (its
//! `s2i usage`): the script runs after an empty tar was extracted into the destination, and its
//! output goes to standard output.

use s2i_docker::{DockerClient, Result, RunContainerOptions};

use crate::args::BuildArgs;
use crate::build::{check_image, run_script};
use crate::engine;
use crate::progress;

/// Two 512-byte zero blocks: a tar with no entries.
const EMPTY_TAR: [u8; 1024] = [0; 1024];

/// Prints the usage of `args.builder`.
///
/// # Errors
/// The image cannot be had, or its `usage` script fails (the reference's container error).
pub fn run(args: BuildArgs) -> Result<()> {
    let config = engine::docker_config(&args.global);
    progress::detail(2, format!("Docker Endpoint: {}", config.endpoint));
    let client = engine::connect(&config)?;
    crate::records::begin(client.as_ref());
    let docker =
        DockerClient::new(client, Default::default()).with_pull_progress(progress::pull_progress);
    check_image(&docker, &args.builder, args.pull_policy, &args)?;
    let scripts_url = match args.scripts_url.starts_with("image://") {
        true => args.scripts_url.clone(),
        false => String::new(),
    };
    let opts = RunContainerOptions {
        image: args.builder.clone(),
        command: "usage".into(),
        user: args.assemble_user.clone(),
        env: args.env.clone(),
        scripts_url,
        destination: args.destination.clone(),
        network_mode: args.network.clone(),
        stdin: Some(Box::new(&EMPTY_TAR[..])),
        cancel: crate::signals::handle(),
        ..Default::default()
    };
    run_script(&docker, &args.builder, opts, None)
}
