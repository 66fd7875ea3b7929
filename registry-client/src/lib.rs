//! rbuild-registry-client: OCI distribution references, auth, pull and push.
//!
//! * [`reference`] parses `[registry[:port]/]repo[:tag][@digest]` with Docker Hub's defaults;
//! * [`auth`] finds credentials (docker `config.json`, credential helpers) and [`client`]
//!   answers `WWW-Authenticate` challenges (Basic, Bearer tokens cached per scope);
//! * [`client`] picks HTTPS (plain HTTP only for loopback or registries marked insecure)
//!   and retries temporary failures with [`retry`]'s backoff;
//! * [`pull`] and [`push`] move images between a registry and the [`rbuild_store::Store`],
//!   streaming blobs, resuming interrupted transfers and verifying every digest;
//! * [`progress`] events let the caller draw what happens.
//!
//! The async functions need a tokio runtime; [`pull_blocking`] and [`push_blocking`] bring their own.

pub mod api;
pub mod auth;
mod blocking;
pub mod client;
mod compress;
pub mod error;
pub mod platform;
pub mod progress;
pub mod provenance;
pub mod pull;
mod pull_blob;
pub mod push;
mod push_blob;
mod push_stream;
pub mod reference;
pub mod retry;
pub mod secret;

pub use auth::Credentials;
pub use blocking::{
    login, login_blocking, logout, pull_blocking, push_blocking, resolve_or_pull_blocking,
};
pub use client::ClientOptions;
pub use error::RegistryError;
pub use platform::Platform;
pub use pull::{pull as pull_async, PullError, PullOptions};
pub use push::{push as push_async, PushError, PushOptions};
pub use rbuild_store::compressed::{cached as cached_compressed, layer_media_type};
pub use rbuild_store::layer::Compression;
pub use reference::{Reference, ReferenceError};
pub use secret::Secret;
