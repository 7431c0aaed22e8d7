//! DPoP (RFC 9449): a certified client (npm `openid-client`) gets a DPoP-bound token with
//! `private_key_jwt` and uses it through the gateway; the token endpoint's nonce and proof checks;
//! the gateway's refusal of a bound token as Bearer, with another key's proof, without `ath`, with
//! a replayed or stale proof, or without the server's nonce (unless configured otherwise), each
//! with its `DPoP` challenge.

use serde_json::{Value, json};
use tessera_crypto::Algorithm;
use tessera_testkit::{TestServer, peer};

use crate::client_jwt::{ClientSigner, assertion_grant, register_key};
use crate::gateway::gateway_to;
use crate::support::{TestRuntime, expect_json, jwt_parts};

async fn oauth_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    let actual = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!(actual, status, "{body}");
    assert_eq!(body["error"], code, "{body}");
    body
}

/// A nonce from the token endpoint: the answer to a proof without one (resources take it too).
pub(crate) async fn nonce(server: &TestServer, signer: &ClientSigner, agent: &str) -> String {
    let proof = signer.proof(server, "POST", "/oauth2/token", None);
    let response = assertion_grant(
        server,
        &signer.assertion(server, agent),
        &[("dpop", &proof)],
    )
    .await;
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_str()
        .unwrap()
        .to_owned();
    oauth_error(response, 400, "use_dpop_nonce").await;
    nonce
}

/// A DPoP-bound token for `agent`, bound to `dpop_key`.
async fn bound_token(
    server: &TestServer,
    client_key: &ClientSigner,
    dpop_key: &ClientSigner,
    agent: &str,
) -> String {
    let nonce = nonce(server, dpop_key, agent).await;
    let mut claims = dpop_key.proof_claims(server, "POST", &server.url("/oauth2/token"), None);
    claims["nonce"] = json!(nonce);
    let proof = dpop_key.sign_proof(&claims);
    let issued = expect_json(
        assertion_grant(
            server,
            &client_key.assertion(server, agent),
            &[("dpop", &proof)],
        )
        .await,
        200,
    )
    .await;
    assert_eq!(issued["token_type"], "DPoP");
    issued["access_token"].as_str().unwrap().to_owned()
}

/// A proof of `htm` `path` for `token`, carrying the server's `nonce`.
pub(crate) fn nonced_proof(
    key: &ClientSigner,
    server: &TestServer,
    (htm, path): (&str, &str),
    token: Option<&str>,
    nonce: &str,
) -> String {
    let mut claims = key.proof_claims(server, htm, &server.url(path), token);
    claims["nonce"] = json!(nonce);
    key.sign_proof(&claims)
}

