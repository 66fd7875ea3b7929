//! docker's `config.json` (and containers' `auth.json`, same shape): `auths` entries with
//! base64 `auth`, a default `credsStore`, and per-registry `credHelpers`.
//!
//! Reading looks at `$REGISTRY_AUTH_FILE` first, then `$DOCKER_CONFIG/config.json`
//! (default `~/.docker/config.json`). `login`/`logout` write the first of those that
//! applies, keeping every field they do not know.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Map, Value};

use super::{helper, AuthError, Credentials};
use crate::reference::{normalize_registry, DOCKER_HUB};
use crate::secret::Secret;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The config files credentials are read from, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigPaths {
    /// Files to read, first match wins.
    pub read: Vec<PathBuf>,
    /// The file `login`/`logout` write.
    pub write: PathBuf,
}

impl ConfigPaths {
    /// Resolves the paths from `$REGISTRY_AUTH_FILE`, `$DOCKER_CONFIG` and `$HOME`.
    pub fn from_env() -> Result<ConfigPaths, AuthError> {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let docker = match (env("DOCKER_CONFIG"), env("HOME")) {
            (Some(dir), _) => Some(dir.join("config.json")),
            (None, Some(home)) => Some(home.join(".docker").join("config.json")),
            (None, None) => None,
        };
        let auth_file = env("REGISTRY_AUTH_FILE");
        let write = auth_file
            .clone()
            .or(docker.clone())
            .ok_or(AuthError::NoConfigDir)?;
        Ok(ConfigPaths {
            read: auth_file.into_iter().chain(docker).collect(),
            write,
        })
    }

    /// A single explicit file for reading and writing.
    pub fn file(path: &Path) -> ConfigPaths {
        ConfigPaths {
            read: vec![path.to_path_buf()],
            write: path.to_path_buf(),
        }
    }
}

/// The key docker uses for a registry in `auths` and towards helpers.
pub fn server_key(registry: &str) -> String {
    match normalize_registry(registry).as_str() {
        DOCKER_HUB => "https://index.docker.io/v1/".to_string(),
        other => other.to_string(),
    }
}

fn load(path: &Path) -> Result<Option<Map<String, Value>>, AuthError> {
    match fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Some(Map::new())),
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| AuthError::Parse {
                path: path.into(),
                source,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AuthError::Read {
            path: path.into(),
            source,
        }),
    }
}

fn save(path: &Path, config: &Map<String, Value>) -> Result<(), AuthError> {
    let err = |source| AuthError::Write {
        path: path.into(),
        source,
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("config"),
        std::process::id()
    ));
    let mut text = serde_json::to_vec_pretty(config).map_err(|e| err(e.into()))?;
    text.push(b'\n');
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(err)?;
    f.write_all(&text)
        .and_then(|()| f.sync_all())
        .map_err(err)?;
    fs::rename(&tmp, path).map_err(err)
}

/// The entry of an object-valued field whose key names `registry` (keys may be URLs).
fn find_entry<'a>(obj: Option<&'a Value>, registry: &str) -> Option<(&'a String, &'a Value)> {
    let want = normalize_registry(registry);
    obj?.as_object()?
        .iter()
        .find(|(k, _)| normalize_registry(k) == want)
}

fn decode_auth(
    path: &Path,
    registry: &str,
    entry: &Value,
) -> Result<Option<Credentials>, AuthError> {
    let bad = || AuthError::BadAuthEntry {
        path: path.into(),
        registry: registry.to_string(),
    };
    if let Some(token) = entry
        .get("identitytoken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        return Ok(Some(Credentials {
            username: "<token>".into(),
            password: Secret::new(token),
        }));
    }
    let Some(auth) = entry
        .get("auth")
        .and_then(Value::as_str)
        .filter(|a| !a.is_empty())
    else {
        return Ok(None);
    };
    let raw = B64.decode(auth.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (user, pass) = text.split_once(':').ok_or_else(bad)?;
    Ok(Some(Credentials {
        username: user.to_string(),
        password: Secret::new(pass),
    }))
}

fn lookup_in(
    path: &Path,
    config: &Map<String, Value>,
    registry: &str,
) -> Result<Option<Credentials>, AuthError> {
    let key = server_key(registry);
    if let Some((_, h)) = find_entry(config.get("credHelpers"), registry) {
        if let Some(name) = h.as_str() {
            return helper::get(name, &key);
        }
    }
    if let Some((_, entry)) = find_entry(config.get("auths"), registry) {
        if let Some(c) = decode_auth(path, registry, entry)? {
            return Ok(Some(c));
        }
    }
    match config
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        Some(store) => helper::get(store, &key),
        None => Ok(None),
    }
}

