//! One `[integrations.<name>]` table: a provider agents connect their accounts at, either a
//! built-in (`google`, `github`, `slack`, `notion`: endpoints, default scopes and quirks known)
//! or any OAuth 2 provider given by its URLs (`oauth2`) or OpenID issuer (`oidc`, discovery).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{ClientAuthMethod, Secret, check_endpoint};

/// Which provider, and so which endpoints and quirks apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorKind {
    /// Refresh tokens only with `access_type=offline` and `prompt=consent`.
    Google,
    /// Tokens expire only when the app opts in; revocation deletes the app's grant.
    Github,
    /// User tokens nested under `authed_user`; `ok: false` errors with HTTP 200.
    Slack,
    /// HTTP Basic client authentication, JSON token requests, workspace tokens.
    Notion,
    /// Any OAuth 2 provider, by its endpoints.
    Oauth2,
    /// Any OpenID provider, by its issuer (endpoints from discovery).
    Oidc,
}

/// How the token endpoint wants its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    Form,
    Json,
}

/// How a grant is revoked at the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// RFC 7009 (Google's endpoint takes the same request).
    Rfc7009(Url),
    /// `DELETE /applications/{client_id}/grant` of GitHub's REST API.
    GithubGrant(Url),
    /// Slack's `auth.revoke`, called with the token itself.
    SlackAuthRevoke(Url),
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorConfig {
    pub kind: ConnectorKind,
    pub client_id: String,
    pub client_secret: Secret,
    /// Scopes asked for; default: the built-in's (none for `oauth2`, `openid` for `oidc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `oidc` only: the issuer whose discovery document names the endpoints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Overrides of the built-in endpoints (required for `oauth2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<Url>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<Url>,
    /// RFC 7009 revocation endpoint (`oauth2`, `oidc` when discovery lists none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<Url>,
    /// The only URL prefixes the provider-call proxy reaches; default: the built-in's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_base_urls: Option<Vec<Url>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<ClientAuthMethod>,
    /// Whether to send a PKCE (S256) challenge; default true except for Slack and Notion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pkce: Option<bool>,
    /// Extra authorization-request parameters (added to the built-in's).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub authorize_params: BTreeMap<String, String>,
}

/// What a built-in provider brings.
pub(crate) struct Preset {
    pub authorization_endpoint: Option<&'static str>,
    pub token_endpoint: Option<&'static str>,
    pub revocation: Option<&'static str>,
    pub api_base_urls: &'static [&'static str],
    pub scopes: &'static [&'static str],
    /// The parameter the scopes travel in (Slack's user tokens: `user_scope`).
    pub scope_param: &'static str,
    pub authorize_params: &'static [(&'static str, &'static str)],
    pub auth_method: ClientAuthMethod,
    pub body: BodyFormat,
    pub pkce: bool,
}

impl ConnectorKind {
    pub(crate) fn preset(self) -> Preset {
        let generic = Preset {
            authorization_endpoint: None,
            token_endpoint: None,
            revocation: None,
            api_base_urls: &[],
            scopes: &[],
            scope_param: "scope",
            authorize_params: &[],
            auth_method: ClientAuthMethod::ClientSecretBasic,
            body: BodyFormat::Form,
            pkce: true,
        };
        match self {
            Self::Google => Preset {
                authorization_endpoint: Some("https://accounts.google.com/o/oauth2/v2/auth"),
                token_endpoint: Some("https://oauth2.googleapis.com/token"),
                revocation: Some("https://oauth2.googleapis.com/revoke"),
                api_base_urls: &[
                    "https://www.googleapis.com/",
                    "https://gmail.googleapis.com/",
                ],
                scopes: &["openid", "email"],
                // Without both, Google hands out no refresh token (or only on the first consent).
                authorize_params: &[("access_type", "offline"), ("prompt", "consent")],
                auth_method: ClientAuthMethod::ClientSecretPost,
                ..generic
            },
            Self::Github => Preset {
                authorization_endpoint: Some("https://github.com/login/oauth/authorize"),
                token_endpoint: Some("https://github.com/login/oauth/access_token"),
                revocation: Some("https://api.github.com/"),
                api_base_urls: &["https://api.github.com/"],
                scopes: &["read:user"],
                auth_method: ClientAuthMethod::ClientSecretPost,
                ..generic
            },
            Self::Slack => Preset {
                authorization_endpoint: Some("https://slack.com/oauth/v2/authorize"),
                token_endpoint: Some("https://slack.com/api/oauth.v2.access"),
                revocation: Some("https://slack.com/api/auth.revoke"),
                api_base_urls: &["https://slack.com/api/"],
                scopes: &["users:read"],
                scope_param: "user_scope",
                auth_method: ClientAuthMethod::ClientSecretPost,
                pkce: false,
                ..generic
            },
            Self::Notion => Preset {
                authorization_endpoint: Some("https://api.notion.com/v1/oauth/authorize"),
                token_endpoint: Some("https://api.notion.com/v1/oauth/token"),
                api_base_urls: &["https://api.notion.com/v1/"],
                authorize_params: &[("owner", "user")],
                auth_method: ClientAuthMethod::ClientSecretBasic,
                body: BodyFormat::Json,
                pkce: false,
                ..generic
            },
            Self::Oauth2 => generic,
            Self::Oidc => Preset {
                scopes: &["openid"],
                ..generic
            },
        }
    }
}

impl ConnectorConfig {
    /// Checks what can be checked without the network.
    pub fn validate(&self) -> Result<(), String> {
        if self.client_id.is_empty() || self.client_secret.expose().is_empty() {
            return Err("client_id and client_secret must not be empty".into());
        }
        if self
            .scopes
            .as_ref()
            .is_some_and(|s| s.iter().any(|s| s.is_empty() || s.contains(' ')))
        {
            return Err("each scope is one non-empty word".into());
        }
        match self.kind {
            ConnectorKind::Oidc if self.issuer.is_none() => {
                return Err("an `oidc` integration needs `issuer`".into());
            }
            ConnectorKind::Oauth2
                if self.authorization_endpoint.is_none() || self.token_endpoint.is_none() =>
            {
                return Err(
                    "an `oauth2` integration needs `authorization_endpoint` and `token_endpoint`"
                        .into(),
                );
            }
            _ => {}
        }
        if let Some(issuer) = &self.issuer {
            let url = Url::parse(issuer).map_err(|e| format!("issuer: {e}"))?;
            check_endpoint("issuer", &url)?;
        }
        let endpoints = [
            (
                "authorization_endpoint",
                self.authorization_endpoint.as_ref(),
            ),
            ("token_endpoint", self.token_endpoint.as_ref()),
            ("revocation_endpoint", self.revocation_endpoint.as_ref()),
        ];
        for (what, url) in endpoints {
            if let Some(url) = url {
                check_endpoint(what, url)?;
            }
        }
        for base in self.api_base_urls.iter().flatten() {
            check_endpoint("api_base_urls", base)?;
            if !base.path().ends_with('/') || base.query().is_some() {
                return Err(format!(
                    "api_base_urls: `{base}` must end with `/` and have no query"
                ));
            }
        }
        Ok(())
    }
}
