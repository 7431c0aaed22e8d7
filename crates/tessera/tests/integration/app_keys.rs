//! `private_key_jwt` (RFC 7523) for applications: a client registered dynamically or through
//! the tenant's API with its public keys inline (`jwks`) or at a `jwks_uri` signs assertions
//! instead of holding a secret. `openid-client` (npm, `PrivateKeyJwt`) runs the code flow with
//! one; over plain HTTP, key rotation at a `jwks_uri` served here, every bad assertion
//! (`invalid_client`, nothing issued, the code left unspent), and tenant isolation.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::extract::State;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use tessera_crypto::Algorithm;
use tessera_testkit::{TestServer, TestTenant, peer};
use tokio::sync::Mutex;

use crate::authorize::{App, REDIRECT, code_with, oauth_error, person, redeem_form};
use crate::client_jwt::{ASSERTION_TYPE, ClientSigner, random_id, register_key};
use crate::support::{call, expect_error, expect_json};

const PASSWORD: &str = "correct horse battery staple";

/// A client's key set served on a loopback port, counting its fetches.
struct KeyHost {
    url: String,
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicU64>,
}

#[derive(Clone)]
struct Hosted {
    keys: Arc<Mutex<Value>>,
    fetches: Arc<AtomicU64>,
}

impl KeyHost {
    async fn start(signers: &[&ClientSigner]) -> Self {
        let hosted = Hosted {
            keys: Arc::new(Mutex::new(key_set(signers))),
            fetches: Arc::new(AtomicU64::new(0)),
        };
        let app = axum::Router::new()
            .route(
                "/jwks.json",
                axum::routing::get(|State(hosted): State<Hosted>| async move {
                    hosted.fetches.fetch_add(1, Ordering::SeqCst);
                    Json(hosted.keys.lock().await.clone())
                }),
            )
            .with_state(hosted.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://127.0.0.1:{port}/jwks.json"),
            keys: hosted.keys,
            fetches: hosted.fetches,
        }
    }

    async fn publish(&self, signers: &[&ClientSigner]) {
        *self.keys.lock().await = key_set(signers);
    }

    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::SeqCst)
    }
}

fn key_set(signers: &[&ClientSigner]) -> Value {
    json!({"keys": signers.iter().map(|s| {
        let mut jwk = s.public_jwk.clone();
        jwk["kid"] = json!(s.kid);
        jwk
    }).collect::<Vec<_>>()})
}

/// A server whose private-address policy lets it fetch the loopback key host, and which
/// refetches a key set for every unknown `kid` (no cooldown), with dynamic registration into a
/// tenant of its own.
async fn server() -> (TestServer, TestTenant) {
    let first = TestServer::start().await;
    let tenant = first.register_tenant("Apps").await;
    let tenant_id = tenant.id.parse().unwrap();
    let server = first
        .sibling_with(|c| {
            c.dynamic_registration_tenant = Some(tenant_id);
            c.oauth_allow_private_issuers = true;
            c.client_jwks_refetch_secs = 0;
        })
        .await;
    (server, tenant)
}

