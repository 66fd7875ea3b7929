//! Image references: `[registry[:port]/]repo[:tag][@digest]` with Docker Hub's defaults.
//!
//! Parsing follows the docker/distribution reference grammar: the first path component
//! is a registry when it contains `.` or `:` or is `localhost`; otherwise the image lives
//! on Docker Hub (`docker.io`), where one-component names get the `library/` prefix.

use std::fmt;

use oci_spec::image::Digest;
use thiserror::Error;

/// The registry name Docker Hub images get when none is written.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";
/// The tag used when a reference has neither a tag nor a digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

/// Why a string is not a valid image reference; each variant names the offending text.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// The reference is empty.
    #[error("invalid reference: empty string")]
    Empty,
    /// The repository contains uppercase letters (docker refuses these too).
    #[error("invalid reference {reference:?}: repository name must be lowercase")]
    Uppercase {
        /// The full reference as given.
        reference: String,
    },
    /// A path component does not match `[a-z0-9]+([._-][a-z0-9]+)*`.
    #[error("invalid reference {reference:?}: bad repository component {component:?}")]
    Component {
        /// The full reference as given.
        reference: String,
        /// The component that failed.
        component: String,
    },
    /// The registry host is malformed.
    #[error("invalid reference {reference:?}: bad registry host {host:?}")]
    Host {
        /// The full reference as given.
        reference: String,
        /// The host part.
        host: String,
    },
    /// The tag does not match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error("invalid reference {reference:?}: bad tag {tag:?}")]
    Tag {
        /// The full reference as given.
        reference: String,
        /// The tag part.
        tag: String,
    },
    /// The digest is not `sha256:` + 64 lowercase hex digits.
    #[error("invalid reference {reference:?}: bad digest {digest:?}")]
    Digest {
        /// The full reference as given.
        reference: String,
        /// The digest part.
        digest: String,
    },
    /// The repository name is longer than 255 characters.
    #[error(
        "invalid reference {reference:?}: repository name longer than {MAX_NAME_LEN} characters"
    )]
    TooLong {
        /// The full reference as given.
        reference: String,
    },
}

/// A parsed, normalized image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parses `[registry[:port]/]repo[:tag][@digest]`, applying Docker Hub defaults.
    pub fn parse(s: &str) -> Result<Reference, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = split_digest(s)?;
        let (name, tag) = split_tag(s, rest)?;
        let (registry, repository) = split_registry(s, name)?;
        check_repository(s, &repository)?;
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry name as written (`docker.io` for Docker Hub, `127.0.0.1:5000`, …).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) that serves the registry API: Docker Hub maps to `registry-1.docker.io`.
    pub fn endpoint(&self) -> &str {
        endpoint_for(&self.registry)
    }

    /// The repository path, e.g. `library/busybox`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag if one was written.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The tag to use: the written one, or `latest` when there is neither tag nor digest.
    pub fn tag_or_default(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some(DEFAULT_TAG),
            (None, Some(_)) => None,
        }
    }

    /// The digest if the reference pins one.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// What to ask the registry's manifest endpoint for: the digest when pinned, else the tag.
    pub fn manifest_ref(&self) -> String {
        match (&self.digest, self.tag_or_default()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => DEFAULT_TAG.to_string(),
        }
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference {
            tag: Some(tag.to_string()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository pinned to a digest (the tag is kept for display).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The fully qualified name without tag or digest: `docker.io/library/busybox`.
    pub fn canonical_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as docker shows it: Docker Hub names lose `docker.io/` and `library/`.
    pub fn short_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return self.canonical_name();
        }
        match self.repository.strip_prefix("library/") {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.repository.clone(),
        }
    }
}

