//! The `process` backend: each runtime is a child process of Tessera, in a process group of
//! its own, supervised by a task that restarts it with exponential backoff when it exits and
//! records `restarting` / `running` / `failed` on its placement. Stopping sends SIGTERM to the
//! group and SIGKILL after the grace period.

use std::collections::HashMap;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rustix::process::{Pid, Signal, kill_process_group};
use tessera_core::placement::{PlacementState, PlacementStatus};
use tessera_core::{Clock, Store, TenantId};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Health, ProvisionError, Provisioner, Runtime};

/// The first restart waits this long; each failed one doubles it, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct Settings {
    /// The runtime's argv (not empty: provisioning is off without it).
    pub command: Vec<String>,
    /// Tessera's public URL, given to runtimes as `TESSERA_URL`.
    pub issuer: String,
    pub health: Health,
    pub grace: Duration,
    pub max_restarts: u32,
}

#[derive(Debug)]
pub struct ProcessProvisioner {
    shared: Arc<Shared>,
    supervised: Mutex<HashMap<TenantId, Supervised>>,
}

#[derive(Debug)]
struct Shared {
    settings: Settings,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

#[derive(Debug)]
struct Supervised {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl ProcessProvisioner {
    pub fn new(settings: Settings, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self {
            shared: Arc::new(Shared {
                settings,
                store,
                clock,
            }),
            supervised: Mutex::default(),
        }
    }

    fn take(&self, entity: TenantId) -> Option<Supervised> {
        self.supervised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&entity)
    }
}

#[async_trait]
impl Provisioner for ProcessProvisioner {
    async fn start(&self, runtime: &Runtime) -> Result<Option<u32>, ProvisionError> {
        let child = self.shared.spawn_healthy(runtime).await?;
        let pid = child.id();
        let (stop, stopped) = oneshot::channel();
        let task =
            tokio::spawn(Arc::clone(&self.shared).supervise(runtime.clone(), child, stopped));
        let previous = self
            .supervised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(runtime.entity, Supervised { stop, task });
        if let Some(previous) = previous {
            previous.stop_and_wait().await;
        }
        Ok(pid)
    }

    async fn stop(&self, entity: TenantId) -> Result<(), ProvisionError> {
        if let Some(supervised) = self.take(entity) {
            supervised.stop_and_wait().await;
        }
        Ok(())
    }

    async fn is_running(&self, entity: TenantId) -> Result<bool, ProvisionError> {
        Ok(self
            .supervised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&entity)
            .is_some_and(|s| !s.task.is_finished()))
    }

    async fn shutdown(&self) {
        let all: Vec<Supervised> = self
            .supervised
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, s)| s)
            .collect();
        futures_util::future::join_all(all.into_iter().map(Supervised::stop_and_wait)).await;
    }
}

