//! The single table of error codes: each code, its HTTP status and what it means. Servers map
//! their domain errors onto these rows with exhaustive matches; clients match on `error`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The body of every error of Tessera's own API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// A stable, machine-readable code (see the error table in the README).
    #[schema(example = "invalid_body")]
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// Present (true) when the call needs an integration the operator has not set up yet
    /// (`<provider>_oauth_not_configured`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup_required: Option<bool>,
    /// Where a person reconnects a connection that needs it (`connection_needs_reauth`,
    /// `connection_expired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_url: Option<String>,
}

macro_rules! error_codes {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => ($code:literal, $status:literal, $doc:literal)),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $(#[doc = $doc] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            pub fn code(self) -> &'static str {
                match self { $(Self::$variant => $code),+ }
            }

            pub fn status(self) -> u16 {
                match self { $(Self::$variant => $status),+ }
            }

            pub fn description(self) -> &'static str {
                match self { $(Self::$variant => $doc),+ }
            }
        }
    };
}

error_codes!(
    /// Errors of Tessera's own API (`/v1`, operations).
    ErrorCode {
        InvalidJson => ("invalid_json", 400, "The body is not valid JSON."),
        InvalidBody => ("invalid_body", 422, "The JSON is well-formed but a field is missing, has the wrong type, or is not allowed."),
        InvalidParameter => ("invalid_parameter", 400, "A field or query parameter has a value Tessera does not accept."),
        InvalidId => ("invalid_id", 400, "An identifier in the path is not of the expected form."),
        UnsupportedMediaType => ("unsupported_media_type", 415, "The body must be `application/json`."),
        PayloadTooLarge => ("payload_too_large", 413, "The body is larger than the server accepts."),
        Unauthenticated => ("unauthenticated", 401, "No valid credential was presented (missing, malformed, unknown, expired or revoked)."),
        InvalidCredentials => ("invalid_credentials", 401, "The email and password (or the code, link or signature) do not sign anyone in."),
        SignInFailed => ("sign_in_failed", 401, "The wallet signature, passkey assertion or provider's answer did not prove who the caller is (the message says which check failed)."),
        InvalidState => ("invalid_state", 400, "The sign-in flow's `state`, nonce or ceremony is unknown, used or expired; start again."),
        RefreshTokenReused => ("refresh_token_reused", 401, "The refresh token had been used already: its whole session is now revoked."),
        TenantSuspended => ("tenant_suspended", 401, "The credential's tenant is suspended."),
        InsufficientScope => ("insufficient_scope", 403, "The credential is valid but lacks the scope this call needs."),
        RegistrationClosed => ("registration_closed", 403, "Open registration is switched off; an operator must create tenants."),
        PlanLimitReached => ("plan_limit_reached", 403, "The tenant's plan allows no more of this (agents); an operator can change the plan."),
        NotFound => ("not_found", 404, "No such object, or it belongs to another tenant."),
        MethodNotAllowed => ("method_not_allowed", 405, "The path exists but not with this method."),
        Conflict => ("conflict", 409, "The request conflicts with the current state."),
        IdentityTaken => ("identity_taken", 409, "This sign-in door (email, account, passkey or wallet) already belongs to a user."),
        LastIdentity => ("last_identity", 409, "This is the user's only way to sign in; add another before removing it."),
        LastOwner => ("last_owner", 409, "The tenant would be left without an owner."),
        ConnectionNeedsReauth => ("connection_needs_reauth", 409, "The provider refused the connection's refresh token (revoked or expired grant): a person must connect it again at `start_url`."),
        ConnectionExpired => ("connection_expired", 409, "The connection's access token expired and there is no refresh token: a person must connect it again at `start_url`."),
        ConnectionRevoked => ("connection_revoked", 409, "The connection was disconnected (its tokens are erased): a person must connect it again at `start_url`."),
        AgentDisabled => ("agent_disabled", 409, "The agent is disabled: its connections cannot be started, completed or used until it is enabled again."),
        RateLimited => ("rate_limited", 429, "Too many requests; retry after the time in `Retry-After`."),
        RuntimeFailed => ("runtime_failed", 502, "An entity's runtime did not start, did not become healthy, or refused its blueprint or an edge; what was started was stopped."),
        ProvisioningNotConfigured => ("provisioning_not_configured", 503, "Provisioning is not set up on this server (`provisioning_command`, or `provisioning_backend = \"static\"` with an address)."),
        PasskeysNotConfigured => ("passkeys_not_configured", 503, "Passkeys need a relying party id that is a domain: set `public_url` to a name (not an IP address), or `passkey_rp_id`."),
        PortsExhausted => ("ports_exhausted", 503, "Every port in `provisioning_ports` is taken; nothing was started."),
        OAuthNotConfigured => ("oauth_not_configured", 503, "This OAuth/OIDC provider is not in `oauth_providers`; the body's `error` is `<provider>_oauth_not_configured` and `setup_required` is true."),
        AwsNotConfigured => ("aws_not_configured", 503, "AWS credentials are not set up on this server (`aws_sts_endpoint`); the body has `setup_required: true`."),
        CloudRefused => ("cloud_refused", 403, "The cloud's token service refused the agent's token (the role's trust policy, the role, the duration); its code and message follow."),
        CloudFailed => ("cloud_failed", 502, "The cloud's token service could not be reached or answered something unusable; retry later."),
        OAuthProviderFailed => ("oauth_provider_failed", 502, "The OAuth/OIDC provider could not be reached or answered something unusable (discovery, signing keys, token endpoint); retry later."),
        Internal => ("internal", 500, "Tessera failed; the request id in the logs says why."),
        Unavailable => ("unavailable", 503, "A dependency (the database) is unreachable; retry later."),
        NoRoute => ("no_route", 404, "The gateway has no route or placement for this path."),
        UnknownEntity => ("unknown_entity", 404, "The entity named by `X-Entity` (or `entity`) has no placement."),
        TenantMismatch => ("tenant_mismatch", 403, "The credential belongs to another tenant than the one the request is for."),
        PlacementNotRunning => ("placement_not_running", 503, "The entity's runtime is not running; retry later."),
        UpstreamUnavailable => ("upstream_unavailable", 502, "The upstream refused the connection or broke the exchange."),
        UpstreamTimeout => ("upstream_timeout", 504, "The upstream did not answer in time."),
    }
);

