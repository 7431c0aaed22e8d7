//! Where sign-in flows may send a browser back to: only this server's own origin and the
//! configured `sign_in_redirect_origins` (exact origin match), so no door is an open redirect.

use tessera_proto::ErrorCode;
use url::Url;

use crate::error::ApiError;
use crate::state::AppState;

/// Longest `redirect_to` accepted (it travels inside an emailed link).
const MAX_LENGTH: usize = 2048;

impl AppState {
    /// `redirect_to` parsed, when its origin is allowed; 400 `invalid_parameter` otherwise.
    pub fn allowed_redirect(&self, redirect_to: &str) -> Result<Url, ApiError> {
        let refused =
            |why: &str| ApiError::new(ErrorCode::InvalidParameter, format!("redirect_to: {why}"));
        if redirect_to.len() > MAX_LENGTH {
            return Err(refused("too long"));
        }
        let url = Url::parse(redirect_to).map_err(|_| refused("not an absolute URL"))?;
        let origin = url.origin().ascii_serialization();
        let own = Url::parse(&self.issuer)
            .map(|issuer| issuer.origin().ascii_serialization())
            .ok();
        let allowed = own.as_deref() == Some(origin.as_str())
            || self.config.sign_in_redirect_origins.contains(&origin);
        if allowed && matches!(url.scheme(), "http" | "https") {
            Ok(url)
        } else {
            Err(refused(
                "its origin is not this server's nor one of sign_in_redirect_origins",
            ))
        }
    }
}

/// `redirect_to` with `error=<code>` added, for a flow that fails after the browser left the
/// application.
pub fn with_error(mut redirect_to: Url, code: ErrorCode) -> Url {
    redirect_to
        .query_pairs_mut()
        .append_pair("error", code.code());
    redirect_to
}
