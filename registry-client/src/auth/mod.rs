//! Credentials: where they come from (docker's `config.json`, credential helpers) and how
//! a registry asks for them (`WWW-Authenticate` challenges).

pub mod challenge;
pub mod config;
pub mod helper;

use std::path::PathBuf;

use thiserror::Error;

use crate::secret::Secret;

pub use challenge::Challenge;
pub use config::{login_store, logout_store, lookup, ConfigPaths};

/// A username and password (or an identity token with the username `<token>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The account name.
    pub username: String,
    /// The password or token; redacted in every `Debug`/`Display`.
    pub password: Secret,
}

/// Errors reading or writing credentials. None of them quotes a secret.
#[derive(Debug, Error)]
pub enum AuthError {
    /// The config file exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is not valid JSON of the expected shape.
    #[error("cannot parse {path}: {source}")]
    Parse {
        /// The config file.
        path: PathBuf,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// The config file cannot be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The config file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `auths` entry has an `auth` field that is not base64 of `user:password`.
    #[error("{path}: the auth entry for {registry} is not base64 of user:password")]
    BadAuthEntry {
        /// The config file.
        path: PathBuf,
        /// The registry key.
        registry: String,
    },
    /// A `docker-credential-*` program could not be started.
    #[error("cannot run docker-credential-{helper}: {source}")]
    HelperSpawn {
        /// The helper suffix (e.g. `pass`).
        helper: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A credential helper exited with an error.
    #[error("docker-credential-{helper} {action} failed ({status})")]
    HelperFailed {
        /// The helper suffix.
        helper: String,
        /// `get`, `store` or `erase`.
        action: &'static str,
        /// The exit status.
        status: std::process::ExitStatus,
    },
    /// A credential helper printed something that is not its JSON answer.
    #[error("docker-credential-{helper} get printed invalid JSON: {source}")]
    HelperOutput {
        /// The helper suffix.
        helper: String,
        /// The JSON error (it never quotes the input).
        #[source]
        source: serde_json::Error,
    },
    /// Neither `$DOCKER_CONFIG` nor `$HOME` is set.
    #[error("cannot find the docker config: neither DOCKER_CONFIG nor HOME is set")]
    NoConfigDir,
}
