//! The OAuth/OIDC door's state: the configured providers (resolved through OpenID discovery
//! on first use, by `tessera-federation`), the HTTP client they share (outbound address
//! policy: `oauth_allow_private_issuers`), and what a begun sign-in keeps until its callback.
//!
//! A sign-in's `state` is a one-time challenge holding the PKCE verifier, the nonce, where to
//! send the browser afterwards, the user to link to, and the SHA-256 of a random value set as
//! an HttpOnly cookie on the browser that began it: a callback from another browser (login
//! CSRF: an attacker's code planted in a victim's browser) does not match and is refused.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tessera_core::people::{Challenge, ChallengeKind};
use tessera_crypto::sha256;
use tessera_federation::{FederationError, LazyProvider, Provider};
use tessera_proto::ErrorCode;
use url::Url;

use crate::config::Config;
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::ssrf::{GuardedResolver, inward_host};

/// How long a begun sign-in (its `state` and browser cookie) stays valid.
pub const STATE_TTL: time::Duration = time::Duration::minutes(10);
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("oauth_providers: building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("oauth_providers.{name}: {detail}")]
    Provider { name: String, detail: String },
}

/// The configured providers, by name.
#[derive(Debug)]
pub struct Providers {
    by_name: BTreeMap<String, LazyProvider>,
    allow_private: bool,
}

impl Providers {
    pub fn new(config: &Config) -> Result<Self, SetupError> {
        let allow_private = config.oauth_allow_private_issuers;
        let http = provider_client(allow_private)?;
        let mut by_name = BTreeMap::new();
        for (name, provider) in &config.oauth_providers {
            let refused = |detail: String| SetupError::Provider {
                name: name.clone(),
                detail,
            };
            check_name(name).map_err(refused)?;
            let configured = [
                provider.issuer.as_deref().and_then(|i| Url::parse(i).ok()),
                provider.token_endpoint.clone(),
                provider.api_base_url.clone(),
            ];
            for url in configured.iter().flatten() {
                check_outbound(url, allow_private).map_err(refused)?;
            }
            let lazy = LazyProvider::new(name.clone(), provider.clone(), http.clone())
                .map_err(|e| refused(e.to_string()))?;
            by_name.insert(name.clone(), lazy);
        }
        Ok(Self {
            by_name,
            allow_private,
        })
    }

    /// The provider called `name`, resolved (discovery on first use), its endpoints held to
    /// the address policy. 503 `<name>_oauth_not_configured` when there is none.
    pub async fn get(&self, name: &str) -> Result<Arc<Provider>, ApiError> {
        let lazy = self
            .by_name
            .get(name)
            .ok_or_else(|| ApiError::oauth_not_configured(name))?;
        // Resolving is discovery, the provider's side alone: whatever fails there, its document
        // naming another issuer included, is the provider failing (502), not a sign-in (401).
        let provider = lazy.get().await.map_err(|e| {
            ApiError::new(
                ErrorCode::OAuthProviderFailed,
                format!("{}: {e}", e.reason()),
            )
        })?;
        for url in provider.fetched_endpoints() {
            check_outbound(url, self.allow_private).map_err(|detail| {
                ApiError::new(ErrorCode::OAuthProviderFailed, format!("{name}: {detail}"))
            })?;
        }
        Ok(provider)
    }

    pub fn is_configured(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

/// The client every call to an OAuth provider goes through (sign-in and connections): no
/// redirects, no proxy, bounded time, and names resolved under the private-address policy.
pub(crate) fn provider_client(allow_private: bool) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        // A redirect could lead anywhere; providers answer these calls directly.
        .redirect(reqwest::redirect::Policy::none())
        // A proxy from the environment would reach addresses the guard refuses.
        .no_proxy()
        .timeout(PROVIDER_TIMEOUT)
        .connect_timeout(PROVIDER_TIMEOUT)
        .dns_resolver(GuardedResolver { allow_private })
        .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Provider names appear in URLs and identity kinds (`oauth:<name>`).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err("a provider name is 1 to 32 of a-z, 0-9, `-`, `_`".to_owned())
    }
}

/// An address literal or `localhost` the client's DNS guard would never see.
pub(crate) fn check_outbound(url: &Url, allow_private: bool) -> Result<(), String> {
    match inward_host(url) {
        Some(host) if !allow_private => Err(format!(
            "`{url}` is on a private or loopback address ({host}); set \
             oauth_allow_private_issuers to allow it"
        )),
        _ => Ok(()),
    }
}

/// A failed federation step as an error of the table: the provider being unreachable or
/// unusable is 502; anything that fails to prove who signed in is 401 `sign_in_failed`.
pub fn federation_error(error: &FederationError) -> ApiError {
    let code = match error {
        FederationError::InvalidConfig(_)
        | FederationError::DiscoveryFailed { .. }
        | FederationError::JwksFailed(_)
        | FederationError::TokenEndpointUnreachable(_)
        | FederationError::UserinfoFailed(_) => ErrorCode::OAuthProviderFailed,
        FederationError::WrongIssuer { .. }
        | FederationError::TokenExchangeFailed { .. }
        | FederationError::InvalidTokenResponse(_)
        | FederationError::InvalidIdToken(_)
        | FederationError::DisallowedAlgorithm(_)
        | FederationError::UnknownSigningKey { .. }
        | FederationError::BadSignature
        | FederationError::WrongAudience
        | FederationError::NonceMismatch
        | FederationError::IdTokenExpired
        | FederationError::IdTokenNotYetValid
        | FederationError::NotOpenIdConnect => ErrorCode::SignInFailed,
    };
    ApiError::new(code, format!("{}: {error}", error.reason()))
}