/// The gateway's answer: status, body and `WWW-Authenticate` challenge.
async fn gateway_answer(server: &TestServer, headers: &[(&str, &str)]) -> (u16, Value, String) {
    let mut request = server.http.get(server.url("/api/echo/x?q=1"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = challenge_of(&response);
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        challenge,
    )
}

pub(crate) fn challenge_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

async fn gateway_status(server: &TestServer, headers: &[(&str, &str)]) -> (u16, Value) {
    let (status, body, _) = gateway_answer(server, headers).await;
    (status, body)
}

#[tokio::test]
async fn openid_client_gets_a_dpop_bound_token_with_private_key_jwt_and_uses_it_at_the_gateway() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &agent, &client_key).await;

    let input = json!({
        "issuer": server.base,
        "client_id": agent.id,
        "kid": client_key.kid,
        "private_key_pkcs8": client_key.pkcs8_base64(),
        "resource_url": server.url("/api/echo/x?q=1"),
    });
    let out = tokio::task::spawn_blocking(move || {
        peer::run("node", "openid_agent.mjs", "private-key-jwt-dpop", &input)
    })
    .await
    .unwrap();

    assert_eq!(out["plain"]["token_type"], "bearer", "{out}");
    let (_, plain) = jwt_parts(out["plain"]["access_token"].as_str().unwrap());
    assert!(plain.get("cnf").is_none());
    assert_eq!(out["bound"]["token_type"], "dpop", "{out}");
    let bound = out["bound"]["access_token"].as_str().unwrap();
    let (_, claims) = jwt_parts(bound);
    assert_eq!(claims["cnf"]["jkt"], out["jkt"]);
    assert_eq!(claims["sub"], agent.id);
    assert_eq!(out["resource"]["status"], 200, "{out}");
    assert_eq!(out["resource"]["body"]["path"], "/api/echo/x");
    // The gateway insisted on its nonce: the first proof had none and was refused with one,
    // which openid-client put in its second proof.
    let log = out["resource_log"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{out}");
    assert_eq!(
        (&log[0]["nonce"], &log[0]["status"]),
        (&Value::Null, &json!(401)),
        "{out}"
    );
    let asked = log[0]["www_authenticate"].as_str().unwrap();
    assert!(
        asked.starts_with("DPoP error=\"use_dpop_nonce\""),
        "{asked}"
    );
    assert!(asked.contains("algs=\"ES256 EdDSA RS256\""), "{asked}");
    assert!(log[0]["dpop_nonce"].is_string(), "{out}");
    assert_eq!(log[1]["nonce"], log[0]["dpop_nonce"], "{out}");
    assert_eq!(log[1]["status"], 200, "{out}");
    assert_eq!(out["introspection"]["active"], true);
    assert_eq!(out["introspection"]["token_type"], "DPoP");
    assert_eq!(out["introspection"]["cnf"]["jkt"], out["jkt"]);

    // The bound token is worthless as a bearer token.
    let (status, body) =
        gateway_status(&server, &[("authorization", &format!("Bearer {bound}"))]).await;
    assert_eq!(status, 401, "{body}");
    // And with a proof from another key, even one carrying the server's nonce.
    let thief = ClientSigner::new(Algorithm::Es256);
    let nonce = log[0]["dpop_nonce"].as_str().unwrap();
    let proof = nonced_proof(&thief, &server, ("GET", "/api/echo/x"), Some(bound), nonce);
    let (status, body) = gateway_status(
        &server,
        &[
            ("authorization", &format!("DPoP {bound}")),
            ("dpop", &proof),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("another key"),
        "{body}"
    );
}

#[tokio::test]
async fn the_token_endpoint_checks_dpop_proofs_and_nonces() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &agent, &client_key).await;
    let dpop_key = ClientSigner::new(Algorithm::EdDsa);

    let nonce = nonce(&server, &dpop_key, &agent.id).await;
    let token_url = server.url("/oauth2/token");
    let signed = |change: &dyn Fn(&mut Value)| {
        let mut claims = dpop_key.proof_claims(&server, "POST", &token_url, None);
        claims["nonce"] = json!(nonce);
        change(&mut claims);
        dpop_key.sign_proof(&claims)
    };
    let now = server.clock_now().unix_timestamp();
    let mut private_jwk = dpop_key.public_jwk.clone();
    private_jwk["d"] = json!("AAAA");
    let with_private_key = {
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(private_jwk).unwrap();
        let mut claims = dpop_key.proof_claims(&server, "POST", &token_url, None);
        claims["nonce"] = json!(nonce);
        // jsonwebtoken drops unknown members, so the private part is put back by hand.
        let mut header = serde_json::to_value(jsonwebtoken::Header {
            typ: Some("dpop+jwt".to_owned()),
            jwk: Some(jwk),
            ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA)
        })
        .unwrap();
        header["jwk"]["d"] = json!("AAAA");
        let original = dpop_key.sign_proof(&claims);
        let mut parts = original.splitn(2, '.');
        parts.next();
        use base64::Engine;
        format!(
            "{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string()),
            parts.next().unwrap()
        )
    };
    let refused: Vec<(&str, String)> = vec![
        ("wrong htm", signed(&|c| c["htm"] = json!("GET"))),
        (
            "wrong htu",
            signed(&|c| c["htu"] = json!(server.url("/oauth2/introspect"))),
        ),
        (
            "other host",
            signed(&|c| c["htu"] = json!("https://elsewhere.example/oauth2/token")),
        ),
        ("stale iat", signed(&|c| c["iat"] = json!(now - 600))),
        ("future iat", signed(&|c| c["iat"] = json!(now + 600))),
        (
            "no jti",
            signed(&|c| {
                c.as_object_mut().unwrap().remove("jti");
            }),
        ),
        ("wrong typ", {
            let mut claims = dpop_key.proof_claims(&server, "POST", &token_url, None);
            claims["nonce"] = json!(nonce);
            let jwk = serde_json::from_value(dpop_key.public_jwk.clone()).unwrap();
            dpop_key.sign(&claims, |h| {
                h.typ = Some("JWT".to_owned());
                h.jwk = Some(jwk);
            })
        }),
        ("no jwk", {
            let mut claims = dpop_key.proof_claims(&server, "POST", &token_url, None);
            claims["nonce"] = json!(nonce);
            dpop_key.sign(&claims, |h| h.typ = Some("dpop+jwt".to_owned()))
        }),
        ("private key in jwk", with_private_key),
        (
            "hs256",
            jsonwebtoken::encode(
                &jsonwebtoken::Header {
                    typ: Some("dpop+jwt".to_owned()),
                    ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256)
                },
                &dpop_key.proof_claims(&server, "POST", &token_url, None),
                &jsonwebtoken::EncodingKey::from_secret(b"secret"),
            )
            .unwrap(),
        ),
    ];
    for (what, proof) in refused {
        let response = assertion_grant(
            &server,
            &client_key.assertion(&server, &agent.id),
            &[("dpop", &proof)],
        )
        .await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{what}: {body}"
        );
    }

    // A forged or expired nonce asks for a fresh one.
    let forged = signed(&|c| c["nonce"] = json!("bm90LWEtbm9uY2U"));
    let response = assertion_grant(
        &server,
        &client_key.assertion(&server, &agent.id),
        &[("dpop", &forged)],
    )
    .await;
    assert!(response.headers().contains_key("dpop-nonce"));
    oauth_error(response, 400, "use_dpop_nonce").await;

    // The good proof works once.
    let proof = signed(&|_| {});
    let issued = expect_json(
        assertion_grant(
            &server,
            &client_key.assertion(&server, &agent.id),
            &[("dpop", &proof)],
        )
        .await,
        200,
    )
    .await;
    let (_, claims) = jwt_parts(issued["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], dpop_key.thumbprint());
    let replay = oauth_error(
        assertion_grant(
            &server,
            &client_key.assertion(&server, &agent.id),
            &[("dpop", &proof)],
        )
        .await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    assert!(
        replay["error_description"]
            .as_str()
            .unwrap()
            .contains("used before"),
        "{replay}"
    );

    // Ten minutes on, the nonce has expired.
    server.clock.advance(time::Duration::seconds(600));
    let late = {
        let mut claims = dpop_key.proof_claims(&server, "POST", &token_url, None);
        claims["nonce"] = json!(nonce);
        dpop_key.sign_proof(&claims)
    };
    oauth_error(
        assertion_grant(
            &server,
            &client_key.assertion(&server, &agent.id),
            &[("dpop", &late)],
        )
        .await,
        400,
        "use_dpop_nonce",
    )
    .await;
}

#[tokio::test]
async fn the_gateway_enforces_the_binding() {
    let runtime = TestRuntime::start().await;
    let server = gateway_to(&runtime, Vec::new()).await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &agent, &client_key).await;
    let key_a = ClientSigner::new(Algorithm::Es256);
    let key_b = ClientSigner::new(Algorithm::EdDsa);
    let token = bound_token(&server, &client_key, &key_a, &agent.id).await;
    let scheme = format!("DPoP {token}");
    let nonce = nonce(&server, &key_a, &agent.id).await;
    let echo = ("GET", "/api/echo/x");

    // Without the server's nonce: 401 with a fresh one (RFC 9449 §9).
    let bare = key_a.proof(&server, "GET", "/api/echo/x", Some(&token));
    let request = server
        .http
        .get(server.url("/api/echo/x?q=1"))
        .header("authorization", &scheme)
        .header("dpop", &bare)
        .send()
        .await
        .unwrap();
    assert_eq!(request.status(), 401);
    assert!(
        challenge_of(&request).starts_with("DPoP error=\"use_dpop_nonce\""),
        "{}",
        challenge_of(&request)
    );
    assert!(request.headers().contains_key("dpop-nonce"));

    let good = nonced_proof(&key_a, &server, echo, Some(&token), &nonce);
    let (status, echoed) =
        gateway_status(&server, &[("authorization", &scheme), ("dpop", &good)]).await;
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(echoed["headers"]["x-agent-id"], json!([agent.id]));

    let no_ath = key_a.sign_proof(&{
        let mut claims = key_a.proof_claims(&server, "GET", &server.url("/api/echo/x"), None);
        claims["nonce"] = json!(nonce);
        claims
    });
    let stale = key_a.sign_proof(&{
        let mut claims =
            key_a.proof_claims(&server, "GET", &server.url("/api/echo/x"), Some(&token));
        claims["nonce"] = json!(nonce);
        claims["iat"] = json!(server.clock_now().unix_timestamp() - 300);
        claims
    });
    let wrong_ath = nonced_proof(&key_a, &server, echo, Some("another-token"), &nonce);
    let wrong_htu = nonced_proof(&key_a, &server, ("GET", "/api/other"), Some(&token), &nonce);
    let wrong_htm = nonced_proof(
        &key_a,
        &server,
        ("POST", "/api/echo/x"),
        Some(&token),
        &nonce,
    );
    let other_key = nonced_proof(&key_b, &server, echo, Some(&token), &nonce);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "replayed proof",
            vec![("authorization", &scheme), ("dpop", &good)],
        ),
        ("no proof", vec![("authorization", &scheme)]),
        (
            "no ath",
            vec![("authorization", &scheme), ("dpop", &no_ath)],
        ),
        (
            "wrong ath",
            vec![("authorization", &scheme), ("dpop", &wrong_ath)],
        ),
        (
            "wrong htu",
            vec![("authorization", &scheme), ("dpop", &wrong_htu)],
        ),
        (
            "wrong htm",
            vec![("authorization", &scheme), ("dpop", &wrong_htm)],
        ),
        (
            "stale iat",
            vec![("authorization", &scheme), ("dpop", &stale)],
        ),
        (
            "key B",
            vec![("authorization", &scheme), ("dpop", &other_key)],
        ),
    ];
    for (what, headers) in cases {
        let (status, body, challenge) = gateway_answer(&server, &headers).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            challenge.starts_with("DPoP error=\"invalid_dpop_proof\", error_description=")
                && challenge.ends_with("algs=\"ES256 EdDSA RS256\""),
            "{what}: {challenge}"
        );
    }
    let bearer = format!("Bearer {token}");
    let (status, body, challenge) = gateway_answer(&server, &[("authorization", &bearer)]).await;
    assert_eq!(status, 401, "as Bearer: {body}");
    assert!(body["message"].as_str().unwrap().contains("DPoP"), "{body}");
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );

    // An unbound token is not accepted under the DPoP scheme, nor is an API key.
    let plain = expect_json(
        assertion_grant(&server, &client_key.assertion(&server, &agent.id), &[]).await,
        200,
    )
    .await;
    let plain = plain["access_token"].as_str().unwrap();
    let proof = nonced_proof(&key_a, &server, echo, Some(plain), &nonce);
    let (status, _, challenge) = gateway_answer(
        &server,
        &[
            ("authorization", &format!("DPoP {plain}")),
            ("dpop", &proof),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP error=\"invalid_token\""),
        "{challenge}"
    );
    let (status, _) =
        gateway_status(&server, &[("authorization", &format!("Bearer {plain}"))]).await;
    assert_eq!(status, 200);
    // A bearer token's refusal keeps the bearer challenge (RFC 6750).
    let (status, _, challenge) =
        gateway_answer(&server, &[("authorization", &format!("Bearer {plain}x"))]).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let (status, _) = gateway_status(
        &server,
        &[("authorization", &format!("DPoP {}", tenant.api_key))],
    )
    .await;
    assert_eq!(status, 401);

    // Introspection says what the token is bound to.
    let introspected = server.introspect(&tenant.api_key, &token).await;
    assert_eq!(introspected["token_type"], "DPoP");
    assert_eq!(introspected["cnf"]["jkt"], key_a.thumbprint());
}

