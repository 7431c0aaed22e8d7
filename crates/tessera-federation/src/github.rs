//! GitHub's OAuth apps, which issue no ID token: the user is whoever GitHub's REST API says
//! the access token belongs to (`GET /user`), with the primary verified address from
//! `GET /user/emails` (scope `user:email`).

use reqwest::RequestBuilder;
use reqwest::header::{ACCEPT, USER_AGENT};
use serde::Deserialize;
use url::Url;

use crate::config::Secret;
use crate::{ExternalIdentity, FederationError, http};

/// GitHub refuses requests without a User-Agent.
const AGENT: &str = concat!("tessera-federation/", env!("CARGO_PKG_VERSION"));
const API_VERSION: &str = "2022-11-28";

#[derive(Debug, Deserialize)]
struct User {
    /// Stable for the account's lifetime, unlike `login`, which its owner can change.
    id: u64,
    login: String,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Email {
    email: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    verified: bool,
}

/// The GitHub user the access token belongs to, as provider `provider`'s identity.
pub(crate) async fn identity(
    http: &reqwest::Client,
    api_base: &Url,
    access_token: &Secret,
    provider: &str,
) -> Result<ExternalIdentity, FederationError> {
    let user: User = get(http.get(endpoint(api_base, "user")?), access_token).await?;
    let emails: Vec<Email> =
        get(http.get(endpoint(api_base, "user/emails")?), access_token).await?;
    let (email, email_verified) = primary_email(&emails);
    Ok(ExternalIdentity {
        provider: provider.to_owned(),
        subject: user.id.to_string(),
        email,
        email_verified,
        name: Some(user.name.filter(|n| !n.is_empty()).unwrap_or(user.login)),
    })
}

fn endpoint(api_base: &Url, path: &str) -> Result<Url, FederationError> {
    api_base
        .join(path)
        .map_err(|e| FederationError::InvalidConfig(format!("api_base_url: {e}")))
}

async fn get<T: serde::de::DeserializeOwned>(
    request: RequestBuilder,
    access_token: &Secret,
) -> Result<T, FederationError> {
    let response = request
        .bearer_auth(access_token.expose())
        .header(ACCEPT, "application/vnd.github+json")
        .header("X-GitHub-Api-Version", API_VERSION)
        .header(USER_AGENT, AGENT)
        .send()
        .await
        .map_err(|e| FederationError::UserinfoFailed(e.to_string()))?;
    http::json_of(response)
        .await
        .map_err(FederationError::UserinfoFailed)
}

/// The primary address if it is verified; else the primary one, unverified; else none.
pub(crate) fn primary_email(emails: &[Email]) -> (Option<String>, bool) {
    match emails.iter().find(|e| e.primary) {
        Some(primary) => (Some(primary.email.clone()), primary.verified),
        None => (None, false),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_primary_address_is_chosen_with_its_verification() {
        let emails: Vec<Email> = serde_json::from_value(json!([
            {"email": "old@example.com", "primary": false, "verified": true, "visibility": null},
            {"email": "main@example.com", "primary": true, "verified": true, "visibility": "public"},
        ]))
        .unwrap();
        assert_eq!(
            primary_email(&emails),
            (Some("main@example.com".into()), true)
        );
        let unverified: Vec<Email> = serde_json::from_value(json!([
            {"email": "new@example.com", "primary": true, "verified": false},
            {"email": "old@example.com", "primary": false, "verified": true},
        ]))
        .unwrap();
        // A verified secondary address is not the user's chosen one; the unverified primary
        // is reported as such and the caller decides.
        assert_eq!(
            primary_email(&unverified),
            (Some("new@example.com".into()), false)
        );
        assert_eq!(primary_email(&[]), (None, false));
    }

    #[test]
    fn api_paths_stay_under_the_base() {
        let enterprise = Url::parse("https://ghe.example/api/v3/").unwrap();
        assert_eq!(
            endpoint(&enterprise, "user/emails").unwrap().as_str(),
            "https://ghe.example/api/v3/user/emails"
        );
    }
}
