//! The OAuth/OIDC door over HTTP against a real OpenID Provider (npm `oidc-provider`, started
//! per test by the testkit, its login and consent forms driven over HTTP): the whole code flow
//! with PKCE and nonce, through Google and through any other issuer configured by its URL, the
//! state's single use and browser binding, linking, `redirect_to`, and the 503 of a provider
//! that is not configured. The refusals of a bad answer from the provider are in
//! `people_oauth_refused`.
//!
//! GitHub's flow (no ID token; the user from its REST API) has no real peer here; it is
//! tested in tessera-federation against a stand-in, and shares every server step but
//! `Provider::complete` with the OpenID flow tested here.

use reqwest::{Method, Response};
use serde_json::Value;
use tessera_federation::{ProviderConfig, ProviderKind, Secret};
use tessera_testkit::{OidcClient, OidcProvider, OidcProviderOptions, TestServer};
use url::Url;

use crate::people::{as_user, register};
use crate::support::{expect_error, expect_json, free_port, set_cookies};

pub(crate) const APP_ORIGIN: &str = "http://app.example.test";

/// A server with providers `google` and `other`: two clients of one real OpenID Provider, each
/// configured as any OpenID issuer is (Google too: `kind = "oidc"`, its issuer URL).
pub(crate) async fn setup() -> (TestServer, OidcProvider) {
    setup_with(OidcProviderOptions::default()).await
}

/// [`setup`] with a provider started with `options` (its clients are set here).
pub(crate) async fn setup_with(options: OidcProviderOptions) -> (TestServer, OidcProvider) {
    let port = free_port();
    let callback = |name: &str| format!("http://127.0.0.1:{port}/v1/auth/oauth/{name}/callback");
    let peer = OidcProvider::start(&OidcProviderOptions {
        clients: vec![
            OidcClient::new("google-client", "google-secret", &callback("google")),
            OidcClient::new("other-client", "other-secret", &callback("other")),
        ],
        ..options
    })
    .await;
    let provider = |client: &str| ProviderConfig {
        kind: ProviderKind::Oidc,
        issuer: Some(peer.issuer.clone()),
        client_id: format!("{client}-client"),
        client_secret: Secret::new(format!("{client}-secret")),
        scopes: None,
        token_endpoint_auth_method: None,
        authorization_endpoint: None,
        token_endpoint: None,
        api_base_url: None,
    };
    let server = TestServer::start_with(|config| {
        config.listen = ([127, 0, 0, 1], port).into();
        config.oauth_allow_private_issuers = true;
        config.sign_in_redirect_origins = vec![APP_ORIGIN.to_owned()];
        config.oauth_providers = [
            ("google".to_owned(), provider("google")),
            ("other".to_owned(), provider("other")),
        ]
        .into();
    })
    .await;
    (server, peer)
}

/// A begun sign-in: the provider's authorization URL and the browser-binding cookie.
pub(crate) struct Begun {
    pub(crate) authorization_url: Url,
    pub(crate) cookie: String,
}

impl Begun {
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        param(&self.authorization_url, name)
    }
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with its query parameter `name` set to `value`, or removed when `value` is None; the
/// other parameters keep their order.
pub(crate) fn with_param(url: &Url, name: &str, value: Option<&str>) -> Url {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(value) = value {
        pairs.push((name.to_owned(), value.to_owned()));
    }
    let mut changed = url.clone();
    changed.query_pairs_mut().clear().extend_pairs(pairs);
    changed
}

