//! How failures leave the server: [`ApiError`] for Tessera's own API (`{"error", "message"}`)
//! and [`OAuthError`] for the OAuth 2 endpoints (RFC 6749 §5.2). A 5xx never carries the real
//! cause to the client; it is logged with the request id instead.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tessera_core::StoreError;
use tessera_core::validate::ValidationError;
use tessera_proto::{ErrorBody, ErrorCode, OAuthErrorBody, OAuthErrorCode};

#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
    /// Seconds for `Retry-After` (429s).
    retry_after: Option<u64>,
    /// An optional integration that is not set up: its name prefixes the code
    /// (`google_oauth_not_configured`) and the body carries `setup_required: true`.
    unconfigured: Option<String>,
    /// Where to reconnect a connection that needs a new consent.
    start_url: Option<String>,
    /// An optional part of Tessera the operator has not configured (`setup_required: true`).
    setup_required: bool,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after: None,
            unconfigured: None,
            start_url: None,
            setup_required: false,
        }
    }

    /// 503 for an optional part the operator has not configured: `setup_required: true`.
    pub fn setup_required(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            setup_required: true,
            ..Self::new(code, message)
        }
    }

    /// 503 for an integration that is not in `integrations`, shaped like the sign-in doors'
    /// (`<provider>_oauth_not_configured`, `setup_required: true`).
    pub fn integration_not_configured(provider: &str) -> Self {
        Self {
            unconfigured: Some(provider.to_owned()),
            ..Self::new(
                ErrorCode::OAuthNotConfigured,
                format!(
                    "connecting `{provider}` is not set up: add [integrations.{provider}] to the \
                     configuration"
                ),
            )
        }
    }

    /// The same error with where to reconnect.
    pub fn with_start_url(self, url: String) -> Self {
        Self {
            start_url: Some(url),
            ..self
        }
    }

    /// 503 for an OAuth provider that is not in `oauth_providers`:
    /// `{"error": "<provider>_oauth_not_configured", "setup_required": true, …}`.
    pub fn oauth_not_configured(provider: &str) -> Self {
        Self {
            unconfigured: Some(provider.to_owned()),
            ..Self::new(
                ErrorCode::OAuthNotConfigured,
                format!(
                    "sign-in with `{provider}` is not set up: add [oauth_providers.{provider}] to \
                     the configuration"
                ),
            )
        }
    }

    /// 429 with `Retry-After` (whole seconds, at least 1).
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let seconds = wait.as_secs().max(1);
        Self {
            retry_after: Some(seconds),
            ..Self::new(
                ErrorCode::RateLimited,
                format!("too many requests; retry in {seconds} s"),
            )
        }
    }

    /// The row of the error table this error is.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("no such {what}"))
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// The same error with `context` (which part of the request) before its message.
    pub fn prefixed(self, context: &str) -> Self {
        Self {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }

    /// A failure of Tessera itself; `cause` goes to the log, never to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(ErrorCode::Internal, ErrorCode::Internal.description())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(rule) => Self::new(
                ErrorCode::Conflict,
                format!("conflicts with an existing object ({rule})"),
            ),
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "store unavailable");
                Self::new(ErrorCode::Unavailable, ErrorCode::Unavailable.description())
            }
            StoreError::Corrupt(cause) => Self::internal(cause),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(error: ValidationError) -> Self {
        Self::invalid(error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (
            status,
            Json(ErrorBody {
                error: match &self.unconfigured {
                    Some(what) => format!("{what}_{}", self.code.code()),
                    None => self.code.code().to_owned(),
                },
                message: self.message,
                setup_required: (self.setup_required || self.unconfigured.is_some())
                    .then_some(true),
                start_url: self.start_url,
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tessera\""),
            );
        }
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[derive(Debug)]
pub struct OAuthError {
    code: OAuthErrorCode,
    description: String,
    /// Set when the client tried HTTP Basic: a 401 must then challenge with Basic (RFC 6749 §5.2).
    basic_challenge: bool,
}

impl OAuthError {
    pub fn new(code: OAuthErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_challenge: false,
        }
    }

    pub fn code(&self) -> OAuthErrorCode {
        self.code
    }

    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn with_basic_challenge(mut self, basic: bool) -> Self {
        self.basic_challenge = basic;
        self
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(OAuthErrorCode::InvalidRequest, description)
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> Self {
        let api = ApiError::from(error);
        match api.code {
            ErrorCode::Unavailable => {
                Self::new(OAuthErrorCode::TemporarilyUnavailable, api.message)
            }
            _ => Self::new(
                OAuthErrorCode::ServerError,
                OAuthErrorCode::ServerError.description(),
            ),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let body = OAuthErrorBody {
            error: self.code.code().to_owned(),
            error_description: self.description.clone(),
            message: self.description,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        let challenge = match self.code {
            // RFC 6750 §3: a resource (userinfo) says what was wrong with the bearer token.
            OAuthErrorCode::InvalidToken => {
                Some("Bearer realm=\"tessera\", error=\"invalid_token\"")
            }
            OAuthErrorCode::InsufficientScope => {
                Some("Bearer realm=\"tessera\", error=\"insufficient_scope\"")
            }
            _ if status != StatusCode::UNAUTHORIZED => None,
            _ if self.basic_challenge => Some("Basic realm=\"tessera\""),
            _ => Some("Bearer realm=\"tessera\""),
        };
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}
