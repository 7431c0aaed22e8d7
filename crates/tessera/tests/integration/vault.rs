//! The token vault over HTTP against a real OAuth provider (npm `oidc-provider`, with
//! rotating refresh tokens and a small protected API, its login and consent driven over HTTP):
//! connecting an agent, reading fresh tokens, refresh and rotation, `invalid_grant`, refused
//! callbacks, single-flight refresh on one and on two instances, the proxy, ingest with scope
//! fallback, disconnecting (the connection stays listed as revoked), disabled agents, tenant
//! isolation, and logs (through the binary, at debug level) that hold no token.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_federation::Secret;
use tessera_federation::connect::{ConnectorConfig, ConnectorKind};
use tessera_server::vault::state::{StateClaims, StateKey};
use tessera_testkit::{
    OidcClient, OidcProvider, OidcProviderOptions, TestAgent, TestServer, TestTenant,
};
use time::Duration;
use url::Url;

use crate::support::{call, expect_error, expect_json, free_port};

const RETURN_URL: &str = "http://app.example.test/connections";
const STATE_SECRET: &str = "vault-test-state-secret-of-32-bytes!!";

/// A server with integration `idp` (kind `oidc`: a client of a real OpenID Provider that
/// issues rotating refresh tokens; its API base is the provider's `/api/`).
async fn setup() -> (TestServer, OidcProvider) {
    let port = free_port();
    let peer = OidcProvider::start(&OidcProviderOptions {
        clients: vec![OidcClient::new(
            "vault-client",
            "vault-secret",
            &format!("http://127.0.0.1:{port}/v1/integrations/idp/callback"),
        )],
        refresh_tokens: true,
        ..OidcProviderOptions::default()
    })
    .await;
    let integration = ConnectorConfig {
        kind: ConnectorKind::Oidc,
        client_id: "vault-client".into(),
        client_secret: Secret::new("vault-secret"),
        scopes: Some(vec!["openid".into(), "email".into()]),
        issuer: Some(peer.issuer.clone()),
        authorization_endpoint: None,
        token_endpoint: None,
        revocation_endpoint: None,
        api_base_urls: Some(vec![Url::parse(&format!("{}/api/", peer.issuer)).unwrap()]),
        token_endpoint_auth_method: None,
        pkce: None,
        authorize_params: Default::default(),
    };
    let server = TestServer::start_with(|config| {
        config.listen = ([127, 0, 0, 1], port).into();
        config.oauth_allow_private_issuers = true;
        config.integrations = [("idp".to_owned(), integration)].into();
        config.integrations_return_url = Some(Url::parse(RETURN_URL).unwrap());
        config.oauth_state_secret = Some(tessera_server::Secret::new(STATE_SECRET));
    })
    .await;
    (server, peer)
}

fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A tenant and an agent allowed `connections:read`.
async fn tenant_and_agent(server: &TestServer, name: &str) -> (TestTenant, TestAgent) {
    let tenant = server.register_tenant(name).await;
    let agent = server.create_agent(&tenant, &["connections:read"]).await;
    (tenant, agent)
}

async fn start(server: &TestServer, key: &str, agent: &str, provider: &str) -> Response {
    let path = format!("/v1/agents/{agent}/integrations/{provider}/start");
    call(server, Method::GET, &path, Some(key), None).await
}

