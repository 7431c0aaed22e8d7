//! No secret Tessera hands out or keeps can be read back from its store: the SQLite files
//! (database, WAL) or a `pg_dump` of the PostgreSQL database hold only digests and sealed data
//! (the token vault's tokens included).

use reqwest::Method;
use serde_json::json;
use tessera_testkit::TestServer;

use crate::support::{call, expect_json};

/// Every byte the store holds: the SQLite files, or a `pg_dump` of the PostgreSQL database.
async fn stored_bytes(server: &TestServer) -> Vec<u8> {
    match server.database() {
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
    }
}

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

    let haystack = stored_bytes(&server).await;
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

#[tokio::test]
async fn the_vault_keeps_no_plaintext_token() {
    // A provider given by its URLs: ingest and reads need no call to it.
    let integration = tessera_federation::connect::ConnectorConfig {
        kind: tessera_federation::connect::ConnectorKind::Oauth2,
        client_id: "client".into(),
        client_secret: tessera_federation::Secret::new("client-secret"),
        scopes: None,
        issuer: None,
        authorization_endpoint: Some("http://127.0.0.1:9/authorize".parse().unwrap()),
        token_endpoint: Some("http://127.0.0.1:9/token".parse().unwrap()),
        revocation_endpoint: None,
        api_base_urls: None,
        token_endpoint_auth_method: None,
        pkce: None,
        authorize_params: Default::default(),
    };
    let server = TestServer::start_with(|config| {
        config.oauth_allow_private_issuers = true;
        config.integrations = [("crm".to_owned(), integration)].into();
        config.oauth_state_secret = Some(tessera_server::Secret::new("x".repeat(32)));
    })
    .await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["connections:read"]).await;
    let unique = |kind: &str| {
        let mut bytes = [0u8; 16];
        aws_lc_rs::rand::fill(&mut bytes).unwrap();
        format!("{kind}-{}", hex::encode(bytes))
    };
    let (access, refresh) = (unique("access"), unique("refresh"));
    let body = json!({"scope_kind": "agent", "scope_id": agent.id, "provider": "crm",
        "token_set": {"access_token": access, "refresh_token": refresh, "expires_in": 3600}});
    let response = server
        .http
        .post(server.internal_url("/v1/integrations/credentials/ingest"))
        .json(&body)
        .send()
        .await
        .unwrap();
    expect_json(response, 201).await;
    let bearer = server.token(&agent, Some("connections:read")).await;
    let read = server
        .http
        .get(server.url(&format!("/v1/agents/{}/connections/crm/token", agent.id)))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(read, 200).await["access_token"],
        access.as_str()
    );

    let text = String::from_utf8_lossy(&stored_bytes(&server).await).into_owned();
    assert!(text.contains("connections") || server.database().is_none());
    let log = format!("{:?}", server.audit_log().await);
    assert!(log.contains("connection.ingest") && log.contains("connection.read"));
    for token in [&access, &refresh] {
        assert!(
            !text.contains(token.as_str()),
            "a vault token is stored in clear"
        );
        assert!(
            !log.contains(token.as_str()),
            "a vault token is in the audit log"
        );
    }
}
