//! The HTTP side of one registry: scheme selection (HTTPS, plain HTTP only where allowed),
//! authentication (Basic, Bearer tokens cached per scope, refresh on 401) and retries.
//!
//! Requests are described by [`Request`] so that a retry can rebuild them; the caller
//! checks the status it expects with [`Client::expect`].

mod body;
#[cfg(test)]
mod tests_bearer;
mod token;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::OnceCell;

pub use body::{BodySource, ByteCounter, StreamChunks};

use crate::auth::{self, Challenge, ConfigPaths, Credentials};
use crate::error::{parse_diagnostics, RegistryError};
use crate::reference::endpoint_for;
use crate::retry::RetryPolicy;
use crate::secret::Secret;

/// The environment variable listing extra registries that may use plain HTTP (comma-separated).
pub const INSECURE_ENV: &str = "RBUILD_INSECURE_REGISTRIES";
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach registries: TLS roots, insecure hosts, retries and credentials.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Registries (host or host:port) that may be reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// An extra PEM CA bundle to trust besides the system roots.
    pub ca_file: Option<PathBuf>,
    /// Retry policy for temporary failures.
    pub retry: RetryPolicy,
    /// Credentials to use instead of looking them up in the docker config.
    pub credentials: Option<Credentials>,
    /// Where to look credentials up; `None` means [`ConfigPaths::from_env`].
    pub auth_paths: Option<ConfigPaths>,
}

impl ClientOptions {
    /// Defaults plus the registries listed in `$RBUILD_INSECURE_REGISTRIES`.
    pub fn from_env() -> ClientOptions {
        let insecure = std::env::var(INSECURE_ENV).unwrap_or_default();
        let insecure_registries = insecure
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        ClientOptions {
            insecure_registries,
            ..ClientOptions::default()
        }
    }
}

/// True for `localhost`, `127.0.0.0/8` and `::1` (with or without a port).
pub fn is_loopback(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => host.rsplit_once(':').map_or(host, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                host
            }
        }),
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// One request to a registry, rebuildable for retries.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// A path starting with `/v2/` (joined to the registry's base URL) or an absolute URL.
    pub url: String,
    /// Extra headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: BodySource,
    /// Token scopes this request needs, e.g. `repository:library/busybox:pull`.
    pub scopes: Vec<String>,
    /// Whether transport-level retries are safe (false for upload chunks, which the
    /// upload logic resumes itself).
    pub retry: bool,
}

impl Request {
    /// A bodyless request with retries enabled.
    pub fn new(method: Method, url: impl Into<String>, scopes: &[String]) -> Request {
        let (headers, body) = (HeaderMap::new(), BodySource::Empty);
        Request {
            method,
            url: url.into(),
            headers,
            body,
            scopes: scopes.to_vec(),
            retry: true,
        }
    }

    /// Adds a header (values built by this crate are always valid header text).
    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Request {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: BodySource) -> Request {
        self.body = body;
        self
    }

    /// Disables transport retries.
    pub fn no_retry(mut self) -> Request {
        self.retry = false;
        self
    }
}

#[derive(Default)]
struct AuthState {
    challenge: Option<Challenge>,
    tokens: HashMap<String, Secret>,
}

/// A connection to one registry. Cheap to share by reference across concurrent tasks.
pub struct Client {
    http: reqwest::Client,
    registry: String,
    endpoint: String,
    allow_http: bool,
    base: OnceCell<String>,
    credentials: Option<Credentials>,
    auth: Mutex<AuthState>,
    retry: RetryPolicy,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client for `registry` (a reference's registry name). Looks up stored credentials.
    pub fn new(registry: &str, opts: &ClientOptions) -> Result<Client, RegistryError> {
        let credentials = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => {
                let paths = match &opts.auth_paths {
                    Some(p) => p.clone(),
                    None => ConfigPaths::from_env()?,
                };
                auth::lookup(&paths, registry)?
            }
        };
        let endpoint = endpoint_for(registry).to_string();
        let allow_http = is_loopback(&endpoint)
            || opts
                .insecure_registries
                .iter()
                .any(|h| h == registry || *h == endpoint);
        Ok(Client {
            http: build_http(opts)?,
            registry: registry.to_string(),
            endpoint,
            allow_http,
            base: OnceCell::new(),
            credentials,
            auth: Mutex::new(AuthState::default()),
            retry: opts.retry.clone(),
        })
    }

    /// The registry name this client talks to.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The retry policy, for operations that retry at a higher level (blob bodies, uploads).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// `https://host` or, where allowed and HTTPS fails, `http://host`. Pings `/v2/` once.
    pub async fn base_url(&self) -> Result<&str, RegistryError> {
        self.base
            .get_or_try_init(|| self.probe())
            .await
            .map(String::as_str)
    }