impl fmt::Display for Reference {
    /// The canonical form: `docker.io/library/busybox:latest`, `host:5000/a/b@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.canonical_name())?;
        if let Some(t) = self.tag_or_default() {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

/// The API host for a registry name (`docker.io` and `index.docker.io` → `registry-1.docker.io`).
pub fn endpoint_for(registry: &str) -> &str {
    if registry == DOCKER_HUB || registry == "index.docker.io" {
        DOCKER_HUB_ENDPOINT
    } else {
        registry
    }
}

/// Normalizes a registry name as users type it (`index.docker.io`, `https://host/`) to the key form.
pub fn normalize_registry(name: &str) -> String {
    let name = name
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let name = name.split('/').next().unwrap_or(name);
    match name {
        "index.docker.io" | "registry-1.docker.io" | "" => DOCKER_HUB.to_string(),
        other => other.to_string(),
    }
}

fn split_digest(s: &str) -> Result<(&str, Option<Digest>), ReferenceError> {
    let Some((rest, d)) = s.split_once('@') else {
        return Ok((s, None));
    };
    let bad = || ReferenceError::Digest {
        reference: s.to_string(),
        digest: d.to_string(),
    };
    let hex = d.strip_prefix("sha256:").ok_or_else(bad)?;
    if hex.len() != 64
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(bad());
    }
    let digest: Digest = d.parse().map_err(|_| bad())?;
    Ok((rest, Some(digest)))
}

fn split_tag<'a>(s: &str, rest: &'a str) -> Result<(&'a str, Option<String>), ReferenceError> {
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let Some(colon) = rest[last_slash..].rfind(':').map(|i| i + last_slash) else {
        return Ok((rest, None));
    };
    let tag = &rest[colon + 1..];
    if !valid_tag(tag) {
        return Err(ReferenceError::Tag {
            reference: s.to_string(),
            tag: tag.to_string(),
        });
    }
    Ok((&rest[..colon], Some(tag.to_string())))
}

use rbuild_store::name::valid_tag;

fn split_registry(s: &str, name: &str) -> Result<(String, String), ReferenceError> {
    let (registry, repo) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (normalize_registry(first), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    if !valid_host(&registry) {
        return Err(ReferenceError::Host {
            reference: s.to_string(),
            host: registry,
        });
    }
    let repo = if registry == DOCKER_HUB && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo
    };
    Ok((registry, repo))
}

fn is_registry(first: &str) -> bool {
    first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('[')
}

fn valid_host(host: &str) -> bool {
    if host.starts_with('[') {
        return host.contains(']');
    }
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    name_ok
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn check_repository(s: &str, repo: &str) -> Result<(), ReferenceError> {
    if repo.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err(ReferenceError::Uppercase {
            reference: s.to_string(),
        });
    }
    if repo.len() > MAX_NAME_LEN {
        return Err(ReferenceError::TooLong {
            reference: s.to_string(),
        });
    }
    for component in repo.split('/') {
        if !valid_component(component) {
            let (reference, component) = (s.to_string(), component.to_string());
            return Err(ReferenceError::Component {
                reference,
                component,
            });
        }
    }
    Ok(())
}

