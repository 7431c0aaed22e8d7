//! `tessera migrate`: apply pending migrations and exit (servers also do this at start).

use tessera_server::Overrides;

use super::StoreArgs;

pub async fn exec(args: StoreArgs) -> anyhow::Result<()> {
    let config = args.load(Overrides::default())?;
    let store = tessera_server::bootstrap::open_store(&config).await?;
    store.close().await;
    eprintln!("migrations applied");
    Ok(())
}
