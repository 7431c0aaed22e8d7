//! The OpenID Connect userinfo endpoint (Core §5.3), asked only when the ID token lacks the
//! email the configured scopes requested: providers may keep profile claims out of ID tokens.

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde::Deserialize;
use url::Url;

use crate::config::Secret;
use crate::id_token::lenient_bool;
use crate::{FederationError, http};

/// The claims Tessera reads from userinfo.
#[derive(Debug, Deserialize)]
pub(crate) struct UserInfo {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub email_verified: Option<bool>,
    #[serde(default)]
    pub name: Option<String>,
}

/// The userinfo of the user the access token was issued for, who must be `subject` (Core
/// §5.3.2: otherwise the response may be for someone else and must not be used).
pub(crate) async fn fetch(
    http: &reqwest::Client,
    endpoint: &Url,
    access_token: &Secret,
    subject: &str,
) -> Result<UserInfo, FederationError> {
    let failed = |detail: String| FederationError::UserinfoFailed(detail);
    let response = http
        .get(endpoint.clone())
        .bearer_auth(access_token.expose())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let signed = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/jwt"));
    if signed {
        return Err(failed("signed userinfo responses are not supported".into()));
    }
    let info: UserInfo = http::json_of(response).await.map_err(failed)?;
    if info.sub != subject {
        return Err(failed("the userinfo `sub` is not the ID token's".into()));
    }
    Ok(info)
}
