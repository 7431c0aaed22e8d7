//! DPoP (RFC 9449) beyond `client_credentials`: a certified relying party (npm `openid-client`)
//! gets a person's tokens bound to its key at the code exchange, reads userinfo with them (the
//! resource's nonce round trip counted), refreshes with the same key and is refused with
//! another or none; a code bound by `dpop_jkt` needs that key; a confidential client's refresh
//! tokens are not bound; the device grant and `jwt-bearer` bind too; the bound token as Bearer
//! is refused with a `DPoP` challenge; introspection shows `cnf` to the token's tenant only.

use serde_json::{Value, json};
use tessera_crypto::Algorithm;
use tessera_testkit::{TestServer, WorkloadIssuer, peer};

use crate::authorize::{
    App, CHALLENGE, PASSWORD, REDIRECT, authorize_url, code_with, get, param, person, redeem_form,
    redirected, register_client,
};
use crate::client_jwt::ClientSigner;
use crate::dpop::challenge_of;
use crate::support::{expect_json, jwt_parts};

/// openid-client's code flow with DPoP (`tests/peers/openid_rp.mjs code-flow-dpop`).
async fn code_flow(server: &TestServer, app: &App, dpop_jkt: Option<&str>) -> Value {
    let input = json!({
        "issuer": server.base,
        "client_id": app.client_id,
        "client_secret": app.secret,
        "redirect_uri": REDIRECT,
        "scope": "openid email offline_access",
        "email": "ada@example.com",
        "password": PASSWORD,
        "dpop_jkt": dpop_jkt,
    });
    tokio::task::spawn_blocking(move || {
        peer::run("node", "openid_rp.mjs", "code-flow-dpop", &input)
    })
    .await
    .unwrap()
}

/// A token request of `app` (client authentication as it registered), with a DPoP proof.
async fn app_token(
    server: &TestServer,
    app: &App,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> reqwest::Response {
    let mut request = app.post(server, "/oauth2/token", form);
    if let Some(proof) = proof {
        request = request.header("dpop", proof);
    }
    request.send().await.unwrap()
}

/// A proof of `POST /oauth2/token` by `key`, with the server's `nonce` when given.
fn token_proof(key: &ClientSigner, server: &TestServer, nonce: Option<&str>) -> String {
    let mut claims = key.proof_claims(server, "POST", &server.url("/oauth2/token"), None);
    if let Some(nonce) = nonce {
        claims["nonce"] = json!(nonce);
    }
    key.sign_proof(&claims)
}

/// The `DPoP-Nonce` of a `400 use_dpop_nonce` answer.
async fn asked_nonce(response: reqwest::Response) -> String {
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_owned();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    nonce
}

async fn refused(response: reqwest::Response, code: &str) -> Value {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some(code)),
        "{body}"
    );
    body
}

/// The form of an `authorization_code` token request for `code`.
fn code_form(code: &str) -> Vec<(&str, &str)> {
    let mut fields = redeem_form(code);
    fields.push(("grant_type", "authorization_code"));
    fields
}

fn bound_to(token: &Value, jkt: &str) {
    let (_, claims) = jwt_parts(token.as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], jkt, "{claims}");
}

