//! The claims of an access token in the JWT profile of RFC 9068.

use serde::{Deserialize, Serialize};

use crate::keyring::Validity;

/// The `typ` header of an access token (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    /// The agent the token was issued to, or the person an application acts for.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub client_id: String,
    /// Space-separated; absent when the token carries no scope.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub tenant_id: String,
    /// The grant a token issued to an application for a person comes from; revoking the grant
    /// ends the token. Absent on agents' own tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// The key the token is bound to (RFC 9449 DPoP: `cnf.jkt`); absent on bearer tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation>,
    /// RFC 8693 §4.1: who acts for `sub` in a token from a token exchange — the newest actor
    /// here, the one before it nested in its own `act`. Absent on tokens not exchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The delegation grant (a person's authorization of an agent) a token exchanged for a
    /// person comes from, carried through every further exchange; revoking it ends the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dgid: Option<String>,
}

impl AccessTokenClaims {
    /// Whether an application holds this token for a person (from the person's grant), as
    /// opposed to an agent's token or one an agent got by exchanging such a token.
    pub fn is_application_token(&self) -> bool {
        self.gid.is_some() && self.act.is_none()
    }
}

/// A token's confirmation claim (RFC 7800): the SHA-256 thumbprint of the client's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub jkt: String,
}

/// One actor of a delegation chain (RFC 8693 §4.1): its `sub`, and the actor before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Box<Actor>>,
}

impl Actor {
    /// The actors' `sub`s, newest first.
    pub fn chain(&self) -> Vec<&str> {
        let mut subs = vec![self.sub.as_str()];
        let mut next = self.act.as_deref();
        while let Some(actor) = next {
            subs.push(actor.sub.as_str());
            next = actor.act.as_deref();
        }
        subs
    }
}

impl Validity for AccessTokenClaims {
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
