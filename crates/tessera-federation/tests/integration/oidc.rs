//! OpenID Connect against a real OpenID Provider (npm `oidc-provider`): the whole sign-in, and
//! each check that must refuse a token, code or provider.
//!
//! Expiry: the peer's ID tokens live an hour; the expired-token test passes a `now` two hours
//! ahead to `complete` instead of waiting (the peer's `idTokenTTL` option exists for tests that
//! prefer a real short lifetime).

use std::sync::Arc;

use tessera_core::{Clock, SystemClock};
use tessera_federation::{
    Begin, ClientAuthMethod, ExternalIdentity, FederationError, LazyProvider, Provider,
    ProviderConfig, ProviderKind, Secret,
};
use tessera_testkit::{OidcClient, OidcProvider, OidcProviderOptions};
use time::{Duration, OffsetDateTime};
use url::Url;

/// Registered at the peer; never fetched: the login driver stops at the redirect.
const REDIRECT: &str = "http://127.0.0.1:9/oauth/callback";

/// The peer's clock is the real one.
fn now() -> OffsetDateTime {
    SystemClock.now()
}

async fn peer(clients: Vec<OidcClient>) -> OidcProvider {
    OidcProvider::start(&OidcProviderOptions {
        clients,
        ..OidcProviderOptions::default()
    })
    .await
}

fn config(issuer: &str, client_id: &str) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Oidc,
        issuer: Some(issuer.to_owned()),
        client_id: client_id.to_owned(),
        client_secret: Secret::new(format!("{client_id}-secret")),
        scopes: None,
        token_endpoint_auth_method: None,
        authorization_endpoint: None,
        token_endpoint: None,
        api_base_url: None,
    }
}

fn client(client_id: &str) -> OidcClient {
    OidcClient::new(client_id, &format!("{client_id}-secret"), REDIRECT)
}

async fn provider(peer: &OidcProvider, client_id: &str) -> Provider {
    Provider::resolve(
        "corp",
        &config(&peer.issuer, client_id),
        reqwest::Client::new(),
    )
    .await
    .unwrap()
}