#[tokio::test]
async fn tesseras_own_token_endpoints_enforce_the_binding_too() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["connections:read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &agent, &client_key).await;
    let dpop_key = ClientSigner::new(Algorithm::Es256);
    let token = bound_token(&server, &client_key, &dpop_key, &agent.id).await;
    let path = format!("/v1/agents/{}/connections/idp/token", agent.id);

    let as_bearer = server
        .http
        .get(server.url(&path))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert!(challenge_of(&as_bearer).starts_with("DPoP error=\"invalid_token\""));
    let body = crate::support::expect_error(as_bearer, 401, "unauthenticated").await;
    assert!(body["message"].as_str().unwrap().contains("DPoP"), "{body}");
    let nonce = nonce(&server, &dpop_key, &agent.id).await;
    let thief = ClientSigner::new(Algorithm::Es256);
    let stolen = server
        .http
        .get(server.url(&path))
        .header("authorization", format!("DPoP {token}"))
        .header(
            "dpop",
            nonced_proof(&thief, &server, ("GET", &path), Some(&token), &nonce),
        )
        .send()
        .await
        .unwrap();
    assert!(challenge_of(&stolen).starts_with("DPoP error=\"invalid_dpop_proof\""));
    crate::support::expect_error(stolen, 401, "unauthenticated").await;
    // Without the nonce: asked for it.
    let bare = server
        .http
        .get(server.url(&path))
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", dpop_key.proof(&server, "GET", &path, Some(&token)))
        .send()
        .await
        .unwrap();
    assert!(challenge_of(&bare).starts_with("DPoP error=\"use_dpop_nonce\""));
    assert!(bare.headers().contains_key("dpop-nonce"));
    crate::support::expect_error(bare, 401, "unauthenticated").await;

    // With its own key's proof the agent gets past authentication (to "not connected").
    let response = server
        .http
        .get(server.url(&path))
        .header("authorization", format!("DPoP {token}"))
        .header(
            "dpop",
            nonced_proof(&dpop_key, &server, ("GET", &path), Some(&token), &nonce),
        )
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(
        status != 401 && body["error"] != "unauthenticated",
        "{status} {body}"
    );
}

