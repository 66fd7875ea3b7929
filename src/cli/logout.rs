//! `rbuild logout REGISTRY`

use std::process::ExitCode;

use rbuild_registry_client::logout;

/// Log out from a registry (forgets the stored credentials)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host[:port] (default: docker.io)
    #[arg(default_value = "docker.io")]
    registry: String,
}

/// Removes the registry's credentials.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match logout(&args.registry, None)? {
        true => println!("Removing login credentials for {}", args.registry),
        false => println!("Not logged in to {}", args.registry),
    }
    Ok(ExitCode::SUCCESS)
}
