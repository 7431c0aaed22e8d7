//! Outside workload tokens for workload identity federation: a JWT that another OpenID issuer
//! (GitHub Actions, a cloud, a partner's identity provider) signed for a workload, verified with
//! that issuer's published keys so that Tessera can exchange it for an agent's token.
//!
//! [`TrustedIssuers`] keeps one key cache per issuer: discovery (`iss` +
//! `/.well-known/openid-configuration`, which only needs `issuer` and `jwks_uri`, as GitHub's
//! does) on first use, then the [`jwks`](crate::jwks) policy: keys refetched when stale and for
//! an unknown `kid`, at most once per cooldown. The caller decides which issuers to trust (the
//! tenants' trust policies); this module proves the token was signed by the issuer it names and
//! is within its lifetime, and hands back every claim for the policy's conditions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use reqwest::header::ACCEPT;
use serde::Deserialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::Mutex;
use url::Url;

use crate::FederationError;
use crate::config::check_endpoint;
use crate::http;
use crate::id_token::{EXPIRY_LEEWAY, Header, MAX_ISSUED_AHEAD, decode_signed, fits};
use crate::jwks::{JwksCache, Lookup};

/// An outbound address check the server applies to every URL before it is fetched (its
/// private-address policy), besides the client's own resolver guard.
pub type UrlCheck = Arc<dyn Fn(&Url) -> Result<(), String> + Send + Sync>;

/// The key caches of the outside issuers tokens were verified for, by issuer.
pub struct TrustedIssuers {
    http: reqwest::Client,
    check: UrlCheck,
    cooldown: Duration,
    issuers: Mutex<HashMap<String, Arc<JwksCache>>>,
}

impl std::fmt::Debug for TrustedIssuers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuers")
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

/// A verified outside token: who issued it, for whom, and all its claims.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadToken {
    pub iss: String,
    pub sub: String,
    /// One string or an array in the token; always a list here.
    pub aud: Vec<String>,
    pub claims: Map<String, Value>,
}