/// The value a `Set-Cookie` gives `name`, if any.
fn cookie_value(cookies: &[String], name: &str) -> Option<String> {
    cookies.iter().find_map(|c| {
        let (pair, _) = c.split_once(';').unwrap_or((c, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_owned)
    })
}

/// `GET /v1/auth/oauth/{provider}/start?{query}` (with a session bearer when given).
pub(crate) async fn start(
    server: &TestServer,
    provider: &str,
    query: &str,
    token: Option<&str>,
) -> Response {
    let path = format!("/v1/auth/oauth/{provider}/start?{query}");
    as_user(server, Method::GET, &path, token, None).await
}

pub(crate) async fn begin(
    server: &TestServer,
    provider: &str,
    query: &str,
    token: Option<&str>,
) -> Begun {
    let response = start(server, provider, query, token).await;
    assert_eq!(response.status(), 302, "{:?}", response.text().await);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let cookies = set_cookies(&response);
    let binding = cookies
        .iter()
        .find(|c| c.starts_with("tessera_oauth="))
        .expect("a browser-binding cookie");
    for attribute in [
        "HttpOnly",
        "SameSite=Lax",
        "Path=/v1/auth/oauth",
        "Max-Age=600",
    ] {
        assert!(binding.contains(attribute), "{binding}");
    }
    Begun {
        authorization_url: Url::parse(&location).unwrap(),
        cookie: cookie_value(&cookies, "tessera_oauth").unwrap(),
    }
}

/// Follows the provider's redirect back to Tessera, as the browser holding `cookie` would.
pub(crate) async fn call_back(
    server: &TestServer,
    callback: &Url,
    cookie: Option<&str>,
) -> Response {
    let mut request = server.http.get(callback.as_str());
    if let Some(cookie) = cookie {
        request = request.header("cookie", format!("tessera_oauth={cookie}"));
    }
    request.send().await.unwrap()
}

/// A whole sign-in as `account` through `provider`, without `redirect_to`.
pub(crate) async fn sign_in(
    server: &TestServer,
    peer: &OidcProvider,
    provider: &str,
    account: &str,
    token: Option<&str>,
) -> Response {
    let begun = begin(server, provider, "", token).await;
    let callback = peer.login(begun.authorization_url.as_str(), account).await;
    call_back(server, &callback, Some(&begun.cookie)).await
}

/// The reasons of the refused callbacks audited so far, oldest first.
pub(crate) async fn refused_callbacks(server: &TestServer) -> Vec<String> {
    server
        .audit_log()
        .await
        .into_iter()
        .filter(|row| row.action == "auth.oauth.callback" && row.outcome != "success")
        .map(|row| row.reason)
        .collect()
}

pub(crate) async fn me(server: &TestServer, grant: &Value) -> Value {
    let token = grant["access_token"].as_str();
    expect_json(
        as_user(server, Method::GET, "/v1/me", token, None).await,
        200,
    )
    .await
}

#[tokio::test]
async fn the_code_flow_creates_the_user_then_signs_the_same_user_in() {
    let (server, peer) = setup().await;
    let begun = begin(&server, "google", "", None).await;
    let authorize = &begun.authorization_url;
    assert!(authorize.as_str().starts_with(&peer.issuer), "{authorize}");
    assert_eq!(begun.param("client_id").as_deref(), Some("google-client"));
    assert_eq!(
        begun.param("redirect_uri").unwrap(),
        server.url("/v1/auth/oauth/google/callback")
    );
    assert_eq!(
        begun.param("code_challenge_method").as_deref(),
        Some("S256")
    );
    for value in ["state", "nonce", "code_challenge"] {
        assert!(begun.param(value).is_some_and(|v| v.len() >= 43), "{value}");
    }

    let callback = peer.login(authorize.as_str(), "alice").await;
    assert!(callback.as_str().starts_with(&server.base), "{callback}");
    let response = call_back(&server, &callback, Some(&begun.cookie)).await;
    let cookies = set_cookies(&response);
    // The binding is cleared; without redirect_to the session comes as JSON.
    assert_eq!(cookie_value(&cookies, "tessera_oauth").as_deref(), Some(""));
    let grant = expect_json(response, 201).await;
    assert_eq!(grant["created"], true);
    let found = me(&server, &grant).await;
    assert_eq!(found["user"]["email"], "alice@example.test");
    assert_eq!(found["user"]["name"], "User alice");
    let identities = found["identities"].as_array().unwrap();
    assert_eq!(identities.len(), 1);
    assert_eq!(identities[0]["kind"], "oauth:google");
    assert_eq!(identities[0]["subject"], "alice");

    let again = expect_json(sign_in(&server, &peer, "google", "alice", None).await, 200).await;
    assert_eq!(again["user"]["id"], grant["user"]["id"]);
    assert_eq!(again["created"], false);
    let sessions = expect_json(
        as_user(
            &server,
            Method::GET,
            "/v1/me/sessions",
            again["access_token"].as_str(),
            None,
        )
        .await,
        200,
    )
    .await;
    assert!(
        sessions["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["method"] == "oauth:google")
    );
    // Another account at the provider is another user.
    let bob = expect_json(sign_in(&server, &peer, "google", "bob", None).await, 201).await;
    assert_ne!(bob["user"]["id"], grant["user"]["id"]);

    let audit = server.audit_log().await;
    let callbacks = audit
        .iter()
        .filter(|row| row.action == "auth.oauth.callback" && row.outcome == "success")
        .count();
    assert_eq!(callbacks, 3);
}

/// Nothing about the door is Google's: any issuer configured by its URL (here `other`, through
/// discovery) signs people in, under its own identity kind.
#[tokio::test]
async fn a_generic_openid_issuer_signs_people_in_under_its_own_name() {
    let (server, peer) = setup().await;
    let begun = begin(&server, "other", "", None).await;
    assert_eq!(begun.param("client_id").as_deref(), Some("other-client"));
    assert_eq!(
        begun.param("redirect_uri").unwrap(),
        server.url("/v1/auth/oauth/other/callback")
    );
    let callback = peer.login(begun.authorization_url.as_str(), "olga").await;
    let grant = expect_json(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        201,
    )
    .await;
    let found = me(&server, &grant).await;
    assert_eq!(found["user"]["email"], "olga@example.test");
    assert_eq!(found["identities"][0]["kind"], "oauth:other");
    assert_eq!(found["identities"][0]["subject"], "olga");

    let again = expect_json(sign_in(&server, &peer, "other", "olga", None).await, 200).await;
    assert_eq!(again["user"]["id"], grant["user"]["id"]);
    assert_eq!(again["created"], false);
}

#[tokio::test]
async fn the_state_is_bound_to_its_browser_and_provider_and_works_once() {
    let (server, peer) = setup().await;

    // Without the browser's cookie, or with another sign-in's: refused, and the state is
    // used up by the attempt.
    let begun = begin(&server, "google", "", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "carol").await;
    let body = expect_error(
        call_back(&server, &callback, None).await,
        400,
        "invalid_state",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("another browser"),
        "{body}"
    );
    expect_error(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        400,
        "invalid_state",
    )
    .await;
    let first = begin(&server, "google", "", None).await;
    let second = begin(&server, "google", "", None).await;
    let callback = peer.login(first.authorization_url.as_str(), "carol").await;
    expect_error(
        call_back(&server, &callback, Some(&second.cookie)).await,
        400,
        "invalid_state",
    )
    .await;

    // A tampered state is unknown; a good callback cannot be replayed.
    let begun = begin(&server, "google", "", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "carol").await;
    let state = param(&callback, "state").unwrap();
    let tampered = with_param(&callback, "state", Some(&format!("{state}x")));
    expect_error(
        call_back(&server, &tampered, Some(&begun.cookie)).await,
        400,
        "invalid_state",
    )
    .await;
    expect_json(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        201,
    )
    .await;
    expect_error(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        400,
        "invalid_state",
    )
    .await;

    // A state begun with one provider is not accepted at another's callback.
    let begun = begin(&server, "other", "", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "carol").await;
    let crossed = server.url(&format!(
        "/v1/auth/oauth/google/callback?{}",
        callback.query().unwrap()
    ));
    expect_error(
        call_back(&server, &Url::parse(&crossed).unwrap(), Some(&begun.cookie)).await,
        400,
        "invalid_state",
    )
    .await;

    // The provider's own refusal, and a missing code, are clear 4xx errors.
    let begun = begin(&server, "google", "", None).await;
    let state = begun.param("state").unwrap();
    let denied = Url::parse(&server.url(&format!(
        "/v1/auth/oauth/google/callback?error=access_denied&state={state}"
    )))
    .unwrap();
    let body = expect_error(
        call_back(&server, &denied, Some(&begun.cookie)).await,
        401,
        "sign_in_failed",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("access_denied"),
        "{body}"
    );
    let begun = begin(&server, "google", "", None).await;
    let state = begun.param("state").unwrap();
    let iss = urlencode(&peer.issuer);
    let no_code = Url::parse(&server.url(&format!(
        "/v1/auth/oauth/google/callback?state={state}&iss={iss}"
    )))
    .unwrap();
    expect_error(
        call_back(&server, &no_code, Some(&begun.cookie)).await,
        400,
        "invalid_parameter",
    )
    .await;
    // A code issued to another sign-in fails the PKCE check at the provider.
    let one = begin(&server, "google", "", None).await;
    let two = begin(&server, "google", "", None).await;
    let one_back = peer.login(one.authorization_url.as_str(), "carol").await;
    let two_back = peer.login(two.authorization_url.as_str(), "carol").await;
    let swapped = server.url(&format!(
        "/v1/auth/oauth/google/callback?code={}&state={}&iss={}",
        param(&one_back, "code").unwrap(),
        param(&two_back, "state").unwrap(),
        param(&two_back, "iss").unwrap(),
    ));
    let body = expect_error(
        call_back(&server, &Url::parse(&swapped).unwrap(), Some(&two.cookie)).await,
        401,
        "sign_in_failed",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("token_exchange_failed"),
        "{body}"
    );

    let reasons = refused_callbacks(&server).await;
    for reason in ["browser_mismatch", "invalid_state", "access_denied"] {
        assert!(reasons.iter().any(|r| r == reason), "{reasons:?}");
    }
}

#[tokio::test]
async fn a_signed_in_user_links_the_account_which_then_belongs_to_them_only() {
    let (server, peer) = setup().await;
    let ada = register(&server, "ada@example.com").await;
    let token = ada["access_token"].as_str();
    let linked = expect_json(
        sign_in(&server, &peer, "google", "ada-google", token).await,
        200,
    )
    .await;
    assert_eq!(linked["user"]["id"], ada["user"]["id"]);
    assert_eq!(linked["created"], false);
    let identities = me(&server, &ada).await["identities"].clone();
    let kinds: Vec<_> = identities
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["kind"].as_str().unwrap())
        .collect();
    // The password and its confirmed address from the sign-up, and the provider's account.
    assert_eq!(kinds.len(), 3);
    assert!(kinds.contains(&"oauth:google"), "{kinds:?}");
    // The provider's account alone now signs Ada in; her address stays the one she confirmed.
    let alone = expect_json(
        sign_in(&server, &peer, "google", "ada-google", None).await,
        200,
    )
    .await;
    assert_eq!(alone["user"]["id"], ada["user"]["id"]);
    assert_eq!(alone["user"]["email"], "ada@example.com");

    // Eve cannot link Ada's account: 409, or an error on the redirect.
    let eve = register(&server, "eve@example.com").await;
    let eve_token = eve["access_token"].as_str();
    expect_error(
        sign_in(&server, &peer, "google", "ada-google", eve_token).await,
        409,
        "identity_taken",
    )
    .await;
    let begun = begin(&server, "google", "redirect_to=/done", eve_token).await;
    let callback = peer
        .login(begun.authorization_url.as_str(), "ada-google")
        .await;
    let response = call_back(&server, &callback, Some(&begun.cookie)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        server.url("/done?error=identity_taken").as_str()
    );
    assert_eq!(
        me(&server, &eve).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A linking sign-in whose session ended meanwhile is refused.
    let begun = begin(&server, "google", "", eve_token).await;
    let logout = as_user(&server, Method::POST, "/v1/auth/logout", eve_token, None).await;
    assert_eq!(logout.status(), 204);
    let callback = peer
        .login(begun.authorization_url.as_str(), "eve-google")
        .await;
    expect_error(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn redirect_to_is_held_to_allowed_origins_and_gets_the_session_cookies() {
    let (server, peer) = setup().await;
    for bad in [
        "https://evil.example/x",
        "//evil.example/x",
        "/\\evil.example/x",
        "javascript:alert(1)",
        "http://app.example.test.evil.example/",
        "http://user:pw@app.example.test/",
    ] {
        let query = format!("redirect_to={}", urlencode(bad));
        expect_error(
            start(&server, "google", &query, None).await,
            400,
            "invalid_parameter",
        )
        .await;
    }

    let target = format!("{APP_ORIGIN}/signed-in?tab=1");
    let query = format!("redirect_to={}", urlencode(&target));
    let begun = begin(&server, "google", &query, None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "dora").await;
    let response = call_back(&server, &callback, Some(&begun.cookie)).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], target.as_str());
    let cookies = set_cookies(&response);
    let session = cookie_value(&cookies, "tessera_session").expect("a session cookie");
    assert!(cookie_value(&cookies, "tessera_refresh").is_some_and(|r| r.starts_with("trt_")));
    // The cookie is a session: /v1/me answers with it.
    let found = server
        .http
        .get(server.url("/v1/me"))
        .header("cookie", format!("tessera_session={session}"))
        .send()
        .await
        .unwrap();
    let found = expect_json(found, 200).await;
    assert_eq!(found["identities"][0]["subject"], "dora");

    // A failure goes back to redirect_to with the reason.
    let begun = begin(&server, "google", "redirect_to=%2Fhome", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "dora").await;
    let response = call_back(&server, &callback, Some("not-the-cookie")).await;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers()["location"],
        server.url("/home?error=browser_mismatch").as_str()
    );
    assert_eq!(
        cookie_value(&set_cookies(&response), "tessera_session"),
        None
    );
}

#[tokio::test]
async fn a_provider_that_is_not_configured_answers_503_setup_required() {
    let server = TestServer::start().await;
    for path in [
        "/v1/auth/oauth/google/start",
        "/v1/auth/oauth/google/callback?code=x&state=y",
    ] {
        let response = as_user(&server, Method::GET, path, None, None).await;
        let body = expect_error(response, 503, "google_oauth_not_configured").await;
        assert_eq!(body["setup_required"], true);
    }
    let response = as_user(
        &server,
        Method::GET,
        "/v1/auth/oauth/github/start",
        None,
        None,
    )
    .await;
    expect_error(response, 503, "github_oauth_not_configured").await;
}

pub(crate) fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
