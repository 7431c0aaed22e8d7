//! Resource indicators (RFC 8707) and protected resource metadata (RFC 9728): tokens bound to
//! the resource they name — an agent's (`client_credentials`) and a person's grant (code and
//! refresh) — accepted only there (the gateway's routes, Tessera's API), the metadata
//! documents, and every refusal.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_gateway::routes::Route;
use tessera_testkit::{TestAgent, TestServer};

use tessera_testkit::TestTenant;

use crate::authorize::{
    App, CHALLENGE, authorize_url, code_with, get, oauth_error, param, person, redeem, redeem_form,
    redirected, register_client, signed_up,
};
use crate::gateway::route;
use crate::invitations::{accept, invited};
use crate::support::{TestRuntime, call, expect_error, expect_json, jwt_parts};

pub(crate) const MCP: &str = "https://mcp.example.com/";
pub(crate) const TOOLS: &str = "https://tools.example.com/v1";

/// Signs a person up and makes them a `role` of `tenant` (invited with the tenant's key);
/// returns their user id, session cookie and session token.
pub(crate) async fn member_of(
    server: &TestServer,
    tenant: &TestTenant,
    email: &str,
    role: &str,
) -> (String, String, String) {
    let (user_id, cookie, token) = signed_up(server, email).await;
    let (_, secret) = invited(server, &tenant.api_key, &tenant.id, email, role).await;
    expect_json(accept(server, Some(&token), &secret).await, 201).await;
    (user_id, cookie, token)
}

pub fn protected(prefix: &str, upstream: &str, resource: &str, scopes: &[&str]) -> Route {
    Route {
        resource: Some(resource.parse().unwrap()),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        ..route(prefix, upstream)
    }
}

/// `/api/echo/mcp` is the MCP resource (scope `mcp:tools` required), `/api/hello` the tools
/// resource, and the rest of `/api` a route without one.
async fn server(runtime: &TestRuntime) -> TestServer {
    let upstream = runtime.url();
    TestServer::start_with(move |config| {
        config.gateway_routes = vec![
            protected("/api/echo/mcp", &upstream, MCP, &["mcp:tools"]),
            protected("/api/hello", &upstream, TOOLS, &[]),
            route("/api", &upstream),
        ];
    })
    .await
}

async fn agent_token(server: &TestServer, agent: &TestAgent, resource: &str) -> reqwest::Response {
    server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[("grant_type", "client_credentials"), ("resource", resource)])
        .send()
        .await
        .unwrap()
}

