//! Synchronous entry points for callers without an async runtime (the binary, and the
//! builder's base-image resolver): each runs the async operation on its own runtime.

use oci_spec::image::{Descriptor, Digest};
use rbuild_store::Store;

use crate::auth::{self, AuthError, ConfigPaths, Credentials};
use crate::client::{Client, ClientOptions};
use crate::error::RegistryError;
use crate::pull::{self, PullError, PullOptions};
use crate::push::{self, PushError, PushOptions};
use crate::reference::{normalize_registry, Reference};

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Pulls `reference` into `store` (see [`pull::pull`]); returns the manifest descriptor.
/// Must not be called from inside a tokio runtime.
pub fn pull_blocking(
    store: &Store,
    reference: &Reference,
    opts: &PullOptions,
) -> Result<Descriptor, PullError> {
    runtime()
        .map_err(PullError::Runtime)?
        .block_on(pull::pull(store, reference, opts))
}

/// Resolves a base image for a build (`FROM`, `COPY --from`): the local store first (by
/// digest, or by short name and tag), the registry only when the image is not there yet,
/// so a second build does not touch the network.
pub fn resolve_or_pull_blocking(
    store: &Store,
    reference: &str,
    opts: &PullOptions,
) -> Result<Descriptor, PullError> {
    let r = Reference::parse(reference)?;
    let local = match (r.digest(), r.tag_or_default()) {
        (Some(d), _) => d.to_string(),
        (None, Some(tag)) => format!("{}:{tag}", r.short_name()),
        (None, None) => r.short_name(),
    };
    match store.resolve(&local) {
        Ok(desc) => Ok(desc),
        Err(_) => pull_blocking(store, &r, opts),
    }
}

/// Pushes the stored `image` to `reference` (see [`push::push`]); returns the manifest digest.
/// Must not be called from inside a tokio runtime.
pub fn push_blocking(
    store: &Store,
    image: &str,
    reference: &Reference,
    opts: &PushOptions,
) -> Result<Digest, PushError> {
    runtime()
        .map_err(PushError::Runtime)?
        .block_on(push::push(store, image, reference, opts))
}

/// Checks `creds` against `registry` (`GET /v2/` must succeed with them), then saves them
/// like `docker login` into `paths` (default: `$REGISTRY_AUTH_FILE` or docker's config.json).
pub async fn login(
    registry: &str,
    creds: &Credentials,
    paths: Option<&ConfigPaths>,
    opts: &ClientOptions,
) -> Result<(), RegistryError> {
    let registry = normalize_registry(registry);
    let opts = ClientOptions {
        credentials: Some(creds.clone()),
        ..opts.clone()
    };
    Client::new(&registry, &opts)?.check_login().await?;
    let paths = match paths {
        Some(p) => p.clone(),
        None => ConfigPaths::from_env()?,
    };
    Ok(auth::login_store(&paths, &registry, creds)?)
}

/// [`login`] on its own runtime.
pub fn login_blocking(
    registry: &str,
    creds: &Credentials,
    paths: Option<&ConfigPaths>,
    opts: &ClientOptions,
) -> Result<(), RegistryError> {
    let rt = runtime().map_err(|e| {
        RegistryError::Auth(AuthError::Write {
            path: "tokio runtime".into(),
            source: e,
        })
    })?;
    rt.block_on(login(registry, creds, paths, opts))
}

/// Forgets the credentials of `registry`; `Ok(false)` when none were stored.
pub fn logout(registry: &str, paths: Option<&ConfigPaths>) -> Result<bool, AuthError> {
    let paths = match paths {
        Some(p) => p.clone(),
        None => ConfigPaths::from_env()?,
    };
    auth::logout_store(&paths, &normalize_registry(registry))
}