/// The credentials stored for `registry`, or `None` (anonymous access).
pub fn lookup(paths: &ConfigPaths, registry: &str) -> Result<Option<Credentials>, AuthError> {
    for path in &paths.read {
        if let Some(config) = load(path)? {
            if let Some(c) = lookup_in(path, &config, registry)? {
                return Ok(Some(c));
            }
        }
    }
    Ok(None)
}

fn helper_for(config: &Map<String, Value>, registry: &str) -> Option<String> {
    let per_registry =
        find_entry(config.get("credHelpers"), registry).and_then(|(_, v)| v.as_str());
    let default = config
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    per_registry.or(default).map(str::to_string)
}

/// Saves credentials like `docker login`: into the registry's helper when one is
/// configured, else as a base64 `auth` entry in `auths`.
pub fn login_store(
    paths: &ConfigPaths,
    registry: &str,
    creds: &Credentials,
) -> Result<(), AuthError> {
    let path = &paths.write;
    let mut config = load(path)?.unwrap_or_default();
    let key = server_key(registry);
    let entry = match helper_for(&config, registry) {
        Some(h) => {
            helper::store(&h, &key, creds)?;
            Value::Object(Map::new())
        }
        None => {
            serde_json::json!({ "auth": B64.encode(format!("{}:{}", creds.username, creds.password.expose())) })
        }
    };
    let mut auths = match config.remove("auths") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    auths.retain(|k, _| normalize_registry(k) != normalize_registry(registry));
    auths.insert(key, entry);
    config.insert("auths".into(), Value::Object(auths));
    save(path, &config)
}

/// Forgets credentials like `docker logout`; `Ok(false)` when there were none.
pub fn logout_store(paths: &ConfigPaths, registry: &str) -> Result<bool, AuthError> {
    let path = &paths.write;
    let Some(mut config) = load(path)? else {
        return Ok(false);
    };
    if let Some(h) = helper_for(&config, registry) {
        helper::erase(&h, &server_key(registry))?;
    }
    let removed = match config.get_mut("auths").and_then(Value::as_object_mut) {
        Some(auths) => {
            let before = auths.len();
            auths.retain(|k, _| normalize_registry(k) != normalize_registry(registry));
            before != auths.len()
        }
        None => false,
    };
    save(path, &config)?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(u: &str, p: &str) -> Credentials {
        Credentials {
            username: u.into(),
            password: Secret::new(p),
        }
    }

    #[test]
    fn reads_handwritten_auths() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = B64.encode("alice:s3cret");
        let text = format!(
            r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"127.0.0.1:5000":{{"auth":"{auth}"}}}}}}"#
        );
        fs::write(&path, text).unwrap();
        let paths = ConfigPaths::file(&path);
        assert_eq!(
            lookup(&paths, "docker.io").unwrap(),
            Some(creds("alice", "s3cret"))
        );
        assert_eq!(
            lookup(&paths, "127.0.0.1:5000").unwrap(),
            Some(creds("alice", "s3cret"))
        );
        assert_eq!(lookup(&paths, "quay.io").unwrap(), None);
    }

    #[test]
    fn missing_file_is_anonymous_and_bad_auth_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        assert_eq!(lookup(&ConfigPaths::file(&path), "r").unwrap(), None);
        fs::write(&path, r#"{"auths":{"r":{"auth":"!!notbase64"}}}"#).unwrap();
        let err = lookup(&ConfigPaths::file(&path), "r").unwrap_err();
        assert!(matches!(err, AuthError::BadAuthEntry { .. }), "{err}");
    }

    #[test]
    fn login_then_logout_keeps_other_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(
            &path,
            r#"{"psFormat":"table","auths":{"other:1":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let paths = ConfigPaths::file(&path);
        login_store(&paths, "127.0.0.1:5000", &creds("bob", "pw")).unwrap();
        assert_eq!(
            lookup(&paths, "127.0.0.1:5000").unwrap(),
            Some(creds("bob", "pw"))
        );
        let v: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table");
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], B64.encode("bob:pw"));
        assert!(logout_store(&paths, "127.0.0.1:5000").unwrap());
        assert!(!logout_store(&paths, "127.0.0.1:5000").unwrap());
        assert_eq!(lookup(&paths, "127.0.0.1:5000").unwrap(), None);
        assert!(lookup(&paths, "other:1").unwrap().is_some());
    }

    #[test]
    fn server_keys() {
        assert_eq!(server_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(server_key("r:5000"), "r:5000");
    }
}
