//! `rbuild pull [--platform P] REF`

use std::process::ExitCode;

use rbuild_registry_client::{
    progress, pull_blocking, ClientOptions, Platform, PullOptions, Reference,
};
use rbuild_store::Store;

/// Registry connection flags shared by pull and push.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// Allow plain HTTP for this registry (HOST[:PORT]; repeatable; also $RBUILD_INSECURE_REGISTRIES)
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
    /// Trust this PEM CA bundle besides the system roots
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
    /// Print no progress
    #[arg(short, long)]
    quiet: bool,
}

impl RegistryArgs {
    /// Client options from the flags and the environment.
    pub fn options(&self) -> ClientOptions {
        let mut opts = ClientOptions::from_env();
        opts.insecure_registries
            .extend(self.insecure.iter().cloned());
        opts.ca_file = self.ca_file.clone();
        opts
    }

    /// Bars or plain progress lines on stderr, or nothing with --quiet.
    pub fn progress(&self, direction: progress::Direction) -> progress::Progress {
        crate::render::transfer::progress(self.quiet, direction)
    }
}

/// Download an image from a registry
#[derive(Debug, clap::Args)]
pub struct Args {
    /// [REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST]
    reference: String,
    /// Platform to pick from a multi-platform image (os/arch[/variant]; default: this machine's)
    #[arg(long)]
    platform: Option<String>,
    #[command(flatten)]
    registry: RegistryArgs,
}

/// Pulls and prints the digest and the canonical name.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    let reference = Reference::parse(&args.reference)?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let opts = PullOptions {
        client: args.registry.options(),
        platform,
        progress: args.registry.progress(progress::Direction::Pull),
        ..Default::default()
    };
    let manifest = pull_blocking(store, &reference, &opts)?;
    println!("Digest: {}", manifest.digest());
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}
