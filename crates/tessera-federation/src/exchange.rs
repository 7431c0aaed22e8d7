//! The token request (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636 §4.5): the code for
//! tokens at the token endpoint, the client authenticated with its secret.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use url::Url;
use url::form_urlencoded::byte_serialize;

use crate::config::{ClientAuthMethod, Secret};
use crate::{FederationError, http};

/// What the token endpoint granted. Tokens never print.
#[derive(Debug, Clone)]
pub struct TokenResponse {
    pub access_token: Secret,
    /// `Bearer` (checked, case-insensitively).
    pub token_type: String,
    /// Present from OpenID providers (required there), absent from GitHub.
    pub id_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    /// The granted scopes, when the provider says (GitHub separates them with commas).
    pub scope: Option<String>,
    pub expires_in: Option<u64>,
}

/// This client at one token endpoint.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenClient<'a> {
    pub endpoint: &'a Url,
    pub client_id: &'a str,
    pub client_secret: &'a Secret,
    pub method: ClientAuthMethod,
}

/// The success and error bodies in one: GitHub answers errors with 200.
#[derive(Deserialize)]
struct Body {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

impl TokenClient<'_> {
    pub(crate) async fn exchange(
        &self,
        http: &reqwest::Client,
        code: &str,
        pkce_verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, FederationError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce_verifier),
        ];
        let mut request = http
            .post(self.endpoint.clone())
            // GitHub answers form-encoded unless asked for JSON.
            .header(ACCEPT, "application/json");
        match self.method {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 §2.3.1: each part form-urlencoded before the Basic encoding.
                let credentials = format!(
                    "{}:{}",
                    byte_serialize(self.client_id.as_bytes()).collect::<String>(),
                    byte_serialize(self.client_secret.expose().as_bytes()).collect::<String>()
                );
                request = request.header(
                    AUTHORIZATION,
                    format!("Basic {}", STANDARD.encode(credentials)),
                );
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", self.client_id));
                form.push(("client_secret", self.client_secret.expose()));
            }
        }
        let response = request
            .form(&form)
            .send()
            .await
            .map_err(|e| FederationError::TokenEndpointUnreachable(e.to_string()))?;
        let status = response.status();
        let body = http::read_body(response)
            .await
            .map_err(FederationError::TokenEndpointUnreachable)?;
        let parsed = http::parse_json::<Body>(&body);
        let refused = |error, description| FederationError::TokenExchangeFailed {
            status: status.as_u16(),
            error,
            description,
        };
        let body = match parsed {
            Ok(body) if body.error.is_some() || !status.is_success() => {
                return Err(refused(body.error, body.error_description));
            }
            Ok(body) => body,
            Err(_) if !status.is_success() => return Err(refused(None, None)),
            Err(why) => return Err(FederationError::InvalidTokenResponse(why)),
        };
        let access_token = body
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| FederationError::InvalidTokenResponse("no access_token".into()))?;
        let token_type = body.token_type.unwrap_or_default();
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(FederationError::InvalidTokenResponse(format!(
                "token_type {token_type:?} is not Bearer"
            )));
        }
        Ok(TokenResponse {
            access_token: Secret::new(access_token),
            token_type,
            id_token: body.id_token.map(Secret::new),
            refresh_token: body.refresh_token.map(Secret::new),
            scope: body.scope,
            expires_in: body.expires_in.as_ref().and_then(|v| match v {
                serde_json::Value::Number(n) => n.as_u64(),
                serde_json::Value::String(s) => s.parse().ok(),
                _ => None,
            }),
        })
    }
}
