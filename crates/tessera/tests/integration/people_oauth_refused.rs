//! The OAuth/OIDC door refusing a bad answer, over HTTP against the real OpenID Provider (npm
//! `oidc-provider`): another sign-in's nonce, an answer from another issuer, an ID token issued
//! to another client, an expired ID token, a replayed authorization code. Each bad answer is
//! made by the provider itself, through its configuration or the browser leg the test drives,
//! never by a stand-in. Each refusal is a clear 4xx (or `redirect_to?error=<reason>`), leaves
//! no user or identity behind, and is audited with its reason.
//!
//! Two cases the real provider cannot be made to produce stay tested in tessera-federation
//! only: an ID token whose `aud` lacks this client (oidc-provider always sets `aud` to the
//! client that redeemed the code, and refuses a code to any other), and an ID token whose
//! `iss` differs from the issuer of its discovery document and of its callback (oidc-provider
//! uses one issuer for all three, and Tessera checks the first two before the token).

use reqwest::Response;
use tessera_federation::{ProviderConfig, ProviderKind, Secret};
use tessera_testkit::{OidcClient, OidcProvider, OidcProviderOptions, TestServer};

use crate::people_oauth::{
    begin, call_back, param, refused_callbacks, setup, setup_with, sign_in, start, with_param,
};
use crate::support::{expect_error, expect_json, set_cookies};

/// The users and identities in the store: a refused sign-in leaves both as they were.
async fn people(server: &TestServer) -> (i64, i64) {
    (
        server.count_rows("users").await,
        server.count_rows("identities").await,
    )
}

/// Asserts a refused callback without `redirect_to`: 401 `sign_in_failed`, the message opening
/// with `reason`; returns the message.
async fn expect_refused(response: Response, reason: &str) -> String {
    let body = expect_error(response, 401, "sign_in_failed").await;
    let message = body["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with(&format!("{reason}: ")), "{message}");
    message
}

/// Asserts a refused callback of a sign-in begun with `redirect_to=/home`: back there with the
/// reason, and no session cookie.
fn expect_sent_home(server: &TestServer, response: &Response, reason: &str) {
    assert_eq!(response.status(), 302);
    let home = server.url(&format!("/home?error={reason}"));
    assert_eq!(response.headers()["location"], home.as_str());
    let cookies = set_cookies(response);
    assert!(
        !cookies.iter().any(|c| c.starts_with("tessera_session=")),
        "{cookies:?}"
    );
}

#[tokio::test]
async fn an_id_token_without_the_sign_ins_nonce_is_refused() {
    let (server, peer) = setup().await;
    let before = people(&server).await;

    // The browser leg is the test's, as it is an attacker's: the provider is asked for another
    // sign-in's nonce, and puts that one into the ID token.
    let begun = begin(&server, "google", "", None).await;
    let foreign = begin(&server, "google", "", None).await.param("nonce");
    let authorize = with_param(&begun.authorization_url, "nonce", foreign.as_deref());
    let callback = peer.login(authorize.as_str(), "nina").await;
    let message = expect_refused(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        "nonce_mismatch",
    )
    .await;
    assert!(message.contains("nonce"), "{message}");

    // Asked for none, it sends none; that is refused too (back to `redirect_to`).
    let begun = begin(&server, "google", "redirect_to=%2Fhome", None).await;
    let authorize = with_param(&begun.authorization_url, "nonce", None);
    let callback = peer.login(authorize.as_str(), "nina").await;
    let response = call_back(&server, &callback, Some(&begun.cookie)).await;
    expect_sent_home(&server, &response, "nonce_mismatch");

    assert_eq!(people(&server).await, before);
    assert_eq!(
        refused_callbacks(&server).await,
        ["nonce_mismatch", "nonce_mismatch"]
    );
}

/// The mix-up attack (RFC 9207): a sign-in begun with one issuer is answered by another.
#[tokio::test]
async fn an_answer_from_another_issuer_is_refused() {
    let (server, peer) = setup().await;
    let before = people(&server).await;
    // A second real provider where the attacker registered a client of the same id and
    // redirect URI; it answers with its own code and its own `iss`.
    let impostor = OidcProvider::start(&OidcProviderOptions {
        clients: vec![OidcClient::new(
            "google-client",
            "google-secret",
            &server.url("/v1/auth/oauth/google/callback"),
        )],
        ..OidcProviderOptions::default()
    })
    .await;
    let begun = begin(&server, "google", "", None).await;
    let mut authorize = begun.authorization_url.clone();
    authorize.set_port(Some(impostor.port)).unwrap();
    let callback = impostor.login(authorize.as_str(), "mallory").await;
    assert_eq!(param(&callback, "iss"), Some(impostor.issuer.clone()));
    let message = expect_refused(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        "wrong_issuer",
    )
    .await;
    assert!(message.contains(&impostor.issuer), "{message}");

    // The configured issuer announces that it always says who it is: an answer that does not
    // say is refused too (back to `redirect_to`).
    let begun = begin(&server, "google", "redirect_to=%2Fhome", None).await;
    let callback = peer
        .login(begun.authorization_url.as_str(), "mallory")
        .await;
    let unsigned = with_param(&callback, "iss", None);
    let response = call_back(&server, &unsigned, Some(&begun.cookie)).await;
    expect_sent_home(&server, &response, "wrong_issuer");

    assert_eq!(people(&server).await, before);
    assert_eq!(
        refused_callbacks(&server).await,
        ["wrong_issuer", "wrong_issuer"]
    );
}

/// A provider whose discovery document names an issuer other than the configured one, byte
/// for byte (here only a trailing `/` apart), is never sent a browser.
#[tokio::test]
async fn a_provider_that_names_another_issuer_is_not_used() {
    let peer = OidcProvider::start(&OidcProviderOptions::default()).await;
    let configured = format!("{}/", peer.issuer);
    let server = TestServer::start_with(|config| {
        config.oauth_allow_private_issuers = true;
        config.oauth_providers = [(
            "corp".to_owned(),
            ProviderConfig {
                kind: ProviderKind::Oidc,
                issuer: Some(configured.clone()),
                client_id: "corp-client".to_owned(),
                client_secret: Secret::new("corp-secret"),
                scopes: None,
                token_endpoint_auth_method: None,
                authorization_endpoint: None,
                token_endpoint: None,
                api_base_url: None,
            },
        )]
        .into();
    })
    .await;
    let body = expect_error(
        start(&server, "corp", "", None).await,
        502,
        "oauth_provider_failed",
    )
    .await;
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with("wrong_issuer: "), "{message}");
    assert!(message.contains(&configured), "{message}");
    assert_eq!(server.count_rows("challenges").await, 0);
}

