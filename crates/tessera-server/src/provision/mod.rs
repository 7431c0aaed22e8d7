//! Provisioning: starting entities' runtimes and keeping their placements current.
//!
//! [`Provisioning`] is what handlers use: it leases free ports ([`ports`]), records the
//! placement, starts the runtime through the configured [`Provisioner`] backend ([`process`],
//! [`systemd`], [`fixed`] for registered addresses), posts blueprints and edges to runtimes,
//! stops them, restarts the ones this instance supervises when it starts, and stops its child
//! processes at shutdown. [`blueprint`] and [`stack`] check requests before anything starts.

pub mod blueprint;
pub mod fixed;
mod health;
pub mod ports;
pub mod process;
pub mod stack;
pub mod systemd;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::placement::{Placement, PlacementBackend, PlacementState, PlacementStatus};
use tessera_core::{AgentId, Clock, Store, StoreError, TenantId};

use crate::config::{Config, ProvisioningBackend};
pub use health::Health;
pub use ports::{PortLease, Ports};

/// How long a runtime has to accept a blueprint or an edge.
const POST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The server is not set up for this (no command, or an address the backend cannot use).
    #[error("{0}")]
    NotConfigured(&'static str),
    /// The request's address does not fit the backend.
    #[error("{0}")]
    Address(String),
    #[error("every port in provisioning_ports ({first}-{last}) is taken")]
    PortsExhausted { first: u16, last: u16 },
    /// The runtime did not start, did not become healthy, or refused what it was sent.
    #[error("{0}")]
    Runtime(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One runtime to start: whose it is, and where it is to listen.
#[derive(Debug, Clone)]
pub struct Runtime {
    pub entity: TenantId,
    pub port: Option<u16>,
    pub address: String,
    /// Restarts recorded so far (a supervisor continues the count).
    pub restarts: u32,
}

/// A way of running entities' runtimes.
#[async_trait]
pub trait Provisioner: Send + Sync + fmt::Debug {
    /// Starts the runtime and returns once it answers its health path, with its process id
    /// when it has one of Tessera's. On failure nothing of it is left running.
    async fn start(&self, runtime: &Runtime) -> Result<Option<u32>, ProvisionError>;
    /// Stops the runtime; Ok when it was not running.
    async fn stop(&self, entity: TenantId) -> Result<(), ProvisionError>;
    /// Whether the runtime is up, as far as the backend knows.
    async fn is_running(&self, entity: TenantId) -> Result<bool, ProvisionError>;
    /// Tessera is exiting: stop what depends on this process, leaving placements as they are
    /// so that the next start brings the runtimes back.
    async fn shutdown(&self);
}

/// Where a new runtime goes: a leased port of this host, or an address the operator gave.
#[derive(Debug)]
pub enum Slot {
    Port(PortLease),
    Address(String),
}

#[derive(Debug)]
pub struct Provisioning {
    backend: Arc<dyn Provisioner>,
    kind: PlacementBackend,
    /// Why provisioning is off, when it is.
    unconfigured: Option<&'static str>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    owner: String,
    ports: Ports,
    http: reqwest::Client,
    init_path: String,
    edges_path: String,
}

impl Provisioning {
    pub fn new(config: &Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        let issuer = config.issuer();
        let health = Health::new(
            &config.provisioning_health_path,
            Duration::from_secs(config.provisioning_start_timeout_secs),
        );
        let grace = Duration::from_secs(config.provisioning_stop_grace_secs);
        let command = config.provisioning_command.clone();
        let owner = config.provisioning_owner.clone().unwrap_or_else(host_name);
        let (backend, kind): (Arc<dyn Provisioner>, _) = match config.provisioning_backend {
            ProvisioningBackend::Process => (
                Arc::new(process::ProcessProvisioner::new(
                    process::Settings {
                        command,
                        issuer,
                        health,
                        grace,
                        max_restarts: config.provisioning_max_restarts,
                    },
                    Arc::clone(&store),
                    Arc::clone(&clock),
                )),
                PlacementBackend::Process,
            ),
            ProvisioningBackend::Systemd => (
                Arc::new(systemd::SystemdProvisioner::new(
                    command, issuer, health, grace,
                )),
                PlacementBackend::Systemd,
            ),
            ProvisioningBackend::Static => {
                (Arc::new(fixed::StaticProvisioner), PlacementBackend::Static)
            }
        };
        let unconfigured = (kind != PlacementBackend::Static
            && config.provisioning_command.is_empty())
        .then_some("provisioning is off: set provisioning_command to the runtime's argv");
        let [first, last] = config.provisioning_ports;
        Self {
            backend,
            kind,
            unconfigured,
            ports: Ports::new(first, last, Arc::clone(&store), owner.clone()),
            store,
            clock,
            owner,
            http: reqwest::Client::builder()
                .timeout(POST_TIMEOUT)
                .build()
                .unwrap_or_default(),
            init_path: config.provisioning_init_path.clone(),
            edges_path: config.provisioning_edges_path.clone(),
        }
    }

    /// Checks that runtimes can be started and that `address` fits the backend (required by
    /// `static`, refused by the others), before anything is written.
    pub fn check(&self, address: Option<&str>) -> Result<(), ProvisionError> {
        if let Some(why) = self.unconfigured {
            return Err(ProvisionError::NotConfigured(why));
        }
        match (self.kind, address) {
            (PlacementBackend::Static, Some(address)) => fixed::check_address(address),
            (PlacementBackend::Static, None) => Err(ProvisionError::Address(
                "address: required, the backend is `static`".into(),
            )),
            (_, Some(_)) => Err(ProvisionError::Address(
                "address: only with provisioning_backend = \"static\"; this server starts runtimes itself"
                    .into(),
            )),
            (_, None) => Ok(()),
        }
    }

    /// A slot for each of `addresses` (None: a port of this host), or `PortsExhausted` with
    /// nothing leased.
    pub async fn slots(&self, addresses: Vec<Option<String>>) -> Result<Vec<Slot>, ProvisionError> {
        let needed = addresses.iter().filter(|a| a.is_none()).count();
        let mut leases = self.ports.lease(needed).await?.into_iter();
        Ok(addresses
            .into_iter()
            .filter_map(|address| match address {
                Some(address) => Some(Slot::Address(address)),
                None => leases.next().map(Slot::Port),
            })
            .collect())
    }

    /// Records the placement (`starting`) and starts the runtime; the placement is `running`
    /// on success and `failed` (nothing left running) on error.
    pub async fn launch(
        &self,
        entity: TenantId,
        agent: Option<AgentId>,
        slot: Slot,
    ) -> Result<Placement, ProvisionError> {
        let now = self.clock.now();
        let (port, address) = match &slot {
            Slot::Port(lease) => (
                Some(lease.port()),
                format!("http://127.0.0.1:{}", lease.port()),
            ),
            Slot::Address(address) => (None, address.trim_end_matches('/').to_owned()),
        };
        let mut placement = Placement {
            entity_id: entity,
            agent_id: agent,
            address,
            port,
            backend: self.kind,
            owner: self.owner.clone(),
            status: PlacementStatus::Starting,
            state: PlacementState::default(),
            created_at: now,
            updated_at: now,
        };
        self.store.insert_placement(&placement).await?;
        // The row holds the port now.
        drop(slot);
        let runtime = Runtime {
            entity,
            port,
            address: placement.address.clone(),
            restarts: 0,
        };
        match self.backend.start(&runtime).await {
            Ok(pid) => {
                placement.state.pid = pid;
                placement.status = PlacementStatus::Running;
            }
            Err(error) => {
                placement.state.detail = Some(error.to_string());
                placement.status = PlacementStatus::Failed;
                self.record(&placement).await?;
                return Err(error);
            }
        }
        self.record(&placement).await?;
        Ok(placement)
    }

    /// Posts the blueprint to the runtime's init path.
    pub async fn init(
        &self,
        placement: &Placement,
        blueprint: &serde_json::Value,
    ) -> Result<(), ProvisionError> {
        self.post(placement, &self.init_path, blueprint).await
    }

    /// Posts one edge to the runtime's edges path.
    pub async fn edge(
        &self,
        placement: &Placement,
        edge: &serde_json::Value,
    ) -> Result<(), ProvisionError> {
        self.post(placement, &self.edges_path, edge).await
    }

    async fn post(
        &self,
        placement: &Placement,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(), ProvisionError> {
        let url = format!("{}{path}", placement.address);
        let response = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| ProvisionError::Runtime(format!("POST {path} failed: {e}")))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ProvisionError::Runtime(format!(
                "the runtime answered POST {path} with {}",
                response.status()
            )))
        }
    }

    /// Stops a runtime and records why (`failed` or `stopped`), keeping its placement.
    pub async fn halt(
        &self,
        placement: &mut Placement,
        status: PlacementStatus,
        detail: String,
    ) -> Result<(), ProvisionError> {
        self.backend.stop(placement.entity_id).await?;
        placement.status = status;
        placement.state.pid = None;
        placement.state.detail = Some(detail);
        self.record(placement).await
    }

    /// Stops the entity's runtime and deletes its placement; None when there was none.
    pub async fn remove(&self, entity: TenantId) -> Result<Option<Placement>, ProvisionError> {
        let Some(placement) = self.store.placement(entity).await? else {
            return Ok(None);
        };
        self.backend.stop(entity).await?;
        self.store.delete_placement(entity).await?;
        Ok(Some(placement))
    }

    /// The placements this instance supervises that were up when it stopped. Read before
    /// the listeners serve, so a placement a request is starting right now is never taken
    /// for one to restart (two runtimes would race for its port).
    pub async fn orphans(&self) -> Vec<Placement> {
        if self.unconfigured.is_some() {
            return Vec::new();
        }
        match self.store.owned_placements(&self.owner).await {
            Ok(owned) => owned
                .into_iter()
                .filter(|p| p.backend == self.kind && p.status.is_live())
                .collect(),
            Err(error) => {
                tracing::warn!(error = %error, "reading this instance's placements failed");
                Vec::new()
            }
        }
    }

    /// Starts again the `orphans` whose runtime is not running.
    pub async fn recover(&self, orphans: Vec<Placement>) {
        for mut placement in orphans {
            match self.backend.is_running(placement.entity_id).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => {
                    tracing::warn!(entity = %placement.entity_id, error = %error, "runtime status unknown");
                    continue;
                }
            }
            let runtime = Runtime {
                entity: placement.entity_id,
                port: placement.port,
                address: placement.address.clone(),
                restarts: placement.state.restarts,
            };
            match self.backend.start(&runtime).await {
                Ok(pid) => {
                    placement.status = PlacementStatus::Running;
                    placement.state.pid = pid;
                    placement.state.detail = None;
                    tracing::info!(entity = %placement.entity_id, "restarted a runtime after a restart of Tessera");
                }
                Err(error) => {
                    placement.status = PlacementStatus::Failed;
                    placement.state.pid = None;
                    placement.state.detail = Some(error.to_string());
                    tracing::warn!(entity = %placement.entity_id, error = %error, "restarting a runtime failed");
                }
            }
            if let Err(error) = self.record(&placement).await {
                tracing::warn!(entity = %placement.entity_id, error = %error, "recording a placement failed");
            }
        }
    }

    /// Stops the child processes of this instance (Tessera is exiting).
    pub async fn shutdown(&self) {
        self.backend.shutdown().await;
    }

    async fn record(&self, placement: &Placement) -> Result<(), ProvisionError> {
        self.store
            .set_placement_state(
                placement.entity_id,
                placement.status,
                &placement.state,
                self.clock.now(),
            )
            .await?;
        Ok(())
    }
}

/// The machine's name: runtimes of the process backend belong to the host they run on.
fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            let name = std::fs::read_to_string(path).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}
