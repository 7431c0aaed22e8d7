//! Wallet bindings: `/v1/me/wallet-bindings` (the signed-in person binds an agent's wallet to
//! one of their Ethereum addresses, proven by that address's EIP-191 signature over the
//! binding's statement; lists; revokes) and `/v1/wallet-bindings/check` (whether two addresses
//! are bound, and for what).

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tessera_core::people::{Chain, IdentityKind};
use tessera_core::wallet_binding::{WalletBinding, statement};
use tessera_core::{StoreError, WalletBindingId};
use tessera_crypto::sha256;
use tessera_proto::wallet_bindings as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::auth::extract::Caller;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::{ApiJson, path_id};
use crate::http::openapi::{BodyErrors, KeyErrors, SessionErrors};
use crate::people::signed_in::SignedIn;
use crate::state::AppState;

/// How old a signed statement may be, and how far ahead of Tessera's clock.
const MAX_AGE: Duration = Duration::minutes(10);
const MAX_AHEAD: Duration = Duration::minutes(1);
const MAX_GRANTS: usize = 32;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_binding, list_bindings))
        .routes(routes!(revoke_binding))
        .routes(routes!(check_binding))
}

fn view(binding: &WalletBinding) -> wire::WalletBinding {
    wire::WalletBinding {
        id: binding.id.to_string(),
        main: binding.main_address.clone(),
        agent: binding.agent_address.clone(),
        grants: binding.grants.clone(),
        created_at: binding.created_at,
        revoked_at: binding.revoked_at,
    }
}

/// An Ethereum address, lowercase (the form bindings are stored and compared in).
fn address(field: &str, raw: &str) -> Result<String, ApiError> {
    let hex = raw.strip_prefix("0x").or_else(|| raw.strip_prefix("0X"));
    match hex {
        Some(hex) if hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(format!("0x{}", hex.to_ascii_lowercase()))
        }
        _ => Err(ApiError::invalid(format!(
            "{field}: an Ethereum address (0x and 40 hex digits)"
        ))),
    }
}

fn grants(raw: Vec<String>) -> Result<Vec<String>, ApiError> {
    let valid = |g: &String| {
        (1..=64).contains(&g.len())
            && g.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b":_.-".contains(&b))
    };
    if raw.is_empty() || raw.len() > MAX_GRANTS || !raw.iter().all(valid) {
        return Err(ApiError::invalid(format!(
            "grants: 1 to {MAX_GRANTS} labels of 1 to 64 of a-z, 0-9, `:`, `_`, `.`, `-`"
        )));
    }
    Ok(raw
        .into_iter()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect())
}

/// Whether `main` is an Ethereum address the person holds: a custodial wallet or a wallet door.
async fn holds(state: &AppState, me: &SignedIn, main: &str) -> Result<bool, ApiError> {
    let custodial = state
        .store
        .wallets(me.user_id)
        .await?
        .into_iter()
        .any(|w| w.chain == Chain::Ethereum && w.address.eq_ignore_ascii_case(main));
    let door = state
        .store
        .identities(me.user_id)
        .await?
        .into_iter()
        .any(|i| i.kind == IdentityKind::Ethereum && i.subject.eq_ignore_ascii_case(main));
    Ok(custodial || door)
}

/// Bind an agent's wallet to one of the person's Ethereum addresses, with grants; the main
/// wallet's signature of the statement proves it agrees.
#[utoipa::path(post, path = "/v1/me/wallet-bindings", tag = "me",
    request_body = wire::CreateWalletBindingRequest,
    responses((status = 201, body = wire::WalletBinding), (status = 400, body = ErrorBody),
        (status = 409, body = ErrorBody), SessionErrors, BodyErrors),
    security(("session" = [])))]