    async fn probe(&self) -> Result<String, RegistryError> {
        let schemes: &[&str] = if self.allow_http {
            &["https", "http"]
        } else {
            &["https"]
        };
        let mut backoff = self.retry.start();
        loop {
            let mut last = None;
            for scheme in schemes {
                let url = format!("{scheme}://{}/v2/", self.endpoint);
                // A plain-HTTP server may never answer a TLS hello: bound the HTTPS try
                // when there is an HTTP fallback.
                let timeout = if self.allow_http && *scheme == "https" {
                    PROBE_TIMEOUT
                } else {
                    PROBE_TIMEOUT * 6
                };
                match self.http.get(&url).timeout(timeout).send().await {
                    // 400 to plain HTTP is an HTTPS server (Go answers so): keep the HTTPS error.
                    Ok(resp) if *scheme == "http" && resp.status() == StatusCode::BAD_REQUEST => {}
                    Ok(resp) => {
                        self.remember_challenge(resp.headers());
                        return Ok(format!("{scheme}://{}", self.endpoint));
                    }
                    Err(source) => {
                        let method = "GET".into();
                        last.get_or_insert(RegistryError::Connection {
                            method,
                            url,
                            source,
                        });
                    }
                }
            }
            let err = last.ok_or_else(|| RegistryError::BadUrl {
                url: self.endpoint.clone(),
            })?;
            match backoff.next_delay(None) {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    return Err(RegistryError::Unreachable {
                        registry: self.registry.clone(),
                        source: Box::new(err),
                    })
                }
            }
        }
    }

    fn remember_challenge(&self, headers: &HeaderMap) -> Option<Challenge> {
        let challenge = headers
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(Challenge::parse)?;
        if let Ok(mut state) = self.auth.lock() {
            state.challenge = Some(challenge.clone());
        }
        Some(challenge)
    }

    /// Resolves a path or absolute URL against the base URL.
    pub async fn url(&self, path_or_url: &str) -> Result<String, RegistryError> {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            return Ok(path_or_url.to_string());
        }
        Ok(format!("{}{}", self.base_url().await?, path_or_url))
    }

    /// Sends a request with authentication, retrying temporary failures (connection
    /// errors, 5xx, 429 with `Retry-After`) when the request allows it. 5xx/429 answers
    /// become errors; every other status is returned for the caller to check.
    pub async fn send(&self, req: &Request) -> Result<Response, RegistryError> {
        let mut backoff = self.retry.start();
        loop {
            let err = match self.send_authed(req).await {
                Ok(resp) if !is_retry_status(resp.status()) => return Ok(resp),
                Ok(resp) => self.status_error(&req.method, resp).await,
                Err(e) => e,
            };
            if !req.retry || !err.is_temporary() {
                return Err(err);
            }
            match backoff.next_delay(err.retry_after()) {
                Some(d) => tokio::time::sleep(d).await,
                None => return Err(err),
            }
        }
    }

    /// Sends once; on 401 answers the challenge (a token for Bearer, credentials for
    /// Basic) and sends again. A second 401 is final. An expired cached token is
    /// replaced the same way.
    async fn send_authed(&self, req: &Request) -> Result<Response, RegistryError> {
        let resp = self.send_once(req).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let Some(challenge) = self.remember_challenge(resp.headers()) else {
            return Err(self.unauthorized(resp).await);
        };
        match (&challenge, &self.credentials) {
            (Challenge::Basic, None) => return Err(self.unauthorized(resp).await),
            (Challenge::Basic, Some(_)) => {}
            (
                Challenge::Bearer {
                    realm,
                    service,
                    scope,
                },
                creds,
            ) => {
                let scopes = merge_scopes(&req.scopes, scope.as_deref());
                let token = token::fetch(
                    &self.http,
                    realm,
                    service.as_deref(),
                    &scopes,
                    creds.as_ref(),
                )
                .await?;
                self.store_token(&req.scopes, token);
            }
        }
        let retried = self.send_once(req).await?;
        match retried.status() == StatusCode::UNAUTHORIZED {
            true => Err(self.unauthorized(retried).await),
            false => Ok(retried),
        }
    }

    async fn send_once(&self, req: &Request) -> Result<Response, RegistryError> {
        let url = self.url(&req.url).await?;
        let mut builder = self
            .http
            .request(req.method.clone(), &url)
            .headers(req.headers.clone());
        if let Some(value) = self.auth_header(&req.scopes) {
            builder = builder.header(AUTHORIZATION, value);
        }
        let (body, len) = req
            .body
            .build()
            .await
            .map_err(|e| RegistryError::BodyFile {
                path: req.body.path(),
                source: e,
            })?;
        if let Some(len) = len {
            builder = builder.header(reqwest::header::CONTENT_LENGTH, len);
        }
        builder = builder.body(body);
        builder
            .send()
            .await
            .map_err(|source| RegistryError::Connection {
                method: req.method.to_string(),
                url,
                source,
            })
    }

    fn auth_header(&self, scopes: &[String]) -> Option<HeaderValue> {
        if let Some(token) = self.cached_token(scopes) {
            return secret_header(&format!("Bearer {}", token.expose()));
        }
        let basic = matches!(self.auth.lock().ok()?.challenge, Some(Challenge::Basic));
        let creds = self.credentials.as_ref().filter(|_| basic)?;
        let raw = format!("{}:{}", creds.username, creds.password.expose());
        secret_header(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        ))
    }

    fn cached_token(&self, scopes: &[String]) -> Option<Secret> {
        self.auth
            .lock()
            .ok()?
            .tokens
            .get(&scopes.join(" "))
            .cloned()
    }

    fn store_token(&self, scopes: &[String], token: Secret) {
        if let Ok(mut state) = self.auth.lock() {
            state.tokens.insert(scopes.join(" "), token);
        }
    }

    async fn unauthorized(&self, resp: Response) -> RegistryError {
        let body = resp.bytes().await.unwrap_or_default();
        let had_credentials = self.credentials.is_some();
        RegistryError::Unauthorized {
            registry: self.registry.clone(),
            diagnostics: parse_diagnostics(&body),
            had_credentials,
        }
    }

    async fn status_error(&self, method: &Method, resp: Response) -> RegistryError {
        let (url, status) = (resp.url().to_string(), resp.status().as_u16());
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok())
            .map(Duration::from_secs);
        let body = resp.bytes().await.unwrap_or_default();
        RegistryError::Status {
            method: method.to_string(),
            url,
            status,
            diagnostics: parse_diagnostics(&body),
            retry_after,
        }
    }

    /// Returns the response when its status is one of `ok`, else a typed error with the
    /// registry's diagnostics.
    pub async fn expect(
        &self,
        method: &Method,
        resp: Response,
        ok: &[u16],
    ) -> Result<Response, RegistryError> {
        match ok.contains(&resp.status().as_u16()) {
            true => Ok(resp),
            false => Err(self.status_error(method, resp).await),
        }
    }

    /// Checks that the credentials work for this registry: `GET /v2/` must not answer 401.
    pub async fn check_login(&self) -> Result<(), RegistryError> {
        let resp = self.send(&Request::new(Method::GET, "/v2/", &[])).await?;
        self.expect(&Method::GET, resp, &[200]).await.map(drop)
    }
}

