//! `private_key_jwt` client authentication (RFC 7523 §2.2, OpenID Connect Core §9): an agent,
//! or an application registered with keys, signs a short-lived JWT with one of its keys
//! (`iss` = `sub` = its client id,
//! `aud` = the token endpoint or the issuer, `exp` at most five minutes ahead, a `jti` that works
//! once on every instance) and sends it as `client_assertion`.

use axum::http::{HeaderMap, header};
use serde::Deserialize;
use tessera_core::AgentId;
use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::agent_key::ReplayKind;
use tessera_core::tenant::TenantStatus;
use tessera_crypto::client_key::{unverified_claims, unverified_header};
use tessera_crypto::{Algorithm, ClientJwtError, ClientKey, sha256};
use tessera_proto::OAuthErrorCode;
use time::OffsetDateTime;

use super::form::OAuthForm;
use crate::error::OAuthError;
use crate::state::AppState;

/// The one assertion type accepted (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The longest an assertion may live: long enough for clock skew, short enough that the
/// record of its `jti` stays small.
const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew tolerated on `iat`, `nbf` and the lifetime cap.
const LEEWAY_SECS: i64 = 30;

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    jti: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn contains(&self, wanted: &[&str]) -> bool {
        match self {
            Self::One(aud) => wanted.contains(&aud.as_str()),
            Self::Many(auds) => auds.iter().any(|a| wanted.contains(&a.as_str())),
        }
    }
}

/// Whether the request authenticates its client with an assertion.
pub fn presented(form: &OAuthForm) -> bool {
    form.get("client_assertion_type").is_some() || form.get("client_assertion").is_some()
}

pub(super) fn fail(why: impl Into<String>) -> OAuthError {
    OAuthError::new(OAuthErrorCode::InvalidClient, why)
}

/// An assertion as presented: well-formed, with an accepted `alg`, naming a client, but not
/// verified yet.
pub struct Assertion<'f> {
    token: &'f str,
    alg: Algorithm,
    kid: Option<String>,
    /// The client it claims to come from (`sub`), unverified.
    pub subject: String,
}

/// Reads the form's assertion; the request must use no other client authentication.
pub fn read<'f>(headers: &HeaderMap, form: &'f OAuthForm) -> Result<Assertion<'f>, OAuthError> {
    if headers.contains_key(header::AUTHORIZATION) || form.get("client_secret").is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method, not two",
        ));
    }
    if form.get("client_assertion_type") != Some(ASSERTION_TYPE) {
        return Err(fail(format!(
            "client_assertion_type must be `{ASSERTION_TYPE}`"
        )));
    }
    let token = form.require("client_assertion")?;
    let (header, alg) = unverified_header(token).map_err(|e| match e {
        ClientJwtError::AlgorithmNotAllowed => {
            fail("the assertion's `alg` is not one of ES256, EdDSA, RS256")
        }
        _ => fail("the client assertion is not a well-formed JWT"),
    })?;
    let subject = unverified_claims(token)
        .ok()
        .and_then(|claims| claims.get("sub")?.as_str().map(str::to_owned))
        .ok_or_else(|| fail("the client assertion names no `sub`"))?;
    if form.get("client_id").is_some_and(|id| id != subject) {
        return Err(OAuthError::invalid_request(
            "client_id differs from the assertion's `sub`",
        ));
    }
    let kid = header
        .get("kid")
        .and_then(|k| k.as_str())
        .map(str::to_owned);
    Ok(Assertion {
        token,
        alg,
        kid,
        subject,
    })
}

impl Assertion<'_> {
    /// The key id the header names, if any: a client's key must carry it when it is named.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Whether `key` may have signed this assertion: its algorithm, and its id when one is
    /// named.
    pub fn may_be_signed_by(&self, key: &ClientKey) -> bool {
        key.alg == self.alg && self.kid().is_none_or(|kid| kid == key.kid)
    }

    /// Accepts the assertion if one of `keys` (the client's) signed it, its claims hold, and
    /// its `jti` was never used before on any instance.
    pub async fn verify(self, state: &AppState, keys: &[ClientKey]) -> Result<(), OAuthError> {
        let claims = keys
            .iter()
            .filter(|key| self.may_be_signed_by(key))
            .find_map(|key| key.verify::<serde_json::Value>(self.token).ok())
            .ok_or_else(|| fail("the assertion is not signed by a key the client registered"))?;
        let claims: AssertionClaims = serde_json::from_value(claims)
            .map_err(|_| fail("the assertion lacks `iss`, `sub`, `aud`, `exp` or `jti`"))?;
        check_claims(state, &claims)?;
        let now = state.clock.now();
        let expires = OffsetDateTime::from_unix_timestamp(claims.exp)
            .map_err(|_| fail("client authentication failed"))?;
        let spent = sha256(format!("{}\n{}", claims.sub, claims.jti).as_bytes());
        if !state
            .store
            .first_use(ReplayKind::ClientAssertion, &spent, expires, now)
            .await?
        {
            return Err(fail("the client assertion has been used before"));
        }
        Ok(())
    }
}

/// Authenticates the agent whose assertion the form carries, with the keys it registered; it
/// must be active in an active tenant.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Agent, OAuthError> {
    let assertion = read(headers, form)?;
    let failed = || fail("client authentication failed");
    let agent_id: AgentId = assertion.subject.parse().map_err(|_| failed())?;
    let agent = state
        .store
        .agent_by_client_id(agent_id)
        .await?
        .ok_or_else(failed)?;
    let keys: Vec<ClientKey> = state
        .store
        .agent_keys(agent.tenant_id, agent.id)
        .await?
        .iter()
        .filter_map(|k| {
            let jwk = serde_json::from_str(&k.jwk).ok()?;
            let key = ClientKey::from_jwk(&jwk, Some(&k.alg)).ok()?;
            // The registered key id, whatever the JWK says.
            Some(ClientKey {
                kid: k.kid.clone(),
                ..key
            })
        })
        .collect();
    assertion.verify(state, &keys).await?;
    if agent.status != AgentStatus::Active {
        return Err(fail("the agent is disabled"));
    }
    if state.tenant_status(agent.tenant_id).await? != Some(TenantStatus::Active) {
        return Err(fail("the agent's tenant is suspended"));
    }
    Ok(agent)
}

fn check_claims(state: &AppState, claims: &AssertionClaims) -> Result<(), OAuthError> {
    let now = state.clock.now().unix_timestamp();
    let token_endpoint = format!("{}/oauth2/token", state.issuer);
    if claims.iss != claims.sub {
        return Err(fail(
            "the assertion's `iss` must be its `sub`, the client id",
        ));
    }
    if !claims.aud.contains(&[&token_endpoint, &state.issuer]) {
        return Err(fail(format!(
            "the assertion's `aud` must be `{token_endpoint}` or `{}`",
            state.issuer
        )));
    }
    if claims.exp <= now {
        return Err(fail("the client assertion has expired"));
    }
    if claims.exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(fail(format!(
            "the assertion's `exp` may be at most {MAX_LIFETIME_SECS} seconds ahead"
        )));
    }
    if claims.iat.is_some_and(|iat| iat > now + LEEWAY_SECS)
        || claims.nbf.is_some_and(|nbf| nbf > now + LEEWAY_SECS)
    {
        return Err(fail("the client assertion is not valid yet"));
    }
    if claims.jti.is_empty() || claims.jti.len() > 256 {
        return Err(fail("the assertion's `jti` must be 1 to 256 characters"));
    }
    Ok(())
}
