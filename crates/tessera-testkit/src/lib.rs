//! Test harness: starts a real Tessera server on `127.0.0.1:<free port>` (in this process, so
//! tests can move its clock), on SQLite in a temporary directory or, when
//! `TESSERA_TEST_DATABASE_URL` names a PostgreSQL server, on a fresh database of its own that is
//! dropped afterwards. The same tests run on both backends: the suite is run once per backend.
//!
//! Peers other crates' tests share: a webhook receiver ([`Receiver`]), a real OpenID
//! Provider with a driver for its login forms ([`OidcProvider`]), an outside workload issuer
//! ([`WorkloadIssuer`]), and an SMTP server ([`SmtpSink`]).

mod clock;
mod database;
mod fixtures;
mod inspect;
mod oidc_provider;
pub mod peer;
mod smtp;
mod webhooks;
mod workload_issuer;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tessera_core::{PlanLimits, PlanTable};
use tessera_crypto::MasterKey;
use tessera_server::state::AppState;
use tessera_server::{App, Config, Listeners, Secret, telemetry};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use clock::ManualClock;
pub use database::TestDatabase;
pub use fixtures::{TestAgent, TestTenant};
pub use inspect::{AuditRow, TamperValue};
pub use oidc_provider::{OidcClient, OidcProvider, OidcProviderOptions};
pub use smtp::{Mail, OutboxRow, SmtpSink};
pub use webhooks::{Received, Receiver};
pub use workload_issuer::WorkloadIssuer;

/// A running server and what a test needs to talk to it.
#[derive(Debug)]
pub struct TestServer {
    /// `http://127.0.0.1:<port>`: also the issuer.
    pub base: String,
    /// `http://127.0.0.1:<port>` of the internal listener.
    pub internal_base: String,
    /// The operator key printed at first start.
    pub operator_key: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    state: AppState,
    config: Config,
    data_dir: Arc<tempfile::TempDir>,
    database: Option<Arc<TestDatabase>>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestServer {
    /// A server with the default test configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server whose configuration `adjust` may change first.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        telemetry::init_logging(tessera_server::config::LogFormat::Json);
        let data_dir = Arc::new(
            tempfile::Builder::new()
                .prefix("tessera-test-")
                .tempdir()
                .expect("temporary data directory"),
        );
        let database = TestDatabase::from_env()
            .await
            .expect("creating the PostgreSQL test database")
            .map(Arc::new);
        let mut config = Config {
            data_dir: data_dir.path().to_path_buf(),
            database_url: database.as_ref().map(|db| Secret::new(db.url())),
            // PostgreSQL needs an explicit master key; SQLite generates its key file.
            master_key: database
                .as_ref()
                .map(|_| Secret::new(MasterKey::generate(1).to_base64().as_str())),
            // Keep rotation tests fast.
            key_publish_lead_secs: 0,
            key_refresh_secs: 1,
            log_format: tessera_server::config::LogFormat::Json,
            // Free ports, unless `adjust` names some.
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            internal_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            // New tenants are on Explorer (one agent); most tests make several agents in one.
            // Tests of the plan limits put the published table back.
            plans: PlanTable {
                explorer: PlanLimits {
                    max_agents: None,
                    ..PlanTable::default().explorer
                },
                ..PlanTable::default()
            },
            ..Config::default()
        };
        adjust(&mut config);
        let clock = Arc::new(ManualClock::starting_now());
        Self::launch(config, data_dir, database, clock, None).await
    }

    async fn launch(
        mut config: Config,
        data_dir: Arc<tempfile::TempDir>,
        database: Option<Arc<TestDatabase>>,
        clock: Arc<ManualClock>,
        operator_key: Option<String>,
    ) -> Self {
        let public = TcpListener::bind(config.listen)
            .await
            .expect("binding a loopback port");
        let internal = TcpListener::bind(config.internal_listen)
            .await
            .expect("binding a loopback port for the internal listener");
        let address = public.local_addr().expect("local address");
        config.listen = address;
        config.internal_listen = internal.local_addr().expect("local address");
        let internal_base = format!("http://{}", config.internal_listen);
        let started = App::open(config.clone(), clock.clone())
            .await
            .expect("opening the server");
        let operator_key = operator_key
            .or_else(|| started.operator_key.as_ref().map(|k| k.expose().to_owned()))
            .expect("a fresh store prints an operator key");
        let state = started.app.state().clone();
        let (shutdown, signal) = oneshot::channel::<()>();
        let listeners = Listeners { public, internal };
        let task = tokio::spawn(started.app.serve(listeners, async move {
            let _ = signal.await;
        }));
        Self {
            base: format!("http://{address}"),
            internal_base,
            operator_key,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .expect("HTTP client"),
            clock,
            state,
            config,
            data_dir,
            database,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// A second instance on the same store and clock (another node of a cluster), on ports of
    /// its own; `adjust` may change its configuration first.
    pub async fn sibling_with(&self, adjust: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            internal_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..self.config.clone()
        };
        adjust(&mut config);
        Self::launch(
            config,
            Arc::clone(&self.data_dir),
            self.database.clone(),
            Arc::clone(&self.clock),
            Some(self.operator_key.clone()),
        )
        .await
    }

    /// Stops the server gracefully and starts a new one on the same store, port and clock.
    pub async fn restart(mut self) -> Self {
        self.stop().await.expect("graceful shutdown");
        Self::launch(
            self.config.clone(),
            Arc::clone(&self.data_dir),
            self.database.clone(),
            Arc::clone(&self.clock),
            Some(std::mem::take(&mut self.operator_key)),
        )
        .await
    }

    /// Stops the server and waits until it has drained.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.context("server task")??;
        }
        Ok(())
    }

    /// The server's current time.
    pub fn clock_now(&self) -> time::OffsetDateTime {
        tessera_server::Clock::now(self.clock.as_ref())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A URL on the internal listener.
    pub fn internal_url(&self, path: &str) -> String {
        format!("{}{}", self.internal_base, path)
    }

    /// The server's shared state, for tests and benchmarks that call Tessera directly.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Waits until every audit event recorded so far is stored.
    pub async fn flush_audit(&self) {
        self.state.audit_writer.flush().await;
    }

    /// Stores every queued audit event and signs the head of every chain.
    pub async fn checkpoint_audit(&self) {
        self.flush_audit().await;
        tessera_server::audit::checkpoint::checkpoint_all(&self.state)
            .await
            .expect("signing audit checkpoints");
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The PostgreSQL database this server uses, when it runs on PostgreSQL.
    pub fn database(&self) -> Option<&TestDatabase> {
        self.database.as_deref()
    }
}
