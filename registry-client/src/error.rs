//! Typed registry errors, after ggcr's `transport/error.go`: the HTTP status, the
//! registry's JSON error codes in plain words, and whether a retry can help.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::auth::AuthError;

/// One entry of the registry's `{"errors":[{"code","message","detail"}]}` body.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Diagnostic {
    /// The error code, e.g. `MANIFEST_UNKNOWN`.
    pub code: String,
    /// The registry's own message.
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<Diagnostic>,
}

/// Parses a registry error body; anything that is not the JSON error shape gives no diagnostics.
pub fn parse_diagnostics(body: &[u8]) -> Vec<Diagnostic> {
    serde_json::from_slice::<ErrorBody>(body)
        .map(|b| b.errors)
        .unwrap_or_default()
}

/// The plain-words meaning of a distribution error code.
pub fn explain_code(code: &str) -> &'static str {
    match code {
        "BLOB_UNKNOWN" => "blob unknown to the registry",
        "BLOB_UPLOAD_INVALID" => "blob upload invalid (the upload session was lost)",
        "BLOB_UPLOAD_UNKNOWN" => "blob upload unknown to the registry",
        "DIGEST_INVALID" => "the uploaded content does not match its digest",
        "MANIFEST_BLOB_UNKNOWN" => "the manifest references a blob the registry does not have",
        "MANIFEST_INVALID" => "the registry rejected the manifest as invalid",
        "MANIFEST_UNKNOWN" => "manifest unknown: no such tag or digest",
        "MANIFEST_UNVERIFIED" => "manifest failed signature verification",
        "NAME_INVALID" => "invalid repository name",
        "NAME_UNKNOWN" => "repository name not known to the registry",
        "SIZE_INVALID" => "the uploaded content does not match its size",
        "UNAUTHORIZED" => "authentication required",
        "DENIED" => "access denied: the credentials lack permission for this repository",
        "UNSUPPORTED" => "the registry does not support this operation",
        "TOOMANYREQUESTS" => "too many requests: the registry rate-limits this client",
        _ => "registry error",
    }
}

fn describe(diagnostics: &[Diagnostic]) -> String {
    let parts: Vec<String> = diagnostics
        .iter()
        .map(|d| match d.message.is_empty() {
            true => format!("{} ({})", explain_code(&d.code), d.code),
            false => format!("{} ({}: {})", explain_code(&d.code), d.code, d.message),
        })
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(": {}", parts.join("; "))
    }
}

