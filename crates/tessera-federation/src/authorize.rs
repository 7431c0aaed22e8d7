//! The start of a sign-in: the authorization request URL (RFC 6749 §4.1.1, with PKCE S256 and,
//! for OpenID Connect, a nonce) and the values the caller keeps until the callback.

use std::fmt;

use url::Url;

use crate::pkce;

/// What [`crate::Provider::begin`] hands the caller: send the browser to `authorization_url`;
/// keep `state` → (`nonce`, `pkce_verifier`, provider, redirect URI) server-side, single-use,
/// until the callback comes back with that `state`.
#[derive(Clone, PartialEq, Eq)]
pub struct Begin {
    pub authorization_url: String,
    /// 256 random bits, base64url.
    pub state: String,
    /// 256 random bits, base64url. Sent to OpenID providers only (GitHub has no ID token to
    /// carry it back), but always made, so callers store every sign-in alike.
    pub nonce: String,
    /// The PKCE code verifier: 256 random bits, base64url. Secret until the code exchange.
    pub pkce_verifier: String,
}

impl fmt::Debug for Begin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL, state and nonce travel through the browser anyway; the verifier must not.
        f.debug_struct("Begin")
            .field("authorization_url", &self.authorization_url)
            .field("state", &self.state)
            .field("nonce", &self.nonce)
            .field("pkce_verifier", &"***")
            .finish()
    }
}

/// The parts of an authorization request that come from the provider's configuration.
pub(crate) struct AuthorizationRequest<'a> {
    pub endpoint: &'a Url,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    /// Whether to send the nonce (OpenID Connect) or not (plain OAuth 2).
    pub send_nonce: bool,
}

impl AuthorizationRequest<'_> {
    pub(crate) fn begin(&self, redirect_uri: &str) -> Begin {
        let state = pkce::random_value();
        let nonce = pkce::random_value();
        let pkce_verifier = pkce::random_value();
        let mut url = self.endpoint.clone();
        {
            // Appended, so parameters already in a configured endpoint URL stay.
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("scope", &self.scopes.join(" "))
                .append_pair("state", &state)
                .append_pair("code_challenge", &pkce::s256_challenge(&pkce_verifier))
                .append_pair("code_challenge_method", "S256");
            if self.send_nonce {
                query.append_pair("nonce", &nonce);
            }
        }
        Begin {
            authorization_url: url.into(),
            state,
            nonce,
            pkce_verifier,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn params(url: &str) -> HashMap<String, String> {
        Url::parse(url)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }

    #[test]
    fn the_request_carries_pkce_state_and_nonce() {
        let endpoint = Url::parse("https://idp.example/authorize?tenant=x").unwrap();
        let scopes = ["openid".to_owned(), "email".to_owned()];
        let request = AuthorizationRequest {
            endpoint: &endpoint,
            client_id: "client a",
            scopes: &scopes,
            send_nonce: true,
        };
        let begin = request.begin("https://tessera.example/cb?x=1&y=2");
        let p = params(&begin.authorization_url);
        assert_eq!(p["tenant"], "x");
        assert_eq!(p["response_type"], "code");
        assert_eq!(p["client_id"], "client a");
        assert_eq!(p["redirect_uri"], "https://tessera.example/cb?x=1&y=2");
        assert_eq!(p["scope"], "openid email");
        assert_eq!(p["state"], begin.state);
        assert_eq!(p["nonce"], begin.nonce);
        assert_eq!(p["code_challenge_method"], "S256");
        assert_eq!(
            p["code_challenge"],
            pkce::s256_challenge(&begin.pkce_verifier)
        );
        assert!(!begin.authorization_url.contains(&begin.pkce_verifier));
        assert!(!format!("{begin:?}").contains(&begin.pkce_verifier));
        let again = request.begin("https://tessera.example/cb");
        assert_ne!(again.state, begin.state);
        assert_ne!(again.nonce, begin.nonce);
        assert_ne!(again.pkce_verifier, begin.pkce_verifier);
    }

    #[test]
    fn plain_oauth_sends_no_nonce() {
        let endpoint = Url::parse("https://github.com/login/oauth/authorize").unwrap();
        let begin = AuthorizationRequest {
            endpoint: &endpoint,
            client_id: "gh",
            scopes: &["read:user".to_owned()],
            send_nonce: false,
        }
        .begin("https://tessera.example/cb");
        let p = params(&begin.authorization_url);
        assert!(!p.contains_key("nonce"));
        assert_eq!(p["code_challenge_method"], "S256");
        assert_eq!(begin.nonce.len(), 43);
    }
}
