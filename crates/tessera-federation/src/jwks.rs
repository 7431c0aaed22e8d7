//! The issuer's signing keys (its `jwks_uri`), fetched on first use and kept; fetched again
//! when they are older than [`MAX_AGE`], and once more when a token names a key not among
//! them (the provider rotated), at most once per [`REFETCH_COOLDOWN`] so tokens naming
//! made-up keys cannot make Tessera hammer the provider.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::Jwk;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use tokio::sync::Mutex;
use url::Url;

use crate::FederationError;
use crate::http;

/// Keys older than this are fetched again before use, so a key the provider withdrew stops
/// being trusted within the hour.
pub const MAX_AGE: Duration = Duration::from_secs(60 * 60);
/// The shortest time between two fetches caused by unknown key ids.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// One issuer's key set and when it was fetched.
#[derive(Debug)]
pub(crate) struct JwksCache {
    uri: Url,
    /// [`REFETCH_COOLDOWN`] unless the owner chose another (workload issuers: configurable).
    cooldown: Duration,
    // Held across a fetch, so concurrent sign-ins that need new keys wait for one fetch.
    cached: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    keys: Vec<Jwk>,
    fetched_at: Option<Instant>,
    /// The last fetch, successful or not: the cooldown counts from it.
    attempted_at: Option<Instant>,
}