/// An error talking to a registry. Never carries credentials: URLs hold none and
/// headers are not quoted.
#[derive(Debug, Error)]
pub enum RegistryError {
    /// The registry answered with a status the operation did not expect.
    #[error("{method} {url}: HTTP {status}{}", describe(diagnostics))]
    Status {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The HTTP status code.
        status: u16,
        /// The registry's error codes, if its body had them.
        diagnostics: Vec<Diagnostic>,
        /// The `Retry-After` delay, when given.
        retry_after: Option<Duration>,
    },
    /// The registry still refuses after authenticating (or there was nothing to authenticate with).
    #[error("{registry}: authentication failed{}{}", describe(diagnostics), hint(*had_credentials, registry))]
    Unauthorized {
        /// The registry name.
        registry: String,
        /// The registry's error codes.
        diagnostics: Vec<Diagnostic>,
        /// Whether credentials were sent.
        had_credentials: bool,
    },
    /// The connection failed or broke before a response (or mid-body).
    #[error("{method} {url}: {source}")]
    Connection {
        /// The request method.
        method: String,
        /// The request URL.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The registry did not answer at all, after retries (not retried again).
    #[error("cannot reach registry {registry}: {source}")]
    Unreachable {
        /// The registry name.
        registry: String,
        /// The last connection error.
        #[source]
        source: Box<RegistryError>,
    },
    /// A header the protocol needs is missing or malformed.
    #[error("{url}: missing or malformed {header} header")]
    BadHeader {
        /// The request URL.
        url: String,
        /// The header name.
        header: &'static str,
    },
    /// A URL built from the reference or a `Location` header is invalid.
    #[error("invalid URL {url:?}")]
    BadUrl {
        /// The offending URL text.
        url: String,
    },
    /// The token server answered with something that is not a token.
    #[error("token server {realm}: HTTP {status}{}", describe(diagnostics))]
    Token {
        /// The token realm URL.
        realm: String,
        /// The HTTP status.
        status: u16,
        /// The server's error codes.
        diagnostics: Vec<Diagnostic>,
    },
    /// The token server's JSON had no `token`/`access_token`.
    #[error("token server {realm}: response has no token")]
    TokenBody {
        /// The token realm URL.
        realm: String,
    },
    /// The CA certificate file could not be read or parsed.
    #[error("CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A response body was larger than the operation allows (manifests).
    #[error("{url}: response larger than {limit} bytes")]
    TooLarge {
        /// The request URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// A file that is the body of an upload could not be opened or read.
    #[error("cannot read upload body {path}: {source}")]
    BodyFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// reqwest could not build its client (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    ClientSetup(#[source] reqwest::Error),
    /// Looking up credentials failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
}

fn hint(had_credentials: bool, registry: &str) -> String {
    match had_credentials {
        true => " (the stored credentials were refused)".to_string(),
        false => format!(" (no credentials for {registry}; run `rbuild login {registry}`)"),
    }
}

impl RegistryError {
    /// True for failures a retry can fix: connection errors, 5xx, 429 and 408.
    pub fn is_temporary(&self) -> bool {
        match self {
            RegistryError::Status { status, .. } => {
                matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
            }
            RegistryError::Connection { .. } => true,
            RegistryError::Token { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The HTTP status, when the registry answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            RegistryError::Status { status, .. } | RegistryError::Token { status, .. } => {
                Some(*status)
            }
            RegistryError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// True when one of the registry's diagnostics carries `code`.
    pub fn has_code(&self, code: &str) -> bool {
        match self {
            RegistryError::Status { diagnostics, .. }
            | RegistryError::Unauthorized { diagnostics, .. } => {
                diagnostics.iter().any(|d| d.code == code)
            }
            _ => false,
        }
    }

    /// The registry's `Retry-After`, when it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RegistryError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, body: &str) -> RegistryError {
        RegistryError::Status {
            method: "GET".into(),
            url: "http://r/v2/x/manifests/y".into(),
            status: code,
            diagnostics: parse_diagnostics(body.as_bytes()),
            retry_after: None,
        }
    }

    #[test]
    fn diagnostics_in_plain_words() {
        let e = status(
            404,
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"y"}}]}"#,
        );
        let text = e.to_string();
        assert!(text.contains("HTTP 404"), "{text}");
        assert!(
            text.contains("no such tag or digest (MANIFEST_UNKNOWN"),
            "{text}"
        );
        assert!(e.has_code("MANIFEST_UNKNOWN") && !e.has_code("DENIED"));
        assert!(!e.is_temporary());
    }

    #[test]
    fn non_json_bodies_give_no_diagnostics() {
        assert!(parse_diagnostics(b"<html>bad gateway</html>").is_empty());
        assert_eq!(
            status(502, "oops").to_string(),
            "GET http://r/v2/x/manifests/y: HTTP 502"
        );
    }

    #[test]
    fn temporary_statuses() {
        for (code, temp) in [
            (500, true),
            (502, true),
            (503, true),
            (429, true),
            (404, false),
            (400, false),
            (403, false),
        ] {
            assert_eq!(status(code, "").is_temporary(), temp, "{code}");
        }
    }

    #[test]
    fn unauthorized_hint() {
        let e = RegistryError::Unauthorized {
            registry: "r:1".into(),
            diagnostics: vec![],
            had_credentials: false,
        };
        assert!(e.to_string().contains("run `rbuild login r:1`"));
    }
}
