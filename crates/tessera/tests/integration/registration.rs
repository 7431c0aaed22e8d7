//! RFC 7592 §2.2: a dynamically registered client replaces its metadata with `PUT` on its
//! registration URI and its registration access token — validated as at registration, refused
//! to anyone else, audited.

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_testkit::TestServer;

use crate::authorize::{App, REDIRECT, authorize_url, get, oauth_error, person};
use crate::support::{call, expect_json};

const MOVED: &str = "http://127.0.0.1:9/moved";

async fn put(server: &TestServer, uri: &str, token: &str, body: &Value) -> Response {
    server
        .http
        .put(uri)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn read(server: &TestServer, uri: &str, token: &str) -> Value {
    let response = server
        .http
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_json(response, 200).await
}

/// `refresh_token` with a made-up token: `invalid_grant` once the client is authenticated,
/// `invalid_client` when it is not.
async fn client_authenticates(server: &TestServer, client_id: &str, secret: &str) -> bool {
    let response = server
        .http
        .post(server.url("/oauth2/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "tgr_x")])
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["error"] == "invalid_grant"
}

#[tokio::test]
async fn a_registration_replaces_its_metadata_with_its_token_only() {
    let first = TestServer::start().await;
    let tenant = first.register_tenant("MCP host").await;
    let tenant_id = tenant.id.parse().unwrap();
    let server = first
        .sibling_with(|c| c.dynamic_registration_tenant = Some(tenant_id))
        .await;
    let register = |body: Value| {
        let server = &server;
        async move {
            let response = server
                .http
                .post(server.url("/oauth2/register"))
                .json(&body)
                .send()
                .await
                .unwrap();
            expect_json(response, 201).await
        }
    };
    let registered = register(json!({
        "redirect_uris": [REDIRECT],
        "client_name": "CLI",
        "token_endpoint_auth_method": "none",
    }))
    .await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let uri = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = register(json!({"redirect_uris": [REDIRECT]})).await;
    let other_token = other["registration_access_token"].as_str().unwrap();

    let replacement = json!({
        "client_id": client_id,
        "redirect_uris": [MOVED],
        "client_name": "CLI v2",
        "token_endpoint_auth_method": "client_secret_basic",
        "scope": "openid offline_access",
    });
    // Only this registration's token replaces it.
    for wrong in [other_token, tenant.api_key.as_str(), "tra_x"] {
        oauth_error(
            put(&server, &uri, wrong, &replacement).await,
            401,
            "invalid_token",
        )
        .await;
    }
    // Refused metadata changes nothing.
    for (change, code) in [
        (
            json!({"client_id": other["client_id"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["http://app.example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"client_secret": "tcs_not_it"}),
            "invalid_client_metadata",
        ),
        (json!({"scope": "bad\"scope"}), "invalid_client_metadata"),
    ] {
        let mut body = replacement.clone();
        for (name, value) in change.as_object().unwrap() {
            body[name] = value.clone();
        }
        oauth_error(put(&server, &uri, &token, &body).await, 400, code).await;
    }
    let malformed = server
        .http
        .put(&uri)
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert!(malformed.status().is_client_error());
    let unchanged = read(&server, &uri, &token).await;
    assert_eq!(
        (&unchanged["client_name"], &unchanged["redirect_uris"]),
        (&json!("CLI"), &json!([REDIRECT]))
    );

    // Replaced: the public client became confidential, so it gets a secret, once.
    let replaced = put(&server, &uri, &token, &replacement).await;
    assert_eq!(replaced.headers()["cache-control"], "no-store");
    let replaced = expect_json(replaced, 200).await;
    assert_eq!(replaced["client_id"], client_id.as_str());
    assert_eq!(replaced["client_name"], "CLI v2");
    assert_eq!(replaced["redirect_uris"], json!([MOVED]));
    assert_eq!(replaced["scope"], "offline_access openid");
    assert!(replaced.get("registration_access_token").is_none());
    let secret = replaced["client_secret"].as_str().unwrap().to_owned();
    assert!(client_authenticates(&server, &client_id, &secret).await);
    let read_back = read(&server, &uri, &token).await;
    assert_eq!(
        read_back["token_endpoint_auth_method"],
        "client_secret_basic"
    );
    // The old redirect URI is gone.
    let (_, cookie) = person(&server, "ada@example.com").await;
    let app = App {
        client_id: client_id.clone(),
        secret: Some(secret.clone()),
    };
    let old = get(&server, &authorize_url(&server, &app, &[]), Some(&cookie)).await;
    oauth_error(old, 400, "invalid_request").await;

    // Replacing again with the secret (checked, kept): no new secret.
    let mut again = replacement.clone();
    again["client_secret"] = json!(secret);
    again["client_name"] = json!("CLI v3");
    let kept = expect_json(put(&server, &uri, &token, &again).await, 200).await;
    assert!(kept.get("client_secret").is_none());
    assert!(client_authenticates(&server, &client_id, &secret).await);

    let audit = expect_json(
        call(
            &server,
            Method::GET,
            &format!("/v1/tenants/{}/audit?action=oauth_client.update", tenant.id),
            Some(&tenant.api_key),
            None,
        )
        .await,
        200,
    )
    .await;
    let outcomes: Vec<(&str, &str)> = audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(outcomes.iter().filter(|(o, _)| *o == "success").count(), 2);
    assert!(
        outcomes.contains(&("failure", "invalid_redirect_uri")),
        "{outcomes:?}"
    );
}
