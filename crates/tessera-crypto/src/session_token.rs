//! The claims of a person's session access token: a JWT signed by the key ring like agents'
//! access tokens, but of its own `typ`, so neither kind is ever accepted as the other.

use serde::{Deserialize, Serialize};

use crate::keyring::Validity;

/// The `typ` header of a session access token.
pub const SESSION_TOKEN_TYP: &str = "session+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    pub iss: String,
    /// The user id.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    /// The session the token was issued for: revoking the session ends the token at once.
    pub sid: String,
    /// The tenants (entities) the user belonged to when the token was issued. A snapshot for
    /// clients; Tessera itself checks memberships in the store on every tenant request.
    pub entity_ids: Vec<String>,
}

impl Validity for SessionClaims {
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
