//! The `systemd` backend: each runtime is a transient unit `tessera-host-<entity_id>.service`
//! started with `systemd-run`. systemd supervises it (restarts on failure, stops it with
//! SIGTERM then SIGKILL after the grace period), and the unit outlives a restart of Tessera;
//! Tessera stops it with `systemctl stop` when its placement is deleted.

use std::process::Output;
use std::time::Duration;

use async_trait::async_trait;
use tessera_core::TenantId;
use tokio::process::Command;

use super::{Health, ProvisionError, Provisioner, Runtime};

#[derive(Debug)]
pub struct SystemdProvisioner {
    command: Vec<String>,
    issuer: String,
    health: Health,
    grace: Duration,
}

/// The unit that runs an entity's runtime.
pub fn unit(entity: TenantId) -> String {
    format!("tessera-host-{entity}.service")
}

impl SystemdProvisioner {
    pub fn new(command: Vec<String>, issuer: String, health: Health, grace: Duration) -> Self {
        Self {
            command,
            issuer,
            health,
            grace,
        }
    }

    /// The `systemd-run` argv that starts `runtime`.
    pub fn run_argv(&self, runtime: &Runtime) -> Vec<String> {
        let mut argv = vec![
            "systemd-run".to_owned(),
            format!("--unit={}", unit(runtime.entity)),
            format!("--description=Tessera runtime of {}", runtime.entity),
            // Drop the unit once it stops, even failed, so the name can be used again.
            "--collect".to_owned(),
            "--property=Restart=on-failure".to_owned(),
            "--property=RestartSec=1s".to_owned(),
            "--property=KillMode=control-group".to_owned(),
            format!("--property=TimeoutStopSec={}s", self.grace.as_secs()),
            format!("--setenv=TESSERA_ENTITY_ID={}", runtime.entity),
            format!("--setenv=TESSERA_URL={}", self.issuer),
        ];
        if let Some(port) = runtime.port {
            argv.push(format!("--setenv=PORT={port}"));
        }
        argv.push("--".to_owned());
        argv.extend(self.command.iter().cloned());
        argv
    }

    pub fn stop_argv(entity: TenantId) -> Vec<String> {
        vec!["systemctl".into(), "stop".into(), unit(entity)]
    }

    pub fn status_argv(entity: TenantId) -> Vec<String> {
        vec![
            "systemctl".into(),
            "is-active".into(),
            "--quiet".into(),
            unit(entity),
        ]
    }
}

async fn run(argv: &[String]) -> Result<Output, ProvisionError> {
    let (program, args) = argv
        .split_first()
        .ok_or(ProvisionError::NotConfigured("empty command"))?;
    Command::new(program)
        .args(args)
        .output()
        .await
        .map_err(|e| ProvisionError::Runtime(format!("cannot run {program}: {e}")))
}

fn failed(what: &str, output: &Output) -> ProvisionError {
    let stderr = String::from_utf8_lossy(&output.stderr);
    ProvisionError::Runtime(format!(
        "{what} failed ({}): {}",
        output.status,
        stderr.trim().chars().take(500).collect::<String>()
    ))
}

#[async_trait]
impl Provisioner for SystemdProvisioner {
    async fn start(&self, runtime: &Runtime) -> Result<Option<u32>, ProvisionError> {
        let output = run(&self.run_argv(runtime)).await?;
        if !output.status.success() {
            return Err(failed("systemd-run", &output));
        }
        if let Err(error) = self.health.wait(&runtime.address).await {
            let _ = self.stop(runtime.entity).await;
            return Err(error);
        }
        Ok(None)
    }

    async fn stop(&self, entity: TenantId) -> Result<(), ProvisionError> {
        let output = run(&Self::stop_argv(entity)).await?;
        // 5: the unit is not loaded, that is, already gone.
        if output.status.success() || output.status.code() == Some(5) {
            Ok(())
        } else {
            Err(failed("systemctl stop", &output))
        }
    }

    async fn is_running(&self, entity: TenantId) -> Result<bool, ProvisionError> {
        Ok(run(&Self::status_argv(entity)).await?.status.success())
    }

    /// Units belong to systemd and keep running while Tessera restarts.
    async fn shutdown(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_systemd_run_and_systemctl_command_lines() {
        let entity: TenantId = "ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b".parse().unwrap();
        let backend = SystemdProvisioner::new(
            vec!["/usr/bin/runtime".into(), "--serve".into()],
            "https://tessera.example".into(),
            Health::new("/health", Duration::from_secs(30)),
            Duration::from_secs(10),
        );
        let runtime = Runtime {
            entity,
            port: Some(20_007),
            address: "http://127.0.0.1:20007".into(),
            restarts: 0,
        };
        let unit = "tessera-host-ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b.service";
        assert_eq!(
            backend.run_argv(&runtime),
            [
                "systemd-run",
                &format!("--unit={unit}"),
                "--description=Tessera runtime of ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b",
                "--collect",
                "--property=Restart=on-failure",
                "--property=RestartSec=1s",
                "--property=KillMode=control-group",
                "--property=TimeoutStopSec=10s",
                "--setenv=TESSERA_ENTITY_ID=ten_0193a3b0c1d27e8f9a0b1c2d3e4f5a6b",
                "--setenv=TESSERA_URL=https://tessera.example",
                "--setenv=PORT=20007",
                "--",
                "/usr/bin/runtime",
                "--serve",
            ]
        );
        assert_eq!(
            SystemdProvisioner::stop_argv(entity),
            ["systemctl", "stop", unit]
        );
        assert_eq!(
            SystemdProvisioner::status_argv(entity),
            ["systemctl", "is-active", "--quiet", unit]
        );
    }
}
