//! [`App`]: the server assembled from a [`Config`], and serving it until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tessera_core::{Clock, Store};
use tessera_crypto::SecretString;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::keys::KeyService;
use crate::state::AppState;
use crate::telemetry;
use crate::{audit, bootstrap};

#[derive(Debug)]
pub struct App {
    state: AppState,
    store: Arc<tessera_store::SqlStore>,
}

/// The two listeners: the public one (every client) and the internal one (the operator's
/// network and the runtimes; see `http::internal`).
#[derive(Debug)]
pub struct Listeners {
    pub public: TcpListener,
    pub internal: TcpListener,
}

impl Listeners {
    /// Binds `config.listen` and `config.internal_listen`.
    pub async fn bind(config: &Config) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let public = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let internal = TcpListener::bind(config.internal_listen)
            .await
            .with_context(|| format!("binding the internal listener {}", config.internal_listen))?;
        Ok(Self { public, internal })
    }
}

/// What the first start of an installation has to tell its operator, once.
#[derive(Debug)]
pub struct Started {
    pub app: App,
    /// The operator key, when this start created the operator account.
    pub operator_key: Option<SecretString>,
}

impl App {
    /// Opens the store (running migrations), the master key and the key ring, and creates the
    /// operator account on an empty store.
    pub async fn open(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Started> {
        let store = bootstrap::open_store(&config).await?;
        let master = bootstrap::master_keys(&config)?;
        let oauth_state_secret = bootstrap::oauth_state_secret(&config)?;
        let dyn_store: Arc<dyn Store> = store.clone();
        let operator_key = bootstrap::ensure_operator(dyn_store.as_ref(), clock.as_ref()).await?;
        let keys = KeyService::load(
            Arc::clone(&dyn_store),
            master.clone(),
            Arc::clone(&clock),
            config.signing_alg,
        )
        .await?;
        let state = AppState::new(
            config,
            dyn_store,
            clock,
            keys,
            master,
            telemetry::metrics_handle(),
            oauth_state_secret.as_deref().map(Vec::as_slice),
        )?;
        Ok(Started {
            app: App { state, store },
            operator_key,
        })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn router(&self) -> Router {
        crate::http::router(self.state.clone()).0
    }

    /// Serves both listeners until `shutdown` resolves, then drains in-flight requests, stops
    /// background work and closes the store's connections.
    pub async fn serve(
        self,
        listeners: Listeners,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let refresher = tokio::spawn(refresh_keys(self.state.clone()));
        let maintainer = tokio::spawn(maintain_audit_log(self.state.clone()));
        let metrics_upkeep = tokio::spawn(drain_histograms(self.state.metrics.clone()));
        let usage = crate::usage::UsageConsumer::spawn(&self.state);
        let events_out = crate::webhooks::Workers::start(&self.state);
        let orphans = self.state.provisioning.orphans().await;
        let recovery = tokio::spawn({
            let state = self.state.clone();
            async move { state.provisioning.recover(orphans).await }
        });
        let (stop, stopping) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
            let _ = stopping.wait_for(|stop| *stop).await;
        };
        let workers = self
            .state
            .config
            .public_workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
        let public = crate::http::cores::serve(
            listeners.public,
            crate::http::front::MakeFront::new(&self.state, self.router()),
            workers,
            stopped(stopping.clone()),
        );
        let internal = axum::serve(
            listeners.internal,
            crate::http::internal::router(self.state.clone())
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stopped(stopping));
        let (public, internal) = tokio::join!(public, internal.into_future());
        let result = public.and(internal);
        // In-flight requests are done: stop the background work and the runtimes this process
        // runs (their placements stay as they are, so the next start restarts them), store
        // every queued audit event, sign the chain heads, and only then close the store.
        recovery.abort();
        self.state.provisioning.shutdown().await;
        refresher.abort();
        metrics_upkeep.abort();
        maintainer.abort();
        usage.stop().await;
        // Before the writer closes: attempts finishing now may record `webhook.disabled`.
        events_out.stop().await;
        self.state.audit_writer.close().await;
        if let Err(error) = audit::checkpoint::checkpoint_all(&self.state).await {
            tracing::warn!(error = %error, "the final audit checkpoint failed");
        }
        self.store.close().await;
        result.map_err(Into::into)
    }
}

/// Picks up keys rotated by another process (`tessera keys rotate`, another instance) and
/// keys whose activation or retirement time has come; in embedded mode also the master key
/// versions `tessera keys rotate-master` adds to the key file (first: a signing key may just
/// have been rewrapped under the new version).
async fn refresh_keys(state: AppState) {
    let mut interval = tokio::time::interval(Duration::from_secs(state.config.key_refresh_secs));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if bootstrap::master_key_file_in_use(&state.config) {
            match bootstrap::master_keys(&state.config) {
                Ok(keys) if *keys.to_text() != *state.master.to_text() => {
                    state.master.replace_with(&keys);
                    tracing::info!(
                        version = keys.current_version(),
                        "loaded the master key file's new version"
                    );
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(error = %error, "re-reading the master key file failed");
                }
            }
        }
        if let Err(error) = state.keys.refresh().await {
            tracing::warn!(error = %error, "refreshing the key ring failed");
        }
    }
}

/// Folds recorded histogram samples into their buckets every 5 s. The recorder keeps raw
/// samples until then (or until `/metrics` is scraped): without this, a server nobody scrapes
/// would hold every request's latency in memory.
async fn drain_histograms(metrics: metrics_exporter_prometheus::PrometheusHandle) {
    let mut interval = tokio::time::interval(Duration::from_secs(5));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        metrics.run_upkeep();
    }
}

/// Signs chain heads every `audit_checkpoint_secs`, and prunes expired segments hourly.
async fn maintain_audit_log(state: AppState) {
    let every = Duration::from_secs(state.config.audit_checkpoint_secs);
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        interval.tick().await;
        if let Err(error) = audit::checkpoint::checkpoint_all(&state).await {
            tracing::warn!(error = %error, "signing audit checkpoints failed");
        }
        if last_prune.is_none_or(|at| at.elapsed() >= Duration::from_secs(3600)) {
            last_prune = Some(std::time::Instant::now());
            match audit::retention::prune(&state, state.config.audit_retention_days).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "pruned audit events past retention"),
                Err(error) => tracing::warn!(error = %error, "pruning the audit log failed"),
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
