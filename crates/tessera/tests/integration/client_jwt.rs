//! A client's own keys for the `private_key_jwt` and DPoP tests: generated here, registered with
//! Tessera, and signing client assertions and DPoP proofs the way a client does.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tessera_crypto::{Algorithm, GeneratedKey};
use tessera_testkit::{TestAgent, TestServer, TestTenant};

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A key pair a client holds.
pub struct ClientSigner {
    pub kid: String,
    pub public_jwk: Value,
    pub pkcs8: Vec<u8>,
    jose: jsonwebtoken::Algorithm,
    key: EncodingKey,
}

/// A random id (for `kid` and `jti`).
pub fn random_id() -> String {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    hex::encode(bytes)
}

impl ClientSigner {
    /// ES256 or EdDSA (the algorithms jsonwebtoken signs with from PKCS#8 DER).
    pub fn new(alg: Algorithm) -> Self {
        let kid = random_id();
        let generated = GeneratedKey::new(alg, &kid).unwrap();
        let (jose, key) = match alg {
            Algorithm::Es256 => (
                jsonwebtoken::Algorithm::ES256,
                EncodingKey::from_ec_der(&generated.private_pkcs8),
            ),
            Algorithm::EdDsa => (
                jsonwebtoken::Algorithm::EdDSA,
                EncodingKey::from_ed_der(&generated.private_pkcs8),
            ),
            Algorithm::Rs256 => unreachable!("the tests sign with ES256 and EdDSA"),
        };
        Self {
            kid,
            public_jwk: generated.public_jwk.clone(),
            pkcs8: generated.private_pkcs8.to_vec(),
            jose,
            key,
        }
    }

    pub fn pkcs8_base64(&self) -> String {
        STANDARD.encode(&self.pkcs8)
    }

    /// Signs `claims` with a header this client's `kid` names; `adjust` changes the header.
    pub fn sign(&self, claims: &Value, adjust: impl FnOnce(&mut Header)) -> String {
        let mut header = Header::new(self.jose);
        header.kid = Some(self.kid.clone());
        adjust(&mut header);
        jsonwebtoken::encode(&header, claims, &self.key).unwrap()
    }

    /// A client assertion for `agent` valid for a minute from `now`, with `aud` = the token
    /// endpoint.
    pub fn assertion_claims(&self, server: &TestServer, agent: &str) -> Value {
        let now = server.clock_now().unix_timestamp();
        json!({
            "iss": agent,
            "sub": agent,
            "aud": server.url("/oauth2/token"),
            "iat": now,
            "exp": now + 60,
            "jti": random_id(),
        })
    }

    pub fn assertion(&self, server: &TestServer, agent: &str) -> String {
        self.sign(&self.assertion_claims(server, agent), |_| {})
    }

    /// DPoP proof claims for `htm` `htu`, presenting `token` (its `ath`) when given.
    pub fn proof_claims(
        &self,
        server: &TestServer,
        htm: &str,
        htu: &str,
        token: Option<&str>,
    ) -> Value {
        let mut claims = json!({
            "jti": random_id(),
            "htm": htm,
            "htu": htu,
            "iat": server.clock_now().unix_timestamp(),
        });
        if let Some(token) = token {
            claims["ath"] = json!(ath(token));
        }
        claims
    }

    /// Signs proof `claims` with the public key in the header and `typ: dpop+jwt`.
    pub fn sign_proof(&self, claims: &Value) -> String {
        let jwk: Jwk = serde_json::from_value(self.public_jwk.clone()).unwrap();
        self.sign(claims, |header| {
            header.typ = Some("dpop+jwt".to_owned());
            header.kid = None;
            header.jwk = Some(jwk);
        })
    }

    pub fn proof(&self, server: &TestServer, htm: &str, path: &str, token: Option<&str>) -> String {
        self.sign_proof(&self.proof_claims(server, htm, &server.url(path), token))
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> String {
        let jwk: Jwk = serde_json::from_value(self.public_jwk.clone()).unwrap();
        jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
            .unwrap()
    }
}

/// base64url(SHA-256(token)).
pub fn ath(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(tessera_crypto::sha256(token.as_bytes()))
}

/// Registers `signer`'s public key for `agent` (asserting 201); returns the stored key.
pub async fn register_key(
    server: &TestServer,
    tenant: &TestTenant,
    agent: &TestAgent,
    signer: &ClientSigner,
) -> Value {
    let response = server
        .http
        .post(server.url(&format!(
            "/v1/tenants/{}/agents/{}/keys",
            tenant.id, agent.id
        )))
        .header("x-api-key", &tenant.api_key)
        .json(&json!({"jwk": signer.public_jwk, "kid": signer.kid}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

/// `client_credentials` authenticated by `assertion`, with extra headers (a DPoP proof).
pub async fn assertion_grant(
    server: &TestServer,
    assertion: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = server.http.post(server.url("/oauth2/token"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", assertion),
        ])
        .send()
        .await
        .unwrap()
}
