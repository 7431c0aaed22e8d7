//! OpenID Connect Discovery 1.0: the issuer's `/.well-known/openid-configuration`, checked to
//! belong to the configured issuer before any of its endpoints is trusted.

use reqwest::header::ACCEPT;
use serde::Deserialize;
use url::Url;

use crate::FederationError;
use crate::config::{ClientAuthMethod, check_endpoint};
use crate::http;

/// The parts of the provider's metadata a relying party uses.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub jwks_uri: Url,
    #[serde(default)]
    pub userinfo_endpoint: Option<Url>,
    /// RFC 8414 / RFC 7009: where grants are revoked (connections use it on disconnect).
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// Absent means `client_secret_basic` only (Discovery §3).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// RFC 9207: the provider adds `iss` to its authorization responses.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

/// Fetches and checks the metadata of `issuer`.
pub(crate) async fn discover(
    http: &reqwest::Client,
    issuer: &str,
) -> Result<Metadata, FederationError> {
    let failed = |detail: String| FederationError::DiscoveryFailed {
        issuer: issuer.to_owned(),
        detail,
    };
    // Discovery §4: the issuer with any trailing `/` removed, then the well-known path.
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let response = http
        .get(&url)
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let metadata: Metadata = http::json_of(response).await.map_err(failed)?;
    // Discovery §4.3: exactly equal, or an attacker's document could name itself our issuer's
    // neighbour and have its tokens accepted.
    if metadata.issuer != issuer {
        return Err(FederationError::WrongIssuer {
            expected: issuer.to_owned(),
            found: metadata.issuer,
        });
    }
    for (what, endpoint) in [
        (
            "authorization_endpoint",
            Some(&metadata.authorization_endpoint),
        ),
        ("token_endpoint", Some(&metadata.token_endpoint)),
        ("jwks_uri", Some(&metadata.jwks_uri)),
        ("userinfo_endpoint", metadata.userinfo_endpoint.as_ref()),
        ("revocation_endpoint", metadata.revocation_endpoint.as_ref()),
    ] {
        if let Some(endpoint) = endpoint {
            check_endpoint(what, endpoint).map_err(failed)?;
        }
    }
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(failed("the provider does not support PKCE S256".into()));
    }
    Ok(metadata)
}

impl Metadata {
    /// The configured client authentication method if the provider supports it, else the
    /// first of `client_secret_basic`, `client_secret_post` it supports.
    pub(crate) fn auth_method(
        &self,
        configured: Option<ClientAuthMethod>,
    ) -> Result<ClientAuthMethod, FederationError> {
        let supported = |method: ClientAuthMethod| match &self.token_endpoint_auth_methods_supported
        {
            Some(methods) => methods.iter().any(|m| m == method.as_str()),
            None => method == ClientAuthMethod::ClientSecretBasic,
        };
        if let Some(method) = configured {
            // A provider that lists nothing may still take what the operator configured.
            if supported(method) || self.token_endpoint_auth_methods_supported.is_none() {
                return Ok(method);
            }
            return Err(FederationError::InvalidConfig(format!(
                "the provider does not support token_endpoint_auth_method `{}`",
                method.as_str()
            )));
        }
        [
            ClientAuthMethod::ClientSecretBasic,
            ClientAuthMethod::ClientSecretPost,
        ]
        .into_iter()
        .find(|m| supported(*m))
        .ok_or_else(|| FederationError::DiscoveryFailed {
            issuer: self.issuer.clone(),
            detail: "the token endpoint takes neither client_secret_basic nor client_secret_post"
                .into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(methods: Option<&[&str]>) -> Metadata {
        let url = Url::parse("https://idp.example/x").unwrap();
        Metadata {
            issuer: "https://idp.example".into(),
            authorization_endpoint: url.clone(),
            token_endpoint: url.clone(),
            jwks_uri: url,
            userinfo_endpoint: None,
            revocation_endpoint: None,
            token_endpoint_auth_methods_supported: methods
                .map(|m| m.iter().map(|s| s.to_string()).collect()),
            code_challenge_methods_supported: None,
            authorization_response_iss_parameter_supported: false,
        }
    }

    #[test]
    fn client_authentication_follows_discovery() {
        use ClientAuthMethod::*;
        assert_eq!(metadata(None).auth_method(None), Ok(ClientSecretBasic));
        assert_eq!(
            metadata(None).auth_method(Some(ClientSecretPost)),
            Ok(ClientSecretPost)
        );
        let both = metadata(Some(&["client_secret_post", "client_secret_basic"]));
        assert_eq!(both.auth_method(None), Ok(ClientSecretBasic));
        assert_eq!(
            both.auth_method(Some(ClientSecretPost)),
            Ok(ClientSecretPost)
        );
        let post = metadata(Some(&["private_key_jwt", "client_secret_post"]));
        assert_eq!(post.auth_method(None), Ok(ClientSecretPost));
        assert_eq!(
            post.auth_method(Some(ClientSecretBasic))
                .map_err(|e| e.reason()),
            Err("invalid_config")
        );
        let neither = metadata(Some(&["private_key_jwt"]));
        assert_eq!(
            neither.auth_method(None).map_err(|e| e.reason()),
            Err("discovery_failed")
        );
    }
}