use rbuild_store::name::valid_path_component as valid_component;

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn table_of_valid_references() {
        // input, registry, repository, tag, short name, canonical display
        type Row<'a> = (&'a str, &'a str, &'a str, Option<&'a str>, &'a str, &'a str);
        let table: &[Row] = &[
            (
                "busybox",
                "docker.io",
                "library/busybox",
                None,
                "busybox",
                "docker.io/library/busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io",
                "library/busybox",
                Some("1.36"),
                "busybox",
                "docker.io/library/busybox:1.36",
            ),
            (
                "user/app",
                "docker.io",
                "user/app",
                None,
                "user/app",
                "docker.io/user/app:latest",
            ),
            (
                "docker.io/library/alpine:3",
                "docker.io",
                "library/alpine",
                Some("3"),
                "alpine",
                "docker.io/library/alpine:3",
            ),
            (
                "index.docker.io/alpine",
                "docker.io",
                "library/alpine",
                None,
                "alpine",
                "docker.io/library/alpine:latest",
            ),
            (
                "localhost/app",
                "localhost",
                "app",
                None,
                "localhost/app",
                "localhost/app:latest",
            ),
            (
                "localhost:5000/a/b:v1",
                "localhost:5000",
                "a/b",
                Some("v1"),
                "localhost:5000/a/b",
                "localhost:5000/a/b:v1",
            ),
            (
                "127.0.0.1:5000/library/busybox",
                "127.0.0.1:5000",
                "library/busybox",
                None,
                "127.0.0.1:5000/library/busybox",
                "127.0.0.1:5000/library/busybox:latest",
            ),
            (
                "ghcr.io/o/r/deep/name:t_1.x-y",
                "ghcr.io",
                "o/r/deep/name",
                Some("t_1.x-y"),
                "ghcr.io/o/r/deep/name",
                "ghcr.io/o/r/deep/name:t_1.x-y",
            ),
            (
                "a__b/c-----d/e.f",
                "docker.io",
                "a__b/c-----d/e.f",
                None,
                "a__b/c-----d/e.f",
                "docker.io/a__b/c-----d/e.f:latest",
            ),
            (
                "[::1]:5000/x",
                "[::1]:5000",
                "x",
                None,
                "[::1]:5000/x",
                "[::1]:5000/x:latest",
            ),
        ];
        for (input, reg, repo, tag, short, display) in table {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.registry(), *reg, "{input}");
            assert_eq!(r.repository(), *repo, "{input}");
            assert_eq!(r.tag(), *tag, "{input}");
            assert_eq!(r.short_name(), *short, "{input}");
            assert_eq!(r.to_string(), *display, "{input}");
            assert_eq!(
                Reference::parse(&r.to_string()).unwrap().to_string(),
                *display,
                "round trip {input}"
            );
        }
    }

    #[test]
    fn digests_pin_and_keep_tag() {
        let r = Reference::parse(&format!("busybox@{D}")).unwrap();
        assert_eq!(r.digest().map(|d| d.to_string()), Some(D.to_string()));
        assert_eq!(r.tag_or_default(), None);
        assert_eq!(r.manifest_ref(), D);
        assert_eq!(r.to_string(), format!("docker.io/library/busybox@{D}"));
        let r = Reference::parse(&format!("h:1/x:t@{D}")).unwrap();
        assert_eq!((r.tag(), r.manifest_ref()), (Some("t"), D.to_string()));
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            Reference::parse("busybox").unwrap().endpoint(),
            "registry-1.docker.io"
        );
        assert_eq!(
            Reference::parse("quay.io/a/b").unwrap().endpoint(),
            "quay.io"
        );
        assert_eq!(
            normalize_registry("https://index.docker.io/v1/"),
            "docker.io"
        );
        assert_eq!(normalize_registry("127.0.0.1:5000"), "127.0.0.1:5000");
    }

    #[test]
    fn table_of_invalid_references() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("Busybox", "lowercase"),
            ("docker.io/Library/x", "lowercase"),
            ("a//b", "component \"\""),
            ("-a", "component \"-a\""),
            ("a.", "component \"a.\""),
            ("a___b", "component \"a___b\""),
            ("a:", "bad tag \"\""),
            ("a:.x", "bad tag \".x\""),
            ("a@sha256:abc", "bad digest"),
            ("a@md5:0123", "bad digest"),
            (
                &format!("a@{}", D.to_uppercase().replace("SHA256", "sha256")),
                "bad digest",
            ),
            ("bad_host.io:x/a", "bad registry host"),
            ("-bad.io/a", "bad registry host"),
            ("host.io:123456/a", "bad registry host"),
        ];
        for (input, want) in table {
            let err = Reference::parse(input).expect_err(input).to_string();
            assert!(err.contains(want), "{input:?}: {err:?} lacks {want:?}");
        }
        let long = "a".repeat(256);
        assert!(matches!(
            Reference::parse(&long),
            Err(ReferenceError::TooLong { .. })
        ));
    }

    #[test]
    fn with_tag_and_digest() {
        let r = Reference::parse("127.0.0.1:5000/x:1").unwrap();
        assert_eq!(r.with_tag("2").to_string(), "127.0.0.1:5000/x:2");
        let d: Digest = D.parse().unwrap();
        assert_eq!(r.with_digest(d).manifest_ref(), D);
    }
}