async fn create_binding(
    State(state): State<AppState>,
    me: SignedIn,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::CreateWalletBindingRequest>,
) -> Result<(StatusCode, Json<wire::WalletBinding>), ApiError> {
    let main = address("main", &body.main)?;
    let agent = address("agent", &body.agent)?;
    if main == agent {
        return Err(ApiError::invalid("agent: must differ from main"));
    }
    let grants = grants(body.grants)?;
    let now = state.clock.now();
    if body.issued_at < now - MAX_AGE || body.issued_at > now + MAX_AHEAD {
        return Err(ApiError::invalid(
            "issued_at: the statement must have been signed within the last 10 minutes",
        ));
    }
    if !holds(&state, &me, &main).await? {
        return Err(ApiError::invalid(
            "main: not one of your Ethereum addresses (custodial wallet or wallet sign-in)",
        ));
    }
    let text = statement(&main, &agent, &grants, body.issued_at);
    let refuse = |reason: &'static str, message: &str| {
        let fact = Fact::failure(None, me.actor(), "wallet_binding.create", &agent, reason);
        (
            fact,
            ApiError::new(ErrorCode::SignInFailed, message.to_owned()),
        )
    };
    let signer = tessera_wallet::recover_personal_signer(&text, &body.signature);
    if signer.as_deref().ok() != Some(main.as_str()) {
        let (fact, error) = refuse(
            "bad_signature",
            "bad_signature: the signature is not the main wallet's over the binding statement",
        );
        state.audit(&ctx, fact).await;
        return Err(error);
    }
    let binding = WalletBinding {
        id: WalletBindingId::generate(),
        user_id: me.user_id,
        main_address: main,
        agent_address: agent,
        grants,
        signature_hash: sha256(body.signature.to_ascii_lowercase().as_bytes()),
        issued_at: body.issued_at,
        created_at: now,
        revoked_at: None,
    };
    match state.store.create_wallet_binding(&binding).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                "these wallets are already bound (revoke that binding first), or this \
                 signature was used before: sign a new statement",
            ));
        }
        Err(other) => return Err(other.into()),
    }
    let fact = Fact::success(None, me.actor(), "wallet_binding.create", binding.id);
    state.audit(&ctx, fact).await;
    Ok((StatusCode::CREATED, Json(view(&binding))))
}

/// The person's wallet bindings, oldest first (revoked ones included).
#[utoipa::path(get, path = "/v1/me/wallet-bindings", tag = "me",
    responses((status = 200, body = wire::WalletBindingList), SessionErrors),
    security(("session" = [])))]
async fn list_bindings(
    State(state): State<AppState>,
    me: SignedIn,
) -> Result<Json<wire::WalletBindingList>, ApiError> {
    let bindings = state.store.wallet_bindings(me.user_id).await?;
    Ok(Json(wire::WalletBindingList {
        wallet_bindings: bindings.iter().map(view).collect(),
    }))
}

/// Revoke one of the person's bindings: checks say `bound: false` at once.
#[utoipa::path(delete, path = "/v1/me/wallet-bindings/{binding_id}", tag = "me",
    params(("binding_id" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), SessionErrors),
    security(("session" = [])))]
async fn revoke_binding(
    State(state): State<AppState>,
    me: SignedIn,
    ctx: RequestContext,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: WalletBindingId = path_id(&id)?;
    let now = state.clock.now();
    if !state
        .store
        .revoke_wallet_binding(me.user_id, id, now)
        .await?
    {
        return Err(ApiError::not_found("wallet binding"));
    }
    let fact = Fact::success(None, me.actor(), "wallet_binding.revoke", id);
    state.audit(&ctx, fact).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the agent wallet is bound to the main wallet, and with which grants.
#[utoipa::path(post, path = "/v1/wallet-bindings/check", tag = "me",
    request_body = wire::WalletBindingCheck,
    responses((status = 200, body = wire::WalletBindingStatus), KeyErrors, BodyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn check_binding(
    State(state): State<AppState>,
    _caller: Caller,
    ApiJson(body): ApiJson<wire::WalletBindingCheck>,
) -> Result<Json<wire::WalletBindingStatus>, ApiError> {
    let main = address("main", &body.main)?;
    let agent = address("agent", &body.agent)?;
    let live = state.store.live_wallet_binding(&main, &agent).await?;
    Ok(Json(wire::WalletBindingStatus {
        bound: live.is_some(),
        grants: live.map(|b| b.grants).unwrap_or_default(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_grants_are_normalized() {
        let upper = "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf";
        assert_eq!(
            address("main", upper).unwrap(),
            "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf"
        );
        assert!(address("main", "0x123").is_err());
        assert!(address("main", &"z".repeat(42)).is_err());
        let sorted = grants(vec!["sign".into(), "pay".into(), "sign".into()]).unwrap();
        assert_eq!(sorted, vec!["pay".to_owned(), "sign".to_owned()]);
        assert!(grants(vec![]).is_err());
        assert!(grants(vec!["Pay".into()]).is_err());
    }
}
