use jsonwebtoken::{EncodingKey, Header as JwtHeader};
use serde_json::{Value, json};
use tessera_crypto::{Algorithm as KeyAlg, GeneratedKey};
use time::macros::datetime;

use super::*;

const NOW: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

fn expected() -> Expected<'static> {
    Expected {
        issuer: "https://idp.example",
        client_id: "tessera",
        nonce: "n-0S6_WzA2Mj",
    }
}

fn claims() -> IdTokenClaims {
    IdTokenClaims {
        iss: "https://idp.example".into(),
        sub: "248289761001".into(),
        aud: vec!["tessera".into()],
        exp: NOW.unix_timestamp() + 600,
        iat: NOW.unix_timestamp(),
        nbf: None,
        nonce: Some("n-0S6_WzA2Mj".into()),
        azp: None,
        email: Some("jane@example.com".into()),
        email_verified: Some(true),
        name: None,
    }
}

fn check(adjust: impl FnOnce(&mut IdTokenClaims)) -> Result<(), &'static str> {
    let mut claims = claims();
    adjust(&mut claims);
    check_claims(&claims, expected(), NOW).map_err(|e| e.reason())
}

#[test]
fn claims_are_checked() {
    assert_eq!(check(|_| {}), Ok(()));
    assert_eq!(
        check(|c| c.iss = "https://idp.example/".into()),
        Err("wrong_issuer")
    );
    assert_eq!(
        check(|c| c.aud = vec!["other".into()]),
        Err("wrong_audience")
    );
    // Several audiences: `azp` must name us.
    let both = || vec!["other".to_owned(), "tessera".to_owned()];
    assert_eq!(check(|c| c.aud = both()), Err("wrong_audience"));
    assert_eq!(
        check(|c| {
            c.aud = both();
            c.azp = Some("tessera".into());
        }),
        Ok(())
    );
    assert_eq!(
        check(|c| c.azp = Some("other".into())),
        Err("wrong_audience")
    );
    assert_eq!(check(|c| c.nonce = None), Err("nonce_mismatch"));
    assert_eq!(
        check(|c| c.nonce = Some("n-0S6_WzA2Mk".into())),
        Err("nonce_mismatch")
    );
    assert_eq!(check(|c| c.sub = String::new()), Err("invalid_id_token"));
}

#[test]
fn time_claims_allow_small_skew_only() {
    let now = NOW.unix_timestamp();
    let leeway = EXPIRY_LEEWAY.whole_seconds();
    assert_eq!(check(|c| c.exp = now - leeway + 1), Ok(()));
    assert_eq!(check(|c| c.exp = now - leeway), Err("id_token_expired"));
    assert_eq!(check(|c| c.exp = i64::MIN), Err("id_token_expired"));
    let ahead = MAX_ISSUED_AHEAD.whole_seconds();
    assert_eq!(check(|c| c.iat = now + ahead), Ok(()));
    assert_eq!(
        check(|c| c.iat = now + ahead + 1),
        Err("id_token_not_yet_valid")
    );
    assert_eq!(check(|c| c.nbf = Some(now + leeway)), Ok(()));
    assert_eq!(
        check(|c| c.nbf = Some(now + leeway + 1)),
        Err("id_token_not_yet_valid")
    );
}

#[test]
fn an_empty_expected_nonce_matches_nothing() {
    let mut claims = claims();
    claims.nonce = Some(String::new());
    let expected = Expected {
        nonce: "",
        ..expected()
    };
    assert_eq!(
        check_claims(&claims, expected, NOW).map_err(|e| e.reason()),
        Err("nonce_mismatch")
    );
}

#[test]
fn claims_are_read_leniently_where_providers_differ() {
    let claims: IdTokenClaims = serde_json::from_value(json!({
        "iss": "https://idp.example", "sub": "1", "aud": "tessera",
        "exp": 1893456600.5, "iat": 1893456000, "email_verified": "true", "name": null
    }))
    .unwrap();
    assert_eq!(claims.aud, ["tessera"]);
    assert_eq!(claims.exp, 1893456600);
    assert_eq!(claims.email_verified, Some(true));
    assert_eq!(claims.name, None);
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn unsigned(header: Value) -> String {
    format!("{}.{}.", b64(&header), b64(&json!({"sub": "x"})))
}

#[test]
fn only_public_key_algorithms_are_accepted() {
    for alg in ["none", "HS256", "HS512", "ES256K", "Ed25519X"] {
        let token = unsigned(json!({"alg": alg, "kid": "k"}));
        assert!(
            matches!(
                Header::parse(&token),
                Err(FederationError::DisallowedAlgorithm(_))
            ),
            "{alg}"
        );
    }
    let header = Header::parse(&unsigned(json!({"alg": "ES256", "kid": "k"}))).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some("k"));
    let reason = |t: &str| Header::parse(t).map(|_| ()).map_err(|e| e.reason());
    assert_eq!(reason("a.b"), Err("invalid_id_token"));
    assert_eq!(reason("a.b.c.d.e"), Err("invalid_id_token"));
    assert_eq!(reason("!!.b.c"), Err("invalid_id_token"));
    let critical = unsigned(json!({"alg": "ES256", "crit": ["exp"], "exp": 1}));
    assert_eq!(reason(&critical), Err("invalid_id_token"));
}

