//! One provider's table in the server's configuration file (`[oauth.providers.<name>]`), the
//! secret type that keeps its client secret out of logs, and the checks run before any request.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use url::{Host, Url};
use zeroize::Zeroize;

use crate::FederationError;

/// GitHub's endpoints, used unless the configuration overrides them.
pub const GITHUB_AUTHORIZATION_ENDPOINT: &str = "https://github.com/login/oauth/authorize";
pub const GITHUB_TOKEN_ENDPOINT: &str = "https://github.com/login/oauth/access_token";
pub const GITHUB_API_BASE_URL: &str = "https://api.github.com/";

/// Scopes asked for when the configuration names none.
pub const DEFAULT_OIDC_SCOPES: [&str; 3] = ["openid", "email", "profile"];
pub const DEFAULT_GITHUB_SCOPES: [&str; 2] = ["read:user", "user:email"];

/// A secret (client secret, token) that never prints and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one request that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Which protocol the provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenID Connect: discovery, ID tokens signed with the issuer's published keys.
    Oidc,
    /// GitHub's OAuth 2 apps: no ID token; the user comes from GitHub's REST API.
    Github,
}

/// How Tessera authenticates to the token endpoint with its client secret (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded client id and secret.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the request body.
    ClientSecretPost,
}

impl ClientAuthMethod {
    /// The name OpenID discovery uses for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
        }
    }
}

/// One `[oauth.providers.<name>]` table. See the crate documentation for the TOML shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// OIDC only, required: compared byte for byte with the discovered `issuer` and every ID
    /// token's `iss` (so `https://accounts.google.com` and `https://accounts.google.com/` differ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub client_id: String,
    pub client_secret: Secret,
    /// Default: `openid email profile` (OIDC), `read:user user:email` (GitHub).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// OIDC only. Default: `client_secret_basic` when discovery lists it (or lists nothing),
    /// else `client_secret_post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    /// GitHub only: overrides of GitHub's endpoints (tests, GitHub Enterprise Server).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<Url>,
    /// The REST API's base, where `user` and `user/emails` are found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_url: Option<Url>,
}

