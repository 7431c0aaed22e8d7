//! Agents' public keys (`/v1/tenants/{t}/agents/{a}/keys`) and `private_key_jwt` client
//! authentication with them (RFC 7523): the happy path at the token, introspection and revocation
//! endpoints, and every refusal (replay, audience, expiry, lifetime, unknown or deleted key,
//! `none` and HS256, mixed methods), plus tenant isolation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::{Value, json};
use tessera_crypto::Algorithm;
use tessera_testkit::TestServer;

use crate::client_jwt::{ASSERTION_TYPE, ClientSigner, assertion_grant, register_key};
use crate::support::{call, expect_error, expect_json, jwt_parts};

const ED_PEM: &str = "-----BEGIN PUBLIC KEY-----\n\
    MCowBQYDK2VwAyEAemb5ZEK5jcDCXKuiOqkdjUxoS+42lmJEvAN0UJjUQ2s=\n\
    -----END PUBLIC KEY-----\n";

fn keys_path(tenant: &str, agent: &str) -> String {
    format!("/v1/tenants/{tenant}/agents/{agent}/keys")
}

async fn oauth_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    body
}

#[tokio::test]
async fn keys_are_registered_listed_and_deleted_within_their_tenant() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["read"]).await;
    let path = keys_path(&a.id, &agent.id);
    let signer = ClientSigner::new(Algorithm::Es256);

    // A JWK without a kid is named by its thumbprint; a PEM key works too.
    let mut bare = signer.public_jwk.clone();
    bare.as_object_mut().unwrap().remove("kid");
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"jwk": bare})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(created["kid"], signer.thumbprint());
    assert_eq!(created["thumbprint"], signer.thumbprint());
    assert_eq!(created["alg"], "ES256");
    assert!(created["jwk"].get("d").is_none());
    let pem = expect_json(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"pem": ED_PEM, "kid": "ed-1"})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(pem["alg"], "EdDSA");
    assert_eq!(pem["jwk"]["crv"], "Ed25519");

    // Bad input changes nothing.
    let mut private = signer.public_jwk.clone();
    private["d"] = json!("AAAA");
    let refused = [
        json!({"jwk": private}),
        json!({"jwk": {"kty": "oct", "k": "c2VjcmV0"}}),
        json!({"jwk": signer.public_jwk, "alg": "RS256"}),
        json!({"jwk": signer.public_jwk, "pem": ED_PEM}),
        json!({}),
        json!({"pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}),
        json!({"jwk": signer.public_jwk, "kid": "has space"}),
    ];
    for body in refused {
        expect_error(
            call(&server, Method::POST, &path, Some(&a.api_key), Some(body)).await,
            400,
            "invalid_parameter",
        )
        .await;
    }
    expect_error(
        call(
            &server,
            Method::POST,
            &path,
            Some(&a.api_key),
            Some(json!({"pem": ED_PEM, "kid": "ed-1"})),
        )
        .await,
        409,
        "conflict",
    )
    .await;
    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 2, "{listed}");

    // Tenant B neither sees nor touches A's agent's keys.
    expect_error(
        call(&server, Method::GET, &path, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    let b_path = keys_path(&b.id, &agent.id);
    expect_error(
        call(&server, Method::GET, &b_path, Some(&b.api_key), None).await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::POST,
            &b_path,
            Some(&b.api_key),
            Some(json!({"pem": ED_PEM})),
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("{b_path}/ed-1"),
            Some(&b.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("{path}/ed-1"),
            Some(&b.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;

    let deleted = call(
        &server,
        Method::DELETE,
        &format!("{path}/ed-1"),
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    expect_error(
        call(
            &server,
            Method::DELETE,
            &format!("{path}/ed-1"),
            Some(&a.api_key),
            None,
        )
        .await,
        404,
        "not_found",
    )
    .await;
    let listed = expect_json(
        call(&server, Method::GET, &path, Some(&a.api_key), None).await,
        200,
    )
    .await;
    assert_eq!(listed["keys"].as_array().unwrap().len(), 1);

    let actions: Vec<String> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|row| row.action.starts_with("agent.key."))
        .map(|row| format!("{} {}", row.action, row.target))
        .collect();
    assert_eq!(
        actions,
        [
            format!("agent.key.create {}/{}", agent.id, signer.thumbprint()),
            format!("agent.key.create {}/ed-1", agent.id),
            format!("agent.key.delete {}/ed-1", agent.id),
        ]
    );
}

#[tokio::test]
async fn private_key_jwt_authenticates_an_agent_at_token_introspection_and_revocation() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["read"]).await;
    let signer = ClientSigner::new(Algorithm::EdDsa);
    register_key(&server, &tenant, &agent, &signer).await;

    let issued = expect_json(
        assertion_grant(&server, &signer.assertion(&server, &agent.id), &[]).await,
        200,
    )
    .await;
    assert_eq!(issued["token_type"], "Bearer");
    let token = issued["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(token);
    assert_eq!(claims["sub"], agent.id);
    assert!(claims.get("cnf").is_none());

    // The issuer is an audience too, and introspection takes the same authentication.
    let mut claims = signer.assertion_claims(&server, &agent.id);
    claims["aud"] = json!([server.base.clone()]);
    let introspected = expect_json(
        server
            .http
            .post(server.url("/oauth2/introspect"))
            .form(&[
                ("token", token),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &signer.sign(&claims, |_| {})),
            ])
            .send()
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["client_id"], agent.id);

    let revoked = server
        .http
        .post(server.url("/oauth2/revoke"))
        .form(&[
            ("token", token),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &signer.assertion(&server, &agent.id)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert!(!server.is_active(token).await);
}

#[tokio::test]
async fn bad_client_assertions_are_refused() {
    let server = TestServer::start().await;
    let a = server.register_tenant("A").await;
    let b = server.register_tenant("B").await;
    let agent = server.create_agent(&a, &["read"]).await;
    let other = server.create_agent(&b, &["read"]).await;
    let signer = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &a, &agent, &signer).await;
    let stranger = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &b, &other, &stranger).await;

    // Used once, refused the second time.
    let once = signer.assertion(&server, &agent.id);
    expect_json(assertion_grant(&server, &once, &[]).await, 200).await;
    let replay = oauth_error(
        assertion_grant(&server, &once, &[]).await,
        401,
        "invalid_client",
    )
    .await;
    assert!(
        replay["error_description"]
            .as_str()
            .unwrap()
            .contains("used before"),
        "{replay}"
    );

    let now = server.clock_now().unix_timestamp();
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = signer.assertion_claims(&server, &agent.id);
        change(&mut claims);
        signer.sign(&claims, |_| {})
    };
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &signer.assertion_claims(&server, &agent.id),
        &jsonwebtoken::EncodingKey::from_secret(agent.client_secret.as_bytes()),
    )
    .unwrap();
    let none = {
        let claims = signer.assertion_claims(&server, &agent.id);
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        )
    };
    let refused: Vec<(&str, String)> = vec![
        (
            "wrong aud",
            with(&|c| c["aud"] = json!("https://elsewhere.example/token")),
        ),
        ("expired", with(&|c| c["exp"] = json!(now - 1))),
        ("too long", with(&|c| c["exp"] = json!(now + 3600))),
        (
            "no exp",
            with(&|c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
        ),
        (
            "no jti",
            with(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        ("iss not sub", with(&|c| c["iss"] = json!("someone"))),
        ("future iat", with(&|c| c["iat"] = json!(now + 600))),
        (
            "unknown key",
            ClientSigner::new(Algorithm::Es256).assertion(&server, &agent.id),
        ),
        (
            "another agent's key",
            stranger.sign(&signer.assertion_claims(&server, &agent.id), |_| {}),
        ),
        ("hs256", hs256),
        ("none", none),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, assertion) in refused {
        let response = assertion_grant(&server, &assertion, &[]).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{what}: {body}"
        );
    }

    // One method at a time, and the right assertion type.
    let mixed = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&agent.id, Some(&agent.client_secret))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &signer.assertion(&server, &agent.id)),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(mixed, 400, "invalid_request").await;
    let wrong_type = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:other"),
            ("client_assertion", &signer.assertion(&server, &agent.id)),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(wrong_type, 401, "invalid_client").await;

    // A deleted key signs nothing any more.
    let deleted = call(
        &server,
        Method::DELETE,
        &format!("{}/{}", keys_path(&a.id, &agent.id), signer.kid),
        Some(&a.api_key),
        None,
    )
    .await;
    assert_eq!(deleted.status(), 204);
    oauth_error(
        assertion_grant(&server, &signer.assertion(&server, &agent.id), &[]).await,
        401,
        "invalid_client",
    )
    .await;

    let failures = server
        .audit_log()
        .await
        .into_iter()
        .filter(|row| row.action == "token.issue" && row.outcome == "failure")
        .count();
    assert!(failures >= 14, "{failures} failed issues audited");
}

#[tokio::test]
async fn metadata_advertises_private_key_jwt_and_dpop() {
    let server = TestServer::start().await;
    let metadata = expect_json(
        call(
            &server,
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await,
        200,
    )
    .await;
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert!(
            metadata[field]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{field}: {metadata}"
        );
    }
    let algs = json!(["ES256", "EdDSA", "RS256"]);
    assert_eq!(
        metadata["token_endpoint_auth_signing_alg_values_supported"],
        algs
    );
    assert_eq!(metadata["dpop_signing_alg_values_supported"], algs);
}