impl TrustedIssuers {
    /// `cooldown`: the shortest time between two key fetches caused by unknown key ids.
    pub fn new(http: reqwest::Client, check: UrlCheck, cooldown: Duration) -> Self {
        Self {
            http,
            check,
            cooldown,
            issuers: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` as issued by `issuer` (its signature by one of the issuer's published
    /// keys, `iss`, `exp`, `nbf`, `iat` against `now`). The audience is the caller's to check.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        now: OffsetDateTime,
    ) -> Result<WorkloadToken, FederationError> {
        let header = Header::parse(token)?;
        let jwks = self.keys_of(issuer).await?;
        let fits_alg = |jwk: &Jwk| fits(jwk, header.alg);
        let lookup = match &header.kid {
            Some(kid) => Lookup::Kid(kid),
            None => Lookup::Only(&fits_alg),
        };
        let jwk = jwks.key(&self.http, lookup, Instant::now()).await?;
        let claims: Map<String, Value> = decode_signed(token, &jwk, header.alg)?;
        let verified = read(claims)?;
        if verified.iss != issuer {
            return Err(FederationError::WrongIssuer {
                expected: issuer.to_owned(),
                found: verified.iss,
            });
        }
        check_times(&verified.claims, now)?;
        Ok(verified)
    }

    /// The issuer's key cache, discovered on first use (a failed discovery is retried on the
    /// next use, nothing is kept).
    async fn keys_of(&self, issuer: &str) -> Result<Arc<JwksCache>, FederationError> {
        if let Some(jwks) = self.issuers.lock().await.get(issuer) {
            return Ok(Arc::clone(jwks));
        }
        let jwks_uri = self.discover(issuer).await?;
        let jwks = Arc::new(JwksCache::with_cooldown(jwks_uri, self.cooldown));
        let mut issuers = self.issuers.lock().await;
        // A concurrent discovery may have won; keep one cache per issuer.
        Ok(Arc::clone(issuers.entry(issuer.to_owned()).or_insert(jwks)))
    }

    /// Discovery §4 reduced to what verification needs: `issuer` (byte for byte) and `jwks_uri`.
    async fn discover(&self, issuer: &str) -> Result<Url, FederationError> {
        #[derive(Deserialize)]
        struct Metadata {
            issuer: String,
            jwks_uri: Url,
        }
        let failed = |detail: String| FederationError::DiscoveryFailed {
            issuer: issuer.to_owned(),
            detail,
        };
        let url = Url::parse(&format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ))
        .map_err(|e| failed(e.to_string()))?;
        check_endpoint("issuer", &url).map_err(failed)?;
        (self.check)(&url).map_err(failed)?;
        let response = self
            .http
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let metadata: Metadata = http::json_of(response).await.map_err(failed)?;
        if metadata.issuer != issuer {
            return Err(FederationError::WrongIssuer {
                expected: issuer.to_owned(),
                found: metadata.issuer,
            });
        }
        check_endpoint("jwks_uri", &metadata.jwks_uri).map_err(failed)?;
        (self.check)(&metadata.jwks_uri).map_err(failed)?;
        Ok(metadata.jwks_uri)
    }
}

/// The `iss` a token claims, read without verifying anything: only to find which issuer's
/// keys (and which trust policies) to verify it against.
pub fn claimed_issuer(token: &str) -> Result<String, FederationError> {
    let invalid = |why: &str| FederationError::InvalidIdToken(why.to_owned());
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| invalid("not a signed JWT"))?;
    let claims: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| invalid("the payload is not base64url JSON"))?;
    match claims.get("iss") {
        Some(Value::String(iss)) if !iss.is_empty() => Ok(iss.clone()),
        _ => Err(invalid("the token has no `iss`")),
    }
}

fn read(claims: Map<String, Value>) -> Result<WorkloadToken, FederationError> {
    let invalid = |why: &str| FederationError::InvalidIdToken(why.to_owned());
    let text = |name: &str| match claims.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(invalid(&format!("`{name}` is missing or not a string"))),
    };
    let iss = text("iss")?;
    let sub = text("sub")?;
    let aud = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many
            .iter()
            .map(|a| a.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| invalid("`aud` is not a string or a list of strings"))?,
        _ => return Err(invalid("`aud` is missing")),
    };
    Ok(WorkloadToken {
        iss,
        sub,
        aud,
        claims,
    })
}

/// `exp` is required (RFC 7523 §3); `nbf` and `iat`, when present, must not lie in the future
/// beyond the same tolerances as ID tokens'.
fn check_times(claims: &Map<String, Value>, now: OffsetDateTime) -> Result<(), FederationError> {
    let date = |name: &str| -> Result<Option<i64>, FederationError> {
        match claims.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| {
                    FederationError::InvalidIdToken(format!("`{name}` is out of range"))
                }),
            Some(_) => Err(FederationError::InvalidIdToken(format!(
                "`{name}` is not a NumericDate"
            ))),
        }
    };
    let now = now.unix_timestamp();
    let exp = date("exp")?
        .ok_or_else(|| FederationError::InvalidIdToken("`exp` is missing".to_owned()))?;
    if exp.saturating_add(EXPIRY_LEEWAY.whole_seconds()) <= now {
        return Err(FederationError::IdTokenExpired);
    }
    let ahead = |at: Option<i64>, leeway: time::Duration| {
        at.is_some_and(|at| at > now.saturating_add(leeway.whole_seconds()))
    };
    if ahead(date("iat")?, MAX_ISSUED_AHEAD) || ahead(date("nbf")?, EXPIRY_LEEWAY) {
        return Err(FederationError::IdTokenNotYetValid);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

    fn at(offset: i64) -> i64 {
        NOW.unix_timestamp() + offset
    }

    fn times(value: Value) -> Result<(), &'static str> {
        let Value::Object(map) = value else {
            unreachable!()
        };
        check_times(&map, NOW).map_err(|e| e.reason())
    }

    #[test]
    fn lifetimes_are_checked_with_leeway() {
        assert_eq!(times(json!({"exp": at(60), "iat": at(-10)})), Ok(()));
        assert_eq!(times(json!({"iat": at(-10)})), Err("invalid_id_token"));
        assert_eq!(times(json!({"exp": "soon"})), Err("invalid_id_token"));
        // Within the leeway after `exp` still, then expired.
        assert_eq!(times(json!({"exp": at(-30)})), Ok(()));
        assert_eq!(times(json!({"exp": at(-60)})), Err("id_token_expired"));
        assert_eq!(
            times(json!({"exp": at(900), "nbf": at(120)})),
            Err("id_token_not_yet_valid")
        );
        assert_eq!(
            times(json!({"exp": at(900), "iat": at(600)})),
            Err("id_token_not_yet_valid")
        );
    }

    #[test]
    fn the_claimed_issuer_is_read_without_verification() {
        let encode = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let token =
            |claims: Value| format!("{}.{}.sig", encode(json!({"alg": "RS256"})), encode(claims));
        assert_eq!(
            claimed_issuer(&token(json!({"iss": "https://idp.example"}))),
            Ok("https://idp.example".to_owned())
        );
        for bad in [
            token(json!({"iss": 3})),
            token(json!({})),
            "garbage".to_owned(),
        ] {
            assert_eq!(
                claimed_issuer(&bad).map_err(|e| e.reason()),
                Err("invalid_id_token")
            );
        }
    }

    #[test]
    fn audiences_are_one_or_many_strings() {
        let map = |v: Value| match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let one = read(map(json!({"iss": "i", "sub": "s", "aud": "a"}))).unwrap();
        assert_eq!(one.aud, vec!["a".to_owned()]);
        let many = read(map(json!({"iss": "i", "sub": "s", "aud": ["a", "b"]}))).unwrap();
        assert_eq!(many.aud.len(), 2);
        assert!(read(map(json!({"iss": "i", "sub": "s", "aud": [1]}))).is_err());
        assert!(read(map(json!({"iss": "i", "aud": "a"}))).is_err());
    }
}