impl Supervised {
    /// Asks the supervisor to stop its child and waits until it has (the grace period at most,
    /// then the child is killed).
    async fn stop_and_wait(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

/// How a wait for the child ended.
enum Event {
    Stop,
    Exited(String),
    Healthy,
    Unhealthy(String),
}

impl Shared {
    fn spawn(&self, runtime: &Runtime) -> Result<Child, ProvisionError> {
        let settings = &self.settings;
        let (program, args) =
            settings
                .command
                .split_first()
                .ok_or(ProvisionError::NotConfigured(
                    "provisioning_command is empty",
                ))?;
        let mut command = Command::new(program);
        command
            .args(args)
            .env("TESSERA_ENTITY_ID", runtime.entity.to_string())
            .env("TESSERA_URL", &settings.issuer)
            .stdin(Stdio::null())
            // A group of its own: signals reach the runtime's children too, and a Ctrl-C meant
            // for Tessera does not reach the runtime (Tessera stops it in order).
            .process_group(0)
            // Should Tessera's supervisor go away without stopping it, the child goes too.
            .kill_on_drop(true);
        if let Some(port) = runtime.port {
            command.env("PORT", port.to_string());
        }
        command
            .spawn()
            .map_err(|e| ProvisionError::Runtime(format!("cannot run {program}: {e}")))
    }

    /// Spawns the runtime and waits until it is healthy; on failure it is stopped.
    async fn spawn_healthy(&self, runtime: &Runtime) -> Result<Child, ProvisionError> {
        let mut child = self.spawn(runtime)?;
        let failure = tokio::select! {
            result = self.settings.health.wait(&runtime.address) => result.err().map(|e| e.to_string()),
            status = child.wait() => Some(exit_text(status)),
        };
        match failure {
            None => Ok(child),
            Some(why) => {
                self.terminate(&mut child).await;
                Err(ProvisionError::Runtime(why))
            }
        }
    }

    /// Watches the child until asked to stop; restarts it when it exits.
    async fn supervise(
        self: Arc<Self>,
        runtime: Runtime,
        mut child: Child,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut restarts = runtime.restarts;
        loop {
            let exited = tokio::select! {
                _ = &mut stop => None,
                status = child.wait() => Some(exit_text(status)),
            };
            let Some(mut detail) = exited else {
                self.terminate(&mut child).await;
                return;
            };
            tracing::warn!(entity = %runtime.entity, detail, "a runtime exited; restarting it");
            let mut failures: u32 = 0;
            child = loop {
                restarts += 1;
                self.record(
                    runtime.entity,
                    PlacementStatus::Restarting,
                    None,
                    restarts,
                    &detail,
                )
                .await;
                let backoff = FIRST_BACKOFF
                    .saturating_mul(2u32.saturating_pow(failures))
                    .min(MAX_BACKOFF);
                tokio::select! {
                    _ = &mut stop => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                match self.respawn(&runtime, &mut stop).await {
                    Ok(Some(next)) => break next,
                    Ok(None) => return,
                    Err(why) => detail = why,
                }
                failures += 1;
                if failures > self.settings.max_restarts {
                    tracing::error!(entity = %runtime.entity, detail, "a runtime keeps failing; giving up");
                    self.record(
                        runtime.entity,
                        PlacementStatus::Failed,
                        None,
                        restarts,
                        &detail,
                    )
                    .await;
                    return;
                }
            };
            self.record(
                runtime.entity,
                PlacementStatus::Running,
                child.id(),
                restarts,
                "",
            )
            .await;
        }
    }

    /// One restart: the healthy child, None when asked to stop meanwhile, or why it failed.
    async fn respawn(
        &self,
        runtime: &Runtime,
        stop: &mut oneshot::Receiver<()>,
    ) -> Result<Option<Child>, String> {
        let mut child = self.spawn(runtime).map_err(|e| e.to_string())?;
        let event = tokio::select! {
            _ = stop => Event::Stop,
            result = self.settings.health.wait(&runtime.address) => match result {
                Ok(()) => Event::Healthy,
                Err(error) => Event::Unhealthy(error.to_string()),
            },
            status = child.wait() => Event::Exited(exit_text(status)),
        };
        match event {
            Event::Healthy => Ok(Some(child)),
            Event::Stop => {
                self.terminate(&mut child).await;
                Ok(None)
            }
            Event::Unhealthy(why) | Event::Exited(why) => {
                self.terminate(&mut child).await;
                Err(why)
            }
        }
    }

    /// SIGTERM to the child's group, SIGKILL after the grace period; returns once it exited.
    async fn terminate(&self, child: &mut Child) {
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .and_then(Pid::from_raw);
        let Some(group) = group else {
            return; // already reaped
        };
        let _ = kill_process_group(group, Signal::TERM);
        if tokio::time::timeout(self.settings.grace, child.wait())
            .await
            .is_err()
        {
            let _ = kill_process_group(group, Signal::KILL);
            let _ = child.wait().await;
        }
    }

    async fn record(
        &self,
        entity: TenantId,
        status: PlacementStatus,
        pid: Option<u32>,
        restarts: u32,
        detail: &str,
    ) {
        let state = PlacementState {
            pid,
            restarts,
            detail: (!detail.is_empty()).then(|| detail.to_owned()),
        };
        let at = self.clock.now();
        if let Err(error) = self
            .store
            .set_placement_state(entity, status, &state, at)
            .await
        {
            tracing::warn!(entity = %entity, error = %error, "recording a runtime's state failed");
        }
    }
}

fn exit_text(status: std::io::Result<ExitStatus>) -> String {
    match status {
        Ok(status) => format!("the runtime exited ({status})"),
        Err(error) => format!("waiting for the runtime failed: {error}"),
    }
}