/// The provider's redirect back to Tessera after `account` consents at the start URL.
async fn consent(
    server: &TestServer,
    peer: &OidcProvider,
    tenant: &TestTenant,
    agent: &str,
) -> Url {
    let started = expect_json(start(server, &tenant.api_key, agent, "idp").await, 200).await;
    let authorize = Url::parse(started["authorize_url"].as_str().unwrap()).unwrap();
    assert_eq!(
        param(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
    let back = peer.login(authorize.as_str(), "alice").await;
    assert!(
        back.as_str()
            .starts_with(&server.url("/v1/integrations/idp/callback")),
        "{back}"
    );
    back
}

/// Follows the callback and returns where Tessera sends the browser.
async fn call_back(server: &TestServer, callback: &str) -> Url {
    let response = server.http.get(callback).send().await.unwrap();
    assert_eq!(response.status(), 302, "{:?}", response.text().await);
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

async fn connect(server: &TestServer, peer: &OidcProvider, tenant: &TestTenant, agent: &str) {
    let back = consent(server, peer, tenant, agent).await;
    let landed = call_back(server, back.as_str()).await;
    assert_eq!(
        param(&landed, "connected").as_deref(),
        Some("idp"),
        "{landed}"
    );
}

async fn read_token(server: &TestServer, bearer: &str, agent: &str) -> Response {
    server
        .http
        .get(server.url(&format!("/v1/agents/{agent}/connections/idp/token")))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap()
}

async fn whoami(peer: &OidcProvider, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{}/api/whoami", peer.issuer))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn list(server: &TestServer, key: &str, agent: &str) -> Value {
    let path = format!("/v1/agents/{agent}/integrations");
    expect_json(call(server, Method::GET, &path, Some(key), None).await, 200).await
}

#[tokio::test]
async fn vault_connects_refreshes_rotates_and_asks_for_reauth() {
    let (server, peer) = setup().await;
    let (tenant, agent) = tenant_and_agent(&server, "A").await;
    connect(&server, &peer, &tenant, &agent.id).await;

    let listed = list(&server, &tenant.api_key, &agent.id).await;
    let connection = &listed["connections"][0];
    assert_eq!(connection["provider"], "idp");
    assert_eq!(connection["status"], "connected");
    assert_eq!(connection["account"], "alice@example.test");
    assert_eq!(connection["scope_kind"], "agent");
    assert!(connection["refreshed_at"].is_null());

    // The agent reads its token with its own access token.
    let bearer = server.token(&agent, Some("connections:read")).await;
    let first = expect_json(read_token(&server, &bearer, &agent.id).await, 200).await;
    let first_token = first["access_token"].as_str().unwrap().to_owned();
    assert_eq!(whoami(&peer, &first_token).await, 200);
    assert_eq!(peer.refresh_count().await, 0);
    // Without the scope, no token.
    let narrow = server.create_agent(&tenant, &["read"]).await;
    let narrow_bearer = server.token(&narrow, None).await;
    expect_error(
        read_token(&server, &narrow_bearer, &narrow.id).await,
        403,
        "insufficient_scope",
    )
    .await;

    // Within 60 s of expiry (3600 s here) the token is refreshed before it is handed out.
    server.clock.advance(Duration::seconds(3550));
    let bearer = server.token(&agent, Some("connections:read")).await;
    let second = expect_json(read_token(&server, &bearer, &agent.id).await, 200).await;
    let second_token = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first_token);
    assert_eq!(whoami(&peer, &second_token).await, 200);
    assert_eq!(peer.refresh_count().await, 1);
    let listed = list(&server, &tenant.api_key, &agent.id).await;
    assert!(listed["connections"][0]["refreshed_at"].is_string());

    // The provider rotated the refresh token on that refresh; only the stored new one works,
    // so a second refresh succeeding proves it was kept.
    server.clock.advance(Duration::seconds(3550));
    let bearer = server.token(&agent, Some("connections:read")).await;
    let third = expect_json(read_token(&server, &bearer, &agent.id).await, 200).await;
    assert_ne!(third["access_token"], second["access_token"]);
    assert_eq!(peer.refresh_count().await, 2);

    // The person revokes the grant at the provider: the next refresh is refused.
    peer.revoke_refresh_tokens().await;
    server.clock.advance(Duration::seconds(3550));
    let bearer = server.token(&agent, Some("connections:read")).await;
    let refused = expect_error(
        read_token(&server, &bearer, &agent.id).await,
        409,
        "connection_needs_reauth",
    )
    .await;
    assert_eq!(
        refused["start_url"],
        server.url(&format!("/v1/agents/{}/integrations/idp/start", agent.id))
    );
    let listed = list(&server, &tenant.api_key, &agent.id).await;
    assert_eq!(listed["connections"][0]["status"], "needs_reauth");
    // Needs-reauth is not retried at the provider on every read.
    expect_error(
        read_token(&server, &bearer, &agent.id).await,
        409,
        "connection_needs_reauth",
    )
    .await;
    assert_eq!(peer.refresh_count().await, 3);

    let log = server.audit_log().await;
    let actions: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| e.action.starts_with("connection."))
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    for expected in [
        ("connection.start", "success"),
        ("connection.callback", "success"),
        ("connection.read", "success"),
        ("connection.refresh", "success"),
        ("connection.refresh", "failure"),
        ("connection.read", "failure"),
    ] {
        assert!(actions.contains(&expected), "{expected:?} in {actions:?}");
    }
    let everything = format!("{log:?}");
    for token in [&first_token, &second_token] {
        assert!(
            !everything.contains(token.as_str()),
            "the audit log holds a token"
        );
    }
}

#[tokio::test]
async fn vault_refuses_bad_callbacks_and_stores_nothing() {
    let (server, peer) = setup().await;
    let (tenant, agent) = tenant_and_agent(&server, "A").await;
    let (other_tenant, other_agent) = tenant_and_agent(&server, "B").await;
    let refused = |landed: &Url| param(landed, "error").unwrap_or_default();

    // Forged: a made-up state, and a real one altered.
    let back = consent(&server, &peer, &tenant, &agent.id).await;
    let code = param(&back, "code").unwrap();
    let real_state = param(&back, "state").unwrap();
    let callback = |state: &str, code: &str| {
        let mut url = Url::parse(&server.url("/v1/integrations/idp/callback")).unwrap();
        url.query_pairs_mut()
            .append_pair("code", code)
            .append_pair("state", state);
        url.to_string()
    };
    let landed = call_back(&server, &callback("bm90LWEtc3RhdGU.AAAA", &code)).await;
    assert_eq!(refused(&landed), "state_invalid");
    let altered = format!("x{real_state}");
    assert_eq!(
        refused(&call_back(&server, &callback(&altered, &code)).await),
        "state_invalid"
    );

    // Minted for another agent (with the real key and this flow's nonce): refused.
    let key = StateKey::new(STATE_SECRET.as_bytes());
    let claims = key.verify(&real_state, server.clock_now()).unwrap();
    let for_other = key.mint(&StateClaims {
        agent_id: other_agent.id.parse().unwrap(),
        ..claims
    });
    assert_eq!(
        refused(&call_back(&server, &callback(&for_other, &code)).await),
        "state_mismatch"
    );
    // That used the nonce up: the genuine state is now refused as replayed.
    assert_eq!(
        refused(&call_back(&server, &callback(&real_state, &code)).await),
        "state_used"
    );

    // Expired: 10 minutes pass between start and callback.
    let back = consent(&server, &peer, &tenant, &agent.id).await;
    server.clock.advance(Duration::seconds(601));
    assert_eq!(
        refused(&call_back(&server, back.as_str()).await),
        "state_expired"
    );

    // Replayed: a callback that worked once is refused the second time.
    let back = consent(&server, &peer, &other_tenant, &other_agent.id).await;
    let landed = call_back(&server, back.as_str()).await;
    assert_eq!(param(&landed, "connected").as_deref(), Some("idp"));
    assert_eq!(
        refused(&call_back(&server, back.as_str()).await),
        "state_used"
    );

    // Unknown and unconfigured providers.
    let landed = call_back(
        &server,
        &server.url("/v1/integrations/slack/callback?code=c&state=s"),
    )
    .await;
    assert_eq!(refused(&landed), "provider_not_configured");
    let unconfigured = expect_error(
        start(&server, &tenant.api_key, &agent.id, "slack").await,
        503,
        "slack_oauth_not_configured",
    )
    .await;
    assert_eq!(unconfigured["setup_required"], true);
    expect_error(
        start(&server, &tenant.api_key, &agent.id, "No/Such").await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        start(&server, &tenant.api_key, &agent.id, "No_Such").await,
        400,
        "invalid_parameter",
    )
    .await;

    // Nothing was stored for the agent whose callbacks were all refused.
    let listed = list(&server, &tenant.api_key, &agent.id).await;
    assert_eq!(listed["connections"], json!([]));
    let log = server.audit_log().await;
    let refusals: Vec<&str> = log
        .iter()
        .filter(|e| e.action == "connection.callback" && e.outcome == "failure")
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(
        refusals,
        [
            "state_invalid",
            "state_invalid",
            "state_mismatch",
            "state_used",
            "state_expired",
            "state_used",
            "provider_not_configured"
        ]
    );
}

/// 50 concurrent reads of an expired connection on `servers` (in turn): the provider sees
/// one refresh, and every read gets the same new token.
async fn concurrent_reads(servers: &[&TestServer], peer: &OidcProvider) {
    let first = servers[0];
    let (tenant, agent) = tenant_and_agent(first, "A").await;
    connect(first, peer, &tenant, &agent.id).await;
    first.clock.advance(Duration::seconds(3600));
    let bearer = first.token(&agent, Some("connections:read")).await;
    let reads = (0..50).map(|i| {
        let server = servers[i % servers.len()];
        let bearer = bearer.clone();
        let agent = agent.id.clone();
        async move { expect_json(read_token(server, &bearer, &agent).await, 200).await }
    });
    let tokens: std::collections::BTreeSet<String> = futures_util::future::join_all(reads)
        .await
        .iter()
        .map(|r| r["access_token"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tokens.len(), 1, "every read got the one refreshed token");
    assert_eq!(peer.refresh_count().await, 1);
}

#[tokio::test]
async fn vault_refreshes_once_for_fifty_concurrent_reads() {
    let (server, peer) = setup().await;
    concurrent_reads(&[&server], &peer).await;
}

#[tokio::test]
async fn vault_refreshes_once_across_two_instances() {
    let (server, peer) = setup().await;
    if server.database().is_none() {
        eprintln!("skipped: two instances share a store on PostgreSQL (TESSERA_TEST_DATABASE_URL)");
        return;
    }
    // One cluster: every instance announces the same public URL (the tokens' issuer).
    let public_url = Url::parse(&server.base).unwrap();
    let sibling = server
        .sibling_with(|config| config.public_url = Some(public_url))
        .await;
    concurrent_reads(&[&server, &sibling], &peer).await;
}

async fn proxy(server: &TestServer, bearer: &str, agent: &str, body: Value) -> Response {
    server
        .http
        .post(server.url(&format!("/v1/agents/{agent}/connections/idp/proxy")))
        .bearer_auth(bearer)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn vault_proxy_retries_once_on_401_and_stays_under_the_api_base() {
    let (server, peer) = setup().await;
    let (tenant, agent) = tenant_and_agent(&server, "A").await;
    connect(&server, &peer, &tenant, &agent.id).await;
    let bearer = server.token(&agent, Some("connections:read")).await;

    let answer = expect_json(
        proxy(
            &server,
            &bearer,
            &agent.id,
            json!({"method": "GET", "path": "whoami"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["body"]["sub"], "alice");
    assert_eq!(peer.refresh_count().await, 0);

    // The provider stops honouring the token early: a 401, one refresh, one retry.
    peer.revoke_access_tokens().await;
    let answer = expect_json(
        proxy(
            &server,
            &bearer,
            &agent.id,
            json!({"method": "GET", "path": "/whoami"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(answer["body"]["sub"], "alice");
    assert_eq!(peer.refresh_count().await, 1);
    assert_eq!(peer.path_count("/api/whoami").await, 3);

    // Nothing outside the API base is reachable, however the path is spelled.
    let token_calls = peer.path_count("/token").await;
    for path in [
        "../token",
        "/../token",
        "%2e%2e/token",
        "..%2ftoken",
        "//127.0.0.1/token",
        &format!("{}/token", peer.issuer),
        "http://169.254.169.254/latest/meta-data",
        "whoami?x=1",
    ] {
        expect_error(
            proxy(
                &server,
                &bearer,
                &agent.id,
                json!({"method": "GET", "path": path}),
            )
            .await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    for body in [
        json!({"method": "CONNECT", "path": "whoami"}),
        json!({"method": "GET", "path": "whoami", "headers": {"Authorization": "Bearer x"}}),
    ] {
        expect_error(
            proxy(&server, &bearer, &agent.id, body).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    assert_eq!(peer.path_count("/token").await, token_calls);
    assert_eq!(peer.path_count("/api/whoami").await, 3);
    let log = server.audit_log().await;
    assert!(
        log.iter()
            .any(|e| e.action == "connection.proxy" && e.outcome == "success")
    );
}

async fn ingest(server: &TestServer, body: Value) -> Response {
    server
        .http
        .post(server.internal_url("/v1/integrations/credentials/ingest"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn vault_ingests_and_falls_back_from_agent_to_role_to_tenant() {
    let (server, _peer) = setup().await;
    let tenant = server.register_tenant("A").await;
    let support = server.create_agent(&tenant, &["connections:read"]).await;
    // Roles are the agent's capabilities.
    let caps = json!({"capabilities": ["support"]});
    let path = format!("/v1/tenants/{}/agents/{}", tenant.id, support.id);
    expect_json(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&tenant.api_key),
            Some(caps),
        )
        .await,
        200,
    )
    .await;
    let plain = server.create_agent(&tenant, &["connections:read"]).await;

    let token_set =
        |token: &str| json!({"access_token": token, "expires_in": 3600, "scope": "a b"});
    let tenant_wide = json!({"scope_kind": "tenant", "scope_id": tenant.id, "provider": "idp",
        "token_set": token_set("tenant-token")});
    let created = expect_json(ingest(&server, tenant_wide).await, 201).await;
    assert_eq!(created["scopes"], json!(["a", "b"]));
    let role = json!({"scope_kind": "role", "scope_id": "support", "tenant_id": tenant.id,
        "provider": "idp", "token_set": token_set("role-token")});
    expect_json(ingest(&server, role).await, 201).await;

    let read = |agent: &TestAgent| {
        let agent = agent.clone();
        let server = &server;
        async move {
            let bearer = server.token(&agent, Some("connections:read")).await;
            expect_json(read_token(server, &bearer, &agent.id).await, 200).await
        }
    };
    assert_eq!(read(&support).await["access_token"], "role-token");
    assert_eq!(read(&plain).await["access_token"], "tenant-token");
    // The agent's own connection wins; with the operator's key on the public listener.
    let own = json!({"scope_kind": "agent", "scope_id": support.id, "provider": "idp",
        "token_set": token_set("agent-token")});
    let response = call(
        &server,
        Method::POST,
        "/v1/integrations/credentials/ingest",
        Some(&server.operator_key),
        Some(own.clone()),
    )
    .await;
    expect_json(response, 201).await;
    let fresh = read(&support).await;
    assert_eq!(fresh["access_token"], "agent-token");
    assert_eq!(fresh["scope_kind"], "agent");
    // A tenant's key reads too.
    let response = call(
        &server,
        Method::GET,
        &format!("/v1/agents/{}/connections/idp/token", plain.id),
        Some(&tenant.api_key),
        None,
    )
    .await;
    assert_eq!(expect_json(response, 200).await["scope_kind"], "tenant");

    // A tenant key is not the operator's.
    let response = call(
        &server,
        Method::POST,
        "/v1/integrations/credentials/ingest",
        Some(&tenant.api_key),
        Some(own),
    )
    .await;
    expect_error(response, 403, "insufficient_scope").await;
    // Bad input: refused, nothing written.
    let bad = [
        (
            json!({"scope_kind": "team", "scope_id": tenant.id, "provider": "idp", "token_set": token_set("x")}),
            422,
            "invalid_body",
        ),
        (
            json!({"scope_kind": "tenant", "scope_id": tenant.id, "provider": "idp", "token_set": {"access_token": ""}}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"scope_kind": "tenant", "scope_id": tenant.id, "provider": "idp", "token_set": {"access_token": "x", "token_type": "mac"}}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"scope_kind": "tenant", "scope_id": "nope", "provider": "idp", "token_set": token_set("x")}),
            400,
            "invalid_id",
        ),
        (
            json!({"scope_kind": "role", "scope_id": "ops", "provider": "idp", "token_set": token_set("x")}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"scope_kind": "agent", "scope_id": support.id, "provider": "slack", "token_set": token_set("x")}),
            503,
            "slack_oauth_not_configured",
        ),
        (
            json!({"scope_kind": "agent", "scope_id": support.id, "provider": "idp", "name": "bad name", "token_set": token_set("x")}),
            400,
            "invalid_parameter",
        ),
    ];
    for (body, status, code) in bad {
        expect_error(ingest(&server, body).await, status, code).await;
    }
    let listed = list(&server, &tenant.api_key, &support.id).await;
    assert_eq!(listed["connections"].as_array().unwrap().len(), 1);
    assert_eq!(read(&plain).await["access_token"], "tenant-token");

    // An expired connection without a refresh token: 409 with where to reconnect.
    server.clock.advance(Duration::seconds(3600));
    let bearer = server.token(&plain, Some("connections:read")).await;
    expect_error(
        read_token(&server, &bearer, &plain.id).await,
        409,
        "connection_expired",
    )
    .await;
    let log = server.audit_log().await;
    assert_eq!(
        log.iter()
            .filter(|e| e.action == "connection.ingest")
            .count(),
        3
    );
}

#[tokio::test]
async fn vault_disconnect_revokes_at_the_provider_and_tenants_are_isolated() {
    let (server, peer) = setup().await;
    let (a, agent) = tenant_and_agent(&server, "A").await;
    let (b, b_agent) = tenant_and_agent(&server, "B").await;
    connect(&server, &peer, &a, &agent.id).await;

    // Tenant B (its key, its agent's token) reaches nothing of A's agent.
    let b_bearer = server.token(&b_agent, Some("connections:read")).await;
    expect_error(
        start(&server, &b.api_key, &agent.id, "idp").await,
        404,
        "not_found",
    )
    .await;
    let path = format!("/v1/agents/{}/integrations", agent.id);
    expect_error(
        call(&server, Method::GET, &path, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        read_token(&server, &b_bearer, &agent.id).await,
        404,
        "not_found",
    )
    .await;
    let token_path = format!("/v1/agents/{}/connections/idp/token", agent.id);
    expect_error(
        call(&server, Method::GET, &token_path, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        proxy(
            &server,
            &b_bearer,
            &agent.id,
            json!({"method": "GET", "path": "whoami"}),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let delete = format!("/v1/agents/{}/integrations/idp", agent.id);
    expect_error(
        call(&server, Method::DELETE, &delete, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    assert_eq!(
        list(&server, &a.api_key, &agent.id).await["connections"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An agent's own token does not start or disconnect connections.
    let a_bearer = server.token(&agent, Some("connections:read")).await;
    let response = server
        .http
        .delete(server.url(&delete))
        .bearer_auth(&a_bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    // Disconnecting erases the tokens and revokes the grant at the provider; the connection
    // stays listed as revoked, and reads say where to connect again.
    let token = expect_json(read_token(&server, &a_bearer, &agent.id).await, 200).await;
    let response = call(&server, Method::DELETE, &delete, Some(&a.api_key), None).await;
    assert_eq!(response.status(), 204);
    assert_eq!(peer.path_count("/token/revocation").await, 1);
    let listed = list(&server, &a.api_key, &agent.id).await;
    assert_eq!(listed["connections"][0]["status"], "revoked");
    assert!(listed["connections"][0]["expires_at"].is_null());
    let refused = expect_error(
        read_token(&server, &a_bearer, &agent.id).await,
        409,
        "connection_revoked",
    )
    .await;
    assert!(
        refused["start_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v1/agents/{}/integrations/idp/start", agent.id))
    );
    expect_error(
        call(&server, Method::DELETE, &delete, Some(&a.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    assert!(token["access_token"].is_string());
    // Connecting again replaces the record.
    connect(&server, &peer, &a, &agent.id).await;
    let listed = list(&server, &a.api_key, &agent.id).await;
    assert_eq!(listed["connections"][0]["status"], "connected");
    expect_json(read_token(&server, &a_bearer, &agent.id).await, 200).await;
    let log = server.audit_log().await;
    assert!(
        log.iter()
            .any(|e| e.action == "connection.disconnect" && e.outcome == "success")
    );
}

#[tokio::test]
async fn a_disabled_agent_cannot_start_complete_or_use_connections() {
    let (server, peer) = setup().await;
    let (tenant, agent) = tenant_and_agent(&server, "A").await;
    connect(&server, &peer, &tenant, &agent.id).await;
    // A person was sent to consent again just before the agent was disabled.
    let pending = consent(&server, &peer, &tenant, &agent.id).await;
    let agent_path = format!("/v1/tenants/{}/agents/{}", tenant.id, agent.id);
    let set_status = |status: &'static str| {
        call(
            &server,
            Method::PATCH,
            &agent_path,
            Some(&tenant.api_key),
            Some(json!({ "status": status })),
        )
    };
    assert_eq!(set_status("disabled").await.status(), 200);
    let before = list(&server, &tenant.api_key, &agent.id).await;

    expect_error(
        start(&server, &tenant.api_key, &agent.id, "idp").await,
        409,
        "agent_disabled",
    )
    .await;
    let token_path = format!("/v1/agents/{}/connections/idp/token", agent.id);
    expect_error(
        call(
            &server,
            Method::GET,
            &token_path,
            Some(&tenant.api_key),
            None,
        )
        .await,
        409,
        "agent_disabled",
    )
    .await;
    let proxy_path = format!("/v1/agents/{}/connections/idp/proxy", agent.id);
    expect_error(
        call(
            &server,
            Method::POST,
            &proxy_path,
            Some(&tenant.api_key),
            Some(json!({"method": "GET", "path": "whoami"})),
        )
        .await,
        409,
        "agent_disabled",
    )
    .await;
    // The consent that was under way is not completed: the code is not exchanged.
    let exchanges = peer.path_count("/token").await;
    let landed = call_back(&server, pending.as_str()).await;
    assert_eq!(param(&landed, "error").as_deref(), Some("agent_disabled"));
    assert_eq!(peer.path_count("/token").await, exchanges);
    assert_eq!(list(&server, &tenant.api_key, &agent.id).await, before);
    let log = server.audit_log().await;
    assert!(log.iter().any(|e| e.action == "connection.start"
        && e.outcome == "failure"
        && e.reason == "agent_disabled"));
    assert!(log.iter().any(|e| e.action == "connection.callback"
        && e.outcome == "failure"
        && e.reason == "agent_disabled"));

    // Enabled again, the connection serves as before.
    assert_eq!(set_status("active").await.status(), 200);
    let bearer = server.token(&agent, Some("connections:read")).await;
    expect_json(read_token(&server, &bearer, &agent.id).await, 200).await;
}

/// The whole life of a connection through the `tessera serve` binary, logging at debug level:
/// connect, read, a proxy call refused with 401 (refresh with rotation, retry), read again,
/// disconnect. Not one token, code, state or secret of it appears in the logs.
#[tokio::test]
async fn the_vault_logs_no_token_even_at_debug_level() {
    let port = free_port();
    let peer = OidcProvider::start(&OidcProviderOptions {
        clients: vec![OidcClient::new(
            "vault-client",
            "vault-secret",
            &format!("http://127.0.0.1:{port}/v1/integrations/idp/callback"),
        )],
        refresh_tokens: true,
        ..OidcProviderOptions::default()
    })
    .await;
    let data_dir = tempfile::tempdir().unwrap();
    let config = data_dir.path().join("tessera.toml");
    std::fs::write(
        &config,
        format!(
            r#"
oauth_allow_private_issuers = true
oauth_state_secret = "{STATE_SECRET}"

[integrations.idp]
kind = "oidc"
issuer = "{issuer}"
client_id = "vault-client"
client_secret = "vault-secret"
scopes = ["openid", "email"]
api_base_urls = ["{issuer}/api/"]
"#,
            issuer = peer.issuer
        ),
    )
    .unwrap();
    let database = tessera_testkit::TestDatabase::from_env().await.unwrap();
    let master_key = database.as_ref().map(|_| {
        tessera_crypto::MasterKey::generate(1)
            .to_base64()
            .to_string()
    });
    let listen = format!("127.0.0.1:{port}");
    let serving = crate::cli::serve_with(
        data_dir.path(),
        database.as_ref(),
        master_key.as_deref(),
        &["--listen", &listen, "--config", config.to_str().unwrap()],
        &[("RUST_LOG", "debug")],
    )
    .await;
    let operator_key = serving
        .stdout_lines
        .iter()
        .find_map(|l| l.trim().strip_prefix("tso_").map(|k| format!("tso_{k}")))
        .unwrap();
    let base = serving.base.clone();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let post = |path: &str, key: &str, body: Value| {
        http.post(format!("{base}{path}"))
            .header("x-api-key", key)
            .json(&body)
            .send()
    };
    let created = expect_json(
        post(
            "/v1/tenants",
            &operator_key,
            json!({"name": "A", "email": "a@b.io", "kind": "consumer"}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let tenant_key = created["api_key"].as_str().unwrap().to_owned();
    let tenant_id = created["tenant"]["id"].as_str().unwrap();
    let agent = expect_json(
        post(
            &format!("/v1/tenants/{tenant_id}/agents"),
            &tenant_key,
            json!({"name": "mailer", "scopes": ["connections:read"]}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    let agent_id = agent["client_id"].as_str().unwrap().to_owned();
    let agent_secret = agent["client_secret"].as_str().unwrap().to_owned();
    let issued = expect_json(
        http.post(format!("{base}/oauth2/token"))
            .basic_auth(&agent_id, Some(&agent_secret))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", "connections:read"),
            ])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let bearer = issued["access_token"].as_str().unwrap().to_owned();

    // Connect: start, the person's consent at the provider, the callback.
    let started = expect_json(
        http.get(format!(
            "{base}/v1/agents/{agent_id}/integrations/idp/start"
        ))
        .header("x-api-key", &tenant_key)
        .send()
        .await
        .unwrap(),
        200,
    )
    .await;
    let authorize_url = started["authorize_url"].as_str().unwrap().to_owned();
    let back = peer.login(&authorize_url, "alice").await;
    let code = param(&back, "code").unwrap();
    let state = param(&back, "state").unwrap();
    let landed = http.get(back.as_str()).send().await.unwrap();
    assert!(landed.status().is_success(), "{:?}", landed.text().await);

    // Read; the provider then refuses the access token, so the proxy refreshes (the provider
    // rotates the refresh token) and retries; read the new token.
    let read = || async {
        let response = http
            .get(format!("{base}/v1/agents/{agent_id}/connections/idp/token"))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        expect_json(response, 200).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = read().await;
    peer.revoke_access_tokens().await;
    let proxied = http
        .post(format!("{base}/v1/agents/{agent_id}/connections/idp/proxy"))
        .bearer_auth(&bearer)
        .json(&json!({"method": "GET", "path": "whoami"}))
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 200, "{:?}", proxied.text().await);
    assert_eq!(peer.refresh_count().await, 1);
    let second = read().await;
    assert_ne!(first, second);
    let disconnected = http
        .delete(format!("{base}/v1/agents/{agent_id}/integrations/idp"))
        .header("x-api-key", &tenant_key)
        .send()
        .await
        .unwrap();
    assert_eq!(disconnected.status(), 204);

    let (status, logs) = crate::cli::sigterm_and_wait(serving).await;
    assert!(status.success());
    // The logs are there and detailed (debug level, the flow's requests) ...
    assert!(logs.contains("\"level\":\"DEBUG\""), "debug logging is on");
    assert!(logs.contains("/v1/integrations/idp/callback"));
    assert!(logs.contains("/connections/idp/proxy"));
    // ... and hold none of the secrets that went through them.
    for (what, secret) in [
        ("the first access token", first.as_str()),
        ("the refreshed access token", second.as_str()),
        ("the authorization code", code.as_str()),
        ("the state", state.as_str()),
        ("the provider client secret", "vault-secret"),
        ("the agent's client secret", agent_secret.as_str()),
        ("the agent's access token", bearer.as_str()),
        ("the tenant key", tenant_key.as_str()),
        ("the operator key", operator_key.as_str()),
    ] {
        assert!(!logs.contains(secret), "{what} is in the logs");
    }
}