/// A key of `alg` (from tessera-crypto) and an ID token with `claims` signed by it.
fn signed(alg: KeyAlg, claims: &Value) -> (Jwk, String) {
    let key = GeneratedKey::new(alg, "k1").unwrap();
    let (encoding, jose) = match alg {
        KeyAlg::Es256 => (
            EncodingKey::from_ec_der(&key.private_pkcs8),
            Algorithm::ES256,
        ),
        KeyAlg::EdDsa => (
            EncodingKey::from_ed_der(&key.private_pkcs8),
            Algorithm::EdDSA,
        ),
        // jsonwebtoken's RSA DER path takes PKCS#1 only; its PEM path unwraps PKCS#8.
        KeyAlg::Rs256 => {
            let pem = format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                base64::engine::general_purpose::STANDARD.encode(&*key.private_pkcs8)
            );
            (
                EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
                Algorithm::RS256,
            )
        }
    };
    let mut header = JwtHeader::new(jose);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(&header, claims, &encoding).unwrap();
    (serde_json::from_value(key.public_jwk).unwrap(), token)
}

fn claims_json() -> Value {
    serde_json::to_value(json!({
        "iss": "https://idp.example", "sub": "248289761001", "aud": "tessera",
        "exp": NOW.unix_timestamp() + 600, "iat": NOW.unix_timestamp(), "nonce": "n-0S6_WzA2Mj",
    }))
    .unwrap()
}

#[test]
fn signatures_verify_with_the_published_key() {
    for alg in [KeyAlg::Es256, KeyAlg::EdDsa, KeyAlg::Rs256] {
        let (jwk, token) = signed(alg, &claims_json());
        let header = Header::parse(&token).unwrap();
        let claims = verify_signature(&token, &jwk, header.alg).unwrap();
        assert_eq!(claims.sub, "248289761001", "{alg}");
        check_claims(&claims, expected(), NOW).unwrap();
    }
}

#[test]
fn a_changed_token_or_another_key_is_a_bad_signature() {
    let (jwk, token) = signed(KeyAlg::Es256, &claims_json());
    let (header, rest) = token.split_once('.').unwrap();
    let (_, signature) = rest.split_once('.').unwrap();
    let mut other_claims = claims_json();
    other_claims["sub"] = json!("attacker");
    let forged = format!("{header}.{}.{signature}", b64(&other_claims));
    let reason = |t: &str, k: &Jwk| {
        verify_signature(t, k, Algorithm::ES256)
            .map(|_| ())
            .map_err(|e| e.reason())
    };
    assert_eq!(reason(&forged, &jwk), Err("bad_signature"));
    let (other_jwk, _) = signed(KeyAlg::Es256, &claims_json());
    assert_eq!(reason(&token, &other_jwk), Err("bad_signature"));
}

#[test]
fn a_key_is_used_only_for_its_own_algorithm() {
    let (ec_jwk, _) = signed(KeyAlg::Es256, &claims_json());
    let (rsa_jwk, rsa_token) = signed(KeyAlg::Rs256, &claims_json());
    // An RS256 token checked against the EC key the kid names: refused before any crypto.
    assert_eq!(
        verify_signature(&rsa_token, &ec_jwk, Algorithm::RS256).map_err(|e| e.reason()),
        Err("invalid_id_token")
    );
    assert!(fits(&rsa_jwk, Algorithm::RS256));
    // The JWK says RS256; a PS256 header does not get to reinterpret it.
    assert!(!fits(&rsa_jwk, Algorithm::PS256));
    let mut encryption: Jwk = rsa_jwk.clone();
    encryption.common.public_key_use = Some(PublicKeyUse::Encryption);
    assert!(!fits(&encryption, Algorithm::RS256));
    let mut unlabelled = rsa_jwk;
    unlabelled.common.key_algorithm = None;
    assert!(fits(&unlabelled, Algorithm::PS256));
    assert!(!fits(&unlabelled, Algorithm::ES256));
}
