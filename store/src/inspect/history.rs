//! `docker history` rows: one per history entry, newest first.

use oci_spec::image::Digest;
use serde::Serialize;

use crate::Image;

/// One row of the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistoryRow {
    /// The image id on the top row only (docker prints `<missing>` for the others).
    pub id: Option<Digest>,
    /// When the step ran (RFC 3339), if recorded.
    pub created: Option<String>,
    /// The command of the step.
    pub created_by: String,
    /// Bytes the step's layer holds (0 for steps that made no layer).
    pub size: u64,
    /// The history comment.
    pub comment: String,
    /// True for steps that made no layer.
    pub empty_layer: bool,
}

/// The rows of `image`'s history, newest first. `layer_sizes[i]` is the size of layer
/// `i`; layers are matched to the history entries that are not `empty_layer`, in order.
/// An image without history gets one row per layer.
pub fn history(image: &Image, layer_sizes: &[u64]) -> Vec<HistoryRow> {
    let entries = image.config.history().clone().unwrap_or_default();
    let mut sizes = layer_sizes.iter().copied();
    let mut rows: Vec<HistoryRow> = if entries.is_empty() {
        sizes
            .map(|size| row(None, String::new(), size, None, false))
            .collect()
    } else {
        entries
            .iter()
            .map(|h| {
                let empty = h.empty_layer() == Some(true);
                let size = if empty { 0 } else { sizes.next().unwrap_or(0) };
                let by = h.created_by().clone().unwrap_or_default();
                row(h.created().clone(), by, size, h.comment().clone(), empty)
            })
            .collect()
    };
    rows.reverse();
    if let Some(top) = rows.first_mut() {
        top.id = Some(image.id().clone());
    }
    rows
}

fn row(
    created: Option<String>,
    by: String,
    size: u64,
    comment: Option<String>,
    empty: bool,
) -> HistoryRow {
    HistoryRow {
        id: None,
        created,
        created_by: by,
        size,
        comment: comment.unwrap_or_default(),
        empty_layer: empty,
    }
}

#[cfg(test)]
mod tests {
    use oci_spec::image::{
        Descriptor, HistoryBuilder, ImageConfiguration, ImageManifest, MediaType,
    };

    use super::*;

    fn image(history: &[(&str, bool)]) -> Image {
        let mut config = ImageConfiguration::default();
        let h = history.iter().map(|(by, empty)| {
            let b = HistoryBuilder::default().created_by(by.to_string());
            (if *empty { b.empty_layer(true) } else { b })
                .build()
                .unwrap()
        });
        config.set_history(Some(h.collect()));
        let d = crate::digest::sha256_of(b"cfg");
        let manifest: ImageManifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": d.to_string(), "size": 3},
            "layers": []
        }))
        .unwrap();
        Image {
            manifest_desc: Descriptor::new(MediaType::ImageManifest, 1, d),
            manifest,
            config,
            raw_config: serde_json::Value::Null,
        }
    }

    #[test]
    fn newest_first_with_sizes_on_layer_steps() {
        let img = image(&[("ADD a /", false), ("ENV X=1", true), ("RUN b", false)]);
        let rows = history(&img, &[100, 7]);
        let got: Vec<(&str, u64, bool)> = rows
            .iter()
            .map(|r| (r.created_by.as_str(), r.size, r.id.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("RUN b", 7, true),
                ("ENV X=1", 0, false),
                ("ADD a /", 100, false)
            ]
        );
    }

    #[test]
    fn no_history_gives_a_row_per_layer() {
        let mut img = image(&[]);
        img.config.set_history(None);
        assert_eq!(
            history(&img, &[1, 2])
                .iter()
                .map(|r| r.size)
                .collect::<Vec<_>>(),
            [2, 1]
        );
    }
}
