//! A resolved connection provider: its endpoints (built-in, configured, or discovered from an
//! OpenID issuer), the authorization request it starts with, and the calls it makes at the
//! token and revocation endpoints.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use url::Url;
use url::form_urlencoded::byte_serialize;

use super::ConnectError;
use super::config::{BodyFormat, ConnectorConfig, ConnectorKind, Revocation};
use super::tokens::{self, Granted};
use crate::config::{ClientAuthMethod, Secret};
use crate::{discovery, http, pkce};

/// What a begun connection hands the browser, and keeps until the callback.
#[derive(Debug)]
pub struct Authorization {
    pub url: String,
    /// The PKCE verifier, when the provider takes a challenge.
    pub pkce_verifier: Option<String>,
}

#[derive(Debug)]
pub struct Connector {
    name: String,
    kind: ConnectorKind,
    client_id: String,
    client_secret: Secret,
    scopes: Vec<String>,
    scope_param: &'static str,
    authorization_endpoint: Url,
    token_endpoint: Url,
    revocation: Revocation,
    api_base_urls: Vec<Url>,
    auth_method: ClientAuthMethod,
    body: BodyFormat,
    pkce: bool,
    authorize_params: BTreeMap<String, String>,
}

fn parse(what: &str, text: &str) -> Result<Url, ConnectError> {
    Url::parse(text).map_err(|e| ConnectError::Config(format!("{what}: {e}")))
}

impl Connector {
    /// Resolves `config` (discovery for `oidc`, once per call: callers cache the result).
    pub async fn resolve(
        name: &str,
        config: &ConnectorConfig,
        http: &reqwest::Client,
    ) -> Result<Self, ConnectError> {
        config.validate().map_err(ConnectError::Config)?;
        let preset = config.kind.preset();
        let discovered = match (&config.kind, &config.issuer) {
            (ConnectorKind::Oidc, Some(issuer)) => Some(
                discovery::discover(http, issuer)
                    .await
                    .map_err(|e| ConnectError::Unreachable(e.to_string()))?,
            ),
            _ => None,
        };
        let endpoint = |what: &str,
                        configured: &Option<Url>,
                        found: Option<&Url>,
                        built_in: Option<&str>|
         -> Result<Url, ConnectError> {
            match (configured, found, built_in) {
                (Some(url), _, _) => Ok(url.clone()),
                (None, Some(url), _) => Ok(url.clone()),
                (None, None, Some(text)) => parse(what, text),
                (None, None, None) => Err(ConnectError::Config(format!("no {what}"))),
            }
        };
        let authorization_endpoint = endpoint(
            "authorization_endpoint",
            &config.authorization_endpoint,
            discovered.as_ref().map(|m| &m.authorization_endpoint),
            preset.authorization_endpoint,
        )?;
        let token_endpoint = endpoint(
            "token_endpoint",
            &config.token_endpoint,
            discovered.as_ref().map(|m| &m.token_endpoint),
            preset.token_endpoint,
        )?;
        let revocation = match (&config.revocation_endpoint, config.kind) {
            (Some(url), _) => Revocation::Rfc7009(url.clone()),
            (None, ConnectorKind::Github) => {
                Revocation::GithubGrant(parse("revocation", preset.revocation.unwrap_or_default())?)
            }
            (None, ConnectorKind::Slack) => Revocation::SlackAuthRevoke(parse(
                "revocation",
                preset.revocation.unwrap_or_default(),
            )?),
            (None, _) => match (
                discovered
                    .as_ref()
                    .and_then(|m| m.revocation_endpoint.clone()),
                preset.revocation,
            ) {
                (Some(url), _) => Revocation::Rfc7009(url),
                (None, Some(text)) => Revocation::Rfc7009(parse("revocation", text)?),
                (None, None) => Revocation::None,
            },
        };
        let api_base_urls = match &config.api_base_urls {
            Some(urls) => urls.clone(),
            None => preset
                .api_base_urls
                .iter()
                .map(|u| parse("api_base_urls", u))
                .collect::<Result<_, _>>()?,
        };
        let auth_method = config.token_endpoint_auth_method.unwrap_or(
            match discovered
                .as_ref()
                .and_then(|m| m.token_endpoint_auth_methods_supported.as_ref())
            {
                Some(methods)
                    if !methods.iter().any(|m| m == "client_secret_basic")
                        && methods.iter().any(|m| m == "client_secret_post") =>
                {
                    ClientAuthMethod::ClientSecretPost
                }
                _ => preset.auth_method,
            },
        );
        let mut authorize_params: BTreeMap<String, String> = preset
            .authorize_params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        authorize_params.extend(config.authorize_params.clone());
        Ok(Self {
            name: name.to_owned(),
            kind: config.kind,
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scopes: config
                .scopes
                .clone()
                .unwrap_or_else(|| preset.scopes.iter().map(|s| (*s).to_owned()).collect()),
            scope_param: preset.scope_param,
            authorization_endpoint,
            token_endpoint,
            revocation,
            api_base_urls,
            auth_method,
            body: preset.body,
            pkce: config.pkce.unwrap_or(preset.pkce),
            authorize_params,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The prefixes the provider-call proxy may reach.
    pub fn api_base_urls(&self) -> &[Url] {
        &self.api_base_urls
    }

    /// Every URL this provider is reached at, for the server's address policy.
    pub fn endpoints(&self) -> Vec<&Url> {
        let mut all = vec![&self.authorization_endpoint, &self.token_endpoint];
        match &self.revocation {
            Revocation::Rfc7009(url)
            | Revocation::GithubGrant(url)
            | Revocation::SlackAuthRevoke(url) => all.push(url),
            Revocation::None => {}
        }
        all.extend(&self.api_base_urls);
        all
    }

    /// Whether disconnecting can revoke the grant at the provider.
    pub fn revokes(&self) -> bool {
        self.revocation != Revocation::None
    }

    /// The authorization URL for `state`, with a PKCE (S256) challenge where the provider
    /// takes one.
    pub fn authorize(&self, state: &str, redirect_uri: &str) -> Authorization {
        let pkce_verifier = self.pkce.then(pkce::random_value);
        let mut url = self.authorization_endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("state", state);
            if !self.scopes.is_empty() {
                query.append_pair(self.scope_param, &self.scopes.join(" "));
            }
            if let Some(verifier) = &pkce_verifier {
                query
                    .append_pair("code_challenge", &pkce::s256_challenge(verifier))
                    .append_pair("code_challenge_method", "S256");
            }
            for (name, value) in &self.authorize_params {
                query.append_pair(name, value);
            }
        }
        Authorization {
            url: url.into(),
            pkce_verifier,
        }
    }

    /// Trades an authorization code for tokens.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        redirect_uri: &str,
        pkce_verifier: Option<&str>,
    ) -> Result<Granted, ConnectError> {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(verifier) = pkce_verifier {
            params.push(("code_verifier", verifier));
        }
        let granted = self.token_request(http, params).await?;
        self.with_account(http, granted).await
    }

    /// Renews the access token with a refresh token; `invalid_grant` becomes
    /// [`ConnectError::InvalidGrant`].
    pub async fn refresh(
        &self,
        http: &reqwest::Client,
        refresh_token: &Secret,
    ) -> Result<Granted, ConnectError> {
        let params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
        ];
        self.token_request(http, params).await
    }

