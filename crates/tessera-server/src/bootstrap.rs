//! Opening an installation: the store (SQLite in the data directory, or PostgreSQL), its
//! migrations, the master key, and the operator account.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::{ApiKeyId, Clock, OperatorId, Scopes, Store, scope};
use tessera_crypto::{GeneratedSecret, MasterKey, MasterKeys, SecretKind, SecretString};
use tessera_store::SqlStore;
use zeroize::Zeroizing;

use crate::config::Config;

/// Opens the configured store and brings its schema up to date.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<SqlStore>> {
    let store = match &config.database_url {
        Some(url) => SqlStore::open_postgres(url.expose())
            .await
            .context("connecting to PostgreSQL")?,
        None => {
            create_private_dir(&config.data_dir)?;
            SqlStore::open_sqlite(&config.sqlite_path())
                .await
                .context("opening the SQLite database")?
        }
    };
    store.migrate().await.context("running migrations")?;
    Ok(Arc::new(store))
}

/// The master key: `master_key` from the configuration, or in embedded mode the key file in
/// the data directory (generated, mode 0600, on first start). PostgreSQL deployments are shared
/// by several instances, so they must be given the key explicitly.
pub fn master_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    if let Some(key) = &config.master_key {
        return Ok(MasterKeys::new(
            MasterKey::from_base64(1, key.expose())?,
            Vec::new(),
        ));
    }
    if config.database_url.is_some() {
        bail!(
            "a master key is required with PostgreSQL: set TESSERA_MASTER_KEY (e.g. `openssl rand -base64 32`)"
        );
    }
    let path = config.master_key_path();
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(MasterKeys::new(
            MasterKey::from_base64(1, &text).with_context(|| format!("{}", path.display()))?,
            Vec::new(),
        ));
    }
    create_private_dir(&config.data_dir)?;
    let key = MasterKey::generate(1);
    write_private_file(&path, key.to_base64().as_bytes())?;
    tracing::info!(path = %path.display(), "generated the master key; back it up: without it, sealed keys cannot be opened");
    Ok(MasterKeys::new(key, Vec::new()))
}

/// The key connection `state`s are signed with: `oauth_state_secret`, or in embedded mode a
/// key file in the data directory (generated on first need). None on PostgreSQL without one
/// and without integrations (there is nothing to sign).
pub fn oauth_state_secret(config: &Config) -> anyhow::Result<Option<Zeroizing<Vec<u8>>>> {
    if let Some(secret) = &config.oauth_state_secret {
        return Ok(Some(Zeroizing::new(secret.expose().as_bytes().to_vec())));
    }
    if config.database_url.is_some() {
        if config.integrations.is_empty() {
            return Ok(None);
        }
        bail!(
            "integrations on PostgreSQL need TESSERA_OAUTH_STATE_SECRET (the same on every instance; e.g. `openssl rand -base64 32`)"
        );
    }
    let path = config.oauth_state_secret_path();
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Ok(Some(Zeroizing::new(text.trim().as_bytes().to_vec())));
    }
    create_private_dir(&config.data_dir)?;
    let key = MasterKey::generate(0);
    write_private_file(&path, key.to_base64().as_bytes())?;
    Ok(Some(Zeroizing::new(key.to_base64().as_bytes().to_vec())))
}

/// Creates the operator account on an empty store and returns its first key (to print once).
pub async fn ensure_operator(
    store: &dyn Store,
    clock: &dyn Clock,
) -> anyhow::Result<Option<SecretString>> {
    let (operator, created) = store
        .ensure_operator(OperatorId::generate(), clock.now())
        .await?;
    if !created {
        return Ok(None);
    }
    Ok(Some(
        insert_operator_key(store, clock, operator, "initial").await?,
    ))
}

/// Mints another operator key (for automation and recovery).
pub async fn issue_operator_key(
    store: &dyn Store,
    clock: &dyn Clock,
) -> anyhow::Result<SecretString> {
    let (operator, _) = store
        .ensure_operator(OperatorId::generate(), clock.now())
        .await?;
    insert_operator_key(store, clock, operator, "issued by tessera admin").await
}

async fn insert_operator_key(
    store: &dyn Store,
    clock: &dyn Clock,
    operator: OperatorId,
    name: &str,
) -> anyhow::Result<SecretString> {
    let secret = GeneratedSecret::new(SecretKind::OperatorKey);
    let key = ApiKey {
        id: ApiKeyId::generate(),
        owner: KeyOwner::Operator(operator),
        name: name.to_owned(),
        scopes: Scopes::one(scope::ADMIN),
        secret_hash: secret.hash,
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
        created_at: clock.now(),
    };
    store.insert_api_key(&key).await?;
    Ok(secret.secret)
}

fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))
}

fn write_private_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}
