//! `tessera admin`: installation administration against the store directly.

use std::io::Write;

use clap::{Args, Subcommand};
use tessera_server::{Overrides, SystemClock, bootstrap};

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Mint a new operator API key and print only the key (for automation and recovery).
    IssueOperatorKey(StoreArgs),
}

pub async fn exec(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::IssueOperatorKey(store_args) => {
            let config = store_args.load(Overrides::default())?;
            let store = bootstrap::open_store(&config).await?;
            let key = bootstrap::issue_operator_key(store.as_ref(), &SystemClock).await?;
            store.close().await;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", key.expose())?;
            Ok(())
        }
    }
}
