//! The object `docker image inspect` prints, with docker's field names.

use serde::Serialize;
use serde_json::Value;

use crate::{Image, ImageName};

/// `RootFS` of the inspect object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    /// Always `layers`.
    #[serde(rename = "Type")]
    pub kind: String,
    /// The diff ids.
    pub layers: Vec<String>,
}

/// `Metadata` of the inspect object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    /// Docker records when a tag last moved; the store does not, so this is empty.
    pub last_tag_time: String,
}

/// One element of `docker image inspect`'s array.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    /// The image id (config digest).
    #[serde(rename = "Id")]
    pub id: String,
    /// Every tag pointing at the image.
    pub repo_tags: Vec<String>,
    /// Registry digests (the store keeps none).
    pub repo_digests: Vec<String>,
    /// The parent image (none: images are not built on local parents here).
    pub parent: String,
    /// Comment of the newest history entry.
    pub comment: String,
    /// The config's creation time.
    pub created: String,
    /// Author from the config.
    pub author: String,
    /// The runtime config (`Env`, `Cmd`, …), `{}` when the image has none.
    pub config: Value,
    /// CPU architecture.
    pub architecture: String,
    /// OS.
    pub os: String,
    /// Architecture variant, when set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Bytes of the config and layer blobs as stored.
    pub size: u64,
    /// The layers' diff ids.
    #[serde(rename = "RootFS")]
    pub root_fs: RootFs,
    /// Tag metadata.
    pub metadata: Metadata,
    /// The manifest's digest (docker 25+ prints the descriptor; we give the digest).
    pub manifest_digest: String,
}

/// Builds the inspect object of `image`; `tags` are the names pointing at it.
pub fn image_inspect(image: &Image, tags: &[ImageName]) -> ImageInspect {
    let c = &image.config;
    // The stored run config, docker's extensions included; the OCI types as a fallback.
    let config = match image.raw_config.get("config") {
        Some(raw @ Value::Object(_)) => raw.clone(),
        _ => c
            .config()
            .as_ref()
            .and_then(|cfg| serde_json::to_value(cfg).ok())
            .unwrap_or_else(|| Value::Object(Default::default())),
    };
    let comment = c
        .history()
        .as_ref()
        .and_then(|h| h.last())
        .and_then(|h| h.comment().clone());
    ImageInspect {
        id: image.id().to_string(),
        repo_tags: tags.iter().map(ToString::to_string).collect(),
        repo_digests: Vec::new(),
        parent: String::new(),
        comment: comment.unwrap_or_default(),
        created: c.created().clone().unwrap_or_default(),
        author: c.author().clone().unwrap_or_default(),
        config,
        architecture: c.architecture().to_string(),
        os: c.os().to_string(),
        variant: c.variant().clone(),
        size: image.layers_size() + image.manifest.config().size(),
        root_fs: RootFs {
            kind: c.rootfs().typ().clone(),
            layers: c.rootfs().diff_ids().clone(),
        },
        metadata: Metadata {
            last_tag_time: String::new(),
        },
        manifest_digest: image.manifest_desc.digest().to_string(),
    }
}
