//! Opening the image an inspection verb names: the store, a layout or archive path, or — when
//! neither has it — a registry reference pulled on demand (like `docker image inspect` after
//! `docker pull`).

use rbuild_registry_client::progress::Direction;
use rbuild_registry_client::{resolve_or_pull_blocking, PullOptions};
use rbuild_store::inspect::source::{self, Source};
use rbuild_store::Store;

/// Opens `reference`, pulling it into the store first when it is only in a registry.
pub fn open(store: &Store, reference: &str) -> anyhow::Result<Source> {
    match source::open(store, reference) {
        Ok(src) => Ok(src),
        Err(local) if !std::path::Path::new(reference).exists() => {
            let opts = PullOptions {
                progress: crate::render::transfer::progress(false, Direction::Pull),
                ..PullOptions::default()
            };
            match resolve_or_pull_blocking(store, reference, &opts) {
                Ok(_) => Ok(source::open(store, reference)?),
                Err(remote) => Err(anyhow::anyhow!("{local}; pulling it failed too: {remote}")),
            }
        }
        Err(e) => Err(e.into()),
    }
}