#[tokio::test]
async fn resources_may_be_configured_not_to_insist_on_a_nonce() {
    let server = TestServer::start_with(|config| config.dpop_resource_nonce = false).await;
    let tenant = server.register_tenant("A").await;
    let agent = server.create_agent(&tenant, &["connections:read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &agent, &client_key).await;
    let dpop_key = ClientSigner::new(Algorithm::Es256);
    // The token endpoint still insists.
    let token = bound_token(&server, &client_key, &dpop_key, &agent.id).await;
    let path = format!("/v1/agents/{}/connections/idp/token", agent.id);
    let send = |proof: String| {
        server
            .http
            .get(server.url(&path))
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
    };

    // A proof without a nonce passes authentication (to "not connected") ...
    let response = send(dpop_key.proof(&server, "GET", &path, Some(&token)))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert!(
        status != 401 && body["error"] != "unauthenticated",
        "{status} {body}"
    );
    // ... while a nonce that is not the server's is still refused.
    let forged = nonced_proof(
        &dpop_key,
        &server,
        ("GET", &path),
        Some(&token),
        "bm90LWEtbm9uY2U",
    );
    let response = send(forged).await.unwrap();
    assert!(challenge_of(&response).starts_with("DPoP error=\"use_dpop_nonce\""));
}

#[tokio::test]
async fn replays_and_nonces_hold_across_instances() {
    const PUBLIC: &str = "http://tessera.test";
    let first =
        TestServer::start_with(|config| config.public_url = Some(PUBLIC.parse().unwrap())).await;
    let second = first.sibling_with(|_| {}).await;
    let tenant = first.register_tenant("A").await;
    let agent = first.create_agent(&tenant, &["read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&first, &tenant, &agent, &client_key).await;
    let token_url = format!("{PUBLIC}/oauth2/token");
    let assertion = || {
        let mut claims = client_key.assertion_claims(&first, &agent.id);
        claims["aud"] = json!(token_url);
        client_key.sign(&claims, |_| {})
    };

    // An assertion used on one instance is refused on the other.
    let once = assertion();
    expect_json(assertion_grant(&first, &once, &[]).await, 200).await;
    let replay = oauth_error(
        assertion_grant(&second, &once, &[]).await,
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

    // A nonce from one instance is good on the other; the proof then works once, anywhere.
    let dpop_key = ClientSigner::new(Algorithm::EdDsa);
    let bare = dpop_key.sign_proof(&dpop_key.proof_claims(&first, "POST", &token_url, None));
    let asked = assertion_grant(&first, &assertion(), &[("dpop", &bare)]).await;
    let nonce = asked
        .headers()
        .get("dpop-nonce")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    oauth_error(asked, 400, "use_dpop_nonce").await;
    let mut claims = dpop_key.proof_claims(&first, "POST", &token_url, None);
    claims["nonce"] = json!(nonce);
    let proof = dpop_key.sign_proof(&claims);
    let issued = expect_json(
        assertion_grant(&second, &assertion(), &[("dpop", &proof)]).await,
        200,
    )
    .await;
    assert_eq!(issued["token_type"], "DPoP");
    oauth_error(
        assertion_grant(&first, &assertion(), &[("dpop", &proof)]).await,
        400,
        "invalid_dpop_proof",
    )
    .await;
    let introspected = first
        .introspect(&tenant.api_key, issued["access_token"].as_str().unwrap())
        .await;
    assert_eq!(introspected["cnf"]["jkt"], dpop_key.thumbprint());
}

#[tokio::test]
async fn a_bound_token_is_not_exchanged_for_a_bearer_one() {
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let subject = server.create_agent(&tenant, &["read"]).await;
    let actor = server.create_agent(&tenant, &["read"]).await;
    let client_key = ClientSigner::new(Algorithm::Es256);
    register_key(&server, &tenant, &subject, &client_key).await;
    let dpop_key = ClientSigner::new(Algorithm::Es256);
    let bound = bound_token(&server, &client_key, &dpop_key, &subject.id).await;

    // Whoever holds the bound token without its key gets nothing unbound for it ...
    let why = crate::token_exchange::refused(
        crate::token_exchange::exchange(&server, &actor, &bound, &[]).await,
        400,
        "invalid_grant",
    )
    .await;
    assert!(why.contains("DPoP"), "{why}");
    // ... while the same agent's bearer token is exchanged.
    let bearer = server.token(&subject, None).await;
    let (_, claims, _) = crate::token_exchange::exchanged(&server, &actor, &bearer, &[]).await;
    assert_eq!(claims["sub"], subject.id);
    assert_eq!(claims["act"]["sub"], actor.id);
}

/// A token exchange with a proof binds the new token to the proof's key, after the same nonce
/// round trip as every grant; the gateway then takes it only with a proof by that key.
#[tokio::test]
async fn an_exchange_with_a_proof_binds_the_new_token() {
    use crate::token_exchange::{ACCESS_TOKEN, TOKEN_EXCHANGE};
    let server = TestServer::start().await;
    let tenant = server.register_tenant("A").await;
    let subject = server.create_agent(&tenant, &["read"]).await;
    let actor = server.create_agent(&tenant, &["read"]).await;
    let bearer = server.token(&subject, None).await;
    let dpop_key = ClientSigner::new(Algorithm::Es256);
    let exchange = |proof: String| {
        server
            .http
            .post(server.url("/oauth2/token"))
            .basic_auth(&actor.id, Some(&actor.client_secret))
            .header("dpop", proof)
            .form(&[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", bearer.as_str()),
                ("subject_token_type", ACCESS_TOKEN),
            ])
            .send()
    };

    let first = exchange(dpop_key.proof(&server, "POST", "/oauth2/token", None))
        .await
        .unwrap();
    let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
    oauth_error(first, 400, "use_dpop_nonce").await;
    let proof = nonced_proof(&dpop_key, &server, ("POST", "/oauth2/token"), None, &nonce);
    let issued = expect_json(exchange(proof).await.unwrap(), 200).await;
    assert_eq!(issued["token_type"], "DPoP", "{issued}");
    let token = issued["access_token"].as_str().unwrap();
    let claims = jwt_parts(token).1;
    assert_eq!(claims["cnf"]["jkt"], dpop_key.thumbprint());
    assert_eq!(claims["act"]["sub"], actor.id);

    // As a bearer token it is refused where it is used.
    let authorization = format!("Bearer {token}");
    let (status, _, challenge) =
        gateway_answer(&server, &[("authorization", &authorization)]).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP") && challenge.contains("invalid_token"),
        "{challenge}"
    );
}
