//! An image's layers: their descriptors matched with the history entries that made
//! them, and their trees read from the store (one pass per blob, layers in parallel).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use oci_spec::image::{Descriptor, Digest};
use serde::Serialize;

use super::tree::LayerTree;
use super::InspectError;
use crate::blob::BlobRead;
use crate::layer::{decompress, Compression};
use crate::{Image, Store};

/// What dive prints for a layer whose history entry is missing.
pub const MISSING: &str = "(missing)";

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LayerInfo {
    /// 0 = base.
    pub index: usize,
    /// The blob digest.
    pub digest: Digest,
    /// The uncompressed tar's digest from the config, when listed.
    pub diff_id: Option<String>,
    /// The blob's media type.
    pub media_type: String,
    /// The blob's size (compressed).
    pub blob_size: u64,
    /// The command that made it (`(missing)` without history).
    pub created_by: String,
    /// When it was made, from the history.
    pub created: Option<String>,
    /// The history comment.
    pub comment: Option<String>,
}

/// The image's layers, each matched with its history entry the way dive does: history
/// entries marked `empty_layer` are skipped, the others are taken in order.
pub fn layer_infos(image: &Image) -> Vec<LayerInfo> {
    let history = image.config.history().clone().unwrap_or_default();
    let mut with_layer = history.iter().filter(|h| h.empty_layer() != Some(true));
    let diff_ids = image.config.rootfs().diff_ids();
    let layers = image.manifest.layers().iter().enumerate();
    layers
        .map(|(index, d)| {
            let h = with_layer.next();
            LayerInfo {
                index,
                digest: d.digest().clone(),
                diff_id: diff_ids.get(index).cloned(),
                media_type: d.media_type().to_string(),
                blob_size: d.size(),
                created_by: h
                    .and_then(|h| h.created_by().clone())
                    .unwrap_or_else(|| MISSING.to_string()),
                created: h.and_then(|h| h.created().clone()),
                comment: h.and_then(|h| h.comment().clone()),
            }
        })
        .collect()
}

/// Reads one layer blob: decompress as it streams, keep only the headers.
pub fn read_layer(store: &Store, desc: &Descriptor) -> Result<LayerTree, InspectError> {
    if Compression::from_media_type(desc.media_type()).is_none() {
        return Err(InspectError::NotALayer {
            digest: desc.digest().clone(),
            media_type: desc.media_type().to_string(),
        });
    }
    let name = desc.digest().to_string();
    let blob = store
        .blobs()
        .open(desc.digest())
        .map_err(crate::StoreError::from)?;
    let reader = decompress(blob).map_err(|source| InspectError::Tar {
        layer: name.clone(),
        source,
    })?;
    LayerTree::read(reader, &name)
}

/// Reads every layer of `image`, in parallel on the available cores; the trees come
/// back bottom first.
pub fn read_trees(store: &Store, image: &Image) -> Result<Vec<LayerTree>, InspectError> {
    let layers = image.manifest.layers();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(layers.len().max(1));
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<LayerTree, InspectError>>>> =
        Mutex::new((0..layers.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(desc) = layers.get(i) else { break };
                let tree = read_layer(store, desc);
                if let Ok(mut slots) = results.lock() {
                    slots[i] = Some(tree);
                }
            });
        }
    });
    let slots = results.into_inner().unwrap_or_else(|p| p.into_inner());
    slots
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.unwrap_or_else(|| {
                Err(InspectError::Tar {
                    layer: layers[i].digest().to_string(),
                    source: std::io::Error::other("layer reader thread panicked"),
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use oci_spec::image::{HistoryBuilder, ImageConfiguration, ImageManifest};

    use super::*;

    fn image_with(history: Vec<(&str, bool)>, layers: usize) -> Image {
        let mut config = ImageConfiguration::default();
        let h = history
            .into_iter()
            .map(|(by, empty)| {
                let b = HistoryBuilder::default().created_by(by.to_string());
                let b = if empty { b.empty_layer(true) } else { b };
                b.build().unwrap()
            })
            .collect();
        config.set_history(Some(h));
        let digest = crate::digest::sha256_of(b"x");
        let mut manifest: ImageManifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest.to_string(), "size": 1},
            "layers": []
        }))
        .unwrap();
        let layer = Descriptor::new(Compression::Gzip.media_type(), 1, digest.clone());
        manifest.set_layers(vec![layer; layers]);
        Image {
            manifest_desc: Descriptor::new(oci_spec::image::MediaType::ImageManifest, 1, digest),
            manifest,
            config,
            raw_config: serde_json::Value::Null,
        }
    }

    #[test]
    fn empty_layer_history_is_skipped_when_matching() {
        let img = image_with(
            vec![
                ("ADD rootfs", false),
                ("ENV A=1", true),
                ("RUN make", false),
            ],
            3,
        );
        let by: Vec<String> = layer_infos(&img)
            .into_iter()
            .map(|l| l.created_by)
            .collect();
        assert_eq!(by, ["ADD rootfs", "RUN make", MISSING]);
    }
}
