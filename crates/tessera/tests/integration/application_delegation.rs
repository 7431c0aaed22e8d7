//! A token an application holds for a person (from the `authorization_code` grant) at work
//! beyond the application: exchanged (RFC 8693) by an agent the person delegated to, with the
//! scopes only narrowing, the resource kept and both grants ending the derived token at once;
//! and at the gateway, where it passes only while the person is a member of the tenant.

use reqwest::Method;
use serde_json::json;
use tessera_testkit::TestServer;

use crate::authorize::{App, REDIRECT, code_with, redeem, redeem_form, signed_up};
use crate::delegations::{Person, agent, delegate, owned_tenant, revoke};
use crate::gateway::route;
use crate::invitations::{accept, invited};
use crate::people::as_user;
use crate::resources::{MCP, protected};
use crate::support::{TestRuntime, expect_error, expect_json};
use crate::token_exchange::{exchange, exchanged, refused};

/// `/api/echo/mcp` is the MCP resource (no scope required), the rest of `/api` plain.
async fn server(runtime: &TestRuntime) -> TestServer {
    let upstream = runtime.url();
    TestServer::start_with(move |config| {
        config.gateway_routes = vec![
            protected("/api/echo/mcp", &upstream, MCP, &[]),
            route("/api", &upstream),
        ];
    })
    .await
}

