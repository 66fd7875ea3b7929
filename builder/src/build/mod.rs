//! Executing a build plan: stage by stage (independent stages in parallel), step by step,
//! each filesystem step in a fresh overlay snapshot whose upper dir becomes the step's layer,
//! with a build cache in front of every step.
//!
//! ```text
//! Dockerfile ─parse─▶ stages ─plan(target)─▶ levels of stages ─▶ per stage: base image,
//! then per instruction: expand ─▶ cache key ─hit─▶ reuse layer
//!                                          └miss─▶ snapshot.prepare ▶ RUN/COPY ▶ diff ▶ layer
//! ─▶ config + manifest ─▶ store, tags
//! ```

pub mod cache;
pub mod config;
mod error;
mod image;
mod layers;
mod meta;
pub mod options;
pub mod progress;
mod stage;
mod steps;
pub mod sweep;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rbuild_store::{Descriptor, Digest, ImageName, Store};

use crate::context::{BuildInputs, DockerfileSource, HashCache, IgnoreMatcher};
use crate::dockerfile::expand::{ArgOptions, GlobalScope};
use crate::dockerfile::parse_dockerfile;
use crate::plan::{plan, BuildPlan};
use crate::snapshot::Snapshotter;

pub use error::BuildError;
pub use progress::{Event, Progress};
pub use stage::StageOut;

/// How RUN steps reach the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Network {
    /// The host's network namespace (docker's default for builds without a bridge).
    #[default]
    Host,
    /// A new network namespace with only `lo`.
    None,
}

/// Everything `rbuild build` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// The context: a directory, or `-` (Dockerfile from `stdin_dockerfile`, no context).
    pub context: String,
    /// `-f`: the Dockerfile path (default `CONTEXT/Dockerfile`).
    pub dockerfile: Option<String>,
    /// The Dockerfile text when it comes from stdin.
    pub stdin_dockerfile: Option<String>,
    /// The directory relative paths are resolved against.
    pub cwd: PathBuf,
    /// `-t` names.
    pub tags: Vec<ImageName>,
    /// `--build-arg`.
    pub build_args: BTreeMap<String, String>,
    /// `--target`.
    pub target: Option<String>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--network`.
    pub network: Network,
    /// `--memory` in bytes.
    pub memory: Option<u64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    /// `--label`.
    pub labels: BTreeMap<String, String>,
    /// `SOURCE_DATE_EPOCH`: fixes every timestamp, for reproducible images.
    pub source_date_epoch: Option<i64>,
    /// Downloads `ADD https://…` sources; without one, ADD of a URL is an error.
    pub fetcher: Option<Fetcher>,
    /// `--secret`: the values `RUN --mount=type=secret` can use, by id.
    pub secrets: BTreeMap<String, SecretValue>,
}

/// A secret's bytes; `Debug` never shows them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    /// Wraps `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The secret's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue(<{} bytes>)", self.0.len())
    }
}

/// The binary's URL downloader for ADD (the builder has no network code of its own).
#[derive(Clone)]
pub struct Fetcher(pub Arc<dyn crate::copy::UrlFetcher>);

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fetcher")
    }
}

/// Finds base images (`FROM x`, `COPY --from=x`) and makes them available in the store.
pub trait BaseResolver: Send + Sync {
    /// The manifest of `reference`, in the store once this returns.
    fn resolve(&self, store: &Store, reference: &str) -> Result<Descriptor, String>;
}

/// Resolves base images from the local store only (offline builds).
pub struct StoreResolver;

impl BaseResolver for StoreResolver {
    fn resolve(&self, store: &Store, reference: &str) -> Result<Descriptor, String> {
        store.resolve(reference).map_err(|e| match e {
            rbuild_store::StoreError::ImageNotFound { .. } => {
                "not found in the local store (import or pull it first)".to_string()
            }
            other => other.to_string(),
        })
    }
}

/// What a build produced.
#[derive(Debug, Clone)]
pub struct BuildResult {
    /// The image manifest.
    pub manifest: Descriptor,
    /// The image id (config digest).
    pub id: Digest,
}