/// What a begun sign-in keeps until its callback (the challenge's payload).
#[derive(Serialize, Deserialize)]
pub struct PendingSignIn {
    pub pkce_verifier: String,
    pub nonce: String,
    pub redirect_uri: String,
    pub redirect_to: Option<String>,
    /// base64url SHA-256 of the browser-binding cookie's value.
    pub browser: String,
    /// The signed-in user and session that began it: the new identity is linked to them.
    pub link_user: Option<String>,
    pub link_session: Option<String>,
}

// By hand: the PKCE verifier stays out of logs.
impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("redirect_to", &self.redirect_to)
            .field("link_user", &self.link_user)
            .finish_non_exhaustive()
    }
}

/// A begun sign-in: where to send the browser, and the cookie binding it.
#[derive(Debug)]
pub struct Started {
    pub authorization_url: String,
    pub browser_binding: String,
}

impl AppState {
    /// Where `provider` sends the browser back (registered at the provider exactly so).
    pub fn oauth_redirect_uri(&self, provider: &str) -> String {
        format!("{}/v1/auth/oauth/{provider}/callback", self.issuer)
    }

    /// Begins a sign-in: stores the state and returns the authorization URL.
    pub async fn begin_oauth(
        &self,
        provider: &Provider,
        redirect_to: Option<Url>,
        link_to: Option<crate::people::signed_in::SignedIn>,
    ) -> Result<Started, ApiError> {
        let redirect_uri = self.oauth_redirect_uri(provider.name());
        let begin = provider.begin(&redirect_uri);
        let browser_binding = random_value();
        let pending = PendingSignIn {
            pkce_verifier: begin.pkce_verifier.clone(),
            nonce: begin.nonce.clone(),
            redirect_uri,
            redirect_to: redirect_to.map(String::from),
            browser: binding_digest(&browser_binding),
            link_user: link_to.map(|me| me.user_id.to_string()),
            link_session: link_to.map(|me| me.session_id.to_string()),
        };
        let now = self.clock.now();
        self.store
            .insert_challenge(&Challenge {
                key: sha256(begin.state.as_bytes()),
                kind: ChallengeKind::OAuthState,
                subject: provider.name().to_owned(),
                payload: serde_json::to_string(&pending).map_err(ApiError::internal)?,
                failures: 0,
                expires_at: now + STATE_TTL,
                created_at: now,
            })
            .await?;
        Ok(Started {
            authorization_url: begin.authorization_url.clone(),
            browser_binding,
        })
    }

    /// Takes (uses up) the sign-in `state` names for `provider`; None when it is unknown,
    /// used, expired, or was begun with another provider.
    pub async fn take_oauth_state(
        &self,
        provider: &str,
        state: &str,
    ) -> Result<Option<PendingSignIn>, ApiError> {
        let taken = self
            .store
            .take_challenge(
                ChallengeKind::OAuthState,
                &sha256(state.as_bytes()),
                self.clock.now(),
            )
            .await?;
        match taken {
            Some(challenge) if challenge.subject == provider => {
                let pending = serde_json::from_str(&challenge.payload)
                    .map_err(|e| ApiError::internal(format!("an OAuth state's payload: {e}")))?;
                Ok(Some(pending))
            }
            _ => Ok(None),
        }
    }
}

impl PendingSignIn {
    /// Whether the browser's binding cookie is the one set when this sign-in began.
    pub fn same_browser(&self, cookie: Option<&str>) -> bool {
        cookie.is_some_and(|value| {
            binding_digest(value)
                .as_bytes()
                .ct_eq(self.browser.as_bytes())
                .into()
        })
    }
}

fn random_value() -> String {
    let mut bytes = [0u8; 32];
    // The system RNG failing is unrecoverable; there is nothing safe to hand out instead.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut bytes).expect("system random number generator failed");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn binding_digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha256(value.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inward_endpoints_need_the_operator_to_allow_them() {
        for inward in [
            "http://127.0.0.1:8080/token",
            "https://10.0.0.1/jwks",
            "https://169.254.169.254/latest",
            "http://localhost:9000/",
            "https://[::1]/token",
        ] {
            let url = Url::parse(inward).unwrap();
            assert!(check_outbound(&url, false).is_err(), "{inward}");
            assert!(check_outbound(&url, true).is_ok(), "{inward}");
        }
        let public = Url::parse("https://oauth2.googleapis.com/token").unwrap();
        assert!(check_outbound(&public, false).is_ok());
    }

    #[test]
    fn provider_names_are_url_and_kind_safe() {
        for good in ["google", "github", "corp-sso", "okta_2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Google", "a/b", "a:b", "x y", &"a".repeat(33)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