#[tokio::test]
async fn openid_client_binds_a_persons_tokens_to_its_dpop_key() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let other_tenant = server.register_tenant("B").await;
    let app = register_client(&server, &tenant, true).await;
    let (user_id, cookie) = person(&server, "ada@example.com").await;

    let out = code_flow(&server, &app, Some("own")).await;
    let jkt = out["jkt"].as_str().unwrap();
    assert_eq!(out["tokens"]["token_type"], "dpop", "{out}");
    bound_to(&out["tokens"]["access_token"], jkt);
    assert_eq!(out["userinfo"]["sub"], user_id.as_str());
    let log = out["log"].as_array().unwrap();
    // The code was redeemed after a nonce round trip: the first proof, without one, spent
    // nothing.
    let token_calls: Vec<&Value> = log
        .iter()
        .filter(|e| e["url"].as_str().unwrap().ends_with("/oauth2/token"))
        .collect();
    assert_eq!(
        (&token_calls[0]["nonce"], &token_calls[0]["status"]),
        (&Value::Null, &json!(400)),
        "{out}"
    );
    assert_eq!(token_calls[1]["nonce"], token_calls[0]["dpop_nonce"]);
    assert_eq!(token_calls[1]["status"], 200);
    // Userinfo, from a fresh handle: refused without the nonce, with a DPoP challenge.
    let userinfo: Vec<&Value> = log
        .iter()
        .filter(|e| e["url"].as_str().unwrap().ends_with("/oauth2/userinfo"))
        .collect();
    assert_eq!(userinfo.len(), 2, "{out}");
    assert_eq!(
        (&userinfo[0]["nonce"], &userinfo[0]["status"]),
        (&Value::Null, &json!(401)),
        "{out}"
    );
    let asked = userinfo[0]["www_authenticate"].as_str().unwrap();
    assert!(
        asked.starts_with("DPoP error=\"use_dpop_nonce\"") && asked.contains("algs="),
        "{asked}"
    );
    assert_eq!(userinfo[1]["nonce"], userinfo[0]["dpop_nonce"], "{out}");
    assert_eq!(userinfo[1]["status"], 200);

    // Refreshed with the same key: bound again. With another key or none: refused, and the
    // refresh token is not spent by the refusal.
    assert_eq!(out["refreshed"]["token_type"], "dpop");
    bound_to(&out["refreshed"]["access_token"], jkt);
    for refusal in ["other_key", "no_proof"] {
        assert_eq!(
            (&out[refusal]["status"], &out[refusal]["error"]),
            (&json!(400), &json!("invalid_grant")),
            "{refusal}: {out}"
        );
    }
    assert_eq!(out["again"]["token_type"], "dpop");
    bound_to(&out["again"]["access_token"], jkt);

    // The bound token is no bearer token: userinfo refuses it so, with a DPoP challenge.
    let access = out["again"]["access_token"].as_str().unwrap();
    let as_bearer = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 401);
    let challenge = challenge_of(&as_bearer);
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\"")
            && challenge.ends_with("algs=\"ES256 EdDSA RS256\""),
        "{challenge}"
    );
    let body: Value = as_bearer.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    // An unbound token under the DPoP scheme neither.
    let plain_app = register_client(&server, &tenant, false).await;
    let code = code_with(&server, &plain_app, &cookie, &[]).await;
    let plain = expect_json(
        app_token(&server, &plain_app, &code_form(&code), None).await,
        200,
    )
    .await;
    assert_eq!(plain["token_type"], "Bearer");
    let plain = plain["access_token"].as_str().unwrap();
    let under_dpop = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .header("authorization", format!("DPoP {plain}"))
        .send()
        .await
        .unwrap();
    assert_eq!(under_dpop.status(), 401);
    assert!(challenge_of(&under_dpop).starts_with("DPoP error=\"invalid_token\""));
    // ... while as Bearer it works, and a bad bearer token keeps the Bearer challenge.
    let as_bearer = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(plain)
        .send()
        .await
        .unwrap();
    assert_eq!(as_bearer.status(), 200);
    let broken = server
        .http
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(format!("{plain}x"))
        .send()
        .await
        .unwrap();
    assert!(challenge_of(&broken).starts_with("Bearer "));

    // Introspection shows the binding, to the token's tenant only.
    let introspected = server.introspect(&tenant.api_key, access).await;
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], jkt);
    let elsewhere = server.introspect(&other_tenant.api_key, access).await;
    assert_eq!(elsewhere, json!({"active": false}));

    // The resource's metadata (RFC 9728) names the proof algorithms.
    let metadata: Value = server
        .http
        .get(server.url("/.well-known/oauth-protected-resource"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        json!(["ES256", "EdDSA", "RS256"])
    );
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_needs_a_proof_by_that_key() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let public = register_client(&server, &tenant, true).await;
    let (_, cookie) = person(&server, "ada@example.com").await;

    // openid-client redeems a code bound to another key than its own: refused.
    let out = code_flow(&server, &public, Some("other")).await;
    assert_eq!(
        (
            &out["code_refused"]["status"],
            &out["code_refused"]["error"]
        ),
        (&json!(400), &json!("invalid_grant")),
        "{out}"
    );

    // `dpop_jkt` must be a thumbprint.
    let url = authorize_url(
        &server,
        &public,
        &[
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("dpop_jkt", "not-a-thumbprint"),
        ],
    );
    let pairs = redirected(&get(&server, &url, Some(&cookie)).await);
    assert_eq!(param(&pairs, "error"), Some("invalid_request"));

    // A confidential client: the code bound to key A is not redeemed without a proof ...
    let app = register_client(&server, &tenant, false).await;
    let key_a = ClientSigner::new(Algorithm::Es256);
    let key_b = ClientSigner::new(Algorithm::EdDsa);
    let jkt = key_a.thumbprint();
    let code = code_with(&server, &app, &cookie, &[("dpop_jkt", &jkt)]).await;
    let fields = code_form(&code);
    refused(
        app_token(&server, &app, &fields, None).await,
        "invalid_grant",
    )
    .await;
    // ... nor with key B's (and the code is then used up).
    let code = code_with(&server, &app, &cookie, &[("dpop_jkt", &jkt)]).await;
    let fields = code_form(&code);
    let nonce = asked_nonce(
        app_token(
            &server,
            &app,
            &fields,
            Some(&token_proof(&key_b, &server, None)),
        )
        .await,
    )
    .await;
    let why = refused(
        app_token(
            &server,
            &app,
            &fields,
            Some(&token_proof(&key_b, &server, Some(&nonce))),
        )
        .await,
        "invalid_grant",
    )
    .await;
    assert!(
        why["error_description"]
            .as_str()
            .unwrap()
            .contains("another DPoP key"),
        "{why}"
    );
    // With key A's, after the nonce round trip (which does not spend the code): bound tokens.
    let code = code_with(&server, &app, &cookie, &[("dpop_jkt", &jkt)]).await;
    let fields = code_form(&code);
    asked_nonce(
        app_token(
            &server,
            &app,
            &fields,
            Some(&token_proof(&key_a, &server, None)),
        )
        .await,
    )
    .await;
    let issued = expect_json(
        app_token(
            &server,
            &app,
            &fields,
            Some(&token_proof(&key_a, &server, Some(&nonce))),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(issued["token_type"], "DPoP");
    bound_to(&issued["access_token"], &jkt);

    // A confidential client's refresh token is not bound to the key (RFC 9449 §5): a refresh
    // with key B's proof gets a token bound to key B, one without a proof a bearer token.
    let refresh = issued["refresh_token"].as_str().unwrap();
    let refreshed = expect_json(
        app_token(
            &server,
            &app,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            Some(&token_proof(&key_b, &server, Some(&nonce))),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(refreshed["token_type"], "DPoP");
    bound_to(&refreshed["access_token"], &key_b.thumbprint());
    let plain = expect_json(
        app_token(
            &server,
            &app,
            &[
                ("grant_type", "refresh_token"),
                (
                    "refresh_token",
                    refreshed["refresh_token"].as_str().unwrap(),
                ),
            ],
            None,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(plain["token_type"], "Bearer");
    assert!(
        jwt_parts(plain["access_token"].as_str().unwrap())
            .1
            .get("cnf")
            .is_none()
    );
}

#[tokio::test]
async fn openid_client_polls_the_device_grant_with_dpop() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let app = register_client(&server, &tenant, true).await;
    let (user_id, cookie) = person(&server, "ada@example.com").await;
    // openid-client waits out the interval in real time; the server's clock follows.
    let clock = std::sync::Arc::clone(&server.clock);
    let ticker = tokio::spawn(async move {
        loop {
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
            clock.advance(time::Duration::milliseconds(250));
        }
    });
    let input = json!({
        "issuer": server.base,
        "client_id": app.client_id,
        "scope": "openid offline_access",
        "cookie": cookie,
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "device_rp.mjs", "device-flow-dpop", &input)
    })
    .await
    .unwrap();
    ticker.abort();

    assert_eq!(out["tokens"]["token_type"], "dpop", "{out}");
    let jkt = out["jkt"].as_str().unwrap();
    bound_to(&out["tokens"]["access_token"], jkt);
    let introspected = server
        .introspect(
            &tenant.api_key,
            out["tokens"]["access_token"].as_str().unwrap(),
        )
        .await;
    assert_eq!(introspected["sub"], user_id.as_str());
    assert_eq!(introspected["cnf"]["jkt"], jkt);
    // The device grant is a public client's: its refresh token needs the same key.
    let refresh = out["tokens"]["refresh_token"].as_str().unwrap();
    let thief = ClientSigner::new(Algorithm::Es256);
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let nonce = asked_nonce(
        app_token(
            &server,
            &app,
            &form,
            Some(&token_proof(&thief, &server, None)),
        )
        .await,
    )
    .await;
    refused(
        app_token(
            &server,
            &app,
            &form,
            Some(&token_proof(&thief, &server, Some(&nonce))),
        )
        .await,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn the_jwt_bearer_grant_binds_with_dpop() {
    let server = crate::workload_identity::server(30).await;
    let issuer = WorkloadIssuer::start(300).await;
    let tenant = server.register_tenant("Acme").await;
    let other_tenant = server.register_tenant("Other").await;
    let agent = server.create_agent(&tenant, &["deploy"]).await;
    crate::workload_identity::trust(&server, &tenant, &issuer.issuer, &agent).await;
    let assertion = issuer
        .token(
            crate::workload_identity::AUDIENCE,
            crate::workload_identity::main_branch(),
        )
        .await;
    let grant = |proof: String| {
        let server = &server;
        let assertion = assertion.clone();
        async move {
            server
                .http
                .post(server.url("/oauth2/token"))
                .header("dpop", proof)
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.as_str()),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let key = ClientSigner::new(Algorithm::EdDsa);
    let nonce = asked_nonce(grant(token_proof(&key, &server, None)).await).await;
    // A proof of another URL is refused before the assertion is looked at.
    let mut claims = key.proof_claims(&server, "POST", &server.url("/oauth2/introspect"), None);
    claims["nonce"] = json!(nonce);
    refused(grant(key.sign_proof(&claims)).await, "invalid_dpop_proof").await;

    let issued = expect_json(grant(token_proof(&key, &server, Some(&nonce))).await, 200).await;
    assert_eq!(issued["token_type"], "DPoP");
    bound_to(&issued["access_token"], &key.thumbprint());
    let token = issued["access_token"].as_str().unwrap();
    let introspected = server.introspect(&tenant.api_key, token).await;
    assert_eq!(introspected["sub"], agent.id.as_str());
    assert_eq!(introspected["cnf"]["jkt"], key.thumbprint());
    assert_eq!(
        server.introspect(&other_tenant.api_key, token).await,
        json!({"active": false})
    );

    // The refused proof is audited; being sent a nonce is not a failure.
    let reasons: Vec<String> = server
        .audit_log()
        .await
        .into_iter()
        .filter(|e| e.action == "token.issue" && e.outcome == "failure")
        .map(|e| e.reason)
        .collect();
    assert_eq!(reasons, ["invalid_dpop_proof"]);
}
