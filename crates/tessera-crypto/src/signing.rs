//! Signing keys: generation for each supported JOSE algorithm, and the public JWK of a key.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The JOSE algorithms Tessera signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256: the default (small tokens, fast signing).
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
    /// RSA PKCS#1 v1.5 with SHA-256, 2048-bit: for relying parties that accept nothing else.
    #[serde(rename = "RS256")]
    Rs256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Self::Es256, Self::EdDsa, Self::Rs256];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    pub(crate) fn jose(self) -> jsonwebtoken::Algorithm {
        match self {
            Self::Es256 => jsonwebtoken::Algorithm::ES256,
            Self::EdDsa => jsonwebtoken::Algorithm::EdDSA,
            Self::Rs256 => jsonwebtoken::Algorithm::RS256,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("could not generate a {0} key")]
    Generate(Algorithm),
    #[error("the stored {0} private key is not a valid PKCS#8 key")]
    BadPrivateKey(Algorithm),
}

/// A freshly generated key: the PKCS#8 private key (to be sealed) and its public JWK.
#[derive(Debug)]
pub struct GeneratedKey {
    pub private_pkcs8: Zeroizing<Vec<u8>>,
    pub public_jwk: Value,
}

impl GeneratedKey {
    pub fn new(alg: Algorithm, kid: &str) -> Result<Self, SigningError> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let private_pkcs8 = match alg {
            Algorithm::Es256 => {
                EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map(|doc| doc.as_ref().to_vec())
            }
            Algorithm::EdDsa => {
                Ed25519KeyPair::generate_pkcs8(&rng).map(|doc| doc.as_ref().to_vec())
            }
            Algorithm::Rs256 => RsaKeyPair::generate(KeySize::Rsa2048)
                .and_then(|pair| pair.as_der())
                .map(|der| der.as_ref().to_vec()),
        }
        .map_err(|_| SigningError::Generate(alg))?;
        let private_pkcs8 = Zeroizing::new(private_pkcs8);
        let public_jwk = public_jwk(alg, kid, &private_pkcs8)?;
        Ok(Self {
            private_pkcs8,
            public_jwk,
        })
    }
}

/// The public JWK (RFC 7517/7518/8037) of a PKCS#8 private key.
pub(crate) fn public_jwk(
    alg: Algorithm,
    kid: &str,
    private_pkcs8: &[u8],
) -> Result<Value, SigningError> {
    let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    let bad = |_| SigningError::BadPrivateKey(alg);
    let key_params = match alg {
        Algorithm::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, private_pkcs8)
                .map_err(bad)?;
            // Uncompressed SEC1 point: 0x04 | x (32) | y (32).
            let point = pair.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..65])})
        }
        Algorithm::EdDsa => {
            let pair = Ed25519KeyPair::from_pkcs8(private_pkcs8).map_err(bad)?;
            json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
        }
        Algorithm::Rs256 => {
            let pair = RsaKeyPair::from_pkcs8(private_pkcs8).map_err(bad)?;
            let public = pair.public_key();
            json!({
                "kty": "RSA",
                "n": b64(public.modulus().big_endian_without_leading_zero()),
                "e": b64(public.exponent().big_endian_without_leading_zero()),
            })
        }
    };
    let mut jwk = key_params;
    jwk["kid"] = json!(kid);
    jwk["alg"] = json!(alg.as_str());
    jwk["use"] = json!("sig");
    Ok(jwk)
}

/// The jsonwebtoken signing key for a PKCS#8 private key.
pub(crate) fn encoding_key(
    alg: Algorithm,
    private_pkcs8: &[u8],
) -> Result<EncodingKey, SigningError> {
    match alg {
        Algorithm::Es256 => Ok(EncodingKey::from_ec_der(private_pkcs8)),
        Algorithm::EdDsa => Ok(EncodingKey::from_ed_der(private_pkcs8)),
        // jsonwebtoken's DER path takes PKCS#1 only; its PEM path unwraps PKCS#8.
        Algorithm::Rs256 => {
            let pem = Zeroizing::new(format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
                STANDARD.encode(private_pkcs8)
            ));
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| SigningError::BadPrivateKey(alg))
        }
    }
}
