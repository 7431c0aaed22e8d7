//! Where a sign-in may send the browser when it is done (`redirect_to`): a URL on the public
//! URL's origin or on one of `sign_in_redirect_origins`, nowhere else (no open redirect); and
//! the redirect itself.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest `redirect_to` accepted (it travels inside emailed links and OAuth states).
const MAX_LEN: usize = 2048;

impl AppState {
    /// `raw` (absolute, or a path on this server) if a sign-in may redirect there; 400
    /// `invalid_parameter` otherwise.
    pub fn allowed_redirect(&self, raw: &str) -> Result<Url, ApiError> {
        let refused = || {
            ApiError::invalid(
                "redirect_to: must be a URL on this server's origin or one of \
                 `sign_in_redirect_origins`",
            )
        };
        if raw.len() > MAX_LEN {
            return Err(refused());
        }
        let public = Url::parse(&self.issuer).map_err(ApiError::internal)?;
        // Joining resolves paths against the public URL and keeps absolute URLs as they are;
        // `//evil.example` or `/\evil.example` come out on evil.example's origin, refused below.
        let url = public.join(raw).map_err(|_| refused())?;
        if !url.username().is_empty()
            || url.password().is_some()
            || !matches!(url.scheme(), "http" | "https")
        {
            return Err(refused());
        }
        let origin = url.origin();
        let allowed = origin == public.origin()
            || self
                .config
                .sign_in_redirect_origins
                .iter()
                .any(|o| *o == origin.ascii_serialization());
        if allowed { Ok(url) } else { Err(refused()) }
    }
}

/// `redirect_to` with `error=<reason>` added, for a flow that fails after the browser left the
/// application.
pub fn with_error(mut redirect_to: Url, reason: &str) -> Url {
    redirect_to.query_pairs_mut().append_pair("error", reason);
    redirect_to
}

/// A 302 to `to`, never cached, carrying `headers` (the session cookies, when signed in).
pub fn found(mut headers: HeaderMap, to: &Url) -> Response {
    match HeaderValue::from_str(to.as_str()) {
        Ok(location) => {
            headers.insert(header::LOCATION, location);
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            (StatusCode::FOUND, headers).into_response()
        }
        Err(error) => ApiError::internal(error).into_response(),
    }
}
