//! Connects to the engine named by the environment (`DOCKER_HOST`, ...) and prints what it is.
//!
//! ```text
//! cargo run --example ping
//! DOCKER_HOST=unix:///run/podman/podman.sock cargo run --example ping
//! ```

use s2i_docker::ops::system;
use s2i_docker::EngineClient;

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> s2i_docker::Result<()> {
    let docker = EngineClient::from_env()?;
    let ping = system::ping(&docker)?;
    println!("host:        {}", docker.host());
    println!(
        "ping:        OK (API {}, OS {}, server {:?}, experimental {})",
        ping.api_version, ping.os_type, ping.server, ping.experimental
    );
    let version = system::version(&docker)?;
    println!(
        "version:     {} (API {}, min API {}, {}/{}, kernel {})",
        version.version,
        version.api_version,
        version.min_api_version,
        version.os,
        version.arch,
        version.kernel_version
    );
    for c in &version.components {
        println!("component:   {} {}", c.name, c.version);
    }
    println!("API in use:  {}", docker.api_version()?);
    Ok(())
}
