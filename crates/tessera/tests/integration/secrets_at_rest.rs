//! No secret Tessera hands out can be read back from its store: the SQLite files (database,
//! WAL) or a `pg_dump` of the PostgreSQL database hold only digests and sealed data.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::TestServer;

use crate::support::{call, expect_json};

#[tokio::test]
async fn the_store_holds_no_plaintext_secret() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let extra = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/api-keys", a.id),
            Some(&a.api_key),
            Some(json!({"name": "k", "scopes": ["read"]})),
        )
        .await,
        201,
    )
    .await;
    let agent = server.create_agent(&a, &["x"]).await;
    let second_secret = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/agents/{}/secrets", a.id, agent.id),
            Some(&a.api_key),
            Some(json!({})),
        )
        .await,
        201,
    )
    .await;
    let token = server.token(&agent, None).await;
    assert!(server.is_active(&token).await);
    let secrets = [
        server.operator_key.clone(),
        a.api_key.clone(),
        extra["key"].as_str().unwrap().to_owned(),
        agent.client_secret.clone(),
        second_secret["client_secret"].as_str().unwrap().to_owned(),
        token.clone(),
        // The token's signature alone must not be stored either.
        token.rsplit('.').next().unwrap().to_owned(),
    ];

    let haystack: Vec<u8> = match server.database() {
        Some(db) => {
            let output = tokio::process::Command::new("pg_dump")
                .arg(db.url())
                .output()
                .await
                .expect("pg_dump (scripts/install-peers installs it)");
            assert!(
                output.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            output.stdout
        }
        None => {
            let files = server.sqlite_files();
            assert!(!files.is_empty());
            files
                .iter()
                .flat_map(|f| std::fs::read(f).unwrap())
                .collect()
        }
    };
    assert!(haystack.len() > 1000, "the dump has content");
    let text = String::from_utf8_lossy(&haystack);
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret ({}…) is stored in clear",
            &secret[..8]
        );
    }
    // The tables are really there and hold the digests.
    assert!(text.contains("api_keys") || server.database().is_none());
}
