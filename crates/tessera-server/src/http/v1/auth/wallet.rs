//! `/v1/auth/wallet`: sign in with an Ethereum (SIWE, EIP-4361) or Solana (SIWS) wallet. The
//! client asks for a nonce, has the wallet sign a message naming it, and sends message and
//! signature back.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, SessionErrors};
use crate::people::accounts::Door;
use crate::people::sessions::actor;
use crate::people::signed_in::MaybeSignedIn;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(nonce))
        .routes(routes!(verify))
}

/// Get a single-use nonce (valid 10 minutes) and the domain, URI and chain id the wallet's
/// sign-in message must carry. The body is optional (`{"chain": "solana"}` for Solana).
#[utoipa::path(post, path = "/v1/auth/wallet/nonce", tag = "auth",
    request_body = wire::WalletNonceRequest,
    responses((status = 201, body = wire::WalletNonce), BodyErrors, SessionErrors))]
async fn nonce(
    State(state): State<AppState>,
    ctx: RequestContext,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: wire::WalletNonceRequest = if body.iter().all(u8::is_ascii_whitespace) {
        wire::WalletNonceRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            let code = if e.is_data() {
                ErrorCode::InvalidBody
            } else {
                ErrorCode::InvalidJson
            };
            ApiError::new(code, e.to_string())
        })?
    };
    state
        .people
        .sign_in_started(ctx.client_ip)
        .map_err(ApiError::rate_limited)?;
    let nonce = state.issue_wallet_nonce(request.chain).await?;
    Ok((StatusCode::CREATED, axum::Json(nonce)).into_response())
}

/// Sign in with a signed SIWE (`chain: eip155`, the default) or SIWS (`chain: solana`)
/// message. Checked: the nonce (issued here, unused, and used up by this call whatever its
/// outcome), the domain and URI (this server's public URL), the chain id (`wallet_chain_id`,
/// `solana_chain_id`), `issued-at` within 45 minutes and not ahead of the clock, expiry and
/// not-before, and the signature against the message's address. 201 when the wallet is new
/// (a user is created); with a session, the wallet is linked to the signed-in user instead.
#[utoipa::path(post, path = "/v1/auth/wallet/verify", tag = "auth",
    request_body = wire::WalletVerifyRequest,
    responses((status = 200, body = wire::SessionGrant), (status = 201, body = wire::SessionGrant), BodyErrors, SessionErrors))]
async fn verify(
    State(state): State<AppState>,
    ctx: RequestContext,
    headers: HeaderMap,
    MaybeSignedIn(me): MaybeSignedIn,
    ApiJson(body): ApiJson<wire::WalletVerifyRequest>,
) -> Result<Response, ApiError> {
    let action = "auth.wallet.verify";
    let proven = match state
        .verify_wallet_message(body.chain, &body.message, &body.signature)
        .await?
    {
        Ok(proven) => proven,
        Err(refusal) => {
            let who = me.map_or_else(|| "anonymous".to_owned(), |me| me.actor());
            let fact = Fact::failure(None, who, action, body.chain.as_str(), refusal.reason());
            state.audit(&ctx, fact).await;
            return Err(refusal.into());
        }
    };
    let method = proven.kind.as_str().into_owned();
    let entered = state
        .enter(&ctx, Door::new(proven.kind, proven.subject), me)
        .await?;
    let fact = Fact::success(None, actor(entered.user.id), action, entered.identity.id);
    state.audit(&ctx, fact).await;
    let status = if entered.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(state
        .start_session(&ctx, &headers, &entered.user, &method, entered.created)
        .await?
        .with_status(status)
        .into_response())
}
