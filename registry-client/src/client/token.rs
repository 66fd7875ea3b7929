//! The Bearer token flow of the distribution spec: `GET realm?service=…&scope=…`, with
//! Basic credentials when there are any, answering `{"token"|"access_token": …}`.

use serde::Deserialize;

use crate::auth::Credentials;
use crate::error::{parse_diagnostics, RegistryError};
use crate::secret::Secret;

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The `realm` URL with `service` and one `scope` parameter per scope.
pub(super) fn token_url(
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
) -> Result<reqwest::Url, RegistryError> {
    let mut url = reqwest::Url::parse(realm).map_err(|_| RegistryError::BadUrl {
        url: realm.to_string(),
    })?;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = service {
            q.append_pair("service", s);
        }
        for scope in scopes {
            q.append_pair("scope", scope);
        }
    }
    Ok(url)
}

/// Fetches a token for `scopes`.
pub(super) async fn fetch(
    http: &reqwest::Client,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    creds: Option<&Credentials>,
) -> Result<Secret, RegistryError> {
    let url = token_url(realm, service, scopes)?;
    let mut req = http.get(url.clone());
    if let Some(c) = creds {
        req = req.basic_auth(&c.username, Some(c.password.expose()));
    }
    let conn = |source| RegistryError::Connection {
        method: "GET".into(),
        url: realm.to_string(),
        source,
    };
    let resp = req.send().await.map_err(conn)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(conn)?;
    if !(200..300).contains(&status) {
        return Err(RegistryError::Token {
            realm: realm.to_string(),
            status,
            diagnostics: parse_diagnostics(&body),
        });
    }
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|_| RegistryError::TokenBody {
            realm: realm.to_string(),
        })?;
    parsed
        .token
        .or(parsed.access_token)
        .filter(|t| !t.is_empty())
        .map(Secret::new)
        .ok_or(RegistryError::TokenBody {
            realm: realm.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_carries_service_and_every_scope() {
        let scopes = vec![
            "repository:a/b:pull,push".to_string(),
            "repository:c:pull".to_string(),
        ];
        let url = token_url("https://auth.example/token?x=1", Some("reg"), &scopes).unwrap();
        assert_eq!(
            url.as_str(),
            "https://auth.example/token?x=1&service=reg&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=repository%3Ac%3Apull"
        );
        assert!(token_url("not a url", None, &[]).is_err());
    }
}
