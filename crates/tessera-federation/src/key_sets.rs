//! Key sets published at URIs that clients registered (a `private_key_jwt` application's
//! `jwks_uri`, RFC 7591 §2): one [`jwks`](crate::jwks) cache per URI, with its policy — fetched
//! on first use, again when stale, and once more when an assertion names a key not among them
//! (the client rotated), at most once per cooldown.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use serde_json::Value;
use tokio::sync::Mutex;
use url::Url;

use crate::FederationError;
use crate::config::check_endpoint;
use crate::jwks::{JwksCache, Lookup};
use crate::workload::UrlCheck;

/// The key caches of the URIs clients' keys were looked up at.
pub struct KeySets {
    http: reqwest::Client,
    check: UrlCheck,
    cooldown: Duration,
    sets: Mutex<HashMap<Url, Arc<JwksCache>>>,
}

impl std::fmt::Debug for KeySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySets")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl KeySets {
    /// `cooldown`: the shortest time between two fetches of one set caused by unknown key ids.
    pub fn new(http: reqwest::Client, check: UrlCheck, cooldown: Duration) -> Self {
        Self {
            http,
            check,
            cooldown,
            sets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether keys may be fetched from `uri`: https (http on a loopback address), no fragment,
    /// and the outbound address policy.
    pub fn check(&self, uri: &str) -> Result<Url, String> {
        let url = Url::parse(uri).map_err(|_| format!("`{uri}` is not an absolute URL"))?;
        check_endpoint("jwks_uri", &url)?;
        (self.check)(&url)?;
        Ok(url)
    }

    /// The key (a JWK, as JSON) of the set at `uri` that `kid` names, or without a `kid` the
    /// set's only key that `fits` the assertion's algorithm.
    pub async fn key(
        &self,
        uri: &str,
        kid: Option<&str>,
        fits: &(dyn Fn(&Value) -> bool + Sync),
    ) -> Result<Value, FederationError> {
        let url = self.check(uri).map_err(FederationError::JwksFailed)?;
        let cache = {
            let mut sets = self.sets.lock().await;
            Arc::clone(
                sets.entry(url.clone())
                    .or_insert_with(|| Arc::new(JwksCache::with_cooldown(url, self.cooldown))),
            )
        };
        let fits_jwk = |jwk: &Jwk| serde_json::to_value(jwk).is_ok_and(|jwk| fits(&jwk));
        let lookup = match kid {
            Some(kid) => Lookup::Kid(kid),
            None => Lookup::Only(&fits_jwk),
        };
        let jwk = cache.key(&self.http, lookup, Instant::now()).await?;
        serde_json::to_value(jwk).map_err(|e| FederationError::JwksFailed(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_sets(allow_private: bool) -> KeySets {
        let check: UrlCheck = Arc::new(move |url: &Url| {
            if allow_private || url.host_str() != Some("127.0.0.1") {
                Ok(())
            } else {
                Err("private".to_owned())
            }
        });
        KeySets::new(reqwest::Client::new(), check, Duration::ZERO)
    }

    #[test]
    fn a_jwks_uri_is_https_or_loopback_and_passes_the_outbound_policy() {
        let open = key_sets(true);
        assert!(open.check("https://keys.example.com/jwks").is_ok());
        assert!(open.check("http://127.0.0.1:9/jwks").is_ok());
        for bad in [
            "http://keys.example.com/jwks",
            "https://keys.example.com/jwks#frag",
            "ftp://keys.example.com/jwks",
            "/jwks",
        ] {
            assert!(open.check(bad).is_err(), "{bad}");
        }
        assert!(key_sets(false).check("http://127.0.0.1:9/jwks").is_err());
    }
}
