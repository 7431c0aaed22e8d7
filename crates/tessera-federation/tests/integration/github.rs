//! GitHub, for which there is no real peer here: a small stand-in for its token endpoint and
//! REST API (`/user`, `/user/emails`) that answers as GitHub documents and checks what the
//! crate sends — the client secret in the body, the PKCE verifier matching the challenge of
//! the authorization URL, `Accept: application/json`, the bearer token and a User-Agent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tessera_core::{Clock, SystemClock};
use tessera_federation::{
    ExternalIdentity, FederationError, Provider, ProviderConfig, ProviderKind, Secret,
};
use url::Url;

const REDIRECT: &str = "http://127.0.0.1:9/oauth/github/callback";
const TOKEN: &str = "gho_16C7e42F292c6912E7710c838347Ae178B4a";
const REVOKED: &str = "gho_revoked";

#[derive(Default)]
struct Seen {
    /// The PKCE challenge of the authorization URL, set by the test.
    challenge: String,
    token_requests: Vec<HashMap<String, String>>,
    api_requests: Vec<(String, HeaderMap)>,
}

type Shared = Arc<Mutex<Seen>>;

async fn token(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut seen = seen.lock().unwrap();
    seen.token_requests.push(form.clone());
    assert_eq!(headers["accept"], "application/json");
    assert!(
        !headers.contains_key("authorization"),
        "GitHub takes the secret in the body"
    );
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    let valid_client = form.get("client_id").map(String::as_str) == Some("gh-client")
        && form.get("client_secret").map(String::as_str) == Some("gh-secret");
    let token = match form.get("code").map(String::as_str) {
        _ if !valid_client => None,
        _ if challenge != seen.challenge => None,
        Some("good-code") => Some(TOKEN),
        Some("revoked-code") => Some(REVOKED),
        _ => None,
    };
    // GitHub answers a refused code with 200 and an error body.
    Json(match token {
        Some(token) => {
            json!({"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})
        }
        None => json!({
            "error": "bad_verification_code",
            "error_description": "The code passed is incorrect or expired.",
            "error_uri": "https://docs.github.com/apps/troubleshooting"
        }),
    })
    .into_response()
}

fn api(seen: &Shared, path: &str, headers: HeaderMap) -> Result<(), Response> {
    let authorized = headers.get("authorization").and_then(|v| v.to_str().ok())
        == Some(&format!("Bearer {TOKEN}"));
    seen.lock()
        .unwrap()
        .api_requests
        .push((path.to_owned(), headers));
    if authorized {
        Ok(())
    } else {
        Err((
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response())
    }
}

async fn user(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(refused) = api(&seen, "user", headers) {
        return refused;
    }
    Json(json!({
        "login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
        "name": "The Octocat", "email": null, "type": "User"
    }))
    .into_response()
}

async fn emails(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    if let Err(refused) = api(&seen, "user/emails", headers) {
        return refused;
    }
    Json(json!([
        {"email": "octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
        {"email": "octocat@github.example", "primary": true, "verified": true, "visibility": "public"}
    ]))
    .into_response()
}

/// The stand-in on a free loopback port, and a provider configured for it.
async fn github() -> (Provider, Shared) {
    let seen = Shared::default();
    let app = Router::new()
        .route("/login/oauth/access_token", post(token))
        .route("/api/v3/user", get(user))
        .route("/api/v3/user/emails", get(emails))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = |path: &str| Some(Url::parse(&format!("{base}{path}")).unwrap());
    let config = ProviderConfig {
        kind: ProviderKind::Github,
        issuer: None,
        client_id: "gh-client".into(),
        client_secret: Secret::new("gh-secret"),
        scopes: None,
        token_endpoint_auth_method: None,
        authorization_endpoint: url("/login/oauth/authorize"),
        token_endpoint: url("/login/oauth/access_token"),
        // Without the trailing slash, as an Enterprise operator might write it.
        api_base_url: url("/api/v3"),
    };
    let provider = Provider::resolve("github", &config, reqwest::Client::new())
        .await
        .unwrap();
    (provider, seen)
}

/// Begins a sign-in and tells the stand-in the challenge its token endpoint must see.
fn begin(provider: &Provider, seen: &Shared) -> tessera_federation::Begin {
    let begin = provider.begin(REDIRECT);
    let url = Url::parse(&begin.authorization_url).unwrap();
    let params: HashMap<_, _> = url.query_pairs().into_owned().collect();
    seen.lock().unwrap().challenge = params["code_challenge"].clone();
    begin
}

async fn complete(
    provider: &Provider,
    begin: &tessera_federation::Begin,
    code: &str,
) -> Result<ExternalIdentity, FederationError> {
    provider
        .complete(
            code,
            &begin.pkce_verifier,
            &begin.nonce,
            REDIRECT,
            SystemClock.now(),
        )
        .await
}

#[tokio::test]
async fn a_github_user_signs_in() {
    let (provider, seen) = github().await;
    let begin = begin(&provider, &seen);
    let url = Url::parse(&begin.authorization_url).unwrap();
    assert_eq!(url.path(), "/login/oauth/authorize");
    let params: HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["client_id"], "gh-client");
    assert_eq!(params["redirect_uri"], REDIRECT);
    assert_eq!(params["scope"], "read:user user:email");
    assert_eq!(params["state"], begin.state);
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(!params.contains_key("nonce"));

    let identity = complete(&provider, &begin, "good-code").await.unwrap();
    assert_eq!(
        identity,
        ExternalIdentity {
            provider: "github".into(),
            subject: "583231".into(),
            email: Some("octocat@github.example".into()),
            email_verified: true,
            name: Some("The Octocat".into()),
        }
    );

    let seen = seen.lock().unwrap();
    let form = &seen.token_requests[0];
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], REDIRECT);
    assert_eq!(form["code_verifier"], begin.pkce_verifier);
    let paths: Vec<_> = seen.api_requests.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["user", "user/emails"]);
    for (_, headers) in &seen.api_requests {
        assert!(
            headers["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("tessera")
        );
        assert_eq!(headers["accept"], "application/vnd.github+json");
        assert_eq!(headers["x-github-api-version"], "2022-11-28");
    }
}

#[tokio::test]
async fn github_refusals_keep_their_error_codes() {
    let (provider, seen) = github().await;
    let begin = begin(&provider, &seen);
    match complete(&provider, &begin, "expired-code").await {
        Err(FederationError::TokenExchangeFailed { status, error, .. }) => {
            assert_eq!(status, 200, "GitHub refuses with 200");
            assert_eq!(error.as_deref(), Some("bad_verification_code"));
        }
        other => panic!("expected token_exchange_failed, got {other:?}"),
    }
    // The right code with another sign-in's verifier.
    let other = provider.begin(REDIRECT);
    let result = provider
        .complete(
            "good-code",
            &other.pkce_verifier,
            &begin.nonce,
            REDIRECT,
            SystemClock.now(),
        )
        .await;
    assert_eq!(result.map_err(|e| e.reason()), Err("token_exchange_failed"));
    // A token the API refuses.
    let result = complete(&provider, &begin, "revoked-code").await;
    assert_eq!(result.map_err(|e| e.reason()), Err("userinfo_failed"));
    // GitHub has no ID tokens.
    let result = provider
        .verify_id_token("a.b.c", "n", SystemClock.now())
        .await;
    assert_eq!(result.map_err(|e| e.reason()), Err("not_oidc"));
}