/// oidc-provider sets `aud` to the client that redeemed the code, always; what it can be made
/// to send is an `azp` naming another client (`other`, the same provider's second client):
/// a token issued to that client, which `google` must refuse.
#[tokio::test]
async fn an_id_token_issued_to_another_client_is_refused() {
    let (server, peer) = setup_with(OidcProviderOptions {
        authorized_party: Some("other-client".to_owned()),
        ..OidcProviderOptions::default()
    })
    .await;
    let before = people(&server).await;
    let message = expect_refused(
        sign_in(&server, &peer, "google", "oscar", None).await,
        "wrong_audience",
    )
    .await;
    assert!(message.contains("another client"), "{message}");
    assert_eq!(people(&server).await, before);
    assert_eq!(refused_callbacks(&server).await, ["wrong_audience"]);

    // The same provider's tokens are fine for the client they name: the refusal was the
    // audience check, not a broken token.
    let response = sign_in(&server, &peer, "other", "oscar", None).await;
    expect_json(response, 201).await;
}

#[tokio::test]
async fn an_expired_id_token_is_refused() {
    // ID tokens live a minute: Tessera's clock can pass their expiry (and the minute of
    // leeway) while the sign-in's state, ten minutes, is still good.
    let (server, peer) = setup_with(OidcProviderOptions {
        id_token_ttl: Some(60),
        ..OidcProviderOptions::default()
    })
    .await;
    // While fresh, such a token signs in.
    let fresh = sign_in(&server, &peer, "google", "olive", None).await;
    expect_json(fresh, 201).await;

    let before = people(&server).await;
    let begun = begin(&server, "google", "", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "pete").await;
    server.clock.advance(time::Duration::minutes(5));
    let message = expect_refused(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        "id_token_expired",
    )
    .await;
    assert!(message.contains("expired"), "{message}");
    assert_eq!(people(&server).await, before);
    assert_eq!(refused_callbacks(&server).await, ["id_token_expired"]);
}

#[tokio::test]
async fn a_replayed_authorization_code_is_refused() {
    let (server, peer) = setup().await;
    let begun = begin(&server, "google", "", None).await;
    let callback = peer.login(begun.authorization_url.as_str(), "rita").await;
    expect_json(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        201,
    )
    .await;
    let signed_in = (people(&server).await, server.count_rows("sessions").await);

    // The same callback again: its state is used up.
    expect_error(
        call_back(&server, &callback, Some(&begun.cookie)).await,
        400,
        "invalid_state",
    )
    .await;
    // The same code under a fresh sign-in's state and cookie: the provider refuses it (the
    // code is used, and bound by PKCE to the sign-in that asked for it).
    let fresh = begin(&server, "google", "", None).await;
    let replayed = with_param(&callback, "state", fresh.param("state").as_deref());
    let message = expect_refused(
        call_back(&server, &replayed, Some(&fresh.cookie)).await,
        "token_exchange_failed",
    )
    .await;
    assert!(message.contains("invalid_grant"), "{message}");

    let now = (people(&server).await, server.count_rows("sessions").await);
    assert_eq!(now, signed_in);
    assert_eq!(
        refused_callbacks(&server).await,
        ["invalid_state", "token_exchange_failed"]
    );
}
