//! `/v1/auth`: the sign-in doors and the session endpoints. Each door proves something about
//! the caller and hands it to `AppState::enter`; all of them answer with the same session grant.

pub mod email;
pub mod oauth;
pub mod passkey;
pub mod password;
pub mod password_reset;
pub mod session;
pub mod wallet;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(email::router())
        .merge(oauth::router())
        .merge(passkey::router())
        .merge(password::router())
        .merge(password_reset::router())
        .merge(session::router())
        .merge(wallet::router())
}