    /// Revokes the grant at the provider (best effort is the caller's choice).
    pub async fn revoke(
        &self,
        http: &reqwest::Client,
        access_token: &Secret,
        refresh_token: Option<&Secret>,
    ) -> Result<(), ConnectError> {
        let request = match &self.revocation {
            Revocation::None => return Ok(()),
            Revocation::Rfc7009(url) => {
                // Revoking the refresh token ends the whole grant (RFC 7009 §2.1).
                let (token, hint) = match refresh_token {
                    Some(token) => (token, "refresh_token"),
                    None => (access_token, "access_token"),
                };
                let form = vec![("token", token.expose()), ("token_type_hint", hint)];
                self.authenticated(http.post(url.clone()), form, BodyFormat::Form)
            }
            Revocation::GithubGrant(api) => {
                let url = api
                    .join(&format!("applications/{}/grant", self.client_id))
                    .map_err(|e| ConnectError::Config(e.to_string()))?;
                http.delete(url)
                    .header(AUTHORIZATION, self.basic_credentials())
                    .header(ACCEPT, "application/vnd.github+json")
                    .json(&serde_json::json!({"access_token": access_token.expose()}))
            }
            Revocation::SlackAuthRevoke(url) => http
                .post(url.clone())
                .bearer_auth(access_token.expose())
                .form(&[("token", access_token.expose())]),
        };
        let response = request
            .send()
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let status = response.status();
        // RFC 7009 §2.2: an unknown or already revoked token is success (200) too.
        if status.is_success() {
            Ok(())
        } else {
            Err(ConnectError::Refused {
                error: None,
                status: status.as_u16(),
            })
        }
    }

    fn basic_credentials(&self) -> String {
        // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
        let credentials = format!(
            "{}:{}",
            byte_serialize(self.client_id.as_bytes()).collect::<String>(),
            byte_serialize(self.client_secret.expose().as_bytes()).collect::<String>()
        );
        format!("Basic {}", STANDARD.encode(credentials))
    }

    fn authenticated<'a>(
        &'a self,
        request: reqwest::RequestBuilder,
        mut params: Vec<(&'a str, &'a str)>,
        body: BodyFormat,
    ) -> reqwest::RequestBuilder {
        let mut request = request.header(ACCEPT, "application/json");
        match self.auth_method {
            ClientAuthMethod::ClientSecretBasic => {
                request = request.header(AUTHORIZATION, self.basic_credentials());
            }
            ClientAuthMethod::ClientSecretPost => {
                params.push(("client_id", &self.client_id));
                params.push(("client_secret", self.client_secret.expose()));
            }
        }
        match body {
            BodyFormat::Form => request.form(&params),
            BodyFormat::Json => {
                let object: serde_json::Map<String, serde_json::Value> = params
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), serde_json::Value::from(v)))
                    .collect();
                request.json(&object)
            }
        }
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        params: Vec<(&str, &str)>,
    ) -> Result<Granted, ConnectError> {
        let response = self
            .authenticated(http.post(self.token_endpoint.clone()), params, self.body)
            .send()
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        let body = http::read_body(response)
            .await
            .map_err(ConnectError::Unreachable)?;
        tokens::parse(self.kind, status, &body)
    }

    /// GitHub's token response does not say whose it is: its REST API does.
    async fn with_account(
        &self,
        http: &reqwest::Client,
        mut granted: Granted,
    ) -> Result<Granted, ConnectError> {
        if self.kind != ConnectorKind::Github || granted.account.is_some() {
            return Ok(granted);
        }
        let Some(base) = self.api_base_urls.first() else {
            return Ok(granted);
        };
        let url = base
            .join("user")
            .map_err(|e| ConnectError::Config(e.to_string()))?;
        let response = http
            .get(url)
            .bearer_auth(granted.access_token.expose())
            .header(ACCEPT, "application/vnd.github+json")
            .send()
            .await
            .map_err(|e| ConnectError::Unreachable(e.to_string()))?;
        let user: serde_json::Value = http::json_of(response)
            .await
            .map_err(ConnectError::Unreachable)?;
        granted.account = user["login"].as_str().map(str::to_owned);
        Ok(granted)
    }
}
