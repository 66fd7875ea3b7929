//! `rbuild build [OPTIONS] CONTEXT` (also `rbuild [OPTIONS] CONTEXT`)

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use rbuild_builder::build::options::{key_values, parse_bytes, parse_network, parse_secret};
use std::sync::Arc;

use rbuild_builder::build::{build, BaseResolver, BuildOptions, Fetcher};
use rbuild_registry_client::{
    progress, push_blocking, resolve_or_pull_blocking, ClientOptions, PullOptions, PushOptions,
    Reference,
};
use rbuild_store::{Descriptor, ImageName, Store};

use crate::render::progress::{Mode, Printer};

/// Build an image from a Dockerfile
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Args {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag")]
    tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file")]
    file: Option<String>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "KEY=VALUE")]
    build_args: Vec<String>,
    /// Set the target build stage to build
    #[arg(long)]
    target: Option<String>,
    /// Do not use cache when building the image
    #[arg(long)]
    no_cache: bool,
    /// Networking mode for the RUN instructions: host or none
    #[arg(long, default_value = "host")]
    network: String,
    /// Memory limit for RUN steps (e.g. 512m, 1g)
    #[arg(short = 'm', long)]
    memory: Option<String>,
    /// Number of CPUs for RUN steps
    #[arg(long)]
    cpus: Option<f64>,
    /// Set type of progress output: auto, plain, tty, quiet
    #[arg(long, default_value = "auto")]
    progress: String,
    /// Suppress the build output and print image ID on success
    #[arg(short, long)]
    quiet: bool,
    /// Write the image ID to the file
    #[arg(long)]
    iidfile: Option<std::path::PathBuf>,
    /// Set metadata for an image
    #[arg(long = "label", value_name = "KEY=VALUE")]
    labels: Vec<String>,
    /// Secret to expose to RUN --mount=type=secret (format: "id=mysecret[,src=/local/secret]"
    /// or "id=mysecret,env=VAR")
    #[arg(long = "secret", value_name = "SPEC")]
    secrets: Vec<String>,
    /// Timestamp for reproducible images (default: $SOURCE_DATE_EPOCH)
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    source_date_epoch: Option<i64>,
    /// Push every -t name to its registry after the build (gzip layers)
    #[arg(long)]
    push: bool,
    /// Allow plain HTTP for this registry when pulling bases or pushing (repeatable)
    #[arg(long = "insecure-registry", value_name = "HOST")]
    insecure: Vec<String>,
    /// Build context: a directory, or - to read a Dockerfile from stdin
    pub context: Option<String>,
}

/// Base images come from the store, else from their registry (pulled once, then local).
struct RegistryResolver {
    client: ClientOptions,
}

impl BaseResolver for RegistryResolver {
    fn resolve(&self, store: &Store, reference: &str) -> Result<Descriptor, String> {
        let opts = PullOptions {
            client: self.client.clone(),
            ..PullOptions::default()
        };
        resolve_or_pull_blocking(store, reference, &opts).map_err(|e| e.to_string())
    }
}

/// Runs a build.
pub fn run(store: &Store, args: Args) -> anyhow::Result<ExitCode> {
    // Host-side mounts stay private to this process; Ctrl-C kills running steps' namespaces.
    rbuild_builder::sys::private_mount_namespace()
        .context("creating a private mount namespace (rbuild build needs root)")?;
    rbuild_builder::run::install_signal_handlers().context("installing signal handlers")?;
    let opts = options(&args)?;
    let mode = Mode::pick(&args.progress, args.quiet, std::io::stderr().is_terminal());
    let printer = Printer::new(mode);
    let mut client = ClientOptions::from_env();
    client
        .insecure_registries
        .extend(args.insecure.iter().cloned());
    let resolver = RegistryResolver {
        client: client.clone(),
    };
    let result = build(store, &opts, &resolver, &printer)?;
    printer.finish(&result.id, &opts.tags);
    if args.push {
        push_tags(store, &opts.tags, client)?;
    }
    if let Some(path) = &args.iidfile {
        std::fs::write(path, result.id.to_string())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if args.quiet {
        writeln!(std::io::stdout(), "{}", result.id)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `--push`: each tag goes to the registry its name points at.
fn push_tags(store: &Store, tags: &[ImageName], client: ClientOptions) -> anyhow::Result<()> {
    anyhow::ensure!(!tags.is_empty(), "--push needs at least one -t NAME");
    let opts = PushOptions {
        client,
        progress: progress::plain_stderr(progress::Direction::Pull),
        ..PushOptions::default()
    };
    for tag in tags {
        let reference = Reference::parse(&tag.to_string())?;
        let digest = push_blocking(store, &tag.to_string(), &reference, &opts)?;
        eprintln!("pushed {reference}@{digest}");
    }
    Ok(())
}

fn options(args: &Args) -> anyhow::Result<BuildOptions> {
    let context = args
        .context
        .clone()
        .context("\"rbuild build\" requires exactly 1 argument: the build context")?;
    let mut stdin_dockerfile = None;
    if context == "-" || args.file.as_deref() == Some("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        stdin_dockerfile = Some(text);
    }
    Ok(BuildOptions {
        context,
        dockerfile: args.file.clone(),
        stdin_dockerfile,
        cwd: std::env::current_dir()?,
        tags: args
            .tags
            .iter()
            .map(|t| ImageName::parse(t))
            .collect::<Result<_, _>>()?,
        build_args: key_values(&args.build_args, Some(&|k: &str| std::env::var(k).ok())),
        target: args.target.clone(),
        no_cache: args.no_cache,
        network: parse_network(&args.network)?,
        memory: args.memory.as_deref().map(parse_bytes).transpose()?,
        cpus: args.cpus,
        labels: key_values(&args.labels, None),
        source_date_epoch: args.source_date_epoch,
        fetcher: Some(Fetcher(Arc::new(crate::fetch::HttpFetcher::default()))),
        secrets: args
            .secrets
            .iter()
            .map(|s| parse_secret(s, &|k: &str| std::env::var(k).ok()))
            .collect::<Result<_, _>>()?,
    })
}