/// Begins a sign-in, signs `account` in at the peer, and returns the sign-in and its code
/// after the callback checks a server would make (state, RFC 9207 `iss`).
async fn sign_in(peer: &OidcProvider, provider: &Provider, account: &str) -> (Begin, String) {
    let begin = provider.begin(REDIRECT);
    let callback = peer.login(&begin.authorization_url, account).await;
    assert!(callback.as_str().starts_with(REDIRECT), "{callback}");
    let param = |name: &str| {
        callback
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    assert_eq!(param("error"), None, "{callback}");
    assert_eq!(param("state").as_deref(), Some(begin.state.as_str()));
    provider
        .check_callback_issuer(param("iss").as_deref())
        .unwrap();
    let code = param("code").expect("a code in the callback");
    (begin, code)
}

async fn complete(
    provider: &Provider,
    begin: &Begin,
    code: &str,
) -> Result<ExternalIdentity, FederationError> {
    provider
        .complete(code, &begin.pkce_verifier, &begin.nonce, REDIRECT, now())
        .await
}

#[tokio::test]
async fn a_person_signs_in() {
    let peer = peer(vec![client("tessera")]).await;
    let lazy = LazyProvider::new(
        "corp",
        config(&peer.issuer, "tessera"),
        reqwest::Client::new(),
    )
    .unwrap();
    let provider = lazy.get().await.unwrap();
    assert!(
        Arc::ptr_eq(&provider, &lazy.get().await.unwrap()),
        "resolved once"
    );
    assert_eq!(provider.issuer(), Some(peer.issuer.as_str()));
    let debug = format!("{provider:?}");
    assert!(
        !debug.contains("tessera-secret") && debug.contains("***"),
        "{debug}"
    );

    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let identity = complete(&provider, &begin, &code).await.unwrap();
    assert_eq!(
        identity,
        ExternalIdentity {
            provider: "corp".into(),
            subject: "alice".into(),
            email: Some("alice@example.test".into()),
            email_verified: true,
            name: Some("User alice".into()),
        }
    );

    let (begin, code) = sign_in(&peer, &provider, "unverified").await;
    let identity = complete(&provider, &begin, &code).await.unwrap();
    assert_eq!(identity.email.as_deref(), Some("unverified@example.test"));
    assert!(!identity.email_verified);
}

/// A provider that keeps profile claims out of ID tokens (the spec's default): the email
/// comes from userinfo, for the same `sub`.
#[tokio::test]
async fn the_email_comes_from_userinfo_when_the_id_token_lacks_it() {
    let peer = OidcProvider::start(&OidcProviderOptions {
        clients: vec![client("tessera")],
        claims_in_id_token: Some(false),
        ..OidcProviderOptions::default()
    })
    .await;
    let provider = provider(&peer, "tessera").await;
    let (begin, code) = sign_in(&peer, &provider, "bob").await;
    let tokens = provider
        .exchange_code(&code, &begin.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    let claims = provider
        .verify_id_token(
            tokens.id_token.as_ref().unwrap().expose(),
            &begin.nonce,
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        claims.email, None,
        "the peer keeps the email out of the ID token"
    );

    let (begin, code) = sign_in(&peer, &provider, "bob").await;
    let identity = complete(&provider, &begin, &code).await.unwrap();
    assert_eq!(identity.subject, "bob");
    assert_eq!(identity.email.as_deref(), Some("bob@example.test"));
    assert!(identity.email_verified);
    assert_eq!(identity.name.as_deref(), Some("User bob"));
}

/// ID tokens signed with each algorithm the JWKS key says, and both ways of sending the
/// client secret.
#[tokio::test]
async fn every_signing_algorithm_and_client_authentication_method() {
    let cases = [
        ("ES256", "client_secret_post"),
        ("EdDSA", "client_secret_basic"),
        ("PS256", "client_secret_post"),
        ("RS256", "client_secret_basic"),
    ];
    let clients = cases
        .iter()
        .map(|(alg, method)| OidcClient {
            token_endpoint_auth_method: Some((*method).to_owned()),
            id_token_signed_response_alg: Some((*alg).to_owned()),
            ..client(&alg.to_lowercase())
        })
        .collect();
    let peer = OidcProvider::start(&OidcProviderOptions {
        clients,
        signing_algs: Some(cases.iter().map(|(alg, _)| (*alg).to_owned()).collect()),
        ..OidcProviderOptions::default()
    })
    .await;
    for (alg, method) in cases {
        let mut config = config(&peer.issuer, &alg.to_lowercase());
        if method == "client_secret_post" {
            config.token_endpoint_auth_method = Some(ClientAuthMethod::ClientSecretPost);
        }
        let provider = Provider::resolve("corp", &config, reqwest::Client::new())
            .await
            .unwrap();
        let (begin, code) = sign_in(&peer, &provider, "carol").await;
        let tokens = provider
            .exchange_code(&code, &begin.pkce_verifier, REDIRECT)
            .await
            .unwrap_or_else(|e| panic!("{alg} with {method}: {e}"));
        let id_token = tokens.id_token.unwrap();
        assert_eq!(header_alg(id_token.expose()), alg);
        let claims = provider
            .verify_id_token(id_token.expose(), &begin.nonce, now())
            .await
            .unwrap_or_else(|e| panic!("{alg}: {e}"));
        assert_eq!(claims.sub, "carol", "{alg}");
    }
    // The peer takes either method from any client, so what shows the secret is really sent
    // and checked either way is a wrong one being refused.
    for method in [
        ClientAuthMethod::ClientSecretBasic,
        ClientAuthMethod::ClientSecretPost,
    ] {
        let mut config = config(&peer.issuer, "es256");
        config.client_secret = Secret::new("wrong");
        config.token_endpoint_auth_method = Some(method);
        let provider = Provider::resolve("corp", &config, reqwest::Client::new())
            .await
            .unwrap();
        let (begin, code) = sign_in(&peer, &provider, "carol").await;
        match complete(&provider, &begin, &code).await {
            Err(FederationError::TokenExchangeFailed { status, error, .. }) => {
                assert_eq!((status, error.as_deref()), (401, Some("invalid_client")));
            }
            other => panic!("{method:?}: expected invalid_client, got {other:?}"),
        }
    }
}

fn header_alg(token: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = token.split('.').next().unwrap();
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
    header["alg"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn another_sign_ins_nonce_is_refused() {
    let peer = peer(vec![client("tessera")]).await;
    let provider = provider(&peer, "tessera").await;
    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let other = provider.begin(REDIRECT);
    let result = provider
        .complete(&code, &begin.pkce_verifier, &other.nonce, REDIRECT, now())
        .await;
    assert_eq!(result, Err(FederationError::NonceMismatch));
}

/// Client B's ID token, genuine and fresh, is refused by client A; and A cannot redeem the
/// code issued to B.
#[tokio::test]
async fn a_token_for_another_client_is_refused() {
    let peer = peer(vec![client("client-a"), client("client-b")]).await;
    let a = provider(&peer, "client-a").await;
    let b = provider(&peer, "client-b").await;

    let (begin, code) = sign_in(&peer, &b, "alice").await;
    let tokens = b
        .exchange_code(&code, &begin.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    let id_token = tokens.id_token.unwrap();
    b.verify_id_token(id_token.expose(), &begin.nonce, now())
        .await
        .expect("B's own token verifies for B");
    let result = a
        .verify_id_token(id_token.expose(), &begin.nonce, now())
        .await;
    assert_eq!(result, Err(FederationError::WrongAudience));

    let (begin, code) = sign_in(&peer, &b, "alice").await;
    let result = complete(&a, &begin, &code).await;
    assert_token_refused(result, "invalid_grant");
}

fn assert_token_refused(result: Result<ExternalIdentity, FederationError>, code: &str) {
    match result {
        Err(FederationError::TokenExchangeFailed { status, error, .. }) => {
            assert_eq!(status, 400);
            assert_eq!(error.as_deref(), Some(code));
        }
        other => panic!("expected token_exchange_failed {code}, got {other:?}"),
    }
}

#[tokio::test]
async fn an_issuer_that_is_not_exactly_the_configured_one_is_refused() {
    let peer = peer(vec![client("tessera")]).await;
    let port = peer.port;
    // Same server, same discovery document; the configured string differs.
    for configured in [
        format!("http://localhost:{port}"),
        format!("http://127.0.0.1:{port}/"),
    ] {
        let result = Provider::resolve(
            "corp",
            &config(&configured, "tessera"),
            reqwest::Client::new(),
        )
        .await;
        match result {
            Err(FederationError::WrongIssuer { expected, found }) => {
                assert_eq!(expected, configured);
                assert_eq!(found, peer.issuer);
            }
            other => panic!("{configured}: expected wrong_issuer, got {other:?}"),
        }
    }
    // A callback claiming to come from elsewhere (RFC 9207), or not saying, is refused too.
    let provider = provider(&peer, "tessera").await;
    let reason = |iss| provider.check_callback_issuer(iss).map_err(|e| e.reason());
    assert_eq!(reason(Some("http://127.0.0.1:1")), Err("wrong_issuer"));
    assert_eq!(reason(None), Err("wrong_issuer"));
    assert_eq!(reason(Some(&peer.issuer)), Ok(()));

    // Nobody listening: discovery fails.
    let result = Provider::resolve(
        "corp",
        &config("http://127.0.0.1:1", "tessera"),
        reqwest::Client::new(),
    )
    .await;
    assert_eq!(
        result.map(|_| ()).map_err(|e| e.reason()),
        Err("discovery_failed")
    );
}

#[tokio::test]
async fn a_code_is_redeemed_once() {
    let peer = peer(vec![client("tessera")]).await;
    let provider = provider(&peer, "tessera").await;
    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    complete(&provider, &begin, &code).await.unwrap();
    assert_token_refused(complete(&provider, &begin, &code).await, "invalid_grant");
}

#[tokio::test]
async fn a_code_needs_its_own_pkce_verifier() {
    let peer = peer(vec![client("tessera")]).await;
    let provider = provider(&peer, "tessera").await;
    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let other = provider.begin(REDIRECT);
    let result = provider
        .complete(&code, &other.pkce_verifier, &begin.nonce, REDIRECT, now())
        .await;
    assert_token_refused(result, "invalid_grant");
}

#[tokio::test]
async fn id_tokens_are_refused_outside_their_lifetime() {
    let peer = peer(vec![client("tessera")]).await;
    let provider = provider(&peer, "tessera").await;

    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let later = now() + Duration::hours(2);
    let result = provider
        .complete(&code, &begin.pkce_verifier, &begin.nonce, REDIRECT, later)
        .await;
    assert_eq!(result, Err(FederationError::IdTokenExpired));

    // Issued "an hour from now" as far as this clock knows.
    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let earlier = now() - Duration::hours(1);
    let result = provider
        .complete(&code, &begin.pkce_verifier, &begin.nonce, REDIRECT, earlier)
        .await;
    assert_eq!(result, Err(FederationError::IdTokenNotYetValid));
}

/// An ID token signed by another provider's key (a `kid` the issuer does not publish), and a
/// genuine token with its claims changed.
#[tokio::test]
async fn signatures_are_checked_against_the_issuers_keys() {
    let (peer, stranger) =
        tokio::join!(peer(vec![client("tessera")]), peer(vec![client("tessera")]));
    let provider = provider(&peer, "tessera").await;
    let strangers_provider = self::provider(&stranger, "tessera").await;

    let (begin, code) = sign_in(&stranger, &strangers_provider, "alice").await;
    let tokens = strangers_provider
        .exchange_code(&code, &begin.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    let result = provider
        .verify_id_token(tokens.id_token.unwrap().expose(), &begin.nonce, now())
        .await;
    assert!(
        matches!(
            result,
            Err(FederationError::UnknownSigningKey { kid: Some(_) })
        ),
        "{result:?}"
    );

    let (begin, code) = sign_in(&peer, &provider, "alice").await;
    let tokens = provider
        .exchange_code(&code, &begin.pkce_verifier, REDIRECT)
        .await
        .unwrap();
    let id_token = tokens.id_token.unwrap();
    let forged = replace_claim(id_token.expose(), "sub", "mallory");
    let result = provider.verify_id_token(&forged, &begin.nonce, now()).await;
    assert_eq!(result, Err(FederationError::BadSignature));
    provider
        .verify_id_token(id_token.expose(), &begin.nonce, now())
        .await
        .expect("the untouched token verifies");
}

/// `token` with one claim changed and its signature kept.
fn replace_claim(token: &str, claim: &str, value: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims[claim] = serde_json::json!(value);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test]
async fn the_authorization_url_asks_for_pkce_s256_and_a_nonce() {
    let peer = peer(vec![client("tessera")]).await;
    let provider = provider(&peer, "tessera").await;
    let begin = provider.begin(REDIRECT);
    let url = Url::parse(&begin.authorization_url).unwrap();
    assert!(url.as_str().starts_with(&format!("{}/auth?", peer.issuer)));
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["scope"], "openid email profile");
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["nonce"], begin.nonce);
    assert_eq!(params["state"], begin.state);
    // At least 128 bits each: 43 base64url characters carry 256.
    assert!(begin.state.len() >= 22 && begin.nonce.len() >= 22);
}
