//! Trust policies (workload identity federation): which tokens of an outside OpenID issuer
//! (GitHub Actions, a cloud, a partner's identity provider) may act as which agent of a tenant,
//! with which scopes.
//!
//! A policy matches a verified token when the token's `iss` is the policy's issuer, its `aud`
//! holds the policy's audience, and every condition matches: the named claim is present, is a
//! string (numbers and booleans are compared by their JSON text) and matches the pattern.
//! A pattern is compared exactly, except that `*` stands for any run of characters other
//! than `:` (possibly none) — so `repo:acme/*:ref:refs/heads/main` matches every repository
//! of `acme` on `main`, and `refs/heads/*` every branch, but a `*` never reaches across the
//! `:` that separates the fields of a composite subject such as GitHub's.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::scope::Scopes;
use crate::store::StoreResult;
use crate::{AgentId, TenantId, TrustPolicyId};

/// The most conditions one policy may have, and the longest claim name and pattern.
pub const MAX_CONDITIONS: usize = 32;
pub const MAX_CLAIM_NAME: usize = 64;
pub const MAX_PATTERN: usize = 512;

/// One tenant's trust in an outside issuer's tokens, for one of its agents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub id: TrustPolicyId,
    pub tenant_id: TenantId,
    /// The issuer (`iss`) exactly as its tokens and its discovery document name it.
    pub issuer: String,
    /// The value the token's `aud` must hold.
    pub audience: String,
    /// Claim name → pattern; every one must match.
    pub conditions: BTreeMap<String, String>,
    pub agent_id: AgentId,
    /// The most a matching token's exchange yields (narrowed by the agent's own scopes).
    pub scopes: Scopes,
    pub created_at: OffsetDateTime,
}

impl TrustPolicy {
    /// The first condition `claims` do not meet, if any.
    pub fn unmet_condition<'p>(
        &'p self,
        claims: &serde_json::Map<String, Value>,
    ) -> Option<&'p str> {
        self.conditions
            .iter()
            .find(|(claim, pattern)| {
                !claim_text(claims.get(claim.as_str())).is_some_and(|v| matches(pattern, &v))
            })
            .map(|(claim, _)| claim.as_str())
    }
}

/// A claim's value as text, when it has one: strings as they are, numbers and booleans as
/// JSON writes them; lists, objects, null and absence never match.
fn claim_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether `value` matches `pattern` (module docs: `*` is any run of non-`:` characters).
pub fn matches(pattern: &str, value: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = value.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        // No `*`: an exact comparison.
        return rest.is_empty();
    };
    // Each `*` takes the shortest run that lets the next literal follow, and none may hold a
    // `:`. Shortest-first is enough: a longer run could only end at a later occurrence of the
    // same literal, and everything such a choice could still match, the earlier one can too.
    for piece in middle {
        let Some(at) = find_without_colon(rest, piece) else {
            return false;
        };
        rest = &rest[at + piece.len()..];
    }
    rest.len() >= last.len()
        && rest.ends_with(last)
        && !rest[..rest.len() - last.len()].contains(':')
}

/// The first position of `needle` in `haystack` with no `:` before it.
fn find_without_colon(haystack: &str, needle: &str) -> Option<usize> {
    let limit = haystack.find(':').map_or(haystack.len(), |colon| colon);
    let at = haystack.find(needle)?;
    (at <= limit).then_some(at)
}

/// Whether a pattern is only wildcards (it would let any value through).
pub fn is_wildcard_only(pattern: &str) -> bool {
    pattern.chars().all(|c| c == '*')
}

#[async_trait]
pub trait TrustPolicyStore: Send + Sync {
    /// Stores a policy unless the tenant already has `max` of them (false: nothing written).
    async fn create_trust_policy(&self, policy: &TrustPolicy, max: u32) -> StoreResult<bool>;
    /// The tenant's policies, oldest first.
    async fn trust_policies(&self, tenant: TenantId) -> StoreResult<Vec<TrustPolicy>>;
    /// Deletes a tenant's policy; false when the tenant has no such policy.
    async fn delete_trust_policy(&self, tenant: TenantId, id: TrustPolicyId) -> StoreResult<bool>;
    /// Every tenant's policies for `issuer`: the candidates for an outside token naming it.
    async fn trust_policies_for_issuer(&self, issuer: &str) -> StoreResult<Vec<TrustPolicy>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_patterns_compare_whole_values() {
        assert!(matches("acme/api", "acme/api"));
        assert!(!matches("acme/api", "acme/api2"));
        assert!(!matches("acme/api", "xacme/api"));
        assert!(matches("", ""));
    }

    #[test]
    fn a_star_is_any_run_without_a_colon() {
        let sub = "repo:acme/*:ref:refs/heads/main";
        assert!(matches(sub, "repo:acme/api:ref:refs/heads/main"));
        assert!(matches(sub, "repo:acme/:ref:refs/heads/main"));
        assert!(!matches(sub, "repo:acme/api:ref:refs/heads/dev"));
        assert!(!matches(sub, "repo:evil/api:ref:refs/heads/main"));
        // A `*` cannot swallow another field of the subject.
        assert!(!matches(
            sub,
            "repo:acme/api:environment:x:ref:refs/heads/main"
        ));
        assert!(matches("refs/heads/*", "refs/heads/feature/x"));
        assert!(!matches("refs/heads/*", "refs/tags/v1"));
        assert!(matches("*", "anything/at/all"));
        assert!(!matches("*", "a:b"));
        assert!(matches("a*b*c", "a-b-b-c"));
        assert!(matches("a*b", "ab"));
        assert!(!matches("a*b", "a"));
        assert!(matches("*-prod", "eu-prod"));
        assert!(!matches("*-prod", "eu-prod-x"));
    }

    #[test]
    fn conditions_need_every_claim() {
        let policy = TrustPolicy {
            id: TrustPolicyId::generate(),
            tenant_id: TenantId::generate(),
            issuer: "https://token.actions.githubusercontent.com".into(),
            audience: "https://github.com/acme".into(),
            conditions: BTreeMap::from([
                ("repository".to_owned(), "acme/*".to_owned()),
                ("run_attempt".to_owned(), "1".to_owned()),
            ]),
            agent_id: AgentId::generate(),
            scopes: Scopes::one("deploy"),
            created_at: OffsetDateTime::UNIX_EPOCH,
        };
        let claims = |v: Value| v.as_object().cloned().unwrap_or_default();
        let good = claims(serde_json::json!({"repository": "acme/api", "run_attempt": 1}));
        assert_eq!(policy.unmet_condition(&good), None);
        let wrong = claims(serde_json::json!({"repository": "evil/api", "run_attempt": "1"}));
        assert_eq!(policy.unmet_condition(&wrong), Some("repository"));
        let missing = claims(serde_json::json!({"repository": "acme/api"}));
        assert_eq!(policy.unmet_condition(&missing), Some("run_attempt"));
        let listed = claims(serde_json::json!({"repository": ["acme/api"], "run_attempt": "1"}));
        assert_eq!(policy.unmet_condition(&listed), Some("repository"));
    }
}
