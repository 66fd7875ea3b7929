//! Image names as docker normalizes them: `demo` means `demo:latest`, and Docker Hub's
//! `docker.io/library/` prefix is dropped from the familiar form.

use std::fmt;

/// Why an image name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NameError {
    /// The repository part breaks docker's grammar.
    #[error("invalid reference format: repository name {name:?} must be lowercase letters, digits and separators (. _ __ -), '/' between components")]
    BadRepository {
        /// The rejected name.
        name: String,
    },
    /// The tag part breaks docker's grammar.
    #[error(
        "invalid reference format: tag {tag:?} must match [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"
    )]
    BadTag {
        /// The rejected tag.
        tag: String,
    },
    /// A digest reference where a tag was needed.
    #[error("invalid reference {input:?}: a tag is needed here, not a digest")]
    DigestNotAllowed {
        /// The rejected input.
        input: String,
    },
}

/// A tagged image name in its familiar (short) form, e.g. `demo:0.0.1` or
/// `127.0.0.1:5000/library/busybox:latest`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageName {
    /// The repository, familiar form (`demo`, `user/app`, `host:5000/app`).
    pub repository: String,
    /// The tag (`latest` when none was given).
    pub tag: String,
}

impl ImageName {
    /// Parses `repo[:tag]`, normalizing Docker Hub prefixes and defaulting the tag.
    pub fn parse(input: &str) -> Result<Self, NameError> {
        if input.contains('@') {
            return Err(NameError::DigestNotAllowed {
                input: input.to_string(),
            });
        }
        let (repo, tag) = split_tag(input);
        let repository = familiar(repo);
        validate_repository(&repository)?;
        let tag = tag.unwrap_or("latest").to_string();
        validate_tag(&tag)?;
        Ok(Self { repository, tag })
    }

    /// The fully qualified name (`docker.io/library/demo:latest`).
    pub fn canonical(&self) -> String {
        let first = self.repository.split('/').next().unwrap_or("");
        let has_host = self.repository.contains('/') && is_host(first);
        match (has_host, self.repository.contains('/')) {
            (true, _) => format!("{}:{}", self.repository, self.tag),
            (false, true) => format!("docker.io/{}:{}", self.repository, self.tag),
            (false, false) => format!("docker.io/library/{}:{}", self.repository, self.tag),
        }
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.repository, self.tag)
    }
}

/// Splits a trailing `:tag` off, leaving a registry port alone.
fn split_tag(input: &str) -> (&str, Option<&str>) {
    match input.rfind(':') {
        Some(i) if !input[i + 1..].contains('/') => (&input[..i], Some(&input[i + 1..])),
        _ => (input, None),
    }
}

fn is_host(component: &str) -> bool {
    component.contains('.') || component.contains(':') || component == "localhost"
}

fn familiar(repo: &str) -> String {
    let repo = repo
        .strip_prefix("docker.io/")
        .or_else(|| repo.strip_prefix("index.docker.io/"))
        .unwrap_or(repo);
    repo.strip_prefix("library/")
        .filter(|rest| !rest.contains('/'))
        .unwrap_or(repo)
        .to_string()
}

fn validate_repository(repo: &str) -> Result<(), NameError> {
    let bad = || NameError::BadRepository {
        name: repo.to_string(),
    };
    let mut parts: Vec<&str> = repo.split('/').collect();
    if parts.len() > 1 && is_host(parts[0]) {
        validate_host(parts.remove(0)).ok_or_else(bad)?;
    }
    if repo.len() > 255 || parts.iter().any(|p| !valid_path_component(p)) {
        return Err(bad());
    }
    Ok(())
}

fn validate_host(host: &str) -> Option<()> {
    let (name, port) = match host.rsplit_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (host, None),
    };
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (name_ok && port_ok).then_some(())
}

/// True when `c` is one repository path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`.
pub fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// True when `tag` is a valid tag: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn valid_tag(tag: &str) -> bool {
    let b = tag.as_bytes();
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

fn validate_tag(tag: &str) -> Result<(), NameError> {
    valid_tag(tag)
        .then_some(())
        .ok_or_else(|| NameError::BadTag {
            tag: tag.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let table = [
            ("demo", "demo:latest", "docker.io/library/demo:latest"),
            ("demo:0.0.1", "demo:0.0.1", "docker.io/library/demo:0.0.1"),
            (
                "library/busybox",
                "busybox:latest",
                "docker.io/library/busybox:latest",
            ),
            (
                "docker.io/library/busybox:1",
                "busybox:1",
                "docker.io/library/busybox:1",
            ),
            ("user/app:v2", "user/app:v2", "docker.io/user/app:v2"),
            (
                "docker.io/user/app",
                "user/app:latest",
                "docker.io/user/app:latest",
            ),
            (
                "127.0.0.1:5000/library/busybox",
                "127.0.0.1:5000/library/busybox:latest",
                "127.0.0.1:5000/library/busybox:latest",
            ),
            ("localhost/app:x", "localhost/app:x", "localhost/app:x"),
            (
                "my.reg:443/a/b/c:t",
                "my.reg:443/a/b/c:t",
                "my.reg:443/a/b/c:t",
            ),
            (
                "a__b.c-d---e",
                "a__b.c-d---e:latest",
                "docker.io/library/a__b.c-d---e:latest",
            ),
        ];
        for (input, short, canonical) in table {
            let n = ImageName::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(n.to_string(), short, "{input}");
            assert_eq!(n.canonical(), canonical, "{input}");
        }
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "Demo", "demo:", "demo:-x", "a//b", "-a", "a-", "a...b", "ho st/x", "",
        ] {
            assert!(ImageName::parse(bad).is_err(), "{bad} accepted");
        }
        let long_tag = format!("x:{}", "t".repeat(129));
        assert!(matches!(
            ImageName::parse(&long_tag),
            Err(NameError::BadTag { .. })
        ));
        assert!(matches!(
            ImageName::parse("x@sha256:00"),
            Err(NameError::DigestNotAllowed { .. })
        ));
    }
}
