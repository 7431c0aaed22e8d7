//! Keys that clients hold and Tessera only verifies with: a public key an agent registers (a JWK
//! or a PEM public key, kept as a normalised public JWK with its RFC 7638 thumbprint), the key in
//! a DPoP proof's header, and verifying a JWS with such a key. Only ES256 (P-256), EdDSA
//! (Ed25519) and RS256 (2048 bits or more) are accepted: never `none`, never a shared-secret HS*.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{DecodingKey, Validation};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::signing::Algorithm;

/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;
/// JWK members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientKeyError {
    #[error("the key is neither a public JWK nor a PEM public key")]
    Unreadable,
    #[error("the key holds private material; send the public key only")]
    Private,
    #[error("the key is not an EC P-256, Ed25519 or RSA key")]
    UnsupportedKey,
    #[error("the algorithm is not one of ES256, EdDSA, RS256, or does not fit the key")]
    Algorithm,
    #[error("an RSA key needs at least 2048 bits")]
    WeakKey,
}

/// Why a JWS signed with a client's key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClientJwtError {
    #[error("not a well-formed JWT")]
    Malformed,
    #[error("the `alg` is not one of ES256, EdDSA, RS256")]
    AlgorithmNotAllowed,
    #[error("the signature does not verify with the key")]
    BadSignature,
}

/// A client's public key, normalised: only the public members, `kid`, `alg` and `use: sig`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey {
    pub kid: String,
    pub alg: Algorithm,
    /// The RFC 7638 SHA-256 thumbprint, base64url (DPoP's `jkt`).
    pub thumbprint: String,
    pub jwk: Value,
}

impl ClientKey {
    /// A key from a JWK. `alg` (or the JWK's own `alg`) must fit the key; the `kid` defaults to
    /// the thumbprint.
    pub fn from_jwk(value: &Value, alg: Option<&str>) -> Result<Self, ClientKeyError> {
        let object = value.as_object().ok_or(ClientKeyError::Unreadable)?;
        if PRIVATE_MEMBERS.iter().any(|m| object.contains_key(*m)) {
            return Err(
                if object.get("kty").and_then(Value::as_str) == Some("oct") {
                    ClientKeyError::UnsupportedKey
                } else {
                    ClientKeyError::Private
                },
            );
        }
        let jwk: Jwk =
            serde_json::from_value(value.clone()).map_err(|_| ClientKeyError::Unreadable)?;
        let own_alg = object.get("alg").and_then(Value::as_str);
        let kid = object.get("kid").and_then(Value::as_str).map(str::to_owned);
        Self::normalise(&jwk, alg.or(own_alg), kid)
    }

    /// A key from a PEM `PUBLIC KEY` (SubjectPublicKeyInfo; RSA also as `RSA PUBLIC KEY`).
    pub fn from_pem(pem: &str, alg: Option<&str>) -> Result<Self, ClientKeyError> {
        if pem.contains("PRIVATE KEY") {
            return Err(ClientKeyError::Private);
        }
        let bytes = pem.as_bytes();
        let attempts = [
            (DecodingKey::from_ec_pem(bytes), Algorithm::Es256),
            (DecodingKey::from_ed_pem(bytes), Algorithm::EdDsa),
            (DecodingKey::from_rsa_pem(bytes), Algorithm::Rs256),
        ];
        let (key, family) = attempts
            .into_iter()
            .find_map(|(key, alg)| key.ok().map(|k| (k, alg)))
            .ok_or(ClientKeyError::Unreadable)?;
        let jwk = Jwk::from_decoding_key(&key, Some(family.jose()))
            .map_err(|_| ClientKeyError::Unreadable)?;
        Self::normalise(&jwk, alg, None)
    }

