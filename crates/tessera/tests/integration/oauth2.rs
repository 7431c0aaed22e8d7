//! `/oauth2/token`, `/oauth2/introspect`, `/oauth2/revoke`: the client_credentials grant, RFC 6749
//! errors, introspection and revocation, and what another tenant can (not) do.

use reqwest::Method;
use serde_json::{Value, json};
use tessera_testkit::{TestAgent, TestServer};

use crate::support::{call, expect_json, jwt_parts};

async fn oauth_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    body
}

#[tokio::test]
async fn client_credentials_issues_an_rfc9068_token() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &["mail:read", "mail:send"]).await;

    let response = server.token_response(&agent, Some("mail:read")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "mail:read");
    assert_eq!(body["expires_in"], 3600);
    let (header, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    assert_eq!(claims["iss"], server.base);
    assert_eq!(claims["aud"], server.base);
    assert_eq!(claims["sub"], agent.id);
    assert_eq!(claims["client_id"], agent.id);
    assert_eq!(claims["tenant_id"], a.id);
    assert_eq!(claims["scope"], "mail:read");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    assert!(claims["jti"].as_str().is_some_and(|j| j.len() >= 16));

    // client_secret_post, and no scope asked: all of the agent's scopes.
    let posted = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", agent.id.as_str()),
            ("client_secret", agent.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let posted = expect_json(posted, 200).await;
    assert_eq!(posted["scope"], "mail:read mail:send");
}

#[tokio::test]
async fn token_errors_follow_rfc6749() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &["mail:read"]).await;
    let url = server.url("/oauth2/token");
    let grant = [("grant_type", "client_credentials")];

    oauth_error(
        server.token_response(&agent, Some("mail:read admin")).await,
        400,
        "invalid_scope",
    )
    .await;
    oauth_error(
        server.token_response(&agent, Some("bad\"scope")).await,
        400,
        "invalid_scope",
    )
    .await;
    let password = server
        .http
        .post(&url)
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[("grant_type", "password")])
        .send()
        .await
        .unwrap();
    oauth_error(password, 400, "unsupported_grant_type").await;
    let no_grant = server
        .http
        .post(&url)
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[("scope", "x")])
        .send()
        .await
        .unwrap();
    oauth_error(no_grant, 400, "invalid_request").await;
    let repeated = server
        .http
        .post(&url)
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    oauth_error(repeated, 400, "invalid_request").await;
    let json_body = server
        .http
        .post(&url)
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    oauth_error(json_body, 400, "invalid_request").await;
    let both = server
        .http
        .post(&url)
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", agent.id.as_str()),
            ("client_secret", agent.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(both, 400, "invalid_request").await;

    let wrong_secret = TestAgent {
        client_secret: "tcs_wrong".to_owned(),
        ..agent.clone()
    };
    let refused = server.token_response(&wrong_secret, None).await;
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Basic realm=\"tessera\""
    );
    oauth_error(refused, 401, "invalid_client").await;
    let unknown = TestAgent {
        id: "agt_0190f0f0f0f07000800000000000000a".to_owned(),
        ..agent.clone()
    };
    oauth_error(
        server.token_response(&unknown, None).await,
        401,
        "invalid_client",
    )
    .await;
    let anonymous = server.http.post(&url).form(&grant).send().await.unwrap();
    oauth_error(anonymous, 401, "invalid_client").await;
    let garbage_basic = server
        .http
        .post(&url)
        .header("authorization", "Basic !!!")
        .form(&grant)
        .send()
        .await
        .unwrap();
    oauth_error(garbage_basic, 401, "invalid_client").await;

    // A disabled agent cannot get tokens.
    let path = format!("/v1/tenants/{}/agents/{}", a.id, agent.id);
    assert_eq!(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"status": "disabled"}))
        )
        .await
        .status(),
        200
    );
    oauth_error(
        server.token_response(&agent, None).await,
        401,
        "invalid_client",
    )
    .await;
}

#[tokio::test]
async fn repeated_client_failures_are_slowed_down() {
    let server = TestServer::start_with(|c| c.auth_failures_per_minute = 3).await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let wrong = TestAgent {
        client_secret: "tcs_wrong".to_owned(),
        ..agent.clone()
    };
    for _ in 0..3 {
        assert_eq!(server.token_response(&wrong, None).await.status(), 401);
    }
    assert_eq!(
        server.token_response(&wrong, None).await.status(),
        401,
        "the failure that exhausts the quota"
    );
    let limited = server.token_response(&agent, None).await;
    assert!(limited.headers().get("retry-after").is_some());
    oauth_error(limited, 429, "slow_down").await;
}

