//! The key ring: the keys a verifier may meet (published in the JWKS) and the one that signs.
//!
//! A ring is immutable; the server builds a new one whenever the stored keys change and swaps
//! it in, so signing and verifying never wait on a lock.

use std::collections::HashMap;
use std::fmt;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::signing::{Algorithm, SigningError, encoding_key};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRingError {
    #[error(transparent)]
    Signing(#[from] SigningError),
    #[error("published key `{0}` is not a valid public JWK")]
    BadPublicKey(String),
    #[error("no key is active for signing")]
    NoSigningKey,
    #[error("could not serialize the token")]
    Encode,
}

/// Why a token was refused. The variants are distinct so that failures can be counted by reason;
/// callers answering the outside world collapse them (a token is simply not valid).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token was signed by a key this issuer does not publish")]
    UnknownKey,
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token is not of the expected type")]
    WrongType,
    #[error("the token was issued by another issuer")]
    WrongIssuer,
    #[error("the token is meant for another audience")]
    WrongAudience,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// The registered claims a verifier checks itself (time comes from the caller's clock).
pub trait Validity {
    fn issuer(&self) -> &str;
    fn has_audience(&self, audience: &str) -> bool;
    fn expires_at(&self) -> i64;
    fn not_before(&self) -> Option<i64> {
        None
    }
}

/// What a verifier expects of a token.
#[derive(Debug, Clone, Copy)]
pub struct Expectation<'a> {
    /// The `typ` header, compared without case and with or without the `application/` prefix.
    pub typ: &'a str,
    pub issuer: &'a str,
    pub audience: &'a str,
    /// Unix seconds.
    pub now: i64,
}

/// A key the ring publishes.
#[derive(Debug, Clone)]
pub struct PublishedKey {
    pub kid: String,
    pub alg: Algorithm,
    pub public_jwk: Value,
}

struct Signer {
    kid: String,
    alg: Algorithm,
    key: EncodingKey,
}

struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