    fn normalise(
        jwk: &Jwk,
        alg: Option<&str>,
        kid: Option<String>,
    ) -> Result<Self, ClientKeyError> {
        let (fits, public) = match &jwk.algorithm {
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => (
                Algorithm::Es256,
                json!({"kty": "EC", "crv": "P-256", "x": ec.x, "y": ec.y}),
            ),
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => (
                Algorithm::EdDsa,
                json!({"kty": "OKP", "crv": "Ed25519", "x": okp.x}),
            ),
            AlgorithmParameters::RSA(rsa) => {
                let modulus = URL_SAFE_NO_PAD
                    .decode(&rsa.n)
                    .map_err(|_| ClientKeyError::Unreadable)?;
                let significant = modulus.iter().skip_while(|b| **b == 0).count();
                if significant < MIN_RSA_MODULUS {
                    return Err(ClientKeyError::WeakKey);
                }
                (
                    Algorithm::Rs256,
                    json!({"kty": "RSA", "n": rsa.n, "e": rsa.e}),
                )
            }
            _ => return Err(ClientKeyError::UnsupportedKey),
        };
        if alg.is_some_and(|name| Algorithm::parse(name) != Some(fits)) {
            return Err(ClientKeyError::Algorithm);
        }
        // The key must be usable, not merely well-formed JSON.
        DecodingKey::from_jwk(jwk).map_err(|_| ClientKeyError::Unreadable)?;
        let public_jwk: Jwk =
            serde_json::from_value(public.clone()).map_err(|_| ClientKeyError::Unreadable)?;
        let thumbprint = public_jwk
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| ClientKeyError::UnsupportedKey)?;
        let kid = kid.unwrap_or_else(|| thumbprint.clone());
        let mut normalised = public;
        normalised["kid"] = json!(kid);
        normalised["alg"] = json!(fits.as_str());
        normalised["use"] = json!("sig");
        Ok(Self {
            kid,
            alg: fits,
            thumbprint,
            jwk: normalised,
        })
    }

    /// Verifies the signature of the compact JWS `token` with this key (its header's `alg` must
    /// be this key's) and returns the claims. Registered claims are the caller's to check.
    pub fn verify<C: DeserializeOwned>(&self, token: &str) -> Result<C, ClientJwtError> {
        let jwk: Jwk =
            serde_json::from_value(self.jwk.clone()).map_err(|_| ClientJwtError::Malformed)?;
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| ClientJwtError::Malformed)?;
        let mut validation = Validation::new(self.alg.jose());
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.required_spec_claims.clear();
        jsonwebtoken::decode::<C>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        ClientJwtError::BadSignature
                    }
                    _ => ClientJwtError::Malformed,
                }
            })
    }
}

/// The protected header of a compact JWS, as JSON, and its `alg` if it is one Tessera accepts
/// from clients. Read before any key is chosen, so it is not trusted yet.
pub fn unverified_header(token: &str) -> Result<(Value, Algorithm), ClientJwtError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ClientJwtError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| ClientJwtError::Malformed)?;
    let header: Value = serde_json::from_slice(&bytes).map_err(|_| ClientJwtError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(ClientJwtError::Malformed)?;
    let alg = Algorithm::parse(alg).ok_or(ClientJwtError::AlgorithmNotAllowed)?;
    Ok((header, alg))
}

/// The claims of a compact JWS before its signature is checked: only to find out who claims to
/// have signed it (a client assertion's `sub`).
pub fn unverified_claims(token: &str) -> Result<Value, ClientJwtError> {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(token)
        .map_err(|_| ClientJwtError::Malformed)
}