/// Where a key was looked for.
#[derive(Clone, Copy)]
pub(crate) enum Lookup<'a> {
    /// The token's `kid`.
    Kid(&'a str),
    /// No `kid`: the set's only key that `fits` the token's algorithm (`Sync`, so a
    /// sign-in's future stays `Send` for a server's handler).
    Only(&'a (dyn Fn(&Jwk) -> bool + Sync)),
}

impl JwksCache {
    pub(crate) fn new(uri: Url) -> Self {
        Self::with_cooldown(uri, REFETCH_COOLDOWN)
    }

    pub(crate) fn with_cooldown(uri: Url, cooldown: Duration) -> Self {
        Self {
            uri,
            cooldown,
            cached: Mutex::new(Cached::default()),
        }
    }

    /// The key for `lookup`, fetching the set over `http` as the policy above says.
    pub(crate) async fn key(
        &self,
        http: &reqwest::Client,
        lookup: Lookup<'_>,
        now: Instant,
    ) -> Result<Jwk, FederationError> {
        self.key_with(lookup, now, || fetch(http, &self.uri)).await
    }

    /// [`Self::key`] with the fetch given, so the policy is testable without a network. (A
    /// closure returning a future rather than an `AsyncFn`: the compiler cannot yet prove the
    /// latter's futures `Send` for every lifetime, which a server's handlers need.)
    pub(crate) async fn key_with<F, Fut>(
        &self,
        lookup: Lookup<'_>,
        now: Instant,
        fetch: F,
    ) -> Result<Jwk, FederationError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Vec<Jwk>, FederationError>>,
    {
        let mut cached = self.cached.lock().await;
        let stale = cached
            .fetched_at
            .is_none_or(|at| now.saturating_duration_since(at) >= MAX_AGE);
        let mut fetched_now = false;
        if stale {
            cached.refresh(now, &fetch).await?;
            fetched_now = true;
        }
        if let Some(key) = find(&cached.keys, lookup) {
            return Ok(key.clone());
        }
        let cooling = cached
            .attempted_at
            .is_some_and(|at| now.saturating_duration_since(at) < self.cooldown);
        if !fetched_now && !cooling {
            tracing::info!(jwks_uri = %self.uri, "token names an unknown key; fetching the keys again");
            cached.refresh(now, &fetch).await?;
            if let Some(key) = find(&cached.keys, lookup) {
                return Ok(key.clone());
            }
        }
        Err(FederationError::UnknownSigningKey {
            kid: match lookup {
                Lookup::Kid(kid) => Some(kid.to_owned()),
                Lookup::Only(_) => None,
            },
        })
    }
}

impl Cached {
    async fn refresh<Fut>(
        &mut self,
        now: Instant,
        fetch: &impl Fn() -> Fut,
    ) -> Result<(), FederationError>
    where
        Fut: Future<Output = Result<Vec<Jwk>, FederationError>>,
    {
        self.attempted_at = Some(now);
        self.keys = fetch().await?;
        self.fetched_at = Some(now);
        Ok(())
    }
}

fn find<'k>(keys: &'k [Jwk], lookup: Lookup<'_>) -> Option<&'k Jwk> {
    match lookup {
        Lookup::Kid(kid) => keys
            .iter()
            .find(|k| k.common.key_id.as_deref() == Some(kid)),
        Lookup::Only(fits) => {
            let mut fitting = keys.iter().filter(|k| fits(k));
            match (fitting.next(), fitting.next()) {
                (Some(key), None) => Some(key),
                _ => None,
            }
        }
    }
}

#[derive(Deserialize)]
struct KeySet {
    keys: Vec<serde_json::Value>,
}

/// The issuer's keys. Keys this crate cannot read (other key types, curves) are skipped
/// rather than failing the whole set: a provider may publish them for other uses.
async fn fetch(http: &reqwest::Client, uri: &Url) -> Result<Vec<Jwk>, FederationError> {
    let failed = |detail: String| FederationError::JwksFailed(format!("{uri}: {detail}"));
    let response = http
        .get(uri.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let set: KeySet = http::json_of(response).await.map_err(failed)?;
    let keys: Vec<Jwk> = set
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value(key).ok())
        .collect();
    tracing::debug!(jwks_uri = %uri, keys = keys.len(), "fetched the provider's signing keys");
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use serde_json::json;

    use super::*;

    fn key(kid: &str) -> Jwk {
        serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "alg": "EdDSA", "use": "sig", "kid": kid,
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }))
        .unwrap()
    }

    /// A provider whose key set is `sets[n]` on its n-th fetch (the last one after that).
    struct Provider {
        sets: Vec<Vec<&'static str>>,
        fetches: AtomicUsize,
    }

    impl Provider {
        fn new(sets: Vec<Vec<&'static str>>) -> Self {
            Self {
                sets,
                fetches: AtomicUsize::new(0),
            }
        }

        async fn fetch(&self) -> Result<Vec<Jwk>, FederationError> {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            let set = &self.sets[n.min(self.sets.len() - 1)];
            Ok(set.iter().map(|kid| key(kid)).collect())
        }

        fn fetches(&self) -> usize {
            self.fetches.load(Ordering::SeqCst)
        }
    }

    fn cache() -> JwksCache {
        JwksCache::new(Url::parse("https://idp.example/jwks").unwrap())
    }

    #[tokio::test]
    async fn keys_are_fetched_on_first_use_and_kept() {
        let provider = Provider::new(vec![vec!["a", "b"]]);
        let cache = cache();
        let t0 = Instant::now();
        for kid in ["a", "b", "a"] {
            let key = cache
                .key_with(Lookup::Kid(kid), t0, || provider.fetch())
                .await
                .unwrap();
            assert_eq!(key.common.key_id.as_deref(), Some(kid));
        }
        assert_eq!(provider.fetches(), 1);
        // Past the maximum age, the set is fetched again.
        cache
            .key_with(Lookup::Kid("a"), t0 + MAX_AGE, || provider.fetch())
            .await
            .unwrap();
        assert_eq!(provider.fetches(), 2);
    }

    #[tokio::test]
    async fn an_unknown_kid_refetches_once_and_no_more_often_than_the_cooldown() {
        // The provider rotates from `a` to `a`+`b` after the first fetch.
        let provider = Provider::new(vec![vec!["a"], vec!["a", "b"]]);
        let cache = cache();
        let t0 = Instant::now();
        let get = async |kid, at| {
            cache
                .key_with(Lookup::Kid(kid), at, || provider.fetch())
                .await
                .map_err(|e| e.reason())
        };
        assert!(get("a", t0).await.is_ok());
        // Within the cooldown of the first fetch, an unknown kid does not fetch.
        assert_eq!(
            get("b", t0 + Duration::from_secs(1)).await,
            Err("unknown_signing_key")
        );
        assert_eq!(provider.fetches(), 1);
        // After it, one refetch finds the new key.
        let later = t0 + REFETCH_COOLDOWN;
        assert!(get("b", later).await.is_ok());
        assert_eq!(provider.fetches(), 2);
        // A made-up kid: one refetch, then none within the cooldown.
        let later = later + REFETCH_COOLDOWN;
        assert_eq!(get("zzz", later).await, Err("unknown_signing_key"));
        assert_eq!(provider.fetches(), 3);
        for s in 1..5 {
            assert_eq!(
                get("zzz", later + Duration::from_secs(s)).await,
                Err("unknown_signing_key")
            );
        }
        assert_eq!(provider.fetches(), 3);
    }

    #[tokio::test]
    async fn without_kid_only_a_single_fitting_key_is_used() {
        let single = cache();
        let t0 = Instant::now();
        let one = Provider::new(vec![vec!["a"]]);
        let key = single
            .key_with(Lookup::Only(&|_| true), t0, || one.fetch())
            .await
            .unwrap();
        assert_eq!(key.common.key_id.as_deref(), Some("a"));
        let fresh = cache();
        let two = Provider::new(vec![vec!["a", "b"]]);
        let ambiguous = fresh
            .key_with(Lookup::Only(&|_| true), t0, || two.fetch())
            .await;
        assert_eq!(
            ambiguous.map_err(|e| e.reason()),
            Err("unknown_signing_key")
        );
    }

    #[tokio::test]
    async fn a_failed_fetch_is_an_error_and_is_retried_on_next_use() {
        let cache = cache();
        let t0 = Instant::now();
        let failing = || async { Err(FederationError::JwksFailed("down".into())) };
        let result = cache.key_with(Lookup::Kid("a"), t0, failing).await;
        assert_eq!(result.map_err(|e| e.reason()), Err("jwks_failed"));
        let provider = Provider::new(vec![vec!["a"]]);
        assert!(
            cache
                .key_with(Lookup::Kid("a"), t0, || provider.fetch())
                .await
                .is_ok()
        );
    }
}
