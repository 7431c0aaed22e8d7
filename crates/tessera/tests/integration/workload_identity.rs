//! Workload identity federation: trust policies (`/v1/tenants/{tenant_id}/trust-policies`) and
//! the `jwt-bearer` grant, with a real outside issuer on loopback (npm `oidc-provider`, as the
//! "GitHub Actions" whose tokens a tenant trusts): matching claims get an agent token; a claim
//! that does not match, another audience, an expired token, an unknown issuer and an unknown
//! key are refused with `invalid_grant`; a rotated key is fetched again, no more often than the
//! configured cooldown.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestAgent, TestServer, TestTenant, WorkloadIssuer};

use crate::support::{call, expect_error, expect_json};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub(crate) const AUDIENCE: &str = "https://tessera.test/wif";

/// Loopback issuers allowed; `refetch_secs` between key refetches for unknown key ids.
pub(crate) async fn server(refetch_secs: u64) -> TestServer {
    TestServer::start_with(|config| {
        config.oauth_allow_private_issuers = true;
        config.workload_jwks_refetch_secs = refetch_secs;
    })
    .await
}

pub(crate) fn main_branch() -> Value {
    json!({"repository": "acme/api", "ref": "refs/heads/main", "workflow": "deploy"})
}

async fn create_policy(server: &TestServer, tenant: &TestTenant, body: Value) -> reqwest::Response {
    call(
        server,
        Method::POST,
        &format!("/v1/tenants/{}/trust-policies", tenant.id),
        Some(&tenant.api_key),
        Some(body),
    )
    .await
}

/// A policy trusting `issuer`'s tokens for `acme/*` on `main` to act as `agent` with `deploy`.
pub(crate) async fn trust(
    server: &TestServer,
    tenant: &TestTenant,
    issuer: &str,
    agent: &TestAgent,
) -> Value {
    let body = json!({
        "issuer": issuer,
        "audience": AUDIENCE,
        "conditions": {"repository": "acme/*", "ref": "refs/heads/main"},
        "agent_id": agent.id,
        "scopes": ["deploy"],
    });
    expect_json(create_policy(server, tenant, body).await, 201).await
}

async fn exchange(server: &TestServer, form: &[(&str, &str)]) -> reqwest::Response {
    let mut fields = vec![("grant_type", JWT_BEARER)];
    fields.extend_from_slice(form);
    server
        .http
        .post(server.url("/oauth2/token"))
        .form(&fields)
        .send()
        .await
        .unwrap()
}

/// Asserts an RFC 6749 refusal whose description mentions `hint`.
async fn refused(response: reqwest::Response, code: &str, hint: &str) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], code, "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(hint), "{hint:?} not in {body}");
}

