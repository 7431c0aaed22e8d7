//! Token exchange (RFC 8693) between agents: a chain of three agents with its `act` nesting
//! (checked by introspection and by PyJWT and jose from the JWKS alone), the fourth refused,
//! scopes that only narrow, dead subject tokens, cross-tenant subjects, bad requests, and the
//! resource (RFC 8707) or audience an exchanged token is for.

use serde_json::{Value, json};
use tessera_testkit::{TestAgent, TestServer};

use crate::discovery::run_verifier;
use crate::gateway::route;
use crate::resources::{MCP, TOOLS, protected};
use crate::support::{TestRuntime, expect_error, expect_json, jwt_parts};

pub const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

/// `actor` exchanges `subject` (an access token or a person's session token).
pub async fn exchange(
    server: &TestServer,
    actor: &TestAgent,
    subject: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", TOKEN_EXCHANGE),
        ("subject_token", subject),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    form.extend_from_slice(extra);
    server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&actor.id, Some(&actor.client_secret))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// A granted exchange: the response body, its token's claims, and the token.
pub async fn exchanged(
    server: &TestServer,
    actor: &TestAgent,
    subject: &str,
    extra: &[(&str, &str)],
) -> (Value, Value, String) {
    let body = expect_json(exchange(server, actor, subject, extra).await, 200).await;
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (header, claims) = jwt_parts(&token);
    assert_eq!(header["typ"], "at+jwt");
    (body, claims, token)
}

