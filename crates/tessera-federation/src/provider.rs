//! A provider resolved from its configuration and ready to use: the two ends of a sign-in,
//! [`Provider::begin`] and [`Provider::complete`], over OpenID Connect or GitHub.

use std::sync::Arc;

use time::OffsetDateTime;
use tokio::sync::OnceCell;
use url::Url;

use crate::authorize::{AuthorizationRequest, Begin};
use crate::config::{
    ClientAuthMethod, GITHUB_API_BASE_URL, GITHUB_AUTHORIZATION_ENDPOINT, GITHUB_TOKEN_ENDPOINT,
    ProviderConfig, ProviderKind, Secret,
};
use crate::discovery::{self, Metadata};
use crate::exchange::{TokenClient, TokenResponse};
use crate::id_token::{self, Expected, IdTokenClaims};
use crate::jwks::JwksCache;
use crate::{FederationError, github, userinfo};

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The provider's configured name (`google`, `github`, …).
    pub provider: String,
    /// The provider's stable id for the user: the ID token's `sub`, GitHub's numeric user id.
    /// Unique per provider only; `(provider, subject)` is the key to link accounts by.
    pub subject: String,
    pub email: Option<String>,
    /// Whether the provider vouches that `email` belongs to the user; false without an email.
    pub email_verified: bool,
    pub name: Option<String>,
}

/// One configured provider, resolved (OIDC discovery done). Cheap to share in an `Arc`;
/// the signing-key cache inside is shared by all sign-ins through it.
#[derive(Debug)]
pub struct Provider {
    name: String,
    client_id: String,
    client_secret: Secret,
    scopes: Vec<String>,
    http: reqwest::Client,
    protocol: Protocol,
}

#[derive(Debug)]
enum Protocol {
    Oidc {
        issuer: String,
        // Boxed: the discovery document is most of the provider's size.
        metadata: Box<Metadata>,
        auth_method: ClientAuthMethod,
        jwks: JwksCache,
    },
    Github {
        authorization_endpoint: Url,
        token_endpoint: Url,
        api_base_url: Url,
    },
}