/// The error body of the OAuth 2 endpoints (RFC 6749 §5.2), with `message` mirroring
/// `error_description` so that every Tessera error has the same two fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OAuthErrorBody {
    #[schema(example = "invalid_client")]
    pub error: String,
    pub error_description: String,
    pub message: String,
}

error_codes!(
    /// RFC 6749 §4.1.2.1 and §5.2 error codes, RFC 6750's bearer-token errors, RFC 7009's
    /// `unsupported_token_type`, RFC 7591's registration errors, RFC 9449's DPoP errors, RFC 8707's
    /// `invalid_target`, RFC 8628's polling errors, and OpenID Connect's
    /// `login_required` and `consent_required`.
    OAuthErrorCode {
        InvalidRequest => ("invalid_request", 400, "A parameter is missing, repeated, malformed or not allowed."),
        InvalidClient => ("invalid_client", 401, "Client authentication failed."),
        InvalidGrant => ("invalid_grant", 400, "The grant is invalid, expired or revoked."),
        UnauthorizedClient => ("unauthorized_client", 400, "This client may not use this grant type."),
        UnsupportedGrantType => ("unsupported_grant_type", 400, "The grant type is not supported."),
        InvalidScope => ("invalid_scope", 400, "The requested scope exceeds what the client may have."),
        UnsupportedTokenType => ("unsupported_token_type", 400, "The server cannot revoke this type of token."),
        UnsupportedResponseType => ("unsupported_response_type", 400, "The authorization endpoint answers `response_type=code` only."),
        AccessDenied => ("access_denied", 403, "The person declined the request."),
        LoginRequired => ("login_required", 401, "`prompt=none`, but nobody is signed in."),
        ConsentRequired => ("consent_required", 403, "`prompt=none`, but the person has not consented to this client and these scopes."),
        InvalidToken => ("invalid_token", 401, "The access token is missing, malformed, expired or revoked."),
        InsufficientScope => ("insufficient_scope", 403, "The access token lacks the scope this call needs."),
        InvalidRedirectUri => ("invalid_redirect_uri", 400, "A redirect URI of the registration is not acceptable (RFC 7591)."),
        InvalidClientMetadata => ("invalid_client_metadata", 400, "A field of the registration is not acceptable (RFC 7591)."),
        InvalidDpopProof => ("invalid_dpop_proof", 400, "The DPoP proof is missing, malformed, replayed, or not for this request (RFC 9449)."),
        UseDpopNonce => ("use_dpop_nonce", 400, "Retry with a DPoP proof carrying the nonce in the `DPoP-Nonce` header (RFC 9449)."),
        SlowDown => ("slow_down", 429, "Too many requests from this client; retry later."),
        InvalidTarget => ("invalid_target", 400, "The resource (RFC 8707) is not one Tessera issues tokens for, or not one this grant covers."),
        AuthorizationPending => ("authorization_pending", 400, "The person has not yet approved the device authorization (RFC 8628); poll again after the interval."),
        ExpiredToken => ("expired_token", 400, "The device code has expired (RFC 8628); start a new device authorization."),
        ServerError => ("server_error", 500, "Tessera failed; the request id in the logs says why."),
        TemporarilyUnavailable => ("temporarily_unavailable", 503, "A dependency is unreachable; retry later."),
    }
);

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn codes_are_unique_and_statuses_are_errors() {
        let codes: HashSet<_> = ErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(
            ErrorCode::ALL
                .iter()
                .all(|c| (400..600).contains(&c.status()))
        );
        let oauth: HashSet<_> = OAuthErrorCode::ALL.iter().map(|c| c.code()).collect();
        assert_eq!(oauth.len(), OAuthErrorCode::ALL.len());
    }
}
