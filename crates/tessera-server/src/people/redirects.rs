//! Where a sign-in may send the browser when it is done (`redirect_to`): a URL on the public
//! URL's origin or on one of `sign_in_redirect_origins`, nowhere else (no open redirect).

use url::Url;

use crate::error::ApiError;
use crate::state::AppState;

const MAX_LEN: usize = 2048;

impl AppState {
    /// `raw` (absolute, or a path on this server) if a sign-in may redirect there.
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
        if !url.username().is_empty() || url.password().is_some() {
            return Err(refused());
        }
        let origin = url.origin();
        let allowed = origin.is_tuple()
            && (origin == public.origin()
                || self
                    .config
                    .sign_in_redirect_origins
                    .iter()
                    .any(|o| *o == origin.ascii_serialization()));
        if allowed { Ok(url) } else { Err(refused()) }
    }
}
