//! Reading an image (manifest + config) out of the store.

use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest, MediaType};

/// Docker's schema2 manifest media type.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker's manifest list media type.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker's image config media type.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// An image: its manifest and config, both read and verified from the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The manifest's descriptor (its digest is the image's content address).
    pub manifest_desc: Descriptor,
    /// The parsed manifest.
    pub manifest: ImageManifest,
    /// The parsed config.
    pub config: ImageConfiguration,
    /// The config as stored, with the fields the OCI types drop (docker's `Healthcheck`,
    /// `OnBuild`, `Shell`, …); `Null` when not read.
    pub raw_config: serde_json::Value,
}

impl Image {
    /// The image id as docker prints it: the config's digest.
    pub fn id(&self) -> &Digest {
        self.manifest.config().digest()
    }

    /// The sum of the layer blob sizes.
    pub fn layers_size(&self) -> u64 {
        self.manifest.layers().iter().map(|l| l.size()).sum()
    }
}

/// True for media types that are single-image manifests.
pub fn is_manifest(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageManifest => true,
        MediaType::Other(s) => s == DOCKER_MANIFEST,
        _ => false,
    }
}

/// True for media types that are indexes / manifest lists.
pub fn is_index(media_type: &MediaType) -> bool {
    match media_type {
        MediaType::ImageIndex => true,
        MediaType::Other(s) => s == DOCKER_MANIFEST_LIST,
        _ => false,
    }
}