/// A refused request: the RFC 6749 error body with `code`.
pub async fn refused(response: reqwest::Response, status: u16, code: &str) -> String {
    let body = expect_json(response, status).await;
    assert_eq!(body["error"], code, "{body}");
    body["error_description"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_chain_of_three_agents_nests_act_and_a_fourth_is_refused() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let a = server
        .create_agent(&tenant, &["read", "write", "admin:x"])
        .await;
    let b = server.create_agent(&tenant, &["read", "write"]).await;
    let c = server.create_agent(&tenant, &["read", "write"]).await;
    let d = server.create_agent(&tenant, &["read"]).await;
    let token_a = server.token(&a, None).await;
    let (_, claims_a) = jwt_parts(&token_a);

    // B acts for A: A's scopes narrowed by B's.
    let (body, claims, token_b) = exchanged(&server, &b, &token_a, &[]).await;
    assert_eq!(body["scope"], "read write");
    assert_eq!(claims["sub"], a.id.as_str());
    assert_eq!(claims["client_id"], b.id.as_str());
    assert_eq!(claims["tenant_id"], tenant.id.as_str());
    assert_eq!(claims["act"], json!({"sub": b.id}));
    assert!(claims.get("dgid").is_none() && claims.get("gid").is_none());
    assert!(claims["exp"].as_i64() <= claims_a["exp"].as_i64());

    // C acts for A through B, narrowing further: the newest actor outermost.
    let (body, claims, token_c) = exchanged(&server, &c, &token_b, &[("scope", "read")]).await;
    assert_eq!(body["scope"], "read");
    assert_eq!(claims["sub"], a.id.as_str());
    assert_eq!(claims["client_id"], c.id.as_str());
    assert_eq!(claims["act"], json!({"sub": c.id, "act": {"sub": b.id}}));
    assert!(claims["exp"].as_i64() <= claims_a["exp"].as_i64());

    // A fourth agent would exceed delegation_max_depth (3).
    let why = refused(
        exchange(&server, &d, &token_c, &[]).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(why.contains("delegation_max_depth"), "{why}");

    // Introspection shows the chain; another ecosystem verifies the token from the JWKS alone.
    let seen = server.introspect(&tenant.api_key, &token_c).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], a.id.as_str());
    assert_eq!(seen["client_id"], c.id.as_str());
    assert_eq!(seen["act"], json!({"sub": c.id, "act": {"sub": b.id}}));
    for (program, script) in [("python3", "verify_token.py"), ("node", "verify_token.mjs")] {
        let (ok, output) =
            run_verifier(program, script, &server.base, &token_c, &server.base).await;
        assert!(ok, "{script} refused an exchanged token: {output}");
        let verified: Value = output
            .lines()
            .find_map(|line| serde_json::from_str(line).ok())
            .unwrap_or_else(|| panic!("{script} printed no claims: {output}"));
        assert_eq!(verified["act"], json!({"sub": c.id, "act": {"sub": b.id}}));
    }

    // Every exchange is audited: actor, subject and chain; the refusal too.
    let exchanges: Vec<_> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|e| e.action == "token.exchange")
        .collect();
    assert_eq!(exchanges.len(), 3, "{exchanges:?}");
    assert_eq!(exchanges[0].actor, format!("agent:{}", b.id));
    assert!(exchanges[0].target.starts_with(&format!(
        "sub:{} act:{} aud:{} jti:",
        a.id, b.id, server.base
    )));
    assert_eq!(exchanges[1].actor, format!("agent:{}", c.id));
    let chain = format!(
        "sub:{} act:{},{} aud:{} jti:",
        a.id, c.id, b.id, server.base
    );
    assert!(
        exchanges[1].target.starts_with(&chain),
        "{:?}",
        exchanges[1]
    );
    assert_eq!(exchanges[2].actor, format!("agent:{}", d.id));
    assert_eq!(exchanges[2].outcome, "failure");
    assert_eq!(exchanges[2].reason, "invalid_request");

    // Disabling an agent of the chain ends the tokens it is part of at once.
    let response = server
        .http
        .patch(server.url(&format!("/v1/tenants/{}/agents/{}", tenant.id, b.id)))
        .header("x-api-key", &tenant.api_key)
        .json(&json!({"status": "disabled"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(!server.is_active(&token_c).await);
    assert!(!server.is_active(&token_b).await);
    assert!(server.is_active(&token_a).await);
}

#[tokio::test]
async fn the_maximum_depth_is_configurable() {
    let server = TestServer::start_with(|config| config.delegation_max_depth = 2).await;
    let tenant = server.register_tenant("A").await;
    let agents = [
        server.create_agent(&tenant, &["read"]).await,
        server.create_agent(&tenant, &["read"]).await,
        server.create_agent(&tenant, &["read"]).await,
    ];
    let token = server.token(&agents[0], None).await;
    let (_, _, token) = exchanged(&server, &agents[1], &token, &[]).await;
    let why = refused(
        exchange(&server, &agents[2], &token, &[]).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(why.contains("at most 2"), "{why}");
}

#[tokio::test]
async fn scopes_only_narrow_and_dead_subject_tokens_are_refused() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let a = server.create_agent(&tenant, &["read", "write"]).await;
    let b = server
        .create_agent(&tenant, &["read", "write", "extra"])
        .await;
    let c = server.create_agent(&tenant, &["read", "write"]).await;
    let token_a = server.token(&a, None).await;

    // Beyond the subject's scopes, beyond the actor's, beyond an earlier narrowing.
    for scope in ["read extra", "read write extra"] {
        refused(
            exchange(&server, &b, &token_a, &[("scope", scope)]).await,
            400,
            "invalid_scope",
        )
        .await;
    }
    let (_, _, read_only) = exchanged(&server, &b, &token_a, &[("scope", "read")]).await;
    refused(
        exchange(&server, &c, &read_only, &[("scope", "read write")]).await,
        400,
        "invalid_scope",
    )
    .await;
    let (body, _, _) = exchanged(&server, &c, &read_only, &[]).await;
    assert_eq!(body["scope"], "read");
    // Agents with nothing in common get nothing.
    let other = server.create_agent(&tenant, &["other"]).await;
    refused(
        exchange(&server, &other, &token_a, &[]).await,
        400,
        "invalid_scope",
    )
    .await;

    // A revoked subject token.
    let response = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", &tenant.api_key)
        .form(&[("token", token_a.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let why = refused(
        exchange(&server, &b, &token_a, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("revoked"), "{why}");

    // An expired one; and what was exchanged from a token never outlives it.
    let fresh = server.token(&a, None).await;
    let (_, _, derived) = exchanged(&server, &b, &fresh, &[]).await;
    server.clock.advance(time::Duration::seconds(3601));
    let why = refused(
        exchange(&server, &b, &fresh, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("expired"), "{why}");
    assert!(!server.is_active(&derived).await);
}

#[tokio::test]
async fn another_tenants_subject_token_is_refused() {
    let server = TestServer::start().await;
    let (one, two) = (
        server.register_tenant("One").await,
        server.register_tenant("Two").await,
    );
    let a = server.create_agent(&one, &["read"]).await;
    let b = server.create_agent(&one, &["read"]).await;
    let outsider = server.create_agent(&two, &["read"]).await;
    let token_a = server.token(&a, None).await;
    let why = refused(
        exchange(&server, &outsider, &token_a, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("another tenant"), "{why}");
    // Nor may it extend a chain of another tenant, nor see one by introspection.
    let (_, _, token_b) = exchanged(&server, &b, &token_a, &[]).await;
    refused(
        exchange(&server, &outsider, &token_b, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        server.introspect(&two.api_key, &token_b).await,
        json!({"active": false})
    );
}

#[tokio::test]
async fn bad_exchange_requests_are_refused() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let a = server.create_agent(&tenant, &["read"]).await;
    let b = server.create_agent(&tenant, &["read"]).await;
    let token_a = server.token(&a, None).await;
    let token_b = server.token(&b, None).await;
    let post = |form: Vec<(&'static str, String)>, auth: Option<(&TestAgent, &str)>| {
        let mut request = server.http.post(server.url("/oauth2/token")).form(&form);
        if let Some((agent, secret)) = auth {
            request = request.basic_auth(&agent.id, Some(secret));
        }
        request.send()
    };
    let base = |subject: &str| {
        vec![
            ("grant_type", TOKEN_EXCHANGE.to_owned()),
            ("subject_token", subject.to_owned()),
            ("subject_token_type", ACCESS_TOKEN.to_owned()),
        ]
    };

    // Client authentication is required, and must be right.
    let response = post(base(&token_a), None).await.unwrap();
    refused(response, 401, "invalid_client").await;
    let response = post(base(&token_a), Some((&b, "tcs_wrong"))).await.unwrap();
    refused(response, 401, "invalid_client").await;

    // Missing or unsupported parameters: each names what is wrong.
    let id_token = "urn:ietf:params:oauth:token-type:id_token".to_owned();
    let refresh = "urn:ietf:params:oauth:token-type:refresh_token".to_owned();
    let cases: Vec<(Vec<(&'static str, String)>, &str)> = vec![
        (vec![("subject_token", String::new())], "subject_token"),
        (
            vec![("subject_token_type", String::new())],
            "subject_token_type",
        ),
        (vec![("subject_token_type", id_token)], "subject_token_type"),
        (
            vec![("requested_token_type", refresh)],
            "requested_token_type",
        ),
        (vec![("actor_token", token_b.clone())], "actor_token_type"),
        (
            vec![("actor_token_type", ACCESS_TOKEN.to_owned())],
            "actor_token",
        ),
        // Another agent's token is not the actor's.
        (
            vec![
                ("actor_token", token_a.clone()),
                ("actor_token_type", ACCESS_TOKEN.to_owned()),
            ],
            "actor_token",
        ),
    ];
    for (overrides, named) in cases {
        let mut form = base(&token_a);
        for (name, value) in overrides {
            form.retain(|(n, _)| *n != name);
            form.push((name, value));
        }
        let response = post(form, Some((&b, &b.client_secret))).await.unwrap();
        let why = refused(response, 400, "invalid_request").await;
        assert!(why.contains(named), "{named}: {why}");
    }
    // Its own token is not a subject; a token that is not one of ours is not active.
    refused(
        exchange(&server, &a, &token_a, &[]).await,
        400,
        "invalid_request",
    )
    .await;
    refused(
        exchange(&server, &b, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln", &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    refused(
        exchange(&server, &b, "not a token", &[]).await,
        400,
        "invalid_grant",
    )
    .await;

    // With the actor's own token as actor_token the exchange goes through.
    let extra = [
        ("actor_token", token_b.as_str()),
        ("actor_token_type", ACCESS_TOKEN),
    ];
    let (_, claims, _) = exchanged(&server, &b, &token_a, &extra).await;
    assert_eq!(claims["act"], json!({"sub": b.id}));

    // Discovery advertises the grant.
    let metadata: Value = server
        .http
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grants = metadata["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(TOKEN_EXCHANGE)), "{metadata}");
}

/// RFC 8693 §2.1 with RFC 8707: `resource` and `audience` (the same resource identifiers) name
/// the new token's `aud`; a subject token bound to a resource is exchanged for it alone; an
/// unknown resource is `invalid_target` and issues nothing.
#[tokio::test]
async fn the_exchanged_token_is_for_the_resource_named_and_never_another() {
    let runtime = TestRuntime::start().await;
    let upstream = runtime.url();
    let server = TestServer::start_with(move |config| {
        config.gateway_routes = vec![
            protected("/api/echo/mcp", &upstream, MCP, &[]),
            protected("/api/hello", &upstream, TOOLS, &[]),
            route("/api", &upstream),
        ];
    })
    .await;
    let tenant = server.register_tenant("A").await;
    let a = server.create_agent(&tenant, &["read"]).await;
    let b = server.create_agent(&tenant, &["read"]).await;
    let c = server.create_agent(&tenant, &["read"]).await;
    let token_a = server.token(&a, None).await;

    // No resource: the subject token's audience, Tessera's API.
    let (_, claims, _) = exchanged(&server, &b, &token_a, &[]).await;
    assert_eq!(claims["aud"], server.base.as_str());
    // `resource`, `audience`, or both naming the same one.
    let (_, claims, for_mcp) = exchanged(&server, &b, &token_a, &[("resource", MCP)]).await;
    assert_eq!(claims["aud"], MCP);
    let (_, claims, _) = exchanged(&server, &b, &token_a, &[("audience", TOOLS)]).await;
    assert_eq!(claims["aud"], TOOLS);
    let both = [("resource", MCP), ("audience", "https://mcp.example.com")];
    let (_, claims, _) = exchanged(&server, &b, &token_a, &both).await;
    assert_eq!(claims["aud"], MCP);

    // The MCP token passes the MCP route (as its acting agent) and nothing else.
    let echoed = server
        .http
        .get(server.url("/api/echo/mcp"))
        .bearer_auth(&for_mcp)
        .send()
        .await
        .unwrap();
    let echoed = expect_json(echoed, 200).await;
    assert_eq!(echoed["headers"]["x-agent-id"], json!([b.id]));
    for path in ["/api/hello", "/api/echo/x"] {
        let response = server
            .http
            .get(server.url(path))
            .bearer_auth(&for_mcp)
            .send()
            .await
            .unwrap();
        expect_error(response, 401, "unauthenticated").await;
    }

    // Unknown resources and names, two different ones: invalid_target.
    for extra in [
        vec![("resource", "https://unknown.example.com/")],
        vec![("audience", "orders-service")],
        vec![("resource", MCP), ("audience", TOOLS)],
    ] {
        refused(
            exchange(&server, &b, &token_a, &extra).await,
            400,
            "invalid_target",
        )
        .await;
    }
    // A subject bound to MCP is exchanged for MCP only: by default, or named; never another
    // resource, nor Tessera's API.
    let (_, claims, _) = exchanged(&server, &c, &for_mcp, &[]).await;
    assert_eq!(claims["aud"], MCP);
    let (_, claims, _) = exchanged(&server, &c, &for_mcp, &[("resource", MCP)]).await;
    assert_eq!(claims["aud"], MCP);
    for wider in [TOOLS, server.base.as_str()] {
        let why = refused(
            exchange(&server, &c, &for_mcp, &[("resource", wider)]).await,
            400,
            "invalid_target",
        )
        .await;
        assert!(why.contains(MCP), "{why}");
    }
    // An agent's own token for a resource is a subject bound to it too.
    let own_mcp = expect_json(
        server
            .http
            .post(server.url("/oauth2/token"))
            .basic_auth(&a.id, Some(&a.client_secret))
            .form(&[("grant_type", "client_credentials"), ("resource", MCP)])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let own_mcp = own_mcp["access_token"].as_str().unwrap();
    refused(
        exchange(&server, &b, own_mcp, &[("audience", TOOLS)]).await,
        400,
        "invalid_target",
    )
    .await;
    let (_, claims, _) = exchanged(&server, &b, own_mcp, &[]).await;
    assert_eq!(
        (&claims["aud"], &claims["sub"]),
        (&json!(MCP), &json!(a.id))
    );

    // Every exchange is audited with its audience; each refusal with its reason.
    let log = server.audit_log().await;
    let exchanges: Vec<_> = log
        .iter()
        .filter(|e| e.action == "token.exchange")
        .collect();
    assert!(
        exchanges
            .iter()
            .any(|e| e.outcome == "success" && e.target.contains(&format!("aud:{MCP}")))
    );
    let reasons: Vec<_> = exchanges
        .iter()
        .filter(|e| e.outcome == "failure")
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(reasons, ["invalid_target"; 6]);
}
