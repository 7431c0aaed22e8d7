//! `tessera serve`: run the server until SIGTERM or SIGINT.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use clap::Args;
use tessera_server::{App, Listeners, Overrides, Secret, SystemClock, shutdown_signal, telemetry};

use super::StoreArgs;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Address of the internal listener (default 127.0.0.1:8090): metrics and the endpoints
    /// for the operator's network and the runtimes.
    #[arg(long)]
    internal_listen: Option<SocketAddr>,
    /// Publish every event to NATS JetStream at this URL (`nats://…`).
    #[arg(long)]
    nats_url: Option<String>,
    /// Keep rate-limit counters in this Redis (`redis://…` or `rediss://…`), shared by every
    /// instance using it; without it they are counted in this process.
    #[arg(long)]
    redis_url: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
}

pub async fn exec(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.store.load(Overrides {
        listen: args.listen,
        internal_listen: args.internal_listen,
        nats_url: args.nats_url.map(Secret::new),
        redis_url: args.redis_url.map(Secret::new),
        ..Overrides::default()
    })?;
    telemetry::init_logging(config.log_format);
    let listeners = Listeners::bind(&config).await?;
    let address = listeners.public.local_addr()?;
    let internal = listeners.internal.local_addr()?;
    // With port 0 the issuer must name the port actually bound.
    config.listen = address;
    config.internal_listen = internal;
    let started = App::open(config, Arc::new(SystemClock)).await?;

    // Stdout carries only what a person or a script must read once; logs go to stderr.
    let mut out = std::io::stdout().lock();
    if let Some(key) = &started.operator_key {
        writeln!(
            out,
            "Operator API key (scope admin), shown once; store it now:"
        )?;
        writeln!(out, "  {}", key.expose())?;
    }
    writeln!(
        out,
        "Tessera listening on http://{address} (issuer {}), internal listener on http://{internal}",
        started.app.state().issuer
    )?;
    out.flush()?;
    drop(out);

    started.app.serve(listeners, shutdown_signal()).await
}
