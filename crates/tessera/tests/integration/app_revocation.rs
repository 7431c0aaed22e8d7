//! Applications at `/oauth2/revoke` (RFC 7009) and `/oauth2/introspect` (RFC 7662): an
//! application authenticates as it registered and reaches only the tokens issued to it; a
//! refresh token revokes its whole grant.

use reqwest::Response;
use serde_json::{Value, json};
use tessera_testkit::TestServer;

use crate::authorize::{
    App, code_with, oauth_error, person, redeem, redeem_form, refresh, register_client,
};
use crate::support::expect_json;

/// Signs the person in to `app` and returns its first access and refresh tokens.
async fn tokens(server: &TestServer, app: &App, cookie: &str) -> (String, String) {
    let code = code_with(server, app, cookie, &[]).await;
    let tokens = expect_json(redeem(server, app, &redeem_form(&code)).await, 200).await;
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// `path` called by `app`, authenticated as it registered (Basic, or its client_id alone).
async fn as_app(server: &TestServer, app: &App, path: &str, form: &[(&str, &str)]) -> Response {
    app.post(server, path, form).send().await.unwrap()
}

async fn revoke(server: &TestServer, app: &App, token: &str) {
    let response = as_app(server, app, "/oauth2/revoke", &[("token", token)]).await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
}

async fn revoke_with_key(server: &TestServer, api_key: &str, token: &str) {
    let response = server
        .http
        .post(server.url("/oauth2/revoke"))
        .header("x-api-key", api_key)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn introspect(server: &TestServer, app: &App, token: &str) -> Response {
    as_app(server, app, "/oauth2/introspect", &[("token", token)]).await
}

async fn refreshes(server: &TestServer, app: &App, refresh_token: &str) -> Option<String> {
    let response = refresh(server, app, refresh_token).await;
    if response.status() != 200 {
        oauth_error(response, 400, "invalid_grant").await;
        return None;
    }
    let body: Value = response.json().await.unwrap();
    Some(body["refresh_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn an_application_revokes_its_refresh_token_and_with_it_the_grant() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    for public in [false, true] {
        let app = register_client(&server, &tenant, public).await;
        let (access, refresh_token) = tokens(&server, &app, &cookie).await;
        assert!(server.is_active(&access).await);

        revoke(&server, &app, &refresh_token).await;
        // The refresh token, and every access token of its grant, stop at once.
        assert_eq!(refreshes(&server, &app, &refresh_token).await, None);
        assert!(!server.is_active(&access).await, "public: {public}");
        let userinfo = server
            .http
            .get(server.url("/oauth2/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(userinfo.status(), 401);
        // Again, or a token never issued: still 200 (RFC 7009 §2.2).
        revoke(&server, &app, &refresh_token).await;
        revoke(&server, &app, "grt_unknown").await;
    }
}

#[tokio::test]
async fn an_access_token_is_revoked_alone_and_only_by_whom_it_was_issued_to() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let app = register_client(&server, &a, false).await;
    let sibling = register_client(&server, &a, true).await;
    let stranger = register_client(&server, &b, false).await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let (access, refresh_token) = tokens(&server, &app, &cookie).await;

    // Another application of the same tenant, or of another tenant, revokes nothing of it.
    for other in [&sibling, &stranger] {
        revoke(&server, other, &access).await;
        revoke(&server, other, &refresh_token).await;
    }
    assert!(server.is_active(&access).await);
    let refresh_token = refreshes(&server, &app, &refresh_token)
        .await
        .expect("the grant outlives others' attempts");

    // Its own access token: that one ends, the grant goes on.
    revoke(&server, &app, &access).await;
    assert!(!server.is_active(&access).await);
    let refresh_token = refreshes(&server, &app, &refresh_token)
        .await
        .expect("revoking an access token leaves the grant");

    // An agent of the tenant has no say over an application's grant.
    let agent = server.create_agent(&a, &[]).await;
    let by_agent = server
        .http
        .post(server.url("/oauth2/revoke"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[("token", refresh_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(by_agent.status(), 200);
    let refresh_token = refreshes(&server, &app, &refresh_token)
        .await
        .expect("an agent cannot revoke an application's grant");

    // The tenant's API key may revoke the grants of the tenant's applications; another
    // tenant's may not.
    revoke_with_key(&server, &b.api_key, &refresh_token).await;
    let refresh_token = refreshes(&server, &app, &refresh_token).await.unwrap();
    revoke_with_key(&server, &a.api_key, &refresh_token).await;
    assert_eq!(refreshes(&server, &app, &refresh_token).await, None);
}

#[tokio::test]
async fn applications_introspect_their_own_tokens_when_they_can_authenticate() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, false).await;
    let public = register_client(&server, &tenant, true).await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let (access, _) = tokens(&server, &app, &cookie).await;
    let (public_access, _) = tokens(&server, &public, &cookie).await;

    let own = expect_json(introspect(&server, &app, &access).await, 200).await;
    assert_eq!(own["active"], true);
    assert_eq!(own["client_id"], json!(app.client_id));
    let others = expect_json(introspect(&server, &app, &public_access).await, 200).await;
    assert_eq!(others, json!({"active": false}));
    // A client_id alone proves nothing: RFC 7662 wants the caller authorized.
    oauth_error(
        introspect(&server, &public, &public_access).await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn a_bad_client_authentication_revokes_nothing() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, false).await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let (access, refresh_token) = tokens(&server, &app, &cookie).await;

    let impostor = App {
        client_id: app.client_id.clone(),
        secret: Some("cs_wrong".to_owned()),
    };
    // The last hex digit changed: a well-formed id no client has.
    let mut unknown_id = app.client_id.clone();
    let last = unknown_id.pop().unwrap();
    unknown_id.push(if last == '0' { '1' } else { '0' });
    let unknown = App {
        client_id: unknown_id,
        secret: app.secret.clone(),
    };
    // A confidential application must prove itself: its client_id alone will not do.
    let bare = App {
        client_id: app.client_id.clone(),
        secret: None,
    };
    for caller in [&impostor, &unknown, &bare] {
        for token in [&access, &refresh_token] {
            let response = as_app(&server, caller, "/oauth2/revoke", &[("token", token)]).await;
            oauth_error(response, 401, "invalid_client").await;
        }
    }
    // No token at all.
    oauth_error(
        as_app(&server, &app, "/oauth2/revoke", &[]).await,
        400,
        "invalid_request",
    )
    .await;
    assert!(server.is_active(&access).await);
    assert!(refreshes(&server, &app, &refresh_token).await.is_some());
}

#[tokio::test]
async fn the_metadata_says_a_public_client_may_revoke() {
    let server = TestServer::start().await;
    let metadata = expect_json(
        server
            .http
            .get(server.url("/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    let methods = |field: &str| metadata[field].as_array().unwrap().clone();
    assert!(methods("revocation_endpoint_auth_methods_supported").contains(&json!("none")));
    assert!(!methods("introspection_endpoint_auth_methods_supported").contains(&json!("none")));
}
