//! The URL downloader the binary gives the builder for `ADD https://…`.

use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use rbuild_builder::copy::UrlFetcher;

/// Downloads with a blocking HTTP client (system roots, redirects followed). The client —
/// a runtime thread and the system certificates — is only made when a build downloads.
#[derive(Default)]
pub struct HttpFetcher {
    client: OnceLock<reqwest::Result<reqwest::blocking::Client>>,
}

impl HttpFetcher {
    fn client(&self) -> std::io::Result<&reqwest::blocking::Client> {
        let made = self.client.get_or_init(|| {
            reqwest::blocking::Client::builder()
                .user_agent(concat!("rbuild/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(30))
                .timeout(None)
                .build()
        });
        made.as_ref()
            .map_err(|e| std::io::Error::other(format!("HTTP client: {e}")))
    }
}

impl UrlFetcher for HttpFetcher {
    fn fetch(&self, url: &str, out: &mut dyn Write) -> std::io::Result<Option<i64>> {
        let mut resp = self
            .client()?
            .get(url)
            .send()
            .map_err(std::io::Error::other)?;
        if !resp.status().is_success() {
            let status = resp.status();
            return Err(std::io::Error::other(format!("GET {url}: HTTP {status}")));
        }
        let modified = resp
            .headers()
            .get(reqwest::header::LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
            .map(|t| t.timestamp());
        resp.copy_to(out).map_err(std::io::Error::other)?;
        Ok(modified)
    }
}
