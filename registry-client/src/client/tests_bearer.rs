//! The Bearer token flow against an in-process fake registry + token server: challenge,
//! token with Basic credentials and the right scope, caching per scope, refresh on 401.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Client, ClientOptions};
use crate::api::Repo;
use crate::auth::Credentials;
use crate::secret::Secret;

#[derive(Default)]
struct Fake {
    /// Tokens issued so far; only the newest `valid_from..` are accepted.
    issued: AtomicU32,
    valid_from: AtomicU32,
    token_queries: Mutex<Vec<(String, Option<String>)>>,
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        l.split_once(':')
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    })
}

fn respond(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn route(fake: &Fake, port: u16, head: &str) -> String {
    let path = head.split_whitespace().nth(1).unwrap_or("");
    if path.starts_with("/token") {
        let auth = header(head, "authorization").map(str::to_string);
        fake.token_queries
            .lock()
            .unwrap()
            .push((path.to_string(), auth));
        let n = fake.issued.fetch_add(1, Ordering::SeqCst) + 1;
        return respond(
            "200 OK",
            "Content-Type: application/json\r\n",
            &format!(r#"{{"token":"tok-{n}","expires_in":300}}"#),
        );
    }
    let valid_from = fake.valid_from.load(Ordering::SeqCst);
    let ok = header(head, "authorization")
        .and_then(|v| v.strip_prefix("Bearer tok-"))
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > valid_from);
    if ok {
        return respond(
            "200 OK",
            "Content-Type: application/vnd.oci.image.manifest.v1+json\r\n",
            r#"{"schemaVersion":2}"#,
        );
    }
    let challenge = format!(
        "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\",scope=\"repository:team/app:pull\"\r\n"
    );
    respond(
        "401 Unauthorized",
        &challenge,
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"token required"}]}"#,
    )
}

type Router = fn(&Fake, u16, &str) -> String;

async fn serve(fake: Arc<Fake>, route: Router) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let fake = fake.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) if chunk[0] == 0x16 && buf.is_empty() => return, // the HTTPS probe
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let reply = route(&fake, port, &String::from_utf8_lossy(&buf));
                let _ = conn.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test]
async fn bearer_token_flow_caches_per_scope_and_refreshes_on_401() {
    let fake = Arc::new(Fake::default());
    let port = serve(fake.clone(), route).await;
    let creds = Credentials {
        username: "ci".into(),
        password: Secret::new("t0ken-pw"),
    };
    let opts = ClientOptions {
        credentials: Some(creds),
        ..ClientOptions::default()
    };
    let client = Client::new(&format!("127.0.0.1:{port}"), &opts).unwrap();
    let repo = Repo::new(&client, "team/app", false);

    let m = repo.get_manifest("latest").await.unwrap();
    assert_eq!(m.bytes, br#"{"schemaVersion":2}"#);
    {
        let queries = fake.token_queries.lock().unwrap();
        assert_eq!(queries.len(), 1);
        let (path, auth) = &queries[0];
        assert!(
            path.contains("service=fake") && path.contains("scope=repository%3Ateam%2Fapp%3Apull"),
            "{path}"
        );
        let basic = base64::engine::general_purpose::STANDARD.encode("ci:t0ken-pw");
        assert_eq!(auth.as_deref(), Some(format!("Basic {basic}").as_str()));
    }
    repo.get_manifest("latest").await.unwrap();
    assert_eq!(
        fake.issued.load(Ordering::SeqCst),
        1,
        "the cached token is reused"
    );

    fake.valid_from.store(1, Ordering::SeqCst); // tok-1 expires
    repo.get_manifest("latest").await.unwrap();
    assert_eq!(
        fake.issued.load(Ordering::SeqCst),
        2,
        "a refused token is refreshed once"
    );

    fake.valid_from.store(u32::MAX - 1, Ordering::SeqCst); // nothing is accepted any more
    let err = repo.get_manifest("latest").await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("authentication failed") && text.contains("UNAUTHORIZED"),
        "{text}"
    );
    assert!(
        !text.contains("t0ken-pw") && !text.contains("tok-"),
        "no secret in errors: {text}"
    );
}

fn schema1(_: &Fake, _: u16, head: &str) -> String {
    if head.starts_with("GET /v2/ ") {
        return respond("200 OK", "", "{}");
    }
    let body = r#"{"schemaVersion":1,"name":"old/app","tag":"latest","fsLayers":[],"history":[]}"#;
    respond(
        "200 OK",
        "Content-Type: application/vnd.docker.distribution.manifest.v1+prettyjws\r\n",
        body,
    )
}

#[tokio::test]
async fn schema1_is_refused_clearly() {
    let port = serve(Arc::new(Fake::default()), schema1).await;
    let dir = tempfile::tempdir().unwrap();
    let store = rbuild_store::Store::open(dir.path()).unwrap();
    let reference =
        crate::reference::Reference::parse(&format!("127.0.0.1:{port}/old/app")).unwrap();
    let none = crate::auth::ConfigPaths::file(&dir.path().join("none.json"));
    let client = ClientOptions {
        auth_paths: Some(none),
        ..ClientOptions::default()
    };
    let opts = crate::pull::PullOptions {
        client,
        ..Default::default()
    };
    let err = crate::pull::pull(&store, &reference, &opts)
        .await
        .unwrap_err();
    assert!(
        matches!(err, crate::pull::PullError::Schema1 { .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("schema 1 manifests are not supported"),
        "{err}"
    );
    assert!(store.tags().unwrap().is_empty());
}