#[tokio::test]
async fn matching_claims_get_the_agents_token_and_everything_else_is_refused() {
    let server = server(30).await;
    let issuer = WorkloadIssuer::start(300).await;
    let tenant = server.register_tenant("Acme").await;
    let agent = server.create_agent(&tenant, &["deploy", "billing"]).await;
    let policy = trust(&server, &tenant, &issuer.issuer, &agent).await;
    assert_eq!(policy["conditions"]["ref"], "refs/heads/main");

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
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(JWT_BEARER))
    );

    let assertion = issuer.token(AUDIENCE, main_branch()).await;
    let granted = expect_json(exchange(&server, &[("assertion", &assertion)]).await, 200).await;
    assert_eq!(granted["token_type"], "Bearer");
    assert_eq!(granted["scope"], "deploy");
    let token = granted["access_token"].as_str().unwrap();
    let introspected = server.introspect(&tenant.api_key, token).await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["sub"], agent.id.as_str());
    assert_eq!(introspected["scope"], "deploy");

    // `scope` narrows within the policy, never beyond it (the agent's `billing` included).
    let narrowed = exchange(&server, &[("assertion", &assertion), ("scope", "deploy")]).await;
    assert_eq!(expect_json(narrowed, 200).await["scope"], "deploy");
    // The workload's tokens are counted under their own grant, not as client_credentials.
    let metrics = crate::support::metrics(&server).await;
    assert!(
        metrics.contains("tessera_tokens_issued_total{grant_type=\"jwt_bearer\"} 2"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("grant_type=\"client_credentials\""),
        "{metrics}"
    );
    let wider = exchange(&server, &[("assertion", &assertion), ("scope", "billing")]).await;
    refused(wider, "invalid_scope", "exceeds").await;

    // A branch the policy does not name, another repository owner, another audience.
    let dev = issuer
        .token(
            AUDIENCE,
            json!({"repository": "acme/api", "ref": "refs/heads/dev"}),
        )
        .await;
    refused(
        exchange(&server, &[("assertion", &dev)]).await,
        "invalid_grant",
        "`ref`",
    )
    .await;
    let evil = issuer
        .token(
            AUDIENCE,
            json!({"repository": "evil/api", "ref": "refs/heads/main"}),
        )
        .await;
    let response = exchange(&server, &[("assertion", &evil)]).await;
    refused(response, "invalid_grant", "`repository`").await;
    let elsewhere = issuer.token("https://elsewhere.test", main_branch()).await;
    let response = exchange(&server, &[("assertion", &elsewhere)]).await;
    refused(response, "invalid_grant", "audience").await;

    // An issuer no policy names, however valid its token.
    let stranger = WorkloadIssuer::start(300).await;
    let foreign = stranger.token(AUDIENCE, main_branch()).await;
    let response = exchange(&server, &[("assertion", &foreign)]).await;
    refused(
        response,
        "invalid_grant",
        "no trust policy names the issuer",
    )
    .await;

    // Not a JWT; no assertion; a client_id that is not an agent id.
    let response = exchange(&server, &[("assertion", "not.a-jwt")]).await;
    refused(response, "invalid_grant", "not a signed JWT").await;
    refused(exchange(&server, &[]).await, "invalid_request", "assertion").await;
    let response = exchange(&server, &[("assertion", &assertion), ("client_id", "x")]).await;
    refused(response, "invalid_request", "client_id").await;

    // The same token once it has expired (300 s, and the minute of leeway).
    server.clock.advance(time::Duration::seconds(420));
    let response = exchange(&server, &[("assertion", &assertion)]).await;
    refused(response, "invalid_grant", "expired").await;

    // Audited with the outside subject and issuer, never the token.
    server.flush_audit().await;
    let events = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/audit?action=workload.federate", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let events = events["events"].as_array().unwrap();
    let actor = format!("workload:ci@{}", issuer.issuer);
    assert!(events.iter().any(|e| e["outcome"] == "success"
        && e["actor"] == actor.as_str()
        && e["target"] == policy["id"]));
    for reason in ["condition_unmet", "wrong_audience", "expired"] {
        assert!(
            events.iter().any(|e| e["reason"] == reason),
            "{reason} in {events:?}"
        );
    }
    let text = serde_json::to_string(events).unwrap();
    assert!(!text.contains(&assertion[assertion.len() - 40..]));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_again_and_an_unknown_key_is_refused() {
    let server = server(0).await;
    let issuer = WorkloadIssuer::start(300).await;
    let tenant = server.register_tenant("Acme").await;
    let agent = server.create_agent(&tenant, &["deploy"]).await;
    trust(&server, &tenant, &issuer.issuer, &agent).await;

    let before = issuer.token(AUDIENCE, main_branch()).await;
    let response = exchange(&server, &[("assertion", &before)]).await;
    expect_json(response, 200).await;
    assert_eq!(issuer.jwks_fetches().await, 1);

    // The issuer rotates its key: the new key id is unknown, so the keys are fetched again.
    issuer.rotate_key().await;
    let after = issuer.token(AUDIENCE, main_branch()).await;
    expect_json(exchange(&server, &[("assertion", &after)]).await, 200).await;
    assert_eq!(issuer.jwks_fetches().await, 2);

    // An impostor names the issuer but signs with a key the issuer never published.
    let impostor = WorkloadIssuer::impostor_of(&issuer.issuer).await;
    let forged = impostor.token(AUDIENCE, main_branch()).await;
    let response = exchange(&server, &[("assertion", &forged)]).await;
    refused(response, "invalid_grant", "signing key").await;
    assert_eq!(issuer.jwks_fetches().await, 3);

    // With the default cooldown, unknown key ids do not make Tessera refetch at will: within
    // it, neither the impostor's key nor a real new one is fetched.
    let patient = self::server(30).await;
    let other = patient.register_tenant("Other").await;
    let deployer = patient.create_agent(&other, &["deploy"]).await;
    trust(&patient, &other, &issuer.issuer, &deployer).await;
    expect_json(exchange(&patient, &[("assertion", &after)]).await, 200).await;
    let fetched = issuer.jwks_fetches().await;
    for _ in 0..3 {
        let response = exchange(&patient, &[("assertion", &forged)]).await;
        refused(response, "invalid_grant", "signing key").await;
    }
    issuer.rotate_key().await;
    let rotated = issuer.token(AUDIENCE, main_branch()).await;
    let response = exchange(&patient, &[("assertion", &rotated)]).await;
    refused(response, "invalid_grant", "signing key").await;
    assert_eq!(issuer.jwks_fetches().await, fetched);
}

#[tokio::test]
async fn trust_policies_are_checked_and_stay_within_their_tenant() {
    let server = server(30).await;
    let issuer = WorkloadIssuer::start(300).await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["deploy"]).await;
    let b_agent = server.create_agent(&b, &["deploy"]).await;
    let good = json!({
        "issuer": issuer.issuer,
        "audience": AUDIENCE,
        "conditions": {"repository": "acme/api"},
        "agent_id": agent.id,
        "scopes": ["deploy"],
    });
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    for (body, hint) in [
        (with("issuer", json!("not a url")), "issuer"),
        (with("issuer", json!("ftp://idp.example")), "issuer"),
        (with("issuer", json!(server.base.clone())), "Tessera itself"),
        (with("audience", json!("")), "audience"),
        (with("conditions", json!({})), "conditions"),
        (with("conditions", json!({"repository": "*"})), "conditions"),
        (with("conditions", json!({"aud": "x"})), "conditions"),
        (with("agent_id", json!(b_agent.id)), "agent_id"),
        (with("agent_id", json!("agt_nope")), "agent_id"),
        (with("scopes", json!(["billing"])), "scopes"),
        (with("scopes", json!([])), "scopes"),
    ] {
        let body = expect_error(
            create_policy(&server, &a, body).await,
            400,
            "invalid_parameter",
        )
        .await;
        assert!(body["message"].as_str().unwrap().contains(hint), "{body}");
    }
    let unknown_field = with("extra", json!(true));
    expect_error(
        create_policy(&server, &a, unknown_field).await,
        422,
        "invalid_body",
    )
    .await;
    // Nothing was written.
    let list_path = format!("/v1/tenants/{}/trust-policies", a.id);
    let listed = call(&server, Method::GET, &list_path, Some(&a.api_key), None).await;
    assert_eq!(expect_json(listed, 200).await["trust_policies"], json!([]));

    let created = expect_json(create_policy(&server, &a, good.clone()).await, 201).await;
    let id = created["id"].as_str().unwrap();
    let listed = call(&server, Method::GET, &list_path, Some(&a.api_key), None).await;
    assert_eq!(
        expect_json(listed, 200).await["trust_policies"][0]["id"],
        id
    );

    // Tenant B can neither see nor touch A's policies, nor create one in A.
    let response = call(&server, Method::GET, &list_path, Some(&b.api_key), None).await;
    expect_error(response, 404, "not_found").await;
    let one_path = format!("{list_path}/{id}");
    let response = call(&server, Method::DELETE, &one_path, Some(&b.api_key), None).await;
    expect_error(response, 404, "not_found").await;
    let response = call(
        &server,
        Method::POST,
        &list_path,
        Some(&b.api_key),
        Some(good),
    )
    .await;
    expect_error(response, 404, "not_found").await;
    let b_path = format!("/v1/tenants/{}/trust-policies/{id}", b.id);
    let response = call(&server, Method::DELETE, &b_path, Some(&b.api_key), None).await;
    expect_error(response, 404, "not_found").await;
    let bad_id = format!("{list_path}/tpl_nope");
    let response = call(&server, Method::DELETE, &bad_id, Some(&a.api_key), None).await;
    expect_error(response, 400, "invalid_id").await;

    // The same token matching policies of two agents needs `client_id` to say which.
    let b_policy = json!({
        "issuer": issuer.issuer,
        "audience": AUDIENCE,
        "conditions": {"repository": "acme/*"},
        "agent_id": b_agent.id,
        "scopes": ["deploy"],
    });
    expect_json(create_policy(&server, &b, b_policy).await, 201).await;
    let assertion = issuer.token(AUDIENCE, main_branch()).await;
    let response = exchange(&server, &[("assertion", &assertion)]).await;
    refused(response, "invalid_grant", "client_id").await;
    let picked = exchange(
        &server,
        &[("assertion", &assertion), ("client_id", &b_agent.id)],
    )
    .await;
    let token = expect_json(picked, 200).await;
    let introspected = server
        .introspect(&b.api_key, token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected["sub"], b_agent.id.as_str());

    // Deleting A's policy stops the exchange for A's agent at once.
    let response = call(&server, Method::DELETE, &one_path, Some(&a.api_key), None).await;
    assert_eq!(response.status(), 204);
    let response = exchange(
        &server,
        &[("assertion", &assertion), ("client_id", &agent.id)],
    )
    .await;
    refused(response, "invalid_grant", "names the agent").await;
}
