//! The `docker-credential-<name>` protocol: `get`, `store` and `erase` over stdin/stdout.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::{AuthError, Credentials};
use crate::secret::Secret;

#[derive(Serialize, Deserialize)]
struct HelperCreds {
    #[serde(rename = "ServerURL", default)]
    server_url: String,
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Runs `docker-credential-<helper> <action>` with `input` on stdin; returns stdout.
/// The helper's output is never put into errors: it may hold the secret.
fn run(
    helper: &str,
    action: &'static str,
    input: &[u8],
) -> Result<(std::process::ExitStatus, Vec<u8>), AuthError> {
    let spawn_err = |source| AuthError::HelperSpawn {
        helper: helper.to_string(),
        source,
    };
    let mut child = Command::new(format!("docker-credential-{helper}"))
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    Ok((out.status, out.stdout))
}

/// Asks a helper for the credentials of `server`; `Ok(None)` when it has none.
pub fn get(helper: &str, server: &str) -> Result<Option<Credentials>, AuthError> {
    let (status, stdout) = run(helper, "get", server.as_bytes())?;
    if !status.success() {
        if String::from_utf8_lossy(&stdout).contains("credentials not found") {
            return Ok(None);
        }
        return Err(AuthError::HelperFailed {
            helper: helper.to_string(),
            action: "get",
            status,
        });
    }
    let c: HelperCreds =
        serde_json::from_slice(&stdout).map_err(|source| AuthError::HelperOutput {
            helper: helper.to_string(),
            source,
        })?;
    if c.username.is_empty() && c.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(Credentials {
        username: c.username,
        password: Secret::new(c.secret),
    }))
}

/// Hands credentials for `server` to a helper.
pub fn store(helper: &str, server: &str, creds: &Credentials) -> Result<(), AuthError> {
    let body = HelperCreds {
        server_url: server.to_string(),
        username: creds.username.clone(),
        secret: creds.password.expose().to_string(),
    };
    let json = serde_json::to_vec(&body).map_err(|source| AuthError::HelperOutput {
        helper: helper.to_string(),
        source,
    })?;
    let (status, _) = run(helper, "store", &json)?;
    match status.success() {
        true => Ok(()),
        false => Err(AuthError::HelperFailed {
            helper: helper.to_string(),
            action: "store",
            status,
        }),
    }
}

/// Asks a helper to forget `server`.
pub fn erase(helper: &str, server: &str) -> Result<(), AuthError> {
    let (status, _) = run(helper, "erase", server.as_bytes())?;
    match status.success() {
        true => Ok(()),
        false => Err(AuthError::HelperFailed {
            helper: helper.to_string(),
            action: "erase",
            status,
        }),
    }
}