pub struct KeyRing {
    signer: Option<Signer>,
    verifiers: HashMap<String, Verifier>,
    jwks: String,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRing")
            .field("signing_kid", &self.signing_kid())
            .field("published", &self.verifiers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl KeyRing {
    /// Builds a ring from the published keys and, when one is active, the signing key
    /// (its kid, algorithm and PKCS#8 private key).
    pub fn new(
        published: &[PublishedKey],
        signing: Option<(&str, Algorithm, &[u8])>,
    ) -> Result<Self, KeyRingError> {
        let mut verifiers = HashMap::with_capacity(published.len());
        for key in published {
            let jwk: Jwk = serde_json::from_value(key.public_jwk.clone())
                .map_err(|_| KeyRingError::BadPublicKey(key.kid.clone()))?;
            let decoding = DecodingKey::from_jwk(&jwk)
                .map_err(|_| KeyRingError::BadPublicKey(key.kid.clone()))?;
            let mut validation = Validation::new(key.alg.jose());
            // Registered claims are checked by `verify` against the caller's clock.
            validation.validate_exp = false;
            validation.validate_aud = false;
            validation.required_spec_claims.clear();
            verifiers.insert(
                key.kid.clone(),
                Verifier {
                    key: decoding,
                    validation,
                },
            );
        }
        let signer = signing
            .map(|(kid, alg, pkcs8)| {
                Ok::<_, SigningError>(Signer {
                    kid: kid.to_owned(),
                    alg,
                    key: encoding_key(alg, pkcs8)?,
                })
            })
            .transpose()?;
        let jwks = json!({ "keys": published.iter().map(|k| &k.public_jwk).collect::<Vec<_>>() })
            .to_string();
        Ok(Self {
            signer,
            verifiers,
            jwks,
        })
    }

    /// The JWKS document (RFC 7517 §5), serialized once per ring.
    pub fn jwks_json(&self) -> &str {
        &self.jwks
    }

    pub fn signing_kid(&self) -> Option<&str> {
        self.signer.as_ref().map(|s| s.kid.as_str())
    }

    /// The algorithm of the active key (an ID token's `at_hash` depends on it).
    pub fn signing_alg(&self) -> Option<Algorithm> {
        self.signer.as_ref().map(|s| s.alg)
    }

    /// Signs `claims` as a compact JWS with the active key.
    pub fn sign<C: Serialize>(&self, typ: &str, claims: &C) -> Result<String, KeyRingError> {
        let signer = self.signer.as_ref().ok_or(KeyRingError::NoSigningKey)?;
        let mut header = Header::new(signer.alg.jose());
        header.typ = Some(typ.to_owned());
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.key).map_err(|_| KeyRingError::Encode)
    }

    /// Verifies the signature with the published key the header names, then the type, issuer,
    /// audience and validity window.
    pub fn verify<C: DeserializeOwned + Validity>(
        &self,
        token: &str,
        expect: &Expectation<'_>,
    ) -> Result<C, TokenError> {
        let claims: C = self.verify_signature(token, expect.typ)?;
        if claims.issuer() != expect.issuer {
            Err(TokenError::WrongIssuer)
        } else if !claims.has_audience(expect.audience) {
            Err(TokenError::WrongAudience)
        } else if claims.expires_at() <= expect.now {
            Err(TokenError::Expired)
        } else if claims.not_before().is_some_and(|nbf| nbf > expect.now) {
            Err(TokenError::NotYetValid)
        } else {
            Ok(claims)
        }
    }

    /// Verifies only the signature and the `typ` header: for signed statements (audit
    /// checkpoints) whose authenticity is the key that signed them, not who the issuer is today.
    pub fn verify_signature<C: DeserializeOwned>(
        &self,
        token: &str,
        typ: &str,
    ) -> Result<C, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        let kid = header.kid.as_deref().ok_or(TokenError::UnknownKey)?;
        let verifier = self.verifiers.get(kid).ok_or(TokenError::UnknownKey)?;
        let data =
            jsonwebtoken::decode::<C>(token, &verifier.key, &verifier.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => {
                        TokenError::BadSignature
                    }
                    _ => TokenError::Malformed,
                }
            })?;
        let typ_matches = header.typ.as_deref().is_some_and(|actual| {
            let actual = actual.strip_prefix("application/").unwrap_or(actual);
            actual.eq_ignore_ascii_case(typ)
        });
        if typ_matches {
            Ok(data.claims)
        } else {
            Err(TokenError::WrongType)
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::signing::GeneratedKey;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Claims {
        iss: String,
        aud: String,
        exp: i64,
        sub: String,
    }

    impl Validity for Claims {
        fn issuer(&self) -> &str {
            &self.iss
        }
        fn has_audience(&self, audience: &str) -> bool {
            self.aud == audience
        }
        fn expires_at(&self) -> i64 {
            self.exp
        }
    }

    fn ring(alg: Algorithm, kid: &str) -> (KeyRing, PublishedKey) {
        let key = GeneratedKey::new(alg, kid).unwrap();
        let published = PublishedKey {
            kid: kid.into(),
            alg,
            public_jwk: key.public_jwk.clone(),
        };
        let ring = KeyRing::new(
            std::slice::from_ref(&published),
            Some((kid, alg, &key.private_pkcs8)),
        )
        .unwrap();
        (ring, published)
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "https://issuer".into(),
            aud: "api".into(),
            exp,
            sub: "agt_1".into(),
        }
    }

    const EXPECT: Expectation<'static> = Expectation {
        typ: "at+jwt",
        issuer: "https://issuer",
        audience: "api",
        now: 1_000,
    };

    #[test]
    fn every_algorithm_signs_and_verifies() {
        for alg in Algorithm::ALL {
            let (ring, _) = ring(alg, "k1");
            let token = ring.sign("at+jwt", &claims(2_000)).unwrap();
            assert_eq!(
                ring.verify::<Claims>(&token, &EXPECT).unwrap(),
                claims(2_000),
                "{alg}"
            );
            assert!(ring.jwks_json().contains("\"kid\":\"k1\""));
            assert!(
                !ring.jwks_json().contains("\"d\""),
                "private parameters must never be published"
            );
        }
    }

    #[test]
    fn refuses_each_broken_expectation() {
        let (ring, _) = ring(Algorithm::Es256, "k1");
        let token = ring.sign("at+jwt", &claims(2_000)).unwrap();
        let check = |expect: Expectation<'_>| ring.verify::<Claims>(&token, &expect).unwrap_err();
        assert_eq!(
            check(Expectation {
                typ: "JWT",
                ..EXPECT
            }),
            TokenError::WrongType
        );
        assert_eq!(
            check(Expectation {
                issuer: "https://other",
                ..EXPECT
            }),
            TokenError::WrongIssuer
        );
        assert_eq!(
            check(Expectation {
                audience: "other",
                ..EXPECT
            }),
            TokenError::WrongAudience
        );
        assert_eq!(
            check(Expectation {
                now: 2_000,
                ..EXPECT
            }),
            TokenError::Expired
        );
        assert_eq!(
            ring.verify::<Claims>("not.a.jwt", &EXPECT).unwrap_err(),
            TokenError::Malformed
        );
    }

    #[test]
    fn refuses_foreign_keys_and_altered_tokens() {
        let (ring_a, _) = ring(Algorithm::Es256, "k1");
        let (ring_b, _) = ring(Algorithm::Es256, "k1");
        let token = ring_b.sign("at+jwt", &claims(2_000)).unwrap();
        assert_eq!(
            ring_a.verify::<Claims>(&token, &EXPECT).unwrap_err(),
            TokenError::BadSignature
        );
        let (ring_c, _) = ring(Algorithm::Es256, "k2");
        let token = ring_c.sign("at+jwt", &claims(2_000)).unwrap();
        assert_eq!(
            ring_a.verify::<Claims>(&token, &EXPECT).unwrap_err(),
            TokenError::UnknownKey
        );
    }

    #[test]
    fn a_retired_key_still_verifies_after_the_next_one_signs() {
        let old = GeneratedKey::new(Algorithm::Es256, "old").unwrap();
        let new = GeneratedKey::new(Algorithm::EdDsa, "new").unwrap();
        let published = [
            PublishedKey {
                kid: "old".into(),
                alg: Algorithm::Es256,
                public_jwk: old.public_jwk.clone(),
            },
            PublishedKey {
                kid: "new".into(),
                alg: Algorithm::EdDsa,
                public_jwk: new.public_jwk.clone(),
            },
        ];
        let before = KeyRing::new(
            &published,
            Some(("old", Algorithm::Es256, &old.private_pkcs8)),
        )
        .unwrap();
        let after = KeyRing::new(
            &published,
            Some(("new", Algorithm::EdDsa, &new.private_pkcs8)),
        )
        .unwrap();
        let old_token = before.sign("at+jwt", &claims(2_000)).unwrap();
        assert!(after.verify::<Claims>(&old_token, &EXPECT).is_ok());
        assert_eq!(after.signing_kid(), Some("new"));
    }
}
