//! `/v1/agents/{agent_id}/oidc-token` (a short-lived OIDC JWT for the agent's workload, Tessera
//! as issuer) and `/v1/agents/{agent_id}/aws-credentials` (that JWT exchanged at AWS STS for
//! temporary credentials). Callable by the agent with its own access token, or by a caller
//! allowed to write agents in its tenant. Audited, never a token or secret.

use axum::Json;
use axum::extract::State;
use tessera_proto::workload as wire;
use tessera_proto::{ErrorBody, ErrorCode};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::context::RequestContext;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::http::openapi::{BodyErrors, KeyErrors};
use crate::state::AppState;
use crate::workload::caller::WorkloadCaller;
use crate::workload::oidc_token;
use crate::workload::sts::{self, StsError};

const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";
const DEFAULT_DURATION: u32 = 3600;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(oidc_token))
        .routes(routes!(aws_credentials))
}

/// Mint a short-lived OIDC JWT for the agent's workload (`sub` the agent, `aud` as asked).
#[utoipa::path(post, path = "/v1/agents/{agent_id}/oidc-token", tag = "workload-identity",
    params(("agent_id" = String, Path)),
    request_body = wire::OidcTokenRequest,
    responses((status = 200, body = wire::OidcToken), (status = 409, body = ErrorBody), KeyErrors, BodyErrors),
    security(("api_key" = []), ("session" = [])))]
async fn oidc_token(
    State(state): State<AppState>,
    caller: WorkloadCaller,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::OidcTokenRequest>,
) -> Result<Json<wire::OidcToken>, ApiError> {
    let audience = oidc_token::audience(&state, &body.audience)?;
    let (token, claims) = state
        .mint_workload_token(&caller.agent, &audience)
        .map_err(ApiError::internal)?;
    state
        .audit(&ctx, caller.fact("oidc_token.issue", &audience))
        .await;
    Ok(Json(wire::OidcToken {
        token,
        token_type: JWT_TOKEN_TYPE.to_owned(),
        expires_in: claims.exp - claims.iat,
    }))
}

/// Temporary AWS credentials for a role that trusts Tessera: the agent's OIDC JWT (audience
/// `sts.amazonaws.com`) exchanged with STS `AssumeRoleWithWebIdentity`.
#[utoipa::path(post, path = "/v1/agents/{agent_id}/aws-credentials", tag = "workload-identity",
    params(("agent_id" = String, Path)),
    request_body = wire::AwsCredentialsRequest,
    responses((status = 200, body = wire::AwsCredentials), (status = 409, body = ErrorBody), KeyErrors, BodyErrors,
        (status = 502, body = ErrorBody, description = "`cloud_failed`: STS unreachable or unusable"),
        (status = 503, body = ErrorBody, description = "`aws_not_configured` (`setup_required`)")),
    security(("api_key" = []), ("session" = [])))]
async fn aws_credentials(
    State(state): State<AppState>,
    caller: WorkloadCaller,
    ctx: RequestContext,
    ApiJson(body): ApiJson<wire::AwsCredentialsRequest>,
) -> Result<Json<wire::AwsCredentials>, ApiError> {
    let Some(sts) = &state.workload.sts else {
        return Err(ApiError::setup_required(
            ErrorCode::AwsNotConfigured,
            "AWS credentials are not set up: set aws_sts_endpoint (e.g. https://sts.amazonaws.com)",
        ));
    };
    let role_arn = role_arn(&body.role_arn)?;
    let duration = body.duration_seconds.unwrap_or(DEFAULT_DURATION);
    if !(900..=43_200).contains(&duration) {
        return Err(ApiError::invalid("duration_seconds: between 900 and 43200"));
    }
    let (token, _) = state
        .mint_workload_token(&caller.agent, sts::AUDIENCE)
        .map_err(ApiError::internal)?;
    // The session name shows in the role's CloudTrail entries: the agent's id says who.
    let session = caller.agent.id.to_string();
    match sts.assume_role(role_arn, &session, &token, duration).await {
        Ok(assumed) => {
            state
                .audit(&ctx, caller.fact("aws_credentials.issue", role_arn))
                .await;
            let credentials = assumed.credentials;
            Ok(Json(wire::AwsCredentials {
                access_key_id: credentials.access_key_id,
                secret_access_key: credentials.secret_access_key.expose().to_owned(),
                session_token: credentials.session_token.expose().to_owned(),
                expiration: credentials.expiration,
                assumed_role_arn: assumed.assumed_role_arn,
            }))
        }
        Err(error) => {
            let (code, reason) = match &error {
                StsError::Refused { code, .. } => (ErrorCode::CloudRefused, code.as_str()),
                StsError::Unreachable(_) | StsError::Unusable(_) => {
                    tracing::warn!(error = %error, "AWS STS failed");
                    (ErrorCode::CloudFailed, ErrorCode::CloudFailed.code())
                }
            };
            let fact = caller.failure("aws_credentials.issue", role_arn, reason);
            state.audit(&ctx, fact).await;
            Err(ApiError::new(code, error.to_string()))
        }
    }
}

/// `arn:<partition>:iam::<12-digit account>:role/<path and name>`.
fn role_arn(raw: &str) -> Result<&str, ApiError> {
    let invalid = || ApiError::invalid("role_arn: arn:aws:iam::<account>:role/<name>");
    let rest = raw.strip_prefix("arn:").ok_or_else(invalid)?;
    let mut parts = rest.splitn(5, ':');
    let (Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid());
    };
    let name = resource.strip_prefix("role/").ok_or_else(invalid)?;
    let valid = matches!(partition, "aws" | "aws-cn" | "aws-us-gov")
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && (1..=512).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b));
    if valid { Ok(raw) } else { Err(invalid()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns_are_checked() {
        for good in [
            "arn:aws:iam::123456789012:role/deploy",
            "arn:aws-cn:iam::123456789012:role/path/to/deploy-ci",
        ] {
            assert!(role_arn(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "deploy",
            "arn:aws:iam::12345:role/deploy",
            "arn:aws:s3:::bucket",
            "arn:aws:iam::123456789012:user/jane",
            "arn:aws:iam::123456789012:role/",
            "arn:evil:iam::123456789012:role/deploy",
            "arn:aws:iam::123456789012:role/de ploy",
        ] {
            assert!(role_arn(bad).is_err(), "{bad}");
        }
    }
}
