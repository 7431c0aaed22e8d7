//! Tessera's cryptography, all of it delegated to aws-lc-rs and jsonwebtoken:
//!
//! - [`secret`]: the format of every secret Tessera hands out (kind prefix, 256 random bits,
//!   checksum) and the SHA-256 digest that is all Tessera keeps of it;
//! - [`envelope`]: AEAD envelope encryption of secrets at rest under a versioned master key;
//! - [`signing`]: generating signing keys (ES256, EdDSA, RS256) and their public JWKs;
//! - [`keyring`]: the set of published keys, signing and verifying JWTs, the JWKS document;
//! - [`access_token`]: the claims of an RFC 9068 access token;
//! - [`client_key`]: clients' own public keys (private_key_jwt, DPoP) and verifying with them;
//! - [`session_token`]: the claims of a person's session access token;
//! - [`oidc`]: ID token claims, `at_hash`, and PKCE's S256 challenge.

pub mod access_token;
pub mod client_key;
pub mod envelope;
pub mod keyring;
pub mod oidc;
pub mod secret;
pub mod session_token;
pub mod signing;
pub mod user_code;

pub use access_token::{ACCESS_TOKEN_TYP, AccessTokenClaims, Actor, Confirmation};
pub use client_key::{ClientJwtError, ClientKey, ClientKeyError};
pub use envelope::{EnvelopeError, MasterKey, MasterKeys};
pub use keyring::{Expectation, KeyRing, KeyRingError, PublishedKey, TokenError, Validity};
pub use oidc::{ID_TOKEN_TYP, IdTokenClaims};
pub use secret::{GeneratedSecret, SecretKind, SecretString, sha256};
pub use session_token::{SESSION_TOKEN_TYP, SessionClaims};
pub use signing::{Algorithm, GeneratedKey, SigningError};
pub use user_code::{normalize_user_code, user_code};
