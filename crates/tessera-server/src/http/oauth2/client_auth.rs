//! Client authentication at the OAuth 2 endpoints: `client_secret_basic` (RFC 6749 §2.3.1,
//! with the form-encoding of id and secret) or `client_secret_post`, never both. The secret is
//! compared by digest in constant time against each of the agent's unexpired secrets, or the
//! application's one secret. A public application (no secret) names itself with `client_id`; an
//! application registered with keys signs an assertion (`private_key_jwt`, as agents may).

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::authz::{ClientAuthMethod, ClientKeys, OAuthClient};
use tessera_core::tenant::TenantStatus;
use tessera_core::{AgentId, OAuthClientId};
use tessera_crypto::{ClientKey, SecretKind, sha256};
use tessera_proto::OAuthErrorCode;

use super::client_assertion;
use super::form::OAuthForm;
use crate::error::OAuthError;
use crate::state::AppState;

/// Client credentials as presented, before they are checked.
#[derive(Debug)]
pub struct Presented {
    client_id: String,
    secret: String,
    basic: bool,
}

impl Presented {
    /// Reads the credentials from the `Authorization: Basic` header or the form; None when the
    /// request carries neither.
    pub fn read(headers: &HeaderMap, form: &OAuthForm) -> Result<Option<Self>, OAuthError> {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
            .map(|(_, value)| value.trim());
        let posted = form.get("client_secret");
        match (basic, posted) {
            (Some(_), Some(_)) => Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            )),
            (Some(encoded), None) => {
                let malformed = || {
                    OAuthError::new(OAuthErrorCode::InvalidClient, "malformed Basic credentials")
                        .with_basic_challenge(true)
                };
                let decoded = STANDARD.decode(encoded).map_err(|_| malformed())?;
                let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
                let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
                let decode = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                };
                let (id, secret) = (
                    decode(id).unwrap_or_default(),
                    decode(secret).unwrap_or_default(),
                );
                if form.get("client_id").is_some_and(|form_id| form_id != id) {
                    return Err(OAuthError::invalid_request(
                        "client_id in the form differs from the Basic credentials",
                    ));
                }
                Ok(Some(Self {
                    client_id: id,
                    secret,
                    basic: true,
                }))
            }
            (None, Some(secret)) => {
                let id = form.require("client_id")?;
                Ok(Some(Self {
                    client_id: id.to_owned(),
                    secret: secret.to_owned(),
                    basic: false,
                }))
            }
            (None, None) => Ok(None),
        }
    }

    /// Checks the credentials; the agent must be active in an active tenant.
    pub async fn authenticate(self, state: &AppState) -> Result<Agent, OAuthError> {
        let fail = |why: &str| {
            OAuthError::new(OAuthErrorCode::InvalidClient, why).with_basic_challenge(self.basic)
        };
        let Ok(agent_id) = self.client_id.parse::<AgentId>() else {
            return Err(fail("client authentication failed"));
        };
        if SecretKind::of(&self.secret) != Some(SecretKind::ClientSecret) {
            return Err(fail("client authentication failed"));
        }
        let Some(agent) = state.store.agent_by_client_id(agent_id).await? else {
            return Err(fail("client authentication failed"));
        };
        let presented = sha256(self.secret.as_bytes());
        let now = state.clock.now();
        let mut matched = subtle::Choice::from(0);
        for secret in state.store.client_secrets(agent.id).await? {
            let live = subtle::Choice::from(u8::from(secret.expires_at.is_none_or(|at| at > now)));
            matched |= secret.secret_hash.ct_eq(&presented) & live;
        }
        if !bool::from(matched) {
            return Err(fail("client authentication failed"));
        }
        if agent.status != AgentStatus::Active {
            return Err(fail("the agent is disabled"));
        }
        if state.tenant_status(agent.tenant_id).await? != Some(TenantStatus::Active) {
            return Err(fail("the agent's tenant is suspended"));
        }
        Ok(agent)
    }
}

/// Whether the client authenticating names an application (`cli_…`) rather than an agent: by
/// the `client_id` it sends (in the form or with Basic), or by its assertion's subject. Nothing
/// is verified here; the credentials are checked as the client's kind says.
pub fn names_application(headers: &HeaderMap, form: &OAuthForm) -> bool {
    let named = if client_assertion::presented(form) {
        client_assertion::read(headers, form)
            .ok()
            .map(|assertion| assertion.subject)
    } else {
        Presented::read(headers, form)
            .ok()
            .flatten()
            .map(|presented| presented.client_id)
            .or_else(|| form.get("client_id").map(str::to_owned))
    };
    named.is_some_and(|id| id.parse::<OAuthClientId>().is_ok())
}

