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

/// The master keys: `master_key` from the configuration, or in embedded mode the key file in
/// the data directory (generated, mode 0600, on first start). Either holds one key or several
/// versions (`<version>:<base64>`, the highest seals; see `tessera keys rotate-master`).
/// PostgreSQL deployments are shared by several instances, so they must be given the keys.
/// `master_key_seal_version` picks another version than the highest to seal with.
pub fn master_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    let keys = loaded_master_keys(config)?;
    match config.master_key_seal_version {
        Some(version) => keys
            .sealing_with(version)
            .context("master_key_seal_version names a version master_key does not hold"),
        None => Ok(keys),
    }
}

fn loaded_master_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    if let Some(keys) = &config.master_key {
        return MasterKeys::parse(keys.expose()).context("master_key");
    }
    if config.database_url.is_some() {
        bail!(
            "a master key is required with PostgreSQL: set TESSERA_MASTER_KEY (e.g. `openssl rand -base64 32`)"
        );
    }
    let path = config.master_key_path();
    if path.exists() {
        let text = Zeroizing::new(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        );
        return MasterKeys::parse(&text).with_context(|| format!("{}", path.display()));
    }
    create_private_dir(&config.data_dir)?;
    let keys = MasterKeys::new(MasterKey::generate(1), Vec::new());
    write_private_file(&path, keys.to_text().as_bytes())?;
    tracing::info!(path = %path.display(), "generated the master key; back it up: without it, sealed keys cannot be opened");
    Ok(keys)
}

/// Whether the master keys come from the key file (embedded mode), which `tessera keys
/// rotate-master` extends and running servers re-read.
pub fn master_key_file_in_use(config: &Config) -> bool {
    config.master_key.is_none() && config.database_url.is_none()
}

/// Replaces the key file with `keys` (written beside it, then renamed: a reader sees the old
/// file or the new one, never half of one).
pub fn write_master_key_file(config: &Config, keys: &MasterKeys) -> anyhow::Result<()> {
    let path = config.master_key_path();
    let next = config.data_dir.join("master.key.next");
    if next.exists() {
        std::fs::remove_file(&next).with_context(|| format!("removing {}", next.display()))?;
    }
    write_private_file(&next, keys.to_text().as_bytes())?;
    std::fs::rename(&next, &path).with_context(|| format!("replacing {}", path.display()))
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
