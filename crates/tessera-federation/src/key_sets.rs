//! Key sets published at URIs that clients registered (a `private_key_jwt` application's
//! `jwks_uri`, RFC 7591 §2): one [`jwks`](crate::jwks) cache per URI, with its policy — fetched
//! on first use, again when stale, and once more when an assertion names a key not among them
//! (the client rotated), at most once per cooldown.
//!
//! The URIs are the clients' to choose (and to change, RFC 7592), so the caches are bounded:
//! past [`KeySets::CAPACITY`] URIs, the least used are dropped and fetched again if needed.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use quick_cache::sync::Cache;
use serde_json::Value;
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
    sets: Cache<Url, Arc<JwksCache>>,
}

impl std::fmt::Debug for KeySets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySets")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl KeySets {
    /// How many URIs' key sets are kept at most.
    pub const CAPACITY: usize = 10_000;

    /// `cooldown`: the shortest time between two fetches of one set caused by unknown key ids.
    pub fn new(http: reqwest::Client, check: UrlCheck, cooldown: Duration) -> Self {
        Self::with_capacity(http, check, cooldown, Self::CAPACITY)
    }

    fn with_capacity(
        http: reqwest::Client,
        check: UrlCheck,
        cooldown: Duration,
        capacity: usize,
    ) -> Self {
        Self {
            http,
            check,
            cooldown,
            sets: Cache::new(capacity),
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
        let Ok(cache) = self.sets.get_or_insert_with(&url, || {
            Ok::<_, Infallible>(Arc::new(JwksCache::with_cooldown(
                url.clone(),
                self.cooldown,
            )))
        });
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
        KeySets::new(
            reqwest::Client::new(),
            policy(allow_private),
            Duration::ZERO,
        )
    }

    fn policy(allow_private: bool) -> UrlCheck {
        Arc::new(move |url: &Url| {
            if allow_private || url.host_str() != Some("127.0.0.1") {
                Ok(())
            } else {
                Err("private".to_owned())
            }
        })
    }

    #[tokio::test]
    async fn the_key_sets_kept_are_bounded_however_many_uris_clients_name() {
        let sets = KeySets::with_capacity(reqwest::Client::new(), policy(true), Duration::ZERO, 8);
        // Port 9 (discard) refuses: each lookup fails, after its URI got a cache.
        for n in 0..100 {
            let uri = format!("http://127.0.0.1:9/clients/{n}/jwks");
            assert!(sets.key(&uri, Some("k"), &|_| true).await.is_err());
        }
        assert!(sets.sets.len() <= 8, "{} key sets kept", sets.sets.len());
        assert!(!sets.sets.is_empty());
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