/// Shared state of one build.
pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub snaps: Snapshotter,
    pub cache: cache::BuildCache,
    pub hashes: HashCache,
    pub context: Option<PathBuf>,
    pub ignore: Arc<IgnoreMatcher>,
    pub plan: BuildPlan,
    pub global: GlobalScope,
    pub opts: &'a BuildOptions,
    pub resolver: &'a dyn BaseResolver,
    pub progress: &'a dyn Progress,
    pub file: String,
    next_id: AtomicUsize,
    results: Mutex<HashMap<usize, StageOut>>,
}

impl Ctx<'_> {
    /// A fresh step number (`#N`).
    pub fn step_id(&self) -> usize {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The result of a finished stage.
    pub fn stage_result(&self, index: usize) -> Option<StageOut> {
        self.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&index)
            .cloned()
    }

    /// `Dockerfile:7` for a line.
    pub fn location(&self, line: usize) -> String {
        format!("{}:{line}", self.file)
    }
}

/// Runs a whole build and tags the result.
pub fn build(
    store: &Store,
    opts: &BuildOptions,
    resolver: &dyn BaseResolver,
    progress: &dyn Progress,
) -> Result<BuildResult, BuildError> {
    let _lock = store.lock_shared()?;
    let ctx = prepare(store, opts, resolver, progress)?;
    for level in ctx.plan.levels().to_vec() {
        run_level(&ctx, &level)?;
    }
    let target = ctx.plan.target().index;
    let out = ctx.stage_result(target).expect("the target stage ran");
    let result = image::write(&ctx, &out)?;
    let _ = ctx.hashes.save();
    Ok(result)
}

fn prepare<'a>(
    store: &'a Store,
    opts: &'a BuildOptions,
    resolver: &'a dyn BaseResolver,
    progress: &'a dyn Progress,
) -> Result<Ctx<'a>, BuildError> {
    let inputs = BuildInputs::resolve(&opts.context, opts.dockerfile.as_deref(), &opts.cwd)?;
    let (text, file) = match &inputs.dockerfile {
        DockerfileSource::Path(p) => (inputs.read_dockerfile()?.unwrap_or_default(), file_name(p)),
        DockerfileSource::Stdin => (
            opts.stdin_dockerfile.clone().unwrap_or_default(),
            "Dockerfile".to_string(),
        ),
    };
    let df = parse_dockerfile(&text, Some(&file))?;
    for w in &df.warnings {
        progress.event(Event::Message {
            text: format!("WARNING: {file}:{}: {}", w.span.start_line, w.message),
        });
    }
    let global = GlobalScope::for_dockerfile(&df, &ArgOptions::host(opts.build_args.clone()))?;
    let plan = plan(&df, opts.target.as_deref(), &|w: &str| global.expand(w))?;
    let ignore = Arc::new(inputs.ignore()?);
    Ok(Ctx {
        store,
        snaps: Snapshotter::open(store.root())?,
        cache: cache::BuildCache::open(store)?,
        hashes: HashCache::open(&store.root().join("cache")),
        context: inputs.context.clone(),
        ignore,
        plan,
        global,
        opts,
        resolver,
        progress,
        file,
        next_id: AtomicUsize::new(0),
        results: Mutex::new(HashMap::new()),
    })
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".into())
}

/// Runs the stages of one level, in parallel when there are several.
fn run_level(ctx: &Ctx<'_>, level: &[usize]) -> Result<(), BuildError> {
    let outcomes: Vec<Result<(usize, StageOut), BuildError>> = std::thread::scope(|s| {
        let handles: Vec<_> = level
            .iter()
            .map(|&i| s.spawn(move || stage::run(ctx, i).map(|o| (i, o))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("stage thread panicked"))
            .collect()
    });
    for outcome in outcomes {
        let (i, out) = outcome?;
        ctx.results
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(i, out);
    }
    Ok(())
}