async fn register(server: &TestServer, body: Value) -> Response {
    server
        .http
        .post(server.url("/oauth2/register"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Assertion claims for `client` valid for a minute, `aud` = the token endpoint.
fn claims(server: &TestServer, client: &str) -> Value {
    let now = server.clock_now().unix_timestamp();
    json!({
        "iss": client, "sub": client, "aud": server.url("/oauth2/token"),
        "iat": now, "exp": now + 60, "jti": random_id(),
    })
}

/// `refresh_token` with a made-up token, authenticated by `assertion`: `invalid_grant` once the
/// client is authenticated, else `invalid_client`.
async fn probe(server: &TestServer, assertion: &str) -> Response {
    server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "tgr_x"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}

async fn authenticates(server: &TestServer, assertion: &str) -> bool {
    let response = probe(server, assertion).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    match (status, body["error"].as_str()) {
        (400, Some("invalid_grant")) => true,
        (401, Some("invalid_client")) => false,
        other => panic!("unexpected answer {other:?}: {body}"),
    }
}

#[tokio::test]
async fn openid_client_signs_in_with_a_registered_key_and_refreshes_its_id_token() {
    let (server, tenant) = server().await;
    let signer = ClientSigner::new(Algorithm::Es256);
    let registered = expect_json(
        register(
            &server,
            json!({
                "client_name": "Agent console",
                "redirect_uris": [REDIRECT],
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": key_set(&[&signer]),
                "scope": "openid email offline_access",
            }),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(registered["token_endpoint_auth_method"], "private_key_jwt");
    assert!(registered.get("client_secret").is_none(), "{registered}");
    // The keys are kept normalised: public members, the registered kid, `use: sig`.
    let kept = &registered["jwks"]["keys"][0];
    assert_eq!(kept["kid"], signer.kid.as_str());
    assert_eq!(kept["alg"], "ES256");
    assert!(kept.get("d").is_none());
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    let uri = registered["registration_client_uri"].as_str().unwrap();
    let token = registered["registration_access_token"].as_str().unwrap();
    let read = server
        .http
        .get(uri)
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let read = expect_json(read, 200).await;
    assert_eq!(read["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(read["jwks"], registered["jwks"]);

    let (user_id, _) = person(&server, "ada@example.com").await;
    let input = json!({
        "issuer": server.base,
        "client_id": client_id,
        "kid": signer.kid,
        "private_key_pkcs8": signer.pkcs8_base64(),
        "redirect_uri": REDIRECT,
        "scope": "openid email offline_access",
        "email": "ada@example.com",
        "password": PASSWORD,
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "openid_rp.mjs", "code-flow", &input)
    })
    .await
    .unwrap();
    let first = &out["id_token_claims"];
    assert_eq!(first["sub"], user_id);
    assert_eq!(first["aud"], client_id);
    assert!(first["nonce"].is_string());
    // OpenID Connect Core §12.2: the refresh answers with a new ID token that openid-client
    // verified, for the same person and sign-in, without the nonce.
    let refreshed = &out["refreshed"]["id_token_claims"];
    assert_eq!(refreshed["sub"], user_id);
    assert_eq!(refreshed["aud"], client_id);
    assert_eq!(refreshed["auth_time"], first["auth_time"]);
    assert!(refreshed.get("nonce").is_none(), "{refreshed}");
    assert!(refreshed["at_hash"].is_string());
    let access = out["refreshed"]["access_token"].as_str().unwrap();
    assert_eq!(
        server.introspect(&tenant.api_key, access).await["active"],
        true
    );

    // The client has no secret, and naming itself is not authenticating.
    let bare = server
        .http
        .post(server.url("/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", "tgr_x"),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    oauth_error(bare, 401, "invalid_client").await;
}

#[tokio::test]
async fn a_jwks_uri_is_refetched_for_a_new_key_and_bad_assertions_issue_nothing() {
    let (server, tenant) = server().await;
    let first = ClientSigner::new(Algorithm::Es256);
    let host = KeyHost::start(&[&first]).await;
    let created = expect_json(
        call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/oauth-clients", tenant.id),
            Some(&tenant.api_key),
            Some(json!({"name": "Keyed", "redirect_uris": [REDIRECT], "jwks_uri": host.url})),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(
        created["client"]["token_endpoint_auth_method"],
        "private_key_jwt"
    );
    assert_eq!(created["client"]["jwks_uri"], host.url.as_str());
    assert!(created.get("client_secret").is_none());
    let client_id = created["client"]["client_id"].as_str().unwrap().to_owned();
    assert_eq!(host.fetches(), 0, "keys are fetched on first use");

    assert!(authenticates(&server, &first.sign(&claims(&server, &client_id), |_| {})).await);
    assert_eq!(host.fetches(), 1);
    assert!(authenticates(&server, &first.sign(&claims(&server, &client_id), |_| {})).await);
    assert_eq!(host.fetches(), 1, "the set is kept");

    // The client rotates: a new kid makes Tessera fetch again, and the old key is gone.
    let second = ClientSigner::new(Algorithm::EdDsa);
    host.publish(&[&second]).await;
    assert!(authenticates(&server, &second.sign(&claims(&server, &client_id), |_| {})).await);
    assert_eq!(host.fetches(), 2);
    assert!(!authenticates(&server, &first.sign(&claims(&server, &client_id), |_| {})).await);

    // A person's code, then bad assertions: each is invalid_client and the code stays unspent.
    let (_, cookie) = person(&server, "ada@example.com").await;
    let app = App {
        client_id: client_id.clone(),
        secret: None,
    };
    let code = code_with(&server, &app, &cookie, &[]).await;
    let redeem = |assertion: String| {
        let server = &server;
        let code = code.clone();
        async move {
            let mut form = vec![("grant_type", "authorization_code")];
            form.extend(redeem_form(&code));
            form.push(("client_assertion_type", ASSERTION_TYPE));
            form.push(("client_assertion", &assertion));
            server
                .http
                .post(server.url("/oauth2/token"))
                .form(&form)
                .send()
                .await
                .unwrap()
        }
    };
    let stranger = ClientSigner::new(Algorithm::Es256);
    let now = server.clock_now().unix_timestamp();
    let with = |change: Value| {
        let mut c = claims(&server, &client_id);
        for (name, value) in change.as_object().unwrap() {
            c[name] = value.clone();
        }
        c
    };
    let replayed = second.sign(&claims(&server, &client_id), |_| {});
    assert!(authenticates(&server, &replayed).await);
    let bad = [
        (
            "must be",
            second.sign(&with(json!({"aud": "https://elsewhere.example"})), |_| {}),
        ),
        (
            "has expired",
            second.sign(&with(json!({"iat": now - 600, "exp": now - 300})), |_| {}),
        ),
        ("used before", replayed),
        (
            "unknown_signing_key",
            second.sign(&claims(&server, &client_id), |h| {
                h.kid = Some("nope".to_owned());
            }),
        ),
        (
            "not signed by a key the client registered",
            stranger.sign(&claims(&server, &client_id), |h| {
                h.kid = Some(second.kid.clone());
            }),
        ),
        (
            "`iss` must be its `sub`",
            second.sign(&with(json!({"iss": "someone-else"})), |_| {}),
        ),
    ];
    let fetched = host.fetches();
    for (why, assertion) in bad {
        let response = redeem(assertion).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "{why}: {body}"
        );
        let description = body["error_description"].as_str().unwrap();
        assert!(description.contains(why), "{why}: {body}");
    }
    // The unknown kid made Tessera look once more; the set still lacks it.
    assert_eq!(host.fetches(), fetched + 1);
    let response = redeem(second.sign(&claims(&server, &client_id), |_| {})).await;
    let tokens = expect_json(response, 200).await;
    assert!(tokens["id_token"].is_string() && tokens["access_token"].is_string());
}

#[tokio::test]
async fn keys_authenticate_their_own_client_only() {
    let (server, tenant) = server().await;
    let other = server.register_tenant("Other").await;
    let mine = ClientSigner::new(Algorithm::Es256);
    let client = |tenant: &TestTenant, body: Value| {
        let server = &server;
        let path = format!("/v1/tenants/{}/oauth-clients", tenant.id);
        let key = tenant.api_key.clone();
        async move {
            expect_json(
                call(server, Method::POST, &path, Some(&key), Some(body)).await,
                201,
            )
            .await
        }
    };
    let keyed = client(
        &tenant,
        json!({"name": "A", "redirect_uris": [REDIRECT], "jwks": key_set(&[&mine])}),
    )
    .await;
    let keyed_id = keyed["client"]["client_id"].as_str().unwrap().to_owned();
    // A client of the other tenant, and an agent there with a key of its own.
    let theirs = ClientSigner::new(Algorithm::Es256);
    let foreign = client(
        &other,
        json!({"name": "B", "redirect_uris": [REDIRECT], "jwks": key_set(&[&theirs])}),
    )
    .await;
    let foreign_id = foreign["client"]["client_id"].as_str().unwrap().to_owned();
    let agent = server.create_agent(&other, &["agents:read"]).await;
    let agents_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &other, &agent, &agents_key).await;
    let secret_client = client(&tenant, json!({"name": "S", "redirect_uris": [REDIRECT]})).await;
    let secret_id = secret_client["client"]["client_id"].as_str().unwrap();

    assert!(authenticates(&server, &mine.sign(&claims(&server, &keyed_id), |_| {})).await);
    for (what, assertion) in [
        (
            "B's client key for A's client",
            theirs.sign(&claims(&server, &keyed_id), |_| {}),
        ),
        (
            "A's key for B's client",
            mine.sign(&claims(&server, &foreign_id), |_| {}),
        ),
        (
            "B's agent key for A's client",
            agents_key.sign(&claims(&server, &keyed_id), |h| {
                h.kid = Some(mine.kid.clone());
            }),
        ),
        (
            "a key for a client with a secret",
            mine.sign(&claims(&server, secret_id), |_| {}),
        ),
    ] {
        assert!(!authenticates(&server, &assertion).await, "{what}");
    }
    // The agent's own assertion is still the agent's (client_credentials), not an application's.
    let agent_assertion = agents_key.sign(&claims(&server, &agent.id), |_| {});
    assert!(!authenticates(&server, &agent_assertion).await);

    // A keyed client cannot have a secret instead, nor a public client keys.
    for body in [
        json!({"name": "P", "redirect_uris": [REDIRECT], "public": true, "jwks": key_set(&[&mine])}),
        json!({"name": "K", "redirect_uris": [REDIRECT], "jwks": {"keys": []}}),
        json!({"name": "U", "redirect_uris": [REDIRECT], "jwks_uri": "http://keys.example.com/jwks"}),
    ] {
        let response = call(
            &server,
            Method::POST,
            &format!("/v1/tenants/{}/oauth-clients", tenant.id),
            Some(&tenant.api_key),
            Some(body),
        )
        .await;
        expect_error(response, 400, "invalid_parameter").await;
    }
}