/// base64url(SHA-256(`token`)): DPoP's `ath`.
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(crate::sha256(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{EncodingKey, Header};

    use super::*;
    use crate::signing::GeneratedKey;

    fn signed(alg: Algorithm, claims: &Value) -> (String, ClientKey) {
        let generated = GeneratedKey::new(alg, "k1").unwrap();
        let key = ClientKey::from_jwk(&generated.public_jwk, None).unwrap();
        let encoding = crate::signing::encoding_key(alg, &generated.private_pkcs8).unwrap();
        let mut header = Header::new(alg.jose());
        header.kid = Some(key.kid.clone());
        (
            jsonwebtoken::encode(&header, claims, &encoding).unwrap(),
            key,
        )
    }

    #[test]
    fn every_allowed_algorithm_verifies_and_a_foreign_key_does_not() {
        for alg in Algorithm::ALL {
            let (token, key) = signed(alg, &json!({"sub": "a"}));
            let claims: Value = key.verify(&token).unwrap();
            assert_eq!(claims["sub"], "a");
            let (_, other) = signed(alg, &json!({}));
            assert_eq!(
                other.verify::<Value>(&token),
                Err(ClientJwtError::BadSignature)
            );
            assert_eq!(unverified_header(&token).unwrap().1, alg);
        }
    }

    #[test]
    fn shared_secret_and_none_are_refused() {
        let hs = jsonwebtoken::encode(
            &Header::new(jsonwebtoken::Algorithm::HS256),
            &json!({"sub": "a"}),
            &EncodingKey::from_secret(b"secret"),
        )
        .unwrap();
        assert_eq!(
            unverified_header(&hs).unwrap_err(),
            ClientJwtError::AlgorithmNotAllowed
        );
        let (_, key) = signed(Algorithm::Es256, &json!({}));
        assert_eq!(key.verify::<Value>(&hs), Err(ClientJwtError::BadSignature));
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"a"}"#)
        );
        assert_eq!(
            unverified_header(&none).unwrap_err(),
            ClientJwtError::AlgorithmNotAllowed
        );
        let oct = json!({"kty": "oct", "k": "c2VjcmV0"});
        assert_eq!(
            ClientKey::from_jwk(&oct, None),
            Err(ClientKeyError::UnsupportedKey)
        );
    }

    #[test]
    fn private_keys_mismatched_algorithms_and_small_rsa_are_refused() {
        let generated = GeneratedKey::new(Algorithm::Es256, "k").unwrap();
        let mut private = generated.public_jwk.clone();
        private["d"] = json!("AAAA");
        assert_eq!(
            ClientKey::from_jwk(&private, None),
            Err(ClientKeyError::Private)
        );
        assert_eq!(
            ClientKey::from_jwk(&generated.public_jwk, Some("RS256")),
            Err(ClientKeyError::Algorithm)
        );
        let small = json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode([0xc1u8; 128]), "e": "AQAB"});
        assert_eq!(
            ClientKey::from_jwk(&small, None),
            Err(ClientKeyError::WeakKey)
        );
    }

    #[test]
    fn thumbprint_matches_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        let key = ClientKey::from_jwk(&jwk, None).unwrap();
        assert_eq!(
            key.thumbprint,
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
        assert_eq!(key.kid, "2011-04-29");
    }

    #[test]
    fn pem_public_keys_read_as_their_jwk() {
        let ec_pem = "-----BEGIN PUBLIC KEY-----\n\
            MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEXerm6fWpeUvmZaGq/sZH0fSxcoOZ\n\
            hvWpU2d/IO7reC8+HV+VzXx984BHJCaD9kBzTq+399qp1gOZyj4gVKhPcA==\n\
            -----END PUBLIC KEY-----\n";
        let ed_pem = "-----BEGIN PUBLIC KEY-----\n\
            MCowBQYDK2VwAyEAemb5ZEK5jcDCXKuiOqkdjUxoS+42lmJEvAN0UJjUQ2s=\n\
            -----END PUBLIC KEY-----\n";
        assert_eq!(
            ClientKey::from_pem(ed_pem, None).unwrap().alg,
            Algorithm::EdDsa
        );
        let key = ClientKey::from_pem(ec_pem, None).unwrap();
        assert_eq!(key.alg, Algorithm::Es256);
        assert_eq!(key.jwk["crv"], "P-256");
        assert_eq!(
            ClientKey::from_pem(
                "-----BEGIN PRIVATE KEY-----\nAA\n-----END PRIVATE KEY-----",
                None
            ),
            Err(ClientKeyError::Private)
        );
    }
}
