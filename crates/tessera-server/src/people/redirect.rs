//! Where a sign-in may send the browser when it is done (`redirect_to`): a URL on the public
//! URL's origin or on one of `sign_in_redirect_origins`, nowhere else (no open redirect); and
//! the redirect itself.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use url::Url;

use crate::error::ApiError;
use crate::people::sessions::Issued;
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

/// A browser sign-in that succeeded: the session cookies and a 302 to `to`, or the session
/// grant as JSON when the sign-in named no `redirect_to`.
pub fn signed_in_to(issued: Issued, to: Option<Url>) -> Response {
    match to {
        Some(to) => {
            let mut headers = HeaderMap::new();
            issued.into_cookies(&mut headers);
            found(headers, &to)
        }
        None => issued.into_response(),
    }
}

/// A browser sign-in that failed after the browser left the application: a 302 to
/// `to?error=<reason>`, or the JSON error when there is nowhere to go back to.
pub fn failed_to(error: ApiError, reason: &str, to: Option<Url>) -> Response {
    match to {
        Some(mut to) => {
            to.query_pairs_mut().append_pair("error", reason);
            found(HeaderMap::new(), &to)
        }
        None => error.into_response(),
    }
}

/// Ends an emailed link's sign-in: `signed_in_to` where it leads, or `failed_to` the link's
/// `redirect_to` (when allowed) with the error's code as the reason.
pub fn link_ended(
    state: &AppState,
    outcome: Result<(Issued, Option<Url>), ApiError>,
    redirect_to: Option<&str>,
) -> Response {
    let back = redirect_to.and_then(|url| state.allowed_redirect(url).ok());
    match outcome {
        Ok((issued, to)) => signed_in_to(issued, to),
        Err(error) => {
            let reason = error.code().code();
            failed_to(error, reason, back)
        }
    }
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
