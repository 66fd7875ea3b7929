//! The final image: config + manifest into the store, then the tags.

use chrono::{DateTime, SecondsFormat, Utc};
use rbuild_store::{Descriptor, MediaType};

use super::error::BuildError;
use super::stage::StageOut;
use super::{BuildResult, Ctx};

/// RFC 3339 time of `epoch` (SOURCE_DATE_EPOCH), or now.
pub fn timestamp(epoch: Option<i64>) -> String {
    let t = epoch
        .and_then(|e| DateTime::<Utc>::from_timestamp(e, 0))
        .unwrap_or_else(Utc::now);
    t.to_rfc3339_opts(SecondsFormat::Nanos, true)
}

/// Writes the target stage's image and tags it.
pub(crate) fn write(ctx: &Ctx<'_>, out: &StageOut) -> Result<BuildResult, BuildError> {
    let mut config = out.config.clone();
    // The time of the latest step (kept through cache hits), so a fully cached rebuild is
    // byte for byte the same image; SOURCE_DATE_EPOCH overrides it.
    config.created = match (ctx.opts.source_date_epoch, config.created.take()) {
        (Some(epoch), _) => Some(timestamp(Some(epoch))),
        (None, Some(latest)) => Some(latest),
        (None, None) => Some(timestamp(None)),
    };
    for (k, v) in &ctx.opts.labels {
        config.config.labels.insert(k.clone(), v.clone());
    }
    config.rootfs.diff_ids = out.layers.iter().map(|l| l.diff_id.to_string()).collect();
    let config_desc = ctx.store.put_json(MediaType::ImageConfig, &config)?;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": out.layers.iter().map(|l| l.blob.clone()).collect::<Vec<Descriptor>>(),
    });
    let manifest_desc = ctx.store.put_json(MediaType::ImageManifest, &manifest)?;
    if ctx.opts.tags.is_empty() {
        ctx.store.add_untagged(&manifest_desc)?;
    }
    for tag in &ctx.opts.tags {
        ctx.store.tag(tag, &manifest_desc)?;
    }
    Ok(BuildResult {
        id: config_desc.digest().clone(),
        manifest: manifest_desc,
    })
}