async fn bearer_get(server: &TestServer, path: &str, token: &str) -> reqwest::Response {
    server
        .http
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn metadata_challenge(server: &TestServer, route: &str) -> String {
    format!(
        "Bearer realm=\"tessera\", resource_metadata=\"{}/.well-known/oauth-protected-resource{route}\"",
        server.base
    )
}

#[tokio::test]
async fn an_agents_token_for_a_resource_passes_only_there() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["read", "mcp:tools"]).await;

    let issued = expect_json(agent_token(&server, &agent, MCP).await, 200).await;
    let mcp_token = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(jwt_parts(&mcp_token).1["aud"], MCP);
    // The same resource without its trailing slash names it too.
    let again = expect_json(
        agent_token(&server, &agent, "https://mcp.example.com").await,
        200,
    )
    .await;
    assert_eq!(
        jwt_parts(again["access_token"].as_str().unwrap()).1["aud"],
        MCP
    );
    let default_token = server.token(&agent, None).await;
    assert_eq!(jwt_parts(&default_token).1["aud"], server.base.as_str());

    // Unknown, relative and fragment-carrying resources: invalid_target, nothing issued.
    for bad in [
        "https://unknown.example.com/",
        "/api/echo/mcp",
        "https://mcp.example.com/#tools",
        "not a uri",
    ] {
        oauth_error(
            agent_token(&server, &agent, bad).await,
            400,
            "invalid_target",
        )
        .await;
    }
    let twice = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .body(format!(
            "grant_type=client_credentials&resource={MCP}&resource={TOOLS}"
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    oauth_error(twice, 400, "invalid_request").await;
    let refusals = expect_json(
        call(
            &server,
            Method::GET,
            &format!(
                "/v1/tenants/{}/audit?action=token.issue&outcome=failure",
                a.id
            ),
            Some(&a.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let reasons: Vec<&str> = refusals["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["invalid_target"; 4]);

    // The resource's route takes it; every other destination refuses it, naming its metadata.
    let through = bearer_get(&server, "/api/echo/mcp/tools", &mcp_token).await;
    let echoed = expect_json(through, 200).await;
    assert_eq!(echoed["headers"]["x-agent-id"][0], agent.id.as_str());
    for (path, route) in [("/api/echo/x", ""), ("/api/hello", "/api/hello")] {
        let refused = bearer_get(&server, path, &mcp_token).await;
        assert_eq!(challenge(&refused), metadata_challenge(&server, route));
        expect_error(refused, 401, "unauthenticated").await;
    }
    let named_entity = server
        .http
        .get(server.url("/api/echo/x"))
        .bearer_auth(&mcp_token)
        .header("x-entity", &a.id)
        .send()
        .await
        .unwrap();
    expect_error(named_entity, 401, "unauthenticated").await;
    // Tessera's own API is another resource.
    let api = bearer_get(&server, &format!("/v1/tenants/{}/agents", a.id), &mcp_token).await;
    assert_eq!(challenge(&api), metadata_challenge(&server, ""));
    expect_error(api, 401, "unauthenticated").await;

    // A token without a resource keeps the default audience: not for a route that has one.
    expect_json(
        bearer_get(&server, "/api/echo/x", &default_token).await,
        200,
    )
    .await;
    let refused = bearer_get(&server, "/api/echo/mcp", &default_token).await;
    assert_eq!(
        challenge(&refused),
        metadata_challenge(&server, "/api/echo/mcp")
    );
    let body = expect_error(refused, 401, "unauthenticated").await;
    assert!(body["message"].as_str().unwrap().contains(MCP), "{body}");
    let anonymous = server
        .http
        .get(server.url("/api/echo/mcp"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        challenge(&anonymous),
        metadata_challenge(&server, "/api/echo/mcp")
    );

    // Introspection sees it within its tenant only; revoking it ends it at the route too.
    let seen = server.introspect(&a.api_key, &mcp_token).await;
    assert_eq!((&seen["active"], &seen["aud"]), (&json!(true), &json!(MCP)));
    assert_eq!(
        server.introspect(&b.api_key, &mcp_token).await["active"],
        false
    );
    let revoked = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", &a.api_key)
        .form(&[("token", mcp_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(!server.is_active(&mcp_token).await);
    let after = bearer_get(&server, "/api/echo/mcp", &mcp_token).await;
    expect_error(after, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_persons_grant_is_bound_to_the_resource_it_was_asked_for() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let a = server.register_tenant("A").await;
    let app = register_client(&server, &a, false).await;
    let (user_id, cookie, _) = member_of(&server, &a, "ada@example.com", "member").await;

    // An unknown resource goes back to the client as invalid_target.
    let url = crate::authorize::authorize_url(
        &server,
        &app,
        &[
            ("code_challenge", crate::authorize::CHALLENGE),
            ("code_challenge_method", "S256"),
            ("resource", "https://unknown.example.com/"),
        ],
    );
    let refused = redirected(&get(&server, &url, Some(&cookie)).await);
    assert_eq!(param(&refused, "error"), Some("invalid_target"));

    // The code exchange may repeat the grant's resource, never name another.
    let code = code_with(&server, &app, &cookie, &[("resource", TOOLS)]).await;
    let mut form = redeem_form(&code);
    form.push(("resource", MCP));
    oauth_error(redeem(&server, &app, &form).await, 400, "invalid_target").await;
    let code = code_with(&server, &app, &cookie, &[("resource", TOOLS)]).await;
    let mut form = redeem_form(&code);
    form.push(("resource", TOOLS));
    let tokens = expect_json(redeem(&server, &app, &form).await, 200).await;
    let access = tokens["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(access);
    assert_eq!(
        (&claims["aud"], &claims["sub"]),
        (&json!(TOOLS), &json!(user_id))
    );
    let (_, id_claims) = jwt_parts(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_claims["aud"], app.client_id.as_str());

    // The person's token reaches the route of its resource, and nothing else.
    let hello = bearer_get(&server, "/api/hello", access).await;
    assert_eq!(hello.status(), 200);
    expect_error(
        bearer_get(&server, "/api/echo/x", access).await,
        401,
        "unauthenticated",
    )
    .await;
    let userinfo = bearer_get(&server, "/oauth2/userinfo", access).await;
    assert_eq!(userinfo.status(), 401);

    // Refresh: another resource is refused before the refresh token is used up.
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let widened = refresh_with(&server, &app, refresh, Some(MCP)).await;
    oauth_error(widened, 400, "invalid_target").await;
    let next = expect_json(refresh_with(&server, &app, refresh, Some(TOOLS)).await, 200).await;
    assert_eq!(
        jwt_parts(next["access_token"].as_str().unwrap()).1["aud"],
        TOOLS
    );
    let next = next["refresh_token"].as_str().unwrap();
    let last = expect_json(refresh_with(&server, &app, next, None).await, 200).await;
    assert_eq!(
        jwt_parts(last["access_token"].as_str().unwrap()).1["aud"],
        TOOLS
    );

    // A grant without a resource has Tessera's API as its only resource.
    let code = code_with(&server, &app, &cookie, &[]).await;
    let mut form = redeem_form(&code);
    form.push(("resource", TOOLS));
    oauth_error(redeem(&server, &app, &form).await, 400, "invalid_target").await;
    let code = code_with(&server, &app, &cookie, &[]).await;
    let mut form = redeem_form(&code);
    form.push(("resource", server.base.as_str()));
    let plain = expect_json(redeem(&server, &app, &form).await, 200).await;
    let plain = plain["access_token"].as_str().unwrap();
    assert_eq!(jwt_parts(plain).1["aud"], server.base.as_str());
    // ... and passes no gateway route.
    expect_error(
        bearer_get(&server, "/api/hello", plain).await,
        401,
        "unauthenticated",
    )
    .await;
    expect_error(
        bearer_get(&server, "/api/echo/x", plain).await,
        401,
        "unauthenticated",
    )
    .await;
    // Consent is remembered per resource: the tools resource and Tessera's API, consented to
    // above, are not asked again (`prompt=none` gets a code); MCP, never consented to, is.
    let asked = redirected(&get(&server, &silent(&server, &app, &[MCP]), Some(&cookie)).await);
    assert_eq!(param(&asked, "error"), Some("consent_required"));
    for resources in [&[TOOLS][..], &[]] {
        let url = silent(&server, &app, resources);
        let remembered = redirected(&get(&server, &url, Some(&cookie)).await);
        assert!(param(&remembered, "code").is_some(), "{resources:?}");
    }
}

/// An authorization request with `prompt=none` for `resources`.
fn silent(server: &TestServer, app: &App, resources: &[&str]) -> String {
    let mut params = vec![
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("prompt", "none"),
    ];
    params.extend(resources.iter().map(|r| ("resource", *r)));
    authorize_url(server, app, &params)
}

/// RFC 8707 §2 with several resources: the authorization names two, the consent screen lists
/// both, the grant covers both, and each token request picks one (by default the first);
/// consent is remembered for each, for this person and client only.
#[tokio::test]
async fn a_grant_covers_several_resources_and_each_token_names_one() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let app = register_client(&server, &a, false).await;
    let other_app = register_client(&server, &b, false).await;
    let (_, cookie, _) = member_of(&server, &a, "ada@example.com", "member").await;
    let both = [
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
        ("resource", MCP),
        ("resource", TOOLS),
    ];

    // The consent screen names both resources.
    let page = get(&server, &authorize_url(&server, &app, &both), Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for resource in [MCP, TOOLS] {
        assert!(
            html.contains(&format!("data-resource=\"{resource}\"")),
            "{html}"
        );
    }
    // One of them unknown: invalid_target, nothing remembered.
    let mut unknown = both.to_vec();
    unknown.push(("resource", "https://unknown.example.com/"));
    let refused = redirected(
        &get(
            &server,
            &authorize_url(&server, &app, &unknown),
            Some(&cookie),
        )
        .await,
    );
    assert_eq!(param(&refused, "error"), Some("invalid_target"));
    let asked = redirected(&get(&server, &silent(&server, &app, &[MCP]), Some(&cookie)).await);
    assert_eq!(param(&asked, "error"), Some("consent_required"));

    // Consented: the first resource by default, the other when named, none outside the grant.
    let code = code_with(&server, &app, &cookie, &both[2..]).await;
    let tokens = expect_json(redeem(&server, &app, &redeem_form(&code)).await, 200).await;
    let first = tokens["access_token"].as_str().unwrap();
    assert_eq!(jwt_parts(first).1["aud"], MCP);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    for outside in [server.base.as_str(), "https://unknown.example.com/"] {
        let refused = refresh_with(&server, &app, refresh, Some(outside)).await;
        oauth_error(refused, 400, "invalid_target").await;
    }
    let tools = expect_json(refresh_with(&server, &app, refresh, Some(TOOLS)).await, 200).await;
    assert_eq!(
        jwt_parts(tools["access_token"].as_str().unwrap()).1["aud"],
        TOOLS
    );
    let tools_token = tools["access_token"].as_str().unwrap();
    assert_eq!(
        bearer_get(&server, "/api/hello", tools_token)
            .await
            .status(),
        200
    );
    let refresh = tools["refresh_token"].as_str().unwrap();
    let mcp = expect_json(refresh_with(&server, &app, refresh, Some(MCP)).await, 200).await;
    assert_eq!(
        jwt_parts(mcp["access_token"].as_str().unwrap()).1["aud"],
        MCP
    );
    let code = code_with(&server, &app, &cookie, &both[2..]).await;
    let mut form = redeem_form(&code);
    form.push(("resource", TOOLS));
    let tokens = expect_json(redeem(&server, &app, &form).await, 200).await;
    assert_eq!(
        jwt_parts(tokens["access_token"].as_str().unwrap()).1["aud"],
        TOOLS
    );
    // One resource per token request: the token's `aud` is one resource.
    let code = code_with(&server, &app, &cookie, &both[2..]).await;
    let twice = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=authorization_code&code={code}&redirect_uri={}&code_verifier={}\
             &resource={MCP}&resource={TOOLS}",
            crate::authorize::REDIRECT,
            crate::authorize::VERIFIER
        ))
        .send()
        .await
        .unwrap();
    oauth_error(twice, 400, "invalid_request").await;

    // Each resource is remembered, alone or together; Tessera's API was never consented to.
    for resources in [&[MCP][..], &[TOOLS], &[TOOLS, MCP]] {
        let url = silent(&server, &app, resources);
        let answer = redirected(&get(&server, &url, Some(&cookie)).await);
        assert!(
            param(&answer, "code").is_some(),
            "{resources:?}: {answer:?}"
        );
    }
    for resources in [&[][..], &[MCP, server.base.as_str()]] {
        let url = silent(&server, &app, resources);
        let answer = redirected(&get(&server, &url, Some(&cookie)).await);
        assert_eq!(
            param(&answer, "error"),
            Some("consent_required"),
            "{resources:?}"
        );
    }
    // ... for this person and this client only.
    let (_, bobs) = person(&server, "bob@example.com").await;
    let answer = redirected(&get(&server, &silent(&server, &app, &[MCP]), Some(&bobs)).await);
    assert_eq!(param(&answer, "error"), Some("consent_required"));
    let url = silent(&server, &other_app, &[MCP]);
    let answer = redirected(&get(&server, &url, Some(&cookie)).await);
    assert_eq!(param(&answer, "error"), Some("consent_required"));
}

async fn refresh_with(
    server: &TestServer,
    app: &App,
    token: &str,
    resource: Option<&str>,
) -> reqwest::Response {
    let mut fields = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(resource) = resource {
        fields.push(("resource", resource));
    }
    server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&app.client_id, app.secret.as_deref())
        .form(&fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn metadata_documents_describe_the_protected_resources() {
    let runtime = TestRuntime::start().await;
    let server = server(&runtime).await;
    let get_json = |path: &'static str| {
        let server = &server;
        async move { server.http.get(server.url(path)).send().await.unwrap() }
    };
    let api = expect_json(get_json("/.well-known/oauth-protected-resource").await, 200).await;
    assert_eq!(api["resource"], server.base.as_str());
    assert_eq!(api["authorization_servers"], json!([server.base]));
    assert_eq!(api["bearer_methods_supported"], json!(["header"]));
    assert!(
        api["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("read"))
    );
    let mcp = expect_json(
        get_json("/.well-known/oauth-protected-resource/api/echo/mcp").await,
        200,
    )
    .await;
    assert_eq!(mcp["resource"], MCP);
    assert_eq!(mcp["authorization_servers"], json!([server.base]));
    assert_eq!(mcp["scopes_supported"], json!(["mcp:tools"]));
    for missing in [
        "/.well-known/oauth-protected-resource/api",
        "/.well-known/oauth-protected-resource/api/echo",
        "/.well-known/oauth-protected-resource/nothing/here",
    ] {
        expect_error(get_json(missing).await, 404, "not_found").await;
    }
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        let metadata: Value = expect_json(get_json(path).await, 200).await;
        assert_eq!(
            metadata["protected_resources"],
            json!([server.base, MCP, TOOLS])
        );
        assert_eq!(
            metadata["device_authorization_endpoint"],
            server.url("/oauth2/device_authorization")
        );
    }
}
