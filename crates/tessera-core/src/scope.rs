//! Scopes: the space-separated strings of RFC 6749 §3.3, and the vocabulary of API-key scopes.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

/// Read access to a tenant's objects.
pub const READ: &str = "read";
/// Create, change and delete agents and their secrets.
pub const AGENTS_WRITE: &str = "agents:write";
/// Create and revoke API keys.
pub const API_KEYS_WRITE: &str = "api-keys:write";
/// Create, change and delete webhook subscriptions, rotate their secrets, redeliver.
pub const WEBHOOKS_WRITE: &str = "webhooks:write";
/// Change members' roles and remove members (people's tenants).
pub const MEMBERS_WRITE: &str = "members:write";
/// Agents' access tokens: read the agent's connections (fresh tokens, the provider proxy).
pub const CONNECTIONS_READ: &str = "connections:read";
/// Register and delete the tenant's OAuth clients (applications people sign in to).
pub const CLIENTS_WRITE: &str = "clients:write";
/// Everything a tenant can do.
pub const ALL: &str = "*";
/// The operator: every tenant, and administration (suspend, reactivate).
pub const ADMIN: &str = "admin";

/// The scopes a tenant's API key may carry.
pub const TENANT_KEY_SCOPES: [&str; 7] = [
    READ,
    AGENTS_WRITE,
    API_KEYS_WRITE,
    WEBHOOKS_WRITE,
    MEMBERS_WRITE,
    CLIENTS_WRITE,
    ALL,
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope `{0}` has characters RFC 6749 §3.3 does not allow")]
    Malformed(String),
    #[error("unknown scope `{0}`; API keys take {list}", list = TENANT_KEY_SCOPES.join(", "))]
    UnknownKeyScope(String),
}

/// A set of scopes, kept sorted and without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Scopes(BTreeSet<String>);

impl Scopes {
    /// Parses a list of scope tokens (`scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`).
    pub fn new<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut set = BTreeSet::new();
        for token in tokens {
            let token = token.into();
            let valid = !token.is_empty()
                && token.len() <= 128
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
            if !valid {
                return Err(ScopeError::Malformed(token.chars().take(64).collect()));
            }
            set.insert(token);
        }
        Ok(Self(set))
    }

    /// Parses the space-separated form used on the wire (`scope=a b c`).
    pub fn parse(space_separated: &str) -> Result<Self, ScopeError> {
        Self::new(space_separated.split(' ').filter(|s| !s.is_empty()))
    }

    /// Parses the scopes of a tenant API key, refusing anything outside the key vocabulary.
    pub fn for_tenant_key<I, S>(tokens: I) -> Result<Self, ScopeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scopes = Self::new(tokens)?;
        match scopes
            .0
            .iter()
            .find(|s| !TENANT_KEY_SCOPES.contains(&s.as_str()))
        {
            Some(unknown) => Err(ScopeError::UnknownKeyScope(unknown.clone())),
            None => Ok(scopes),
        }
    }

    pub fn one(scope: &str) -> Self {
        Self(BTreeSet::from([scope.to_owned()]))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.contains(scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_subset(&self, other: &Scopes) -> bool {
        self.0.is_subset(&other.0)
    }

    /// These scopes but `scope`.
    pub fn without(&self, scope: &str) -> Scopes {
        Self(self.0.iter().filter(|s| *s != scope).cloned().collect())
    }

    /// The scopes in both sets (token exchange narrows by each party's scopes).
    pub fn intersection(&self, other: &Scopes) -> Scopes {
        Self(self.0.intersection(&other.0).cloned().collect())
    }

    /// Whether an API key holding these scopes may do what `required` names: `admin` covers
    /// everything, `*` covers every tenant scope.
    pub fn grants(&self, required: &str) -> bool {
        self.contains(ADMIN) || self.contains(required) || (required != ADMIN && self.contains(ALL))
    }

    /// Whether every scope in `requested` is granted by these (for keys minting keys).
    pub fn grants_all(&self, requested: &Scopes) -> bool {
        requested.iter().all(|s| self.grants(s))
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope)?;
            first = false;
        }
        Ok(())
    }
}

impl TryFrom<Vec<String>> for Scopes {
    type Error = ScopeError;

    fn try_from(tokens: Vec<String>) -> Result<Self, ScopeError> {
        Self::new(tokens)
    }
}

impl From<Scopes> for Vec<String> {
    fn from(scopes: Scopes) -> Self {
        scopes.0.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_space_separated_and_sorts() {
        let scopes = Scopes::parse("b  a b").unwrap();
        assert_eq!(scopes.to_string(), "a b");
        assert!(Scopes::parse("bad\"quote").is_err());
        assert!(Scopes::parse("back\\slash").is_err());
    }

    #[test]
    fn star_covers_tenant_scopes_but_not_admin() {
        let star = Scopes::one(ALL);
        assert!(star.grants(READ) && star.grants(AGENTS_WRITE));
        assert!(!star.grants(ADMIN));
        assert!(Scopes::one(ADMIN).grants(AGENTS_WRITE));
        let read = Scopes::one(READ);
        assert!(!read.grants_all(&Scopes::one(ALL)));
    }

    #[test]
    fn key_scopes_are_a_closed_vocabulary() {
        assert!(Scopes::for_tenant_key(["read", "agents:write"]).is_ok());
        assert_eq!(
            Scopes::for_tenant_key(["admin"]),
            Err(ScopeError::UnknownKeyScope("admin".into()))
        );
    }
}
