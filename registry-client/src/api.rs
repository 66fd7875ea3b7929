//! The distribution API calls of one repository, each with the statuses it expects
//! spelled out (ggcr `remote/write.go` style): manifests, blob HEAD/GET, uploads, mounts.

use reqwest::header::{HeaderName, ACCEPT, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE};
use reqwest::{Method, Response};

use oci_spec::image::Digest;

use crate::client::{BodySource, Client, Request};
use crate::error::RegistryError;

/// Every manifest media type rbuild understands (schema1 is asked for only to refuse it clearly).
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json, \
application/vnd.docker.distribution.manifest.v1+prettyjws, \
application/vnd.docker.distribution.manifest.v1+json";

/// Manifests larger than this are refused (distribution's own limit is 4 MiB).
pub const MANIFEST_LIMIT: u64 = 4 << 20;
const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

/// A manifest exactly as the registry served it.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The raw bytes (their sha256 is the manifest digest).
    pub bytes: Vec<u8>,
    /// The `Content-Type` the registry sent.
    pub content_type: String,
    /// The `Docker-Content-Digest` header, when sent.
    pub header_digest: Option<String>,
}

/// What a `POST …/blobs/uploads/` (optionally with `mount`) answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadStart {
    /// 201: the registry mounted the blob; nothing to upload.
    Mounted,
    /// 202: an upload session at this URL.
    Session(String),
}

/// One repository on a registry.
#[derive(Debug)]
pub struct Repo<'a> {
    client: &'a Client,
    name: String,
    scopes: Vec<String>,
}

impl<'a> Repo<'a> {
    /// The repository `name` on `client`'s registry; `push` asks tokens for push access too.
    pub fn new(client: &'a Client, name: &str, push: bool) -> Repo<'a> {
        let action = if push { "pull,push" } else { "pull" };
        Repo {
            client,
            name: name.to_string(),
            scopes: vec![format!("repository:{name}:{action}")],
        }
    }

    /// The client behind this repository.
    pub fn client(&self) -> &'a Client {
        self.client
    }

