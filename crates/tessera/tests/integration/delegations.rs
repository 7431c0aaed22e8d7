//! People's delegation grants: a person authorizes an agent, the agent exchanges the person's
//! session token (RFC 8693) for a token that works at introspection and at the gateway, a
//! further agent extends the chain, and revoking the grant ends every derived token at once —
//! then the endpoints' tenant isolation, roles and bad input.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestAgent, TestServer};

use crate::gateway::gateway_to;
use crate::invitations::{accept, invited};
use crate::people::{as_user, register};
use crate::support::{TestRuntime, expect_error, expect_json};
use crate::tenants_for_people::create_tenant;
use crate::token_exchange::{exchange, exchanged, refused};

pub(crate) struct Person {
    pub(crate) id: String,
    pub(crate) token: String,
}

pub(crate) async fn person(server: &TestServer, email: &str) -> Person {
    let grant = register(server, email).await;
    Person {
        id: grant["user"]["id"].as_str().unwrap().to_owned(),
        token: grant["access_token"].as_str().unwrap().to_owned(),
    }
}

/// A tenant the person owns.
pub(crate) async fn owned_tenant(server: &TestServer, owner: &Person, name: &str) -> String {
    let tenant = create_tenant(server, &owner.token, name).await;
    tenant["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn agent(
    server: &TestServer,
    owner: &Person,
    tenant: &str,
    scopes: &[&str],
) -> TestAgent {
    let path = format!("/v1/tenants/{tenant}/agents");
    let body = json!({"name": "helper", "scopes": scopes});
    let created = expect_json(
        as_user(server, Method::POST, &path, Some(&owner.token), Some(body)).await,
        201,
    )
    .await;
    TestAgent {
        id: created["client_id"].as_str().unwrap().to_owned(),
        tenant_id: tenant.to_owned(),
        client_secret: created["client_secret"].as_str().unwrap().to_owned(),
    }
}

pub(crate) async fn delegate(
    server: &TestServer,
    token: &str,
    tenant: &str,
    body: Value,
) -> reqwest::Response {
    let path = format!("/v1/tenants/{tenant}/delegations");
    as_user(server, Method::POST, &path, Some(token), Some(body)).await
}

async fn list(server: &TestServer, credential: &str, tenant: &str) -> reqwest::Response {
    let path = format!("/v1/tenants/{tenant}/delegations");
    as_user(server, Method::GET, &path, Some(credential), None).await
}

pub(crate) async fn revoke(
    server: &TestServer,
    credential: &str,
    tenant: &str,
    id: &str,
) -> reqwest::Response {
    let path = format!("/v1/tenants/{tenant}/delegations/{id}");
    as_user(server, Method::DELETE, &path, Some(credential), None).await
}

/// A tenant API key with `scopes`, made by the owner.
async fn tenant_key(server: &TestServer, owner: &Person, tenant: &str, scopes: &[&str]) -> String {
    let path = format!("/v1/tenants/{tenant}/api-keys");
    let body = json!({"name": "ops", "scopes": scopes});
    let response = as_user(server, Method::POST, &path, Some(&owner.token), Some(body)).await;
    expect_json(response, 201).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_persons_delegation_works_until_revoked_through_the_whole_chain() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let ada = person(&server, "ada@example.com").await;
    let tenant = owned_tenant(&server, &ada, "Engines").await;
    let a = agent(
        &server,
        &ada,
        &tenant,
        &["read", "orders:read", "orders:write"],
    )
    .await;
    let b = agent(&server, &ada, &tenant, &["orders:read"]).await;

    // Without a grant the person's token is not the agent's to exchange.
    let why = refused(
        exchange(&server, &a, &ada.token, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("delegation grant"), "{why}");

    let body =
        json!({"agent_id": a.id, "scopes": ["orders:read", "orders:write"], "expires_in": 3600});
    let grant = expect_json(delegate(&server, &ada.token, &tenant, body).await, 201).await;
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    assert!(grant_id.starts_with("dlg_"));
    assert_eq!(grant["user_id"], ada.id.as_str());
    assert_eq!(grant["agent_id"], a.id.as_str());
    assert_eq!(grant["status"], "active");
    assert_eq!(grant["scopes"], json!(["orders:read", "orders:write"]));

    // The grant bounds the scopes; the token acts for the person, names the grant.
    refused(
        exchange(&server, &a, &ada.token, &[("scope", "read")]).await,
        400,
        "invalid_scope",
    )
    .await;
    let (body, claims, token_a) = exchanged(&server, &a, &ada.token, &[]).await;
    assert_eq!(body["scope"], "orders:read orders:write");
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["client_id"], a.id.as_str());
    assert_eq!(claims["act"], json!({"sub": a.id}));
    assert_eq!(claims["dgid"], grant_id.as_str());
    let seen = server.introspect(&server.operator_key, &token_a).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], ada.id.as_str());
    assert_eq!(seen["act"], json!({"sub": a.id}));

    // At the gateway: the acting agent, for the person, in the tenant.
    let through_gateway = |token: String| {
        let request = server.http.get(server.url("/api/echo")).bearer_auth(token);
        request.send()
    };
    let echoed = expect_json(through_gateway(token_a.clone()).await.unwrap(), 200).await;
    assert_eq!(echoed["headers"]["x-tenant-id"], json!([tenant]));
    assert_eq!(echoed["headers"]["x-agent-id"], json!([a.id]));
    assert_eq!(echoed["headers"]["x-user-id"], json!([ada.id]));
    assert_eq!(
        echoed["headers"]["x-scopes"],
        json!(["orders:read orders:write"])
    );

    // A second agent extends the chain; the grant travels with it.
    let (_, claims, token_b) = exchanged(&server, &b, &token_a, &[]).await;
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["act"], json!({"sub": b.id, "act": {"sub": a.id}}));
    assert_eq!(claims["dgid"], grant_id.as_str());
    assert_eq!(claims["scope"], "orders:read");
    assert!(server.is_active(&token_b).await);

    let listed = expect_json(list(&server, &ada.token, &tenant).await, 200).await;
    assert_eq!(listed["delegations"], json!([grant]));

    // Revoking the grant ends both tokens at once, everywhere they are checked.
    let response = revoke(&server, &ada.token, &tenant, &grant_id).await;
    assert_eq!(response.status(), 204);
    assert!(!server.is_active(&token_a).await);
    assert!(!server.is_active(&token_b).await);
    expect_error(
        through_gateway(token_b.clone()).await.unwrap(),
        401,
        "unauthenticated",
    )
    .await;
    refused(
        exchange(&server, &a, &ada.token, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    refused(
        exchange(&server, &b, &token_a, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    expect_error(
        revoke(&server, &ada.token, &tenant, &grant_id).await,
        404,
        "not_found",
    )
    .await;
    let listed = expect_json(list(&server, &ada.token, &tenant).await, 200).await;
    assert_eq!(listed["delegations"][0]["status"], "revoked");

    // It stays revoked after a restart (the store is the truth).
    let server = server.restart().await;
    assert!(!server.is_active(&token_b).await);

    let actions: Vec<_> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("delegation.") && e.outcome == "success")
        .map(|e| (e.action, e.actor))
        .collect();
    let actor = format!("user:{}", ada.id);
    assert_eq!(
        actions,
        [
            ("delegation.create".to_owned(), actor.clone()),
            ("delegation.revoke".to_owned(), actor)
        ]
    );
}

#[tokio::test]
async fn delegations_stay_in_their_tenant_and_follow_roles() {
    let server = TestServer::start().await;
    let ada = person(&server, "ada@example.com").await;
    let bob = person(&server, "bob@example.com").await;
    let engines = owned_tenant(&server, &ada, "Engines").await;
    let looms = owned_tenant(&server, &bob, "Looms").await;
    let engine_agent = agent(&server, &ada, &engines, &["read"]).await;
    let loom_agent = agent(&server, &bob, &looms, &["read"]).await;
    let body = json!({"agent_id": engine_agent.id, "scopes": ["read"]});
    let grant = expect_json(delegate(&server, &ada.token, &engines, body).await, 201).await;
    let grant_id = grant["id"].as_str().unwrap();

    // Another tenant's person sees and touches nothing, under either tenant's path.
    expect_error(list(&server, &bob.token, &engines).await, 404, "not_found").await;
    expect_error(
        revoke(&server, &bob.token, &engines, grant_id).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        revoke(&server, &bob.token, &looms, grant_id).await,
        404,
        "not_found",
    )
    .await;
    let body = json!({"agent_id": engine_agent.id, "scopes": ["read"]});
    expect_error(
        delegate(&server, &bob.token, &engines, body).await,
        404,
        "not_found",
    )
    .await;
    // An agent of another tenant cannot be delegated to, nor use a delegation of this one.
    let body = json!({"agent_id": loom_agent.id, "scopes": ["read"]});
    expect_error(
        delegate(&server, &ada.token, &engines, body).await,
        400,
        "invalid_parameter",
    )
    .await;
    refused(
        exchange(&server, &loom_agent, &ada.token, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    let listed = expect_json(list(&server, &bob.token, &looms).await, 200).await;
    assert_eq!(listed["delegations"], json!([]));

    // A member who is not an admin delegates, and sees and revokes their own grants only.
    let (_, secret) = invited(&server, &ada.token, &engines, "grace@example.com", "member").await;
    let grace = person(&server, "grace@example.com").await;
    expect_json(accept(&server, Some(&grace.token), &secret).await, 201).await;
    let body = json!({"agent_id": engine_agent.id, "scopes": ["read"], "expires_in": 600});
    let graces = expect_json(delegate(&server, &grace.token, &engines, body).await, 201).await;
    let listed = expect_json(list(&server, &grace.token, &engines).await, 200).await;
    assert_eq!(listed["delegations"], json!([graces]));
    expect_error(
        revoke(&server, &grace.token, &engines, grant_id).await,
        404,
        "not_found",
    )
    .await;
    // The owner sees both, newest first.
    let listed = expect_json(list(&server, &ada.token, &engines).await, 200).await;
    assert_eq!(listed["delegations"], json!([graces, grant]));

    // A tenant key lists all and, with agents:write, revokes; it cannot delegate.
    let read_key = tenant_key(&server, &ada, &engines, &["read"]).await;
    let listed = expect_json(list(&server, &read_key, &engines).await, 200).await;
    assert_eq!(listed["delegations"].as_array().unwrap().len(), 2);
    let body = json!({"agent_id": engine_agent.id, "scopes": ["read"]});
    expect_error(
        delegate(&server, &read_key, &engines, body).await,
        403,
        "insufficient_scope",
    )
    .await;
    let graces_id = graces["id"].as_str().unwrap();
    expect_error(
        revoke(&server, &read_key, &engines, graces_id).await,
        403,
        "insufficient_scope",
    )
    .await;
    let admin_key = tenant_key(&server, &ada, &engines, &["agents:write", "read"]).await;
    assert_eq!(
        revoke(&server, &admin_key, &engines, graces_id)
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn bad_delegation_requests_change_nothing() {
    let server = TestServer::start().await;
    let ada = person(&server, "ada@example.com").await;
    let tenant = owned_tenant(&server, &ada, "Engines").await;
    let a = agent(&server, &ada, &tenant, &["read"]).await;
    let cases = [
        (
            json!({"agent_id": "agt_nonsense", "scopes": ["read"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"agent_id": a.id, "scopes": []}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"agent_id": a.id, "scopes": ["bad scope"]}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"agent_id": a.id, "scopes": ["read"], "expires_in": 10}),
            400,
            "invalid_parameter",
        ),
        (
            json!({"agent_id": a.id, "scopes": ["read"], "expires_in": 400_000_000}),
            400,
            "invalid_parameter",
        ),
        (json!({"agent_id": a.id}), 422, "invalid_body"),
        (
            json!({"agent_id": a.id, "scopes": ["read"], "extra": 1}),
            422,
            "invalid_body",
        ),
    ];
    for (body, status, code) in cases {
        expect_error(
            delegate(&server, &ada.token, &tenant, body).await,
            status,
            code,
        )
        .await;
    }
    expect_error(
        revoke(&server, &ada.token, &tenant, "dlg_nonsense").await,
        400,
        "invalid_id",
    )
    .await;
    let unknown = "dlg_0190f5b8e3c47a3c9a1b2c3d4e5f6a7b";
    expect_error(
        revoke(&server, &ada.token, &tenant, unknown).await,
        404,
        "not_found",
    )
    .await;
    let response = server
        .http
        .get(server.url(&format!("/v1/tenants/{tenant}/delegations")))
        .send()
        .await
        .unwrap();
    expect_error(response, 401, "unauthenticated").await;
    let listed = expect_json(list(&server, &ada.token, &tenant).await, 200).await;
    assert_eq!(listed["delegations"], json!([]));
}