impl Provider {
    /// Checks `config` and, for OpenID Connect, runs discovery with `http` (the caller's
    /// client, with its timeouts and address policy; it is kept for every later request).
    pub async fn resolve(
        name: impl Into<String>,
        config: &ProviderConfig,
        http: reqwest::Client,
    ) -> Result<Self, FederationError> {
        config.validate()?;
        let protocol = match config.kind {
            ProviderKind::Oidc => {
                let Some(issuer) = config.issuer.clone() else {
                    return Err(FederationError::InvalidConfig("no issuer".into()));
                };
                let metadata = discovery::discover(&http, &issuer).await?;
                let auth_method = metadata.auth_method(config.token_endpoint_auth_method)?;
                let jwks = JwksCache::new(metadata.jwks_uri.clone());
                Protocol::Oidc {
                    issuer,
                    metadata: Box::new(metadata),
                    auth_method,
                    jwks,
                }
            }
            ProviderKind::Github => {
                let mut api_base_url = or_default(&config.api_base_url, GITHUB_API_BASE_URL)?;
                // So `user` joins under the base (GitHub Enterprise's is `/api/v3`).
                if !api_base_url.path().ends_with('/') {
                    let path = format!("{}/", api_base_url.path());
                    api_base_url.set_path(&path);
                }
                Protocol::Github {
                    authorization_endpoint: or_default(
                        &config.authorization_endpoint,
                        GITHUB_AUTHORIZATION_ENDPOINT,
                    )?,
                    token_endpoint: or_default(&config.token_endpoint, GITHUB_TOKEN_ENDPOINT)?,
                    api_base_url,
                }
            }
        };
        Ok(Self {
            name: name.into(),
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            scopes: config.scopes(),
            http,
            protocol,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn kind(&self) -> ProviderKind {
        match self.protocol {
            Protocol::Oidc { .. } => ProviderKind::Oidc,
            Protocol::Github { .. } => ProviderKind::Github,
        }
    }

    /// The OpenID issuer; `None` for GitHub.
    pub fn issuer(&self) -> Option<&str> {
        match &self.protocol {
            Protocol::Oidc { issuer, .. } => Some(issuer),
            Protocol::Github { .. } => None,
        }
    }

    /// The URLs Tessera itself sends requests to (token endpoint, signing keys, userinfo, the
    /// GitHub API), discovered ones included, so the caller can hold them to its outbound
    /// address policy: an HTTP client's DNS guard never sees an address literal.
    pub fn fetched_endpoints(&self) -> Vec<&Url> {
        match &self.protocol {
            Protocol::Oidc { metadata, .. } => [
                Some(&metadata.token_endpoint),
                Some(&metadata.jwks_uri),
                metadata.userinfo_endpoint.as_ref(),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Protocol::Github {
                token_endpoint,
                api_base_url,
                ..
            } => vec![token_endpoint, api_base_url],
        }
    }

    /// Starts a sign-in that will come back to `redirect_uri` (which must be registered at
    /// the provider exactly so).
    pub fn begin(&self, redirect_uri: &str) -> Begin {
        let (endpoint, send_nonce) = match &self.protocol {
            Protocol::Oidc { metadata, .. } => (&metadata.authorization_endpoint, true),
            Protocol::Github {
                authorization_endpoint,
                ..
            } => (authorization_endpoint, false),
        };
        AuthorizationRequest {
            endpoint,
            client_id: &self.client_id,
            scopes: &self.scopes,
            send_nonce,
        }
        .begin(redirect_uri)
    }

    /// RFC 9207: the callback's `iss` parameter, when the provider sends one, must be its
    /// issuer; a provider that announces it sends one must have. Guards against a sign-in
    /// started with one provider being answered by another (mix-up). GitHub: always Ok.
    pub fn check_callback_issuer(&self, iss: Option<&str>) -> Result<(), FederationError> {
        let Protocol::Oidc {
            issuer, metadata, ..
        } = &self.protocol
        else {
            return Ok(());
        };
        match iss {
            Some(found) if found != issuer => Err(FederationError::WrongIssuer {
                expected: issuer.clone(),
                found: found.to_owned(),
            }),
            None if metadata.authorization_response_iss_parameter_supported => {
                Err(FederationError::WrongIssuer {
                    expected: issuer.clone(),
                    found: String::new(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Exchanges an authorization code for tokens (the first half of [`Self::complete`]).
    pub async fn exchange_code(
        &self,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, FederationError> {
        let (endpoint, method) = match &self.protocol {
            Protocol::Oidc {
                metadata,
                auth_method,
                ..
            } => (&metadata.token_endpoint, *auth_method),
            Protocol::Github { token_endpoint, .. } => {
                (token_endpoint, ClientAuthMethod::ClientSecretPost)
            }
        };
        TokenClient {
            endpoint,
            client_id: &self.client_id,
            client_secret: &self.client_secret,
            method,
        }
        .exchange(&self.http, code, pkce_verifier, redirect_uri)
        .await
    }

    /// Verifies an ID token from this provider for this client, carrying `expected_nonce`,
    /// at time `now` (see [`crate::id_token`] for the rules and tolerances).
    pub async fn verify_id_token(
        &self,
        id_token: &str,
        expected_nonce: &str,
        now: OffsetDateTime,
    ) -> Result<IdTokenClaims, FederationError> {
        let Protocol::Oidc { issuer, jwks, .. } = &self.protocol else {
            return Err(FederationError::NotOpenIdConnect);
        };
        let expected = Expected {
            issuer,
            client_id: &self.client_id,
            nonce: expected_nonce,
        };
        id_token::verify(id_token, jwks, &self.http, expected, now).await
    }

    /// Finishes a sign-in: exchanges `code` (with the PKCE verifier [`Self::begin`] made),
    /// then, for OpenID Connect, verifies the ID token (nonce `expected_nonce`, time `now`)
    /// and reads the user from it (and from userinfo when the ID token lacks the email);
    /// for GitHub, asks GitHub's API who the token belongs to. `redirect_uri` is the one
    /// the sign-in began with. The caller has already checked and consumed `state`.
    pub async fn complete(
        &self,
        code: &str,
        pkce_verifier: &str,
        expected_nonce: &str,
        redirect_uri: &str,
        now: OffsetDateTime,
    ) -> Result<ExternalIdentity, FederationError> {
        let tokens = self
            .exchange_code(code, pkce_verifier, redirect_uri)
            .await?;
        match &self.protocol {
            Protocol::Oidc { metadata, .. } => {
                let id_token = tokens
                    .id_token
                    .as_ref()
                    .ok_or_else(|| FederationError::InvalidTokenResponse("no id_token".into()))?;
                let claims = self
                    .verify_id_token(id_token.expose(), expected_nonce, now)
                    .await?;
                let mut identity = ExternalIdentity {
                    provider: self.name.clone(),
                    email_verified: claims.email.is_some()
                        && claims.email_verified.unwrap_or(false),
                    subject: claims.sub,
                    email: claims.email,
                    name: claims.name,
                };
                let wants_email = self.scopes.iter().any(|s| s == "email");
                if let (None, true, Some(endpoint)) =
                    (&identity.email, wants_email, &metadata.userinfo_endpoint)
                {
                    let info = userinfo::fetch(
                        &self.http,
                        endpoint,
                        &tokens.access_token,
                        &identity.subject,
                    )
                    .await?;
                    identity.email_verified =
                        info.email.is_some() && info.email_verified.unwrap_or(false);
                    identity.email = info.email;
                    identity.name = identity.name.or(info.name);
                }
                Ok(identity)
            }
            Protocol::Github { api_base_url, .. } => {
                github::identity(&self.http, api_base_url, &tokens.access_token, &self.name).await
            }
        }
    }
}

fn or_default(configured: &Option<Url>, default: &str) -> Result<Url, FederationError> {
    match configured {
        Some(url) => Ok(url.clone()),
        None => Url::parse(default).map_err(|e| FederationError::InvalidConfig(e.to_string())),
    }
}

/// A provider resolved on first use (discovery needs the provider to be up; a server should
/// start without it), then kept. A failed resolution is retried on the next use.
#[derive(Debug)]
pub struct LazyProvider {
    name: String,
    config: ProviderConfig,
    http: reqwest::Client,
    resolved: OnceCell<Arc<Provider>>,
}

impl LazyProvider {
    /// Checks `config` now, so a bad configuration stops the server at start.
    pub fn new(
        name: impl Into<String>,
        config: ProviderConfig,
        http: reqwest::Client,
    ) -> Result<Self, FederationError> {
        config.validate()?;
        Ok(Self {
            name: name.into(),
            config,
            http,
            resolved: OnceCell::new(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The resolved provider, resolving it now if needed.
    pub async fn get(&self) -> Result<Arc<Provider>, FederationError> {
        self.resolved
            .get_or_try_init(async || {
                Provider::resolve(self.name.clone(), &self.config, self.http.clone())
                    .await
                    .map(Arc::new)
            })
            .await
            .cloned()
    }
}
