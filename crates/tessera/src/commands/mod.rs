//! The commands, one module each, and the options they share.

mod admin;
mod keys;
mod migrate;
mod serve;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use tessera_server::{Config, Overrides, Secret};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Identity, authentication and credentials for platforms that run AI agents"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(serve::ServeArgs),
    /// Bring the database schema up to date, then exit.
    Migrate(StoreArgs),
    /// Signing keys: list them, rotate.
    Keys(keys::KeysArgs),
    /// Administration of the installation.
    Admin(admin::AdminArgs),
}

/// Where the configuration and the store are.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// A TOML configuration file.
    #[arg(long, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    /// The data directory (SQLite database, master key file).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// A postgres:// URL; without it Tessera uses SQLite in the data directory.
    #[arg(long)]
    database_url: Option<String>,
}

impl StoreArgs {
    /// The configuration: defaults < file < `TESSERA_*` environment < these flags.
    fn load(&self, listen: Option<SocketAddr>, nats_url: Option<Secret>) -> anyhow::Result<Config> {
        self.load_with(Overrides {
            listen,
            nats_url,
            ..Overrides::default()
        })
    }

    /// The same, with a command's own flags in `overrides` (these flags fill in the store's).
    fn load_with(&self, overrides: Overrides) -> anyhow::Result<Config> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone().map(Secret::new),
            ..overrides
        };
        Ok(Config::load(self.config.as_deref(), &overrides)?)
    }
}

impl Cli {
    pub async fn exec(self) -> anyhow::Result<()> {
        match self.command {
            Command::Serve(args) => serve::exec(args).await,
            Command::Migrate(args) => migrate::exec(args).await,
            Command::Keys(args) => keys::exec(args).await,
            Command::Admin(args) => admin::exec(args).await,
        }
    }
}