/// A confidential application of `tenant` that may ask for `scopes`, registered by its owner.
async fn application(server: &TestServer, owner: &Person, tenant: &str, scopes: &[&str]) -> App {
    let path = format!("/v1/tenants/{tenant}/oauth-clients");
    let body = json!({"name": "Dashboard", "redirect_uris": [REDIRECT], "scopes": scopes});
    let created = expect_json(
        as_user(server, Method::POST, &path, Some(&owner.token), Some(body)).await,
        201,
    )
    .await;
    App {
        client_id: created["client"]["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    }
}

/// The access token `app` gets for the person of `cookie`, for `scope` at the MCP resource.
async fn app_token(server: &TestServer, app: &App, cookie: &str, scope: &str) -> String {
    let code = code_with(server, app, cookie, &[("scope", scope), ("resource", MCP)]).await;
    let tokens = expect_json(redeem(server, app, &redeem_form(&code)).await, 200).await;
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn mcp_call(server: &TestServer, token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url("/api/echo/mcp"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_applications_token_is_exchanged_under_the_persons_delegation() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let (ada_id, cookie, token) = signed_up(&server, "ada@example.com").await;
    let ada = Person { id: ada_id, token };
    let tenant = owned_tenant(&server, &ada, "Engines").await;
    let app = application(&server, &ada, &tenant, &["openid", "read", "orders:read"]).await;
    let a = agent(
        &server,
        &ada,
        &tenant,
        &["read", "orders:read", "orders:write"],
    )
    .await;
    let b = agent(&server, &ada, &tenant, &["orders:read"]).await;
    let access = app_token(&server, &app, &cookie, "openid orders:read").await;

    // No delegation grant to the agent: refused, as for the person's session.
    let why = refused(
        exchange(&server, &a, &access, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("delegation grant"), "{why}");
    let body = json!({"agent_id": a.id, "scopes": ["orders:read", "orders:write"]});
    let grant = expect_json(delegate(&server, &ada.token, &tenant, body).await, 201).await;
    let grant_id = grant["id"].as_str().unwrap().to_owned();
    // Another agent of the tenant without a grant of its own gets nothing from it.
    refused(
        exchange(&server, &b, &access, &[]).await,
        400,
        "invalid_grant",
    )
    .await;

    // Scopes only narrow: the grant allows orders:write, the application's token does not.
    refused(
        exchange(&server, &a, &access, &[("scope", "orders:write")]).await,
        400,
        "invalid_scope",
    )
    .await;
    // The resource stays the application token's.
    refused(
        exchange(&server, &a, &access, &[("resource", server.base.as_str())]).await,
        400,
        "invalid_target",
    )
    .await;
    let (body, claims, derived) = exchanged(&server, &a, &access, &[]).await;
    assert_eq!(body["scope"], "orders:read");
    assert_eq!(claims["sub"], ada.id.as_str());
    assert_eq!(claims["client_id"], a.id.as_str());
    assert_eq!(claims["act"], json!({"sub": a.id}));
    assert_eq!(claims["dgid"], grant_id.as_str());
    assert_eq!(claims["aud"], MCP);
    assert!(
        claims["gid"].as_str().unwrap().starts_with("grt_"),
        "{claims}"
    );
    // At the gateway: the acting agent, for the person, on the MCP route.
    let echoed = expect_json(mcp_call(&server, &derived).await, 200).await;
    assert_eq!(echoed["headers"]["x-agent-id"], json!([a.id]));
    assert_eq!(echoed["headers"]["x-user-id"], json!([ada.id]));
    assert_eq!(echoed["headers"]["x-scopes"], json!(["orders:read"]));
    // An exchanged token is not the application's: userinfo refuses it.
    let userinfo = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(&derived)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);

    // Revoking the delegation ends the derived token at once; the application's stays.
    assert_eq!(
        revoke(&server, &ada.token, &tenant, &grant_id)
            .await
            .status(),
        204
    );
    assert!(!server.is_active(&derived).await);
    expect_error(mcp_call(&server, &derived).await, 401, "unauthenticated").await;
    assert!(server.is_active(&access).await);
    refused(
        exchange(&server, &a, &access, &[]).await,
        400,
        "invalid_grant",
    )
    .await;

    // Revoking the application's grant (its code replayed) ends the derived token too.
    let body = json!({"agent_id": a.id, "scopes": ["orders:read"]});
    expect_json(delegate(&server, &ada.token, &tenant, body).await, 201).await;
    let code = code_with(
        &server,
        &app,
        &cookie,
        &[("scope", "openid orders:read"), ("resource", MCP)],
    )
    .await;
    let tokens = expect_json(redeem(&server, &app, &redeem_form(&code)).await, 200).await;
    let second = tokens["access_token"].as_str().unwrap();
    let (_, _, derived) = exchanged(&server, &a, second, &[]).await;
    assert!(server.is_active(&derived).await);
    let replay = redeem(&server, &app, &redeem_form(&code)).await;
    assert_eq!(replay.status(), 400);
    assert!(!server.is_active(second).await);
    assert!(!server.is_active(&derived).await);

    // Audited, granted and refused.
    let outcomes: Vec<_> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|e| e.action == "token.exchange")
        .map(|e| (e.outcome, e.reason))
        .collect();
    assert!(outcomes.iter().any(|(o, _)| o == "success"));
    assert!(outcomes.iter().any(|(_, r)| r == "invalid_grant"));
    assert!(outcomes.iter().any(|(_, r)| r == "invalid_target"));
}

#[tokio::test]
async fn another_tenants_application_token_is_refused() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let (ada_id, cookie, token) = signed_up(&server, "ada@example.com").await;
    let ada = Person { id: ada_id, token };
    let engines = owned_tenant(&server, &ada, "Engines").await;
    let looms = owned_tenant(&server, &ada, "Looms").await;
    let app = application(&server, &ada, &engines, &["read"]).await;
    let loom_agent = agent(&server, &ada, &looms, &["read"]).await;
    let body = json!({"agent_id": loom_agent.id, "scopes": ["read"]});
    expect_json(delegate(&server, &ada.token, &looms, body).await, 201).await;
    let access = app_token(&server, &app, &cookie, "read").await;
    // The person delegated to the agent in Looms; the application's token is Engines'.
    let why = refused(
        exchange(&server, &loom_agent, &access, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("another tenant"), "{why}");
}

#[tokio::test]
async fn an_applications_token_passes_the_gateway_only_while_the_person_is_a_member() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let (ada_id, _, token) = signed_up(&server, "ada@example.com").await;
    let ada = Person { id: ada_id, token };
    let tenant = owned_tenant(&server, &ada, "Engines").await;
    let app = application(&server, &ada, &tenant, &["read", "mcp:tools"]).await;
    let (grace_id, grace_cookie, grace_token) = signed_up(&server, "grace@example.com").await;
    let (_, secret) = invited(&server, &ada.token, &tenant, "grace@example.com", "viewer").await;
    expect_json(accept(&server, Some(&grace_token), &secret).await, 201).await;
    let access = app_token(&server, &app, &grace_cookie, "mcp:tools").await;

    // A member passes, with the application's scopes (not narrowed to the viewer's `read`).
    let echoed = expect_json(mcp_call(&server, &access).await, 200).await;
    assert_eq!(echoed["headers"]["x-user-id"], json!([grace_id]));
    assert_eq!(echoed["headers"]["x-tenant-id"], json!([tenant]));
    assert_eq!(echoed["headers"]["x-scopes"], json!(["mcp:tools"]));

    // Someone who never belonged gets a token from the application, and no passage.
    let (_, bob_cookie, _) = signed_up(&server, "bob@example.com").await;
    let bobs = app_token(&server, &app, &bob_cookie, "mcp:tools").await;
    expect_error(mcp_call(&server, &bobs).await, 403, "tenant_mismatch").await;

    // Removed from the tenant: refused on the next request, the token itself still live.
    let path = format!("/v1/tenants/{tenant}/members/{grace_id}");
    let removed = as_user(&server, Method::DELETE, &path, Some(&ada.token), None).await;
    assert_eq!(removed.status(), 204);
    assert!(server.is_active(&access).await);
    expect_error(mcp_call(&server, &access).await, 403, "tenant_mismatch").await;
}