#[tokio::test]
async fn introspection_tells_only_the_tokens_own_tenant() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["mail:read"]).await;
    let b_agent = server.create_agent(&b, &[]).await;
    let token = server.token(&agent, None).await;

    let seen = server.introspect(&a.api_key, &token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["sub"], agent.id);
    assert_eq!(seen["client_id"], agent.id);
    assert_eq!(seen["tenant_id"], a.id);
    assert_eq!(seen["scope"], "mail:read");
    assert_eq!(seen["token_type"], "Bearer");
    assert_eq!(seen["iss"], server.base);

    assert_eq!(
        server.introspect(&b.api_key, &token).await,
        json!({"active": false}),
        "B learns nothing"
    );
    let as_b_client = server
        .http
        .post(server.url("/oauth2/introspect"))
        .basic_auth(&b_agent.id, Some(&b_agent.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(as_b_client, 200).await,
        json!({"active": false})
    );
    let as_a_client = server
        .http
        .post(server.url("/oauth2/introspect"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(as_a_client, 200).await["active"], true);

    assert_eq!(
        server.introspect(&a.api_key, "not.a.token").await,
        json!({"active": false})
    );
    let tampered = format!("{}x", &token[..token.len() - 1]);
    assert_eq!(
        server.introspect(&a.api_key, &tampered).await,
        json!({"active": false})
    );
    let anonymous = server
        .http
        .post(server.url("/oauth2/introspect"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let no_token = server
        .http
        .post(server.url("/oauth2/introspect"))
        .header("x-api-key", &a.api_key)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    oauth_error(no_token, 400, "invalid_request").await;

    server.clock.advance(time::Duration::seconds(3601));
    assert_eq!(
        server.introspect(&a.api_key, &token).await,
        json!({"active": false}),
        "expired"
    );
}

#[tokio::test]
async fn revocation_is_immediate_and_tenant_bound() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &[]).await;
    let token = server.token(&agent, None).await;
    let other = server.token(&agent, None).await;
    let revoke = |key: String, token: String| {
        let server = &server;
        async move {
            server
                .http
                .post(server.url("/oauth2/revoke"))
                .header("x-api-key", key)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
        }
    };

    assert_eq!(
        revoke(b.api_key.clone(), token.clone()).await.status(),
        200,
        "RFC 7009: 200 even when nothing is revoked"
    );
    assert!(server.is_active(&token).await, "B cannot revoke A's token");
    assert_eq!(
        revoke(a.api_key.clone(), "garbage".to_owned())
            .await
            .status(),
        200
    );

    assert_eq!(revoke(a.api_key.clone(), token.clone()).await.status(), 200);
    assert!(
        !server.is_active(&token).await,
        "refused the moment revoke returned"
    );
    assert!(server.is_active(&other).await, "other tokens are untouched");
    assert_eq!(server.count_rows("revoked_tokens").await, 1);

    // The agent itself may revoke its token.
    let by_client = server
        .http
        .post(server.url("/oauth2/revoke"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[
            ("token", other.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(by_client.status(), 200);
    assert!(!server.is_active(&other).await);
}

#[tokio::test]
async fn an_agent_revokes_its_own_tokens_only_and_introspects_its_tenants() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let peer = server.create_agent(&a, &[]).await;
    let token = server.token(&agent, None).await;
    let as_peer = |path: &str| {
        server
            .http
            .post(server.url(path))
            .basic_auth(&peer.id, Some(&peer.client_secret))
            .form(&[("token", token.as_str())])
            .send()
    };

    // Another agent of the tenant may look at the token (it may be the resource it is
    // presented to) but not revoke it (RFC 7009 §2.1: it was not issued to it).
    let introspected: Value = as_peer("/oauth2/introspect")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected["active"], true);
    assert_eq!(as_peer("/oauth2/revoke").await.unwrap().status(), 200);
    assert!(server.is_active(&token).await);
    assert_eq!(server.count_rows("revoked_tokens").await, 0);
}

#[tokio::test]
async fn deleting_or_disabling_the_agent_deactivates_its_tokens() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let agent = server.create_agent(&a, &[]).await;
    let token = server.token(&agent, None).await;
    let path = format!("/v1/tenants/{}/agents/{}", a.id, agent.id);
    assert_eq!(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"status": "disabled"}))
        )
        .await
        .status(),
        200
    );
    assert!(!server.is_active(&token).await);
    assert_eq!(
        call(
            &server,
            Method::PATCH,
            &path,
            Some(&a.api_key),
            Some(json!({"status": "active"}))
        )
        .await
        .status(),
        200
    );
    assert!(server.is_active(&token).await);
    assert_eq!(
        call(&server, Method::DELETE, &path, Some(&a.api_key), None)
            .await
            .status(),
        204
    );
    assert!(!server.is_active(&token).await);
}