fn is_retry_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 429 | 500 | 502 | 503 | 504)
}

fn secret_header(value: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(value).ok()?;
    v.set_sensitive(true);
    Some(v)
}

fn merge_scopes(ours: &[String], theirs: Option<&str>) -> Vec<String> {
    let mut scopes = ours.to_vec();
    for s in theirs.into_iter().flat_map(|t| t.split(' ')) {
        if !s.is_empty() && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}

fn build_http(opts: &ClientOptions) -> Result<reqwest::Client, RegistryError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("rbuild/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120));
    if let Some(path) = &opts.ca_file {
        let ca_err = |reason: String| RegistryError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
        for cert in
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ca_err(e.to_string()))?
        {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder.build().map_err(RegistryError::ClientSetup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "[::1]",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in [
            "example.com",
            "10.0.0.1:5000",
            "registry-1.docker.io",
            "localhost.example.com",
        ] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn scopes_merge_without_duplicates() {
        let ours = vec!["repository:a:pull".to_string()];
        assert_eq!(
            merge_scopes(&ours, Some("repository:a:pull repository:b:pull")),
            vec!["repository:a:pull", "repository:b:pull"]
        );
        assert_eq!(merge_scopes(&ours, None), ours);
    }

    #[test]
    fn insecure_only_where_allowed() {
        let opts = ClientOptions {
            insecure_registries: vec!["reg.lan:5000".into()],
            credentials: None,
            auth_paths: Some(ConfigPaths::file(std::path::Path::new(
                "/nonexistent/c.json",
            ))),
            ..Default::default()
        };
        assert!(Client::new("reg.lan:5000", &opts).unwrap().allow_http);
        assert!(Client::new("127.0.0.1:1", &opts).unwrap().allow_http);
        assert!(!Client::new("quay.io", &opts).unwrap().allow_http);
        assert!(!Client::new("docker.io", &opts).unwrap().allow_http);
    }

    #[test]
    fn debug_never_shows_credentials() {
        let creds = Credentials {
            username: "u".into(),
            password: Secret::new("topsecret"),
        };
        let opts = ClientOptions {
            credentials: Some(creds),
            ..Default::default()
        };
        let c = Client::new("127.0.0.1:1", &opts).unwrap();
        assert!(!format!("{c:?} {opts:?}").contains("topsecret"));
    }
}
