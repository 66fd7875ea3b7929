//! `rbuild login [--username U] [--password-stdin] REGISTRY`

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;
use rbuild_registry_client::{login_blocking, ClientOptions, Credentials, Secret};

/// Log in to a registry (stores credentials like docker, in $DOCKER_CONFIG/config.json)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Registry host[:port] (default: docker.io)
    #[arg(default_value = "docker.io")]
    registry: String,
    /// Username
    #[arg(short, long)]
    username: String,
    /// Read the password from stdin
    #[arg(long)]
    password_stdin: bool,
    /// Allow plain HTTP for this registry
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
}

/// Checks the credentials against the registry and saves them.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.password_stdin,
        "give the password on stdin with --password-stdin"
    );
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .context("reading the password from stdin")?;
    let password = Secret::new(password.trim_end_matches(['\n', '\r']));
    anyhow::ensure!(!password.is_empty(), "the password on stdin is empty");
    let creds = Credentials {
        username: args.username,
        password,
    };
    let mut opts = ClientOptions::from_env();
    opts.insecure_registries.extend(args.insecure);
    login_blocking(&args.registry, &creds, None, &opts)?;
    println!("Login Succeeded");
    Ok(ExitCode::SUCCESS)
}
