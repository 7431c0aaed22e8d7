//! Dynamic registration (RFC 7591) of the grants a CLI or MCP client asks for: the device grant
//! (RFC 8628, run by `openid-client` with the registered client), refusals as
//! `invalid_client_metadata` with nothing registered, and the token-issuance metric labelled
//! with each grant.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_testkit::{TestServer, TestTenant, peer};

use crate::authorize::{REDIRECT, oauth_error, person};
use crate::support::{call, expect_json, metrics};

const DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";

async fn server() -> (TestServer, TestTenant) {
    let first = TestServer::start().await;
    let tenant = first.register_tenant("CLI host").await;
    let tenant_id = tenant.id.parse().unwrap();
    let server = first
        .sibling_with(|c| c.dynamic_registration_tenant = Some(tenant_id))
        .await;
    (server, tenant)
}

async fn register(server: &TestServer, body: &Value) -> Response {
    server
        .http
        .post(server.url("/oauth2/register"))
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn device_start(server: &TestServer, client_id: &str) -> Response {
    server
        .http
        .post(server.url("/oauth2/device_authorization"))
        .form(&[("client_id", client_id), ("scope", "openid")])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_registered_device_client_runs_the_device_flow_counted_as_its_own_grant() {
    let (server, tenant) = server().await;
    // A CLI: public, the device grant and refresh tokens, nowhere to redirect to.
    let registered = expect_json(
        register(
            &server,
            &json!({
                "client_name": "tessera-cli",
                "token_endpoint_auth_method": "none",
                "grant_types": [DEVICE, "refresh_token"],
                "scope": "openid email offline_access",
                "software_id": "ignored-as-rfc-7591-asks",
            }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(registered["grant_types"], json!([DEVICE, "refresh_token"]));
    assert_eq!(registered["response_types"], json!([]));
    assert_eq!(registered["redirect_uris"], json!([]));
    let client_id = registered["client_id"].as_str().unwrap().to_owned();

    let (user_id, cookie) = person(&server, "ada@example.com").await;
    let clock = Arc::clone(&server.clock);
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            clock.advance(time::Duration::milliseconds(250));
        }
    });
    let input = json!({
        "issuer": server.base,
        "client_id": client_id,
        "scope": "openid email offline_access",
        "cookie": cookie,
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "device_rp.mjs", "device-flow", &input)
    })
    .await
    .unwrap();
    ticker.abort();
    assert_eq!(out["id_token_claims"]["sub"], user_id.as_str());
    assert_eq!(out["id_token_claims"]["aud"], client_id.as_str());
    let access = out["tokens"]["access_token"].as_str().unwrap();
    assert_eq!(
        server.introspect(&tenant.api_key, access).await["active"],
        true
    );

    // Device tokens are counted as such, not as authorization codes.
    let text = metrics(&server).await;
    assert!(
        text.contains("tessera_tokens_issued_total{grant_type=\"device_code\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("grant_type=\"authorization_code\""),
        "{text}"
    );

    // A client that registered only the code flow may not start the device flow, and a
    // device-only client has no authorization requests.
    let web = expect_json(
        register(
            &server,
            &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        web["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    let web_id = web["client_id"].as_str().unwrap();
    oauth_error(
        device_start(&server, web_id).await,
        400,
        "unauthorized_client",
    )
    .await;
    let poll = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", DEVICE),
            ("device_code", "tdc_x"),
            ("client_id", web_id),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(poll, 400, "unauthorized_client").await;
    let started = expect_json(device_start(&server, &client_id).await, 200).await;
    assert!(started["device_code"].is_string());
}

#[tokio::test]
async fn refused_metadata_is_invalid_client_metadata_and_registers_nothing() {
    let (server, tenant) = server().await;
    for body in [
        // A machine acting as itself is an agent, not an application.
        json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
        json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
        json!({"redirect_uris": [REDIRECT], "grant_types": ["refresh_token"]}),
        json!({"redirect_uris": [REDIRECT], "grant_types": []}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_jwt"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks": {"keys": []}, "jwks_uri": "https://keys.example.com/jwks"}),
        // The outbound policy: no private addresses unless the operator allows them.
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": "http://127.0.0.1:9/jwks"}),
        json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt",
               "jwks_uri": "http://keys.example.com/jwks"}),
        json!({"redirect_uris": [REDIRECT], "jwks_uri": "https://keys.example.com/jwks"}),
        // Wrong JSON types are metadata errors too.
        json!({"redirect_uris": REDIRECT}),
        json!({"redirect_uris": [REDIRECT], "grant_types": "authorization_code"}),
    ] {
        oauth_error(
            register(&server, &body).await,
            400,
            "invalid_client_metadata",
        )
        .await;
    }
    // The code flow needs a redirect URI.
    oauth_error(
        register(&server, &json!({"grant_types": ["authorization_code"]})).await,
        400,
        "invalid_redirect_uri",
    )
    .await;
    let listed = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/oauth-clients", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(listed["clients"], json!([]));

    // A registration switches to keys (RFC 7592): its secret goes, its keys show.
    let registered = expect_json(
        register(&server, &json!({"redirect_uris": [REDIRECT]})).await,
        201,
    )
    .await;
    let secret = registered["client_secret"].as_str().unwrap().to_owned();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let uri = registered["registration_client_uri"].as_str().unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    let keys = json!({"keys": [crate::client_jwt::ClientSigner::new(tessera_crypto::Algorithm::Es256).public_jwk]});
    let replaced = server
        .http
        .put(uri)
        .bearer_auth(token)
        .json(&json!({
            "client_id": client_id, "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "private_key_jwt", "jwks": keys,
            "grant_types": ["authorization_code", "refresh_token", DEVICE],
        }))
        .send()
        .await
        .unwrap();
    let replaced = expect_json(replaced, 200).await;
    assert_eq!(replaced["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(replaced["jwks"]["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        replaced["grant_types"],
        json!(["authorization_code", "refresh_token", DEVICE])
    );
    let with_secret = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(&client_id, Some(&secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "tgr_x")])
        .send()
        .await
        .unwrap();
    oauth_error(with_secret, 401, "invalid_client").await;
}

/// Refresh tokens go only to clients registered for the `refresh_token` grant: another gets no
/// refresh token even when it asks for `offline_access` (OpenID Connect Core §11 lets the
/// scope be ignored), and a client whose registration drops the grant (RFC 7592) can no longer
/// refresh with the token it holds.
#[tokio::test]
async fn refresh_tokens_only_for_clients_registered_for_them() {
    use crate::authorize::{App, code_with, redeem, redeem_form};
    let (server, _) = server().await;
    let (_, cookie) = person(&server, "ada@example.com").await;
    let registered = |grants: Value| {
        let server = &server;
        async move {
            let body = json!({"redirect_uris": [REDIRECT], "grant_types": grants});
            expect_json(register(server, &body).await, 201).await
        }
    };
    let tokens = |registration: Value| {
        let server = &server;
        let cookie = &cookie;
        async move {
            let app = App {
                client_id: registration["client_id"].as_str().unwrap().to_owned(),
                secret: registration["client_secret"].as_str().map(str::to_owned),
            };
            let extra = [("scope", "openid offline_access")];
            let code = code_with(server, &app, cookie, &extra).await;
            let tokens = expect_json(redeem(server, &app, &redeem_form(&code)).await, 200).await;
            (app, tokens)
        }
    };
    let refresh = |app: &App, token: &str| {
        server
            .http
            .post(server.url("/oauth2/token"))
            .basic_auth(&app.client_id, app.secret.as_deref())
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .send()
    };

    let (_, without) = tokens(registered(json!(["authorization_code"])).await).await;
    assert!(without["refresh_token"].is_null(), "{without}");
    assert_eq!(without["scope"], "openid", "{without}");

    let registration = registered(json!(["authorization_code", "refresh_token"])).await;
    let (app, with) = tokens(registration.clone()).await;
    let refresh_token = with["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = expect_json(refresh(&app, &refresh_token).await.unwrap(), 200).await;
    let refresh_token = refreshed["refresh_token"].as_str().unwrap().to_owned();

    let dropped = server
        .http
        .put(registration["registration_client_uri"].as_str().unwrap())
        .bearer_auth(registration["registration_access_token"].as_str().unwrap())
        .json(&json!({
            "client_id": app.client_id, "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code"],
        }))
        .send()
        .await
        .unwrap();
    expect_json(dropped, 200).await;
    let refused = refresh(&app, &refresh_token).await.unwrap();
    oauth_error(refused, 400, "unauthorized_client").await;
}
