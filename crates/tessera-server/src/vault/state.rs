//! The `state` of a connection flow: `base64url(agent_id|nonce|expires_at)` and, after a `.`,
//! its HMAC-SHA256 under the state key. The MAC binds the state to the agent and its expiry;
//! the nonce is also a one-time challenge in the store, so a state works once.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::AgentId;
use time::OffsetDateTime;

/// What a verified state says.
#[derive(Debug, PartialEq, Eq)]
pub struct StateClaims {
    pub agent_id: AgentId,
    pub nonce: String,
    pub expires_at: OffsetDateTime,
}

/// Why a state is refused (each is a `?error=` reason and an audit reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Not of the form, or the MAC does not match (forged or altered).
    Forged,
    Expired,
}

impl StateError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Forged => "state_invalid",
            Self::Expired => "state_expired",
        }
    }
}

pub struct StateKey(hmac::Key);

impl std::fmt::Debug for StateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StateKey(***)")
    }
}

impl StateKey {
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    pub fn mint(&self, claims: &StateClaims) -> String {
        let body = URL_SAFE_NO_PAD.encode(format!(
            "{}|{}|{}",
            claims.agent_id,
            claims.nonce,
            claims.expires_at.unix_timestamp()
        ));
        let tag = hmac::sign(&self.0, body.as_bytes());
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// Checks the MAC (in constant time) and then the expiry.
    pub fn verify(&self, state: &str, now: OffsetDateTime) -> Result<StateClaims, StateError> {
        let (body, tag) = state.split_once('.').ok_or(StateError::Forged)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| StateError::Forged)?;
        hmac::verify(&self.0, body.as_bytes(), &tag).map_err(|_| StateError::Forged)?;
        let text = URL_SAFE_NO_PAD
            .decode(body)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(StateError::Forged)?;
        let mut parts = text.splitn(3, '|');
        let (Some(agent), Some(nonce), Some(expires)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(StateError::Forged);
        };
        let claims = StateClaims {
            agent_id: agent.parse().map_err(|_| StateError::Forged)?,
            nonce: nonce.to_owned(),
            expires_at: expires
                .parse()
                .ok()
                .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
                .ok_or(StateError::Forged)?,
        };
        if claims.expires_at <= now {
            return Err(StateError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_verifies_until_it_expires_and_not_after_any_change() {
        let key = StateKey::new(b"0123456789abcdef0123456789abcdef");
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let claims = StateClaims {
            agent_id: AgentId::generate(),
            nonce: "n1".into(),
            expires_at: now + time::Duration::seconds(600),
        };
        let state = key.mint(&claims);
        assert_eq!(key.verify(&state, now), Ok(claims));
        assert_eq!(
            key.verify(&state, now + time::Duration::seconds(600)),
            Err(StateError::Expired)
        );
        let other = StateKey::new(b"another key, as long as the first");
        assert_eq!(other.verify(&state, now), Err(StateError::Forged));
        let (body, tag) = state.split_once('.').unwrap();
        // Another first character (whatever the random agent id made it).
        let other = if body.starts_with('A') { 'B' } else { 'A' };
        let altered = format!("{other}{}.{tag}", &body[1..]);
        assert_eq!(key.verify(&altered, now), Err(StateError::Forged));
        assert_eq!(key.verify("no-dot", now), Err(StateError::Forged));
    }
}