impl ProviderConfig {
    /// Checks what can be checked without the network; [`crate::Provider::resolve`] runs it too,
    /// so a server can refuse a bad configuration at start while discovering lazily.
    pub fn validate(&self) -> Result<(), FederationError> {
        let invalid = |why: String| Err(FederationError::InvalidConfig(why));
        if self.client_id.is_empty() {
            return invalid("client_id is empty".into());
        }
        if self.client_secret.expose().is_empty() {
            return invalid("client_secret is empty".into());
        }
        if self
            .scopes
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s.is_empty() || s.contains(' ')))
        {
            return invalid("each scope is one non-empty word".into());
        }
        match self.kind {
            ProviderKind::Oidc => {
                let Some(issuer) = &self.issuer else {
                    return invalid("an OIDC provider needs `issuer`".into());
                };
                let url = Url::parse(issuer)
                    .map_err(|e| FederationError::InvalidConfig(format!("issuer: {e}")))?;
                check_endpoint("issuer", &url).map_err(FederationError::InvalidConfig)?;
                if url.query().is_some() {
                    return invalid("the issuer has no query (OpenID Connect Discovery §2)".into());
                }
                if !self.scopes().iter().any(|s| s == "openid") {
                    return invalid("an OIDC provider's scopes include `openid`".into());
                }
                let github_only = [
                    (
                        "authorization_endpoint",
                        self.authorization_endpoint.is_some(),
                    ),
                    ("token_endpoint", self.token_endpoint.is_some()),
                    ("api_base_url", self.api_base_url.is_some()),
                ];
                if let Some((field, _)) = github_only.iter().find(|(_, set)| *set) {
                    return invalid(format!(
                        "`{field}` is for GitHub; an OIDC provider's endpoints come from discovery"
                    ));
                }
            }
            ProviderKind::Github => {
                if self.issuer.is_some() {
                    return invalid("GitHub has no issuer; its endpoints have defaults".into());
                }
                if self.token_endpoint_auth_method.is_some() {
                    return invalid("GitHub takes the client secret in the body only".into());
                }
                for (field, url) in [
                    ("authorization_endpoint", &self.authorization_endpoint),
                    ("token_endpoint", &self.token_endpoint),
                    ("api_base_url", &self.api_base_url),
                ] {
                    if let Some(url) = url {
                        check_endpoint(field, url).map_err(FederationError::InvalidConfig)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The scopes to ask for: the configured ones, else the kind's default.
    pub fn scopes(&self) -> Vec<String> {
        match (&self.scopes, self.kind) {
            (Some(scopes), _) => scopes.clone(),
            (None, ProviderKind::Oidc) => DEFAULT_OIDC_SCOPES.map(String::from).to_vec(),
            (None, ProviderKind::Github) => DEFAULT_GITHUB_SCOPES.map(String::from).to_vec(),
        }
    }
}

/// An endpoint Tessera sends secrets or codes to must be `https`; plain `http` is allowed only
/// on loopback, where tests run their providers. (Whether loopback and private addresses may
/// be reached at all is the caller's HTTP client's policy.)
pub(crate) fn check_endpoint(what: &str, url: &Url) -> Result<(), String> {
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => {}
        "http" if loopback => {}
        _ => return Err(format!("{what} `{url}` is not an https URL")),
    }
    if url.fragment().is_some() {
        return Err(format!("{what} `{url}` has a fragment"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        oauth: Oauth,
    }

    #[derive(Deserialize)]
    struct Oauth {
        providers: std::collections::BTreeMap<String, ProviderConfig>,
    }

    /// The TOML shown in the crate documentation parses and validates.
    #[test]
    fn the_documented_toml_parses() {
        let docs = include_str!("../README.md");
        let toml_block = docs
            .split("```toml\n")
            .nth(1)
            .and_then(|rest| rest.split("```").next())
            .expect("a TOML example in README.md");
        let file: File = toml::from_str(toml_block).expect("the example parses");
        let providers = file.oauth.providers;
        assert_eq!(providers.len(), 3);
        for config in providers.values() {
            config.validate().expect("the example validates");
        }
        let google = &providers["google"];
        assert_eq!(google.kind, ProviderKind::Oidc);
        assert_eq!(google.scopes(), ["openid", "email", "profile"]);
        assert_eq!(providers["github"].scopes(), ["read:user", "user:email"]);
        assert_eq!(
            providers["corp"].token_endpoint_auth_method,
            Some(ClientAuthMethod::ClientSecretPost)
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let config: ProviderConfig =
            toml::from_str("kind = \"github\"\nclient_id = \"id\"\nclient_secret = \"hunter2\"\n")
                .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"));
    }

    fn oidc(issuer: &str) -> ProviderConfig {
        ProviderConfig {
            kind: ProviderKind::Oidc,
            issuer: Some(issuer.into()),
            client_id: "id".into(),
            client_secret: Secret::new("secret"),
            scopes: None,
            token_endpoint_auth_method: None,
            authorization_endpoint: None,
            token_endpoint: None,
            api_base_url: None,
        }
    }

    #[test]
    fn bad_configurations_are_refused() {
        let reason = |c: &ProviderConfig| c.validate().map_err(|e| e.reason());
        assert_eq!(reason(&oidc("https://accounts.google.com")), Ok(()));
        assert_eq!(reason(&oidc("http://127.0.0.1:8080")), Ok(()));
        assert_eq!(reason(&oidc("http://[::1]:8080/tenant")), Ok(()));
        for issuer in [
            "http://accounts.example.com",
            "accounts.google.com",
            "https://issuer.example/?x=1",
            "https://issuer.example/#frag",
        ] {
            assert_eq!(reason(&oidc(issuer)), Err("invalid_config"), "{issuer}");
        }
        let mut no_openid = oidc("https://accounts.google.com");
        no_openid.scopes = Some(vec!["email".into()]);
        assert_eq!(reason(&no_openid), Err("invalid_config"));
        let mut with_github_field = oidc("https://accounts.google.com");
        with_github_field.api_base_url = Some(Url::parse("https://api.github.com/").unwrap());
        assert_eq!(reason(&with_github_field), Err("invalid_config"));
        let mut github = oidc("https://github.com");
        github.kind = ProviderKind::Github;
        assert_eq!(reason(&github), Err("invalid_config"));
        github.issuer = None;
        assert_eq!(reason(&github), Ok(()));
        github.token_endpoint = Some(Url::parse("http://github.example/token").unwrap());
        assert_eq!(reason(&github), Err("invalid_config"));
        let mut empty_secret = oidc("https://accounts.google.com");
        empty_secret.client_secret = Secret::new("");
        assert_eq!(reason(&empty_secret), Err("invalid_config"));
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed: Result<ProviderConfig, _> = toml::from_str(
            "kind = \"oidc\"\nissuer = \"https://a.example\"\nclient_id = \"id\"\nclient_secret = \"s\"\nclient_secrett = \"typo\"\n",
        );
        assert!(parsed.is_err());
    }
}
