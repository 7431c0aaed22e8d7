//! The signing-key service: keeps the key ring in step with the stored keys, generates the first
//! key, and rotates. A rotated key is published `key_publish_lead_secs` before it signs, and a
//! retired key stays published until the last token it can have signed has expired.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use tessera_core::signing_key::SigningKeyRecord;
use tessera_core::{Clock, Store};
use tessera_crypto::keyring::PublishedKey;
use tessera_crypto::{Algorithm, GeneratedKey, KeyRing, MasterKeys};
use time::OffsetDateTime;

/// Unknown-`kid` refreshes are at most this frequent, so forged kids cannot hammer the store.
const UNKNOWN_KID_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

pub struct KeyService {
    store: Arc<dyn Store>,
    master: MasterKeys,
    clock: Arc<dyn Clock>,
    ring: RwLock<Arc<KeyRing>>,
    /// What the current ring was built from; a different fingerprint means rebuild.
    fingerprint: Mutex<String>,
    last_unknown_kid_refresh: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for KeyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyService")
            .field("ring", &self.ring())
            .finish_non_exhaustive()
    }
}

impl KeyService {
    /// Loads the stored keys, generating the first one (`alg`) on an empty store.
    pub async fn load(
        store: Arc<dyn Store>,
        master: MasterKeys,
        clock: Arc<dyn Clock>,
        alg: Algorithm,
    ) -> anyhow::Result<Self> {
        if store.signing_keys().await?.is_empty() {
            let now = clock.now();
            // The first key has no predecessor whose tokens need to stay verifiable.
            rotate(store.as_ref(), &master, alg, now, now, now).await?;
        }
        let service = Self {
            store,
            master,
            clock,
            ring: RwLock::new(Arc::new(KeyRing::new(&[], None)?)),
            fingerprint: Mutex::new(String::new()),
            last_unknown_kid_refresh: Mutex::new(None),
        };
        service.refresh().await?;
        Ok(service)
    }

    pub fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(
            &self
                .ring
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    /// Re-reads the stored keys and rebuilds the ring if what it should hold changed (a key
    /// was added, became the signer, or stopped being published).
    pub async fn refresh(&self) -> anyhow::Result<()> {
        let records = self.store.signing_keys().await?;
        let now = self.clock.now();
        let published: Vec<&SigningKeyRecord> = records
            .iter()
            .filter(|r| r.unpublish_at.is_none_or(|at| at > now))
            .collect();
        let signer = current_signer(&records, now);
        let fingerprint = format!(
            "{}|{}",
            signer.map_or("", |s| s.kid.as_str()),
            published
                .iter()
                .map(|r| r.kid.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        if *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) == fingerprint {
            return Ok(());
        }

        let published_keys = published
            .iter()
            .map(|r| {
                Ok(PublishedKey {
                    kid: r.kid.clone(),
                    alg: parse_alg(&r.alg)?,
                    public_jwk: serde_json::from_str(&r.public_jwk)
                        .with_context(|| format!("public JWK of key {}", r.kid))?,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ring = match signer {
            Some(signer) => {
                let private = self
                    .master
                    .open(&signer.sealed_private_key, signer.kid.as_bytes())
                    .with_context(|| format!("unsealing signing key {} (is the master key the one it was sealed with?)", signer.kid))?;
                KeyRing::new(
                    &published_keys,
                    Some((&signer.kid, parse_alg(&signer.alg)?, &private)),
                )?
            }
            None => KeyRing::new(&published_keys, None)?,
        };
        tracing::info!(
            signing_kid = ring.signing_kid(),
            published = published_keys.len(),
            "key ring loaded"
        );
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
        *self.fingerprint.lock().unwrap_or_else(|p| p.into_inner()) = fingerprint;
        Ok(())
    }

    /// A token named a key the ring does not hold: another instance may have rotated.
    pub async fn refresh_for_unknown_kid(&self) {
        {
            let mut last = self
                .last_unknown_kid_refresh
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|at| at.elapsed() < UNKNOWN_KID_REFRESH_INTERVAL) {
                return;
            }
            *last = Some(Instant::now());
        }
        if let Err(error) = self.refresh().await {
            tracing::warn!(error = %error, "refreshing the key ring failed");
        }
    }
}

/// The key that signs at `now`: the most recently activated key that has not been retired.
fn current_signer(records: &[SigningKeyRecord], now: OffsetDateTime) -> Option<&SigningKeyRecord> {
    records
        .iter()
        .filter(|r| r.activates_at <= now && r.retired_at.is_none_or(|at| at > now))
        .max_by_key(|r| r.activates_at)
}

fn parse_alg(name: &str) -> anyhow::Result<Algorithm> {
    Algorithm::parse(name).with_context(|| format!("unknown signing algorithm {name}"))
}

/// Generates a key that signs from `activates_at`, sealed under the master key, and retires the
/// keys before it; they stay published until `retired_keys_unpublish_at`.
pub async fn rotate(
    store: &dyn Store,
    master: &MasterKeys,
    alg: Algorithm,
    now: OffsetDateTime,
    activates_at: OffsetDateTime,
    retired_keys_unpublish_at: OffsetDateTime,
) -> anyhow::Result<SigningKeyRecord> {
    let kid = uuid::Uuid::now_v7().simple().to_string();
    let generated = GeneratedKey::new(alg, &kid)?;
    let record = SigningKeyRecord {
        sealed_private_key: master.seal(&generated.private_pkcs8, kid.as_bytes()),
        public_jwk: generated.public_jwk.to_string(),
        kid,
        alg: alg.as_str().to_owned(),
        created_at: now,
        activates_at,
        retired_at: None,
        unpublish_at: None,
    };
    store
        .rotate_signing_key(&record, retired_keys_unpublish_at)
        .await?;
    Ok(record)
}

/// Where a key stands at `now`, for `tessera keys list`.
pub fn key_state(
    record: &SigningKeyRecord,
    records: &[SigningKeyRecord],
    now: OffsetDateTime,
) -> &'static str {
    if record.unpublish_at.is_some_and(|at| at <= now) {
        "unpublished"
    } else if current_signer(records, now).is_some_and(|s| s.kid == record.kid) {
        "signing"
    } else if record.activates_at > now {
        "next"
    } else {
        "retired"
    }
}
