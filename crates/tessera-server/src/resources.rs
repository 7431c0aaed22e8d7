//! Resource indicators (RFC 8707): the resources Tessera issues access tokens for, each named by
//! an absolute URI. They are Tessera's own API (its default audience, the `aud` of every token
//! whose request named no resource) and the gateway routes that declare a `resource`. A token
//! requested for one of them carries it as `aud`, and only that resource accepts it; a resource
//! Tessera does not know is refused with `invalid_target`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_proto::OAuthErrorCode;
use url::Url;

use crate::error::OAuthError;
use crate::state::AppState;

/// The RFC 9728 metadata path prefix; a route's document lives under it at the route's prefix.
pub const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

impl AppState {
    /// The audience a token request's `resource` parameter names: None when it names none (the
    /// default audience applies), else the known resource identifier it designates.
    pub fn requested_audience(
        &self,
        requested: Option<&str>,
    ) -> Result<Option<String>, OAuthError> {
        let Some(requested) = requested else {
            return Ok(None);
        };
        let invalid = |why: &str| OAuthError::new(OAuthErrorCode::InvalidTarget, why);
        let url = Url::parse(requested)
            .map_err(|_| invalid("resource must be an absolute URI (RFC 8707)"))?;
        if url.fragment().is_some() {
            return Err(invalid("resource must not carry a fragment (RFC 8707)"));
        }
        // Compared as parsed URIs, so `http://host` and `http://host/` name the same resource.
        if Url::parse(&self.audience).is_ok_and(|own| own == url) {
            return Ok(Some(self.audience.clone()));
        }
        self.gateway
            .routes
            .resources()
            .find(|(_, resource)| **resource == url)
            .map(|(_, resource)| Some(resource.as_str().to_owned()))
            .ok_or_else(|| invalid("Tessera issues no tokens for this resource"))
    }

    /// The resource consent to `aud` is remembered under: None for Tessera's own API (whose
    /// identifier is configuration), else the resource's identifier.
    pub fn consent_resource<'a>(&self, aud: &'a str) -> Option<&'a str> {
        (aud != self.audience).then_some(aud)
    }

    /// Whether `aud` is a resource Tessera issues tokens for.
    pub fn is_known_audience(&self, aud: &str) -> bool {
        aud == self.audience
            || self
                .gateway
                .routes
                .resources()
                .any(|(_, resource)| resource.as_str() == aud)
    }

    /// Where the metadata (RFC 9728) of the resource a 401 came from is: a gateway route's
    /// when it declares a resource, else Tessera's API's.
    pub fn resource_metadata_url(&self, route_prefix: Option<&str>) -> String {
        format!(
            "{}{METADATA_PATH}{}",
            self.issuer,
            route_prefix.unwrap_or("")
        )
    }
}

/// The `aud` a JWT says it is for, read before its signature is checked only to pick the
/// audience to check it against; the verification that follows decides.
pub(crate) fn claimed_audience(token: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Aud {
        aud: String,
    }
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Aud>(&bytes).ok().map(|a| a.aud)
}

/// A `WWW-Authenticate` challenge naming the resource's metadata (RFC 9728 §5.1), as the MCP
/// authorization specification has resource servers answer a request without a good token.
pub fn bearer_challenge(metadata_url: &str) -> String {
    format!("Bearer realm=\"tessera\", resource_metadata=\"{metadata_url}\"")
}
