//! `tessera keys`: list the signing keys and rotate them, and rotate the master key, against
//! the store directly. A running server picks the change up within `key_refresh_secs`.

use std::io::Write;
use tessera_server::Overrides;

use clap::{Args, Subcommand};
use tessera_core::Store;
use tessera_server::{Clock, SystemClock, bootstrap, keys};
use time::Duration;
use time::format_description::well_known::Rfc3339;

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the signing keys and where each stands (next, signing, retired, unpublished).
    List(StoreArgs),
    /// Make a new signing key. It is published at once and signs after `--activate-in`.
    Rotate(RotateArgs),
    /// Seal everything at rest (signing keys, wallet keys, webhook secrets, vault tokens) under
    /// a new master key version, while servers run. Embedded mode: the version is generated
    /// into the key file, which running servers re-read. With `master_key` set: add the new
    /// version there (`1:<old> 2:<new>`) on every instance first; this rewraps under it.
    RotateMaster(StoreArgs),
}

#[derive(Debug, Args)]
struct RotateArgs {
    /// ES256 (default from configuration), EdDSA or RS256.
    #[arg(long)]
    alg: Option<String>,
    /// Seconds between publishing the key and signing with it (default `key_publish_lead_secs`),
    /// so that relying parties caching the JWKS see it first.
    #[arg(long)]
    activate_in: Option<i64>,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn exec(args: KeysArgs) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::List(store_args) => list(store_args).await,
        KeysCommand::Rotate(rotate_args) => rotate(rotate_args).await,
        KeysCommand::RotateMaster(store_args) => rotate_master(store_args).await,
    }
}

fn rfc3339(at: Option<time::OffsetDateTime>) -> String {
    at.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

async fn list(args: StoreArgs) -> anyhow::Result<()> {
    let config = args.load(Overrides::default())?;
    let store = bootstrap::open_store(&config).await?;
    let records = store.signing_keys().await?;
    store.close().await;
    let now = SystemClock.now();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<32}  {:<5}  {:<11}  {:<20}  {:<20}  {:<20}",
        "KID", "ALG", "STATE", "ACTIVATES", "RETIRED", "UNPUBLISH"
    )?;
    for record in &records {
        writeln!(
            out,
            "{:<32}  {:<5}  {:<11}  {:<20}  {:<20}  {:<20}",
            record.kid,
            record.alg,
            keys::key_state(record, &records, now),
            rfc3339(Some(record.activates_at)),
            rfc3339(record.retired_at),
            rfc3339(record.unpublish_at),
        )?;
    }
    Ok(())
}

async fn rotate(args: RotateArgs) -> anyhow::Result<()> {
    let config = args.store.load(Overrides::default())?;
    let alg = match &args.alg {
        Some(name) => tessera_crypto::Algorithm::parse(name).ok_or_else(|| {
            anyhow::anyhow!("unknown algorithm {name}; use ES256, EdDSA or RS256")
        })?,
        None => config.signing_alg,
    };
    let lead = args.activate_in.unwrap_or(config.key_publish_lead_secs);
    anyhow::ensure!(lead >= 0, "--activate-in must not be negative");
    let store = bootstrap::open_store(&config).await?;
    let master = bootstrap::master_keys(&config)?;
    let now = SystemClock.now();
    let activates_at = now + Duration::seconds(lead);
    // The last token the old key signs is issued just before `activates_at`.
    let unpublish_at = activates_at + Duration::seconds(config.access_token_ttl_secs);
    let record = keys::rotate(
        store.as_ref(),
        &master,
        alg,
        now,
        activates_at,
        unpublish_at,
    )
    .await?;
    store.close().await;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", record.kid)?;
    eprintln!(
        "new {} key {} published; it signs from {}; the previous key stays published until {}",
        record.alg,
        record.kid,
        rfc3339(Some(activates_at)),
        rfc3339(Some(unpublish_at))
    );
    Ok(())
}

async fn rotate_master(args: StoreArgs) -> anyhow::Result<()> {
    let config = args.load(Overrides::default())?;
    let store = bootstrap::open_store(&config).await?;
    let current = bootstrap::master_keys(&config)?;
    let keys = if bootstrap::master_key_file_in_use(&config) {
        let next = current.with_next();
        bootstrap::write_master_key_file(&config, &next)?;
        // Running servers re-read the file every `key_refresh_secs`: nothing may be sealed
        // under the new version before they can open it.
        let wait = config.key_refresh_secs.saturating_mul(2);
        eprintln!(
            "master key version {} written to {}; waiting {wait} s for running servers to load it",
            next.current_version(),
            config.master_key_path().display()
        );
        tokio::time::sleep(std::time::Duration::from_secs(wait)).await;
        next
    } else {
        current
    };
    let outcome = store.rewrap_sealed(|blob| keys.rewrap(blob)).await?;
    store.close().await;
    writeln!(std::io::stdout().lock(), "{}", keys.current_version())?;
    eprintln!(
        "{} sealed values rewrapped under master key version {} ({} changed meanwhile, sealed \
         under it already); older versions can be removed once every instance has this one",
        outcome.rewrapped,
        keys.current_version(),
        outcome.skipped
    );
    Ok(())
}