    /// The repository name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn request(&self, method: Method, url: String) -> Request {
        Request::new(method, url, &self.scopes)
    }

    /// `GET /v2/<name>/manifests/<reference>`; 200 only, body capped at [`MANIFEST_LIMIT`].
    pub async fn get_manifest(&self, reference: &str) -> Result<FetchedManifest, RegistryError> {
        let req = self
            .request(
                Method::GET,
                format!("/v2/{}/manifests/{reference}", self.name),
            )
            .header(ACCEPT, MANIFEST_ACCEPT);
        let resp = self
            .client
            .expect(&req.method, self.client.send(&req).await?, &[200])
            .await?;
        let header = |h| {
            resp.headers()
                .get(h)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        let header_digest = header(DOCKER_CONTENT_DIGEST);
        let bytes = read_limited(resp, MANIFEST_LIMIT).await?;
        Ok(FetchedManifest {
            bytes,
            content_type,
            header_digest,
        })
    }

    /// `HEAD /v2/<name>/blobs/<digest>`: `Ok(true)` on 200, `Ok(false)` on 404, an error otherwise.
    pub async fn head_blob(&self, digest: &Digest) -> Result<bool, RegistryError> {
        let req = self.request(Method::HEAD, format!("/v2/{}/blobs/{digest}", self.name));
        let resp = self
            .client
            .expect(&req.method, self.client.send(&req).await?, &[200, 404])
            .await?;
        Ok(resp.status().as_u16() == 200)
    }

    /// `GET /v2/<name>/blobs/<digest>` from `offset` (a `Range` request when > 0);
    /// 200 or 206. The caller streams the body.
    pub async fn get_blob(&self, digest: &Digest, offset: u64) -> Result<Response, RegistryError> {
        let mut req = self.request(Method::GET, format!("/v2/{}/blobs/{digest}", self.name));
        if offset > 0 {
            req = req.header(RANGE, &format!("bytes={offset}-"));
        }
        self.client
            .expect(&req.method, self.client.send(&req).await?, &[200, 206])
            .await
    }

    /// `POST /v2/<name>/blobs/uploads/`, with `mount`/`from` when `mount_from` is given.
    pub async fn start_upload(
        &self,
        mount: Option<(&Digest, &str)>,
    ) -> Result<UploadStart, RegistryError> {
        let mut url = format!("/v2/{}/blobs/uploads/", self.name);
        let mut req = self.request(Method::POST, String::new());
        if let Some((digest, from)) = mount {
            url.push_str(&format!("?mount={digest}&from={from}"));
            req.scopes.push(format!("repository:{from}:pull"));
        }
        req.url = url;
        let resp = self
            .client
            .expect(&req.method, self.client.send(&req).await?, &[201, 202])
            .await?;
        if resp.status().as_u16() == 201 {
            return Ok(UploadStart::Mounted);
        }
        Ok(UploadStart::Session(self.location(&resp).await?))
    }

    async fn location(&self, resp: &Response) -> Result<String, RegistryError> {
        let loc = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok());
        let loc = loc.ok_or_else(|| RegistryError::BadHeader {
            url: resp.url().to_string(),
            header: "Location",
        })?;
        self.client.url(loc).await
    }

    /// Sends an upload PATCH: 202 gives the URL to continue at.
    async fn send_patch(&self, req: &Request) -> Result<String, RegistryError> {
        let resp = self
            .client
            .expect(&req.method, self.client.send(req).await?, &[202])
            .await?;
        self.location(&resp).await
    }

    /// `PATCH <session>` with bytes `start..start+len` of the body; 202 gives the next URL.
    /// Never retried at the transport level: the caller asks the registry where it stands.
    pub async fn patch_chunk(
        &self,
        session: &str,
        start: u64,
        body: BodySource,
        len: u64,
    ) -> Result<String, RegistryError> {
        let end = start + len.max(1) - 1;
        let req = self
            .request(Method::PATCH, session.to_string())
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_RANGE, &format!("{start}-{end}"))
            .body(body)
            .no_retry();
        self.send_patch(&req).await
    }

    /// `PATCH <session>` with a body of unknown length (chunked transfer encoding, no
    /// `Content-Range`): distribution's streamed upload. 202 gives the next URL.
    /// Never retried: a streamed body cannot be sent twice.
    pub async fn patch_stream(
        &self,
        session: &str,
        body: BodySource,
    ) -> Result<String, RegistryError> {
        let req = self
            .request(Method::PATCH, session.to_string())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .no_retry();
        self.send_patch(&req).await
    }

    /// `GET <session>`: how many bytes the registry holds (`Range: 0-N`) and the URL to continue with.
    pub async fn upload_status(&self, session: &str) -> Result<(u64, String), RegistryError> {
        let req = self.request(Method::GET, session.to_string());
        let resp = self
            .client
            .expect(&req.method, self.client.send(&req).await?, &[204])
            .await?;
        let range = resp
            .headers()
            .get(RANGE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let offset =
            range
                .as_deref()
                .and_then(parse_range_end)
                .ok_or_else(|| RegistryError::BadHeader {
                    url: session.to_string(),
                    header: "Range",
                })?;
        Ok((offset, self.location(&resp).await?))
    }

    /// `PUT <session>?digest=…` with an optional last piece of content; 201.
    pub async fn finish_upload(
        &self,
        session: &str,
        digest: &Digest,
        body: BodySource,
    ) -> Result<(), RegistryError> {
        let mut url = reqwest::Url::parse(session).map_err(|_| RegistryError::BadUrl {
            url: session.to_string(),
        })?;
        url.query_pairs_mut().append_pair("digest", digest.as_ref());
        let req = self
            .request(Method::PUT, url.to_string())
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .no_retry();
        self.client
            .expect(&req.method, self.client.send(&req).await?, &[201])
            .await
            .map(drop)
    }

    /// `PUT /v2/<name>/manifests/<reference>` with the exact bytes; 201.
    pub async fn put_manifest(
        &self,
        reference: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let req = self
            .request(
                Method::PUT,
                format!("/v2/{}/manifests/{reference}", self.name),
            )
            .header(CONTENT_TYPE, media_type)
            .body(BodySource::Bytes(bytes.into()));
        self.client
            .expect(&req.method, self.client.send(&req).await?, &[201])
            .await
            .map(drop)
    }
}

/// `0-N` → N+1 bytes held. distribution writes `0-0` for an empty session as well as for
/// a one-byte one; `0-0` counts as empty (chunks are never a single byte).
pub fn parse_range_end(range: &str) -> Option<u64> {
    let range = range.trim().trim_start_matches("bytes=");
    let (start, end) = range.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    match (start, end) {
        (0, 0) => Some(0),
        (0, end) => Some(end + 1),
        _ => None,
    }
}

async fn read_limited(mut resp: Response, limit: u64) -> Result<Vec<u8>, RegistryError> {
    let url = resp.url().to_string();
    let mut out = Vec::new();
    loop {
        let chunk = resp
            .chunk()
            .await
            .map_err(|source| RegistryError::Connection {
                method: "GET".into(),
                url: url.clone(),
                source,
            })?;
        let Some(chunk) = chunk else { return Ok(out) };
        out.extend_from_slice(&chunk);
        if out.len() as u64 > limit {
            return Err(RegistryError::TooLarge { url, limit });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers() {
        assert_eq!(parse_range_end("0-0"), Some(0));
        assert_eq!(parse_range_end("0-1023"), Some(1024));
        assert_eq!(parse_range_end("bytes=0-9"), Some(10));
        assert_eq!(parse_range_end("5-9"), None);
        assert_eq!(parse_range_end("garbage"), None);
    }
}