/// Authenticates an application at the token, device authorization, introspection and
/// revocation endpoints, as it registered: a confidential client by its secret or by an
/// assertion signed with one of its keys (`private_key_jwt`), a public client by its
/// `client_id` alone (PKCE and the single-use code protect it instead). The client's tenant
/// must be active.
pub async fn authenticate_app(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<OAuthClient, OAuthError> {
    if client_assertion::presented(form) {
        return authenticate_app_assertion(state, headers, form).await;
    }
    let presented = Presented::read(headers, form)?;
    let basic = presented.as_ref().is_some_and(|p| p.basic);
    let fail =
        |why: &str| OAuthError::new(OAuthErrorCode::InvalidClient, why).with_basic_challenge(basic);
    let client_id = match &presented {
        Some(presented) => presented.client_id.as_str(),
        None => form.get("client_id").ok_or_else(|| {
            OAuthError::new(
                OAuthErrorCode::InvalidClient,
                "client authentication is required",
            )
        })?,
    };
    let Ok(id) = client_id.parse::<OAuthClientId>() else {
        return Err(fail("client authentication failed"));
    };
    let Some(client) = state.store.oauth_client_by_id(id).await? else {
        return Err(fail("client authentication failed"));
    };
    match (&presented, client.secret_hash) {
        (Some(presented), Some(hash)) => {
            let digest = sha256(presented.secret.as_bytes());
            if !bool::from(digest.ct_eq(&hash)) {
                return Err(fail("client authentication failed"));
            }
        }
        (None, None) if client.is_public() => {}
        // A confidential client must prove itself (a client with keys, with an assertion); a
        // public client has no secret to send.
        _ => return Err(fail("client authentication failed")),
    }
    if state.tenant_status(client.tenant_id).await? != Some(TenantStatus::Active) {
        return Err(fail("the client's tenant is suspended"));
    }
    Ok(client)
}

/// `private_key_jwt` for an application: checked exactly as an agent's assertion, with the keys
/// the application registered inline or publishes at its `jwks_uri`.
async fn authenticate_app_assertion(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<OAuthClient, OAuthError> {
    let assertion = client_assertion::read(headers, form)?;
    let failed = || client_assertion::fail("client authentication failed");
    let id: OAuthClientId = assertion.subject.parse().map_err(|_| failed())?;
    let client = state
        .store
        .oauth_client_by_id(id)
        .await?
        .ok_or_else(failed)?;
    let keys = match &client.keys {
        Some(keys) if client.auth_method == ClientAuthMethod::PrivateKeyJwt => keys,
        _ => {
            return Err(client_assertion::fail(
                "the client did not register private_key_jwt",
            ));
        }
    };
    let keys = match keys {
        ClientKeys::Jwks(set) => key_set(set),
        ClientKeys::JwksUri(uri) => {
            let fits = |jwk: &serde_json::Value| {
                ClientKey::from_jwk(jwk, None).is_ok_and(|key| key.alg == assertion.alg())
            };
            let jwk = state
                .client_keys
                .key(uri, assertion.kid(), &fits)
                .await
                .map_err(|e| {
                    tracing::info!(client = %client.id, error = %e, "a client's jwks_uri did not give the assertion's key");
                    client_assertion::fail(format!(
                        "no key of the client's jwks_uri fits the assertion ({})",
                        e.reason()
                    ))
                })?;
            ClientKey::from_jwk(&jwk, None).into_iter().collect()
        }
    };
    assertion.verify(state, &keys).await?;
    if state.tenant_status(client.tenant_id).await? != Some(TenantStatus::Active) {
        return Err(client_assertion::fail("the client's tenant is suspended"));
    }
    Ok(client)
}

/// The usable keys of a JWK Set (RFC 7517 §5) as registered; others are skipped, as a set may
/// hold keys for other uses.
fn key_set(set: &str) -> Vec<ClientKey> {
    #[derive(serde::Deserialize)]
    struct KeySet {
        keys: Vec<serde_json::Value>,
    }
    serde_json::from_str::<KeySet>(set)
        .map(|set| {
            set.keys
                .iter()
                .filter_map(|jwk| ClientKey::from_jwk(jwk, None).ok())
                .collect()
        })
        .unwrap_or_default()
}
