//! A rolling master-key rotation across instances of one store: an instance that has learned a
//! new version but is told to keep sealing with the old one (`master_key_seal_version`) writes
//! what instances without the new version can still open; an instance already sealing with the
//! new version does not, which is why the pin exists.

use reqwest::{Method, Response};
use serde_json::json;
use tessera_crypto::MasterKey;
use tessera_federation::Secret;
use tessera_federation::connect::{ConnectorConfig, ConnectorKind};
use tessera_testkit::{TestServer, TestTenant};
use url::Url;

use crate::support::{call, expect_json};

/// A generic OAuth 2 integration whose endpoints (a closed loopback port) are never called:
/// tokens are ingested and read before they expire.
pub(crate) fn idle_integration() -> ConnectorConfig {
    let url = |path: &str| Some(Url::parse(&format!("http://127.0.0.1:9/{path}")).unwrap());
    ConnectorConfig {
        kind: ConnectorKind::Oauth2,
        client_id: "client".into(),
        client_secret: Secret::new("secret"),
        scopes: None,
        issuer: None,
        authorization_endpoint: url("authorize"),
        token_endpoint: url("token"),
        revocation_endpoint: None,
        api_base_urls: Some(vec![url("api/").unwrap()]),
        token_endpoint_auth_method: None,
        pkce: None,
        authorize_params: Default::default(),
    }
}

/// Stores `token` as the tenant's `idp` connection through `server`'s internal listener.
async fn ingest(server: &TestServer, tenant: &TestTenant, token: &str) {
    let body = json!({"scope_kind": "tenant", "scope_id": tenant.id, "provider": "idp",
        "token_set": {"access_token": token, "expires_in": 3600}});
    let response = server
        .http
        .post(server.internal_url("/v1/integrations/credentials/ingest"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
}

/// Reads the tenant's `idp` token as one of its agents, through `server`.
async fn read(server: &TestServer, tenant: &TestTenant) -> Response {
    let agent = server.create_agent(tenant, &["connections:read"]).await;
    let path = format!("/v1/agents/{}/connections/idp/token", agent.id);
    call(server, Method::GET, &path, Some(&tenant.api_key), None).await
}

#[tokio::test]
async fn a_new_master_key_version_is_learned_before_any_instance_seals_with_it() {
    let v1 = format!("1:{}", MasterKey::generate(1).to_base64().as_str());
    let both = format!("{v1} 2:{}", MasterKey::generate(2).to_base64().as_str());
    let old = TestServer::start_with(|config| {
        config.master_key = Some(tessera_server::Secret::new(&v1));
        config.integrations = [("idp".to_owned(), idle_integration())].into();
        config.oauth_allow_private_issuers = true;
        config.oauth_state_secret = Some(tessera_server::Secret::new(
            "master-keys-test-state-secret-32-bytes",
        ));
    })
    .await;
    let tenant = old.register_tenant("A").await;

    // Step 1 of a rotation: an instance gets version 2 and keeps sealing with 1.
    let learning = old
        .sibling_with(|config| {
            config.master_key = Some(tessera_server::Secret::new(&both));
            config.master_key_seal_version = Some(1);
        })
        .await;
    ingest(&learning, &tenant, "sealed-under-1").await;
    let token = expect_json(read(&old, &tenant).await, 200).await;
    assert_eq!(token["access_token"], "sealed-under-1");

    // Without the pin the new version seals at once, and an instance that has not learned it
    // yet cannot open the record.
    let eager = old
        .sibling_with(|config| {
            config.master_key = Some(tessera_server::Secret::new(&both));
        })
        .await;
    ingest(&eager, &tenant, "sealed-under-2").await;
    let response = read(&old, &tenant).await;
    assert_eq!(response.status(), 500);
    // Every instance that holds version 2 opens both.
    for server in [&learning, &eager] {
        let token = expect_json(read(server, &tenant).await, 200).await;
        assert_eq!(token["access_token"], "sealed-under-2");
    }

    // A pin naming a version the keys do not hold stops the instance from starting.
    let refused = tessera_server::App::open(
        tessera_server::Config {
            master_key: Some(tessera_server::Secret::new(&v1)),
            master_key_seal_version: Some(2),
            ..old.config().clone()
        },
        std::sync::Arc::new(tessera_testkit::ManualClock::starting_now()),
    )
    .await;
    let Err(error) = refused else {
        panic!("a pin on a version the keys do not hold must not start");
    };
    let error = format!("{error:#}");
    assert!(error.contains("master_key_seal_version"), "{error}");
}
