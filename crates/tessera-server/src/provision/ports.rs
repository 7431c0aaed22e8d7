//! Free ports for runtimes: a port is handed out when no live placement of this instance
//! holds it, no request in progress has leased it, and binding it on loopback succeeds right
//! now (so ports taken by anything else on the host are skipped).

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::{Arc, Mutex, PoisonError};

use tessera_core::Store;

use super::ProvisionError;

#[derive(Debug)]
pub struct Ports {
    first: u16,
    last: u16,
    store: Arc<dyn Store>,
    owner: String,
    leased: Arc<Mutex<HashSet<u16>>>,
}

/// A port held for one runtime until its placement row holds it (then the lease is dropped).
#[derive(Debug)]
pub struct PortLease {
    port: u16,
    leased: Arc<Mutex<HashSet<u16>>>,
}

impl PortLease {
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        self.leased
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.port);
    }
}

impl Ports {
    pub fn new(first: u16, last: u16, store: Arc<dyn Store>, owner: String) -> Self {
        Self {
            first,
            last,
            store,
            owner,
            leased: Arc::default(),
        }
    }

    /// Leases `count` free ports, or none at all.
    pub async fn lease(&self, count: usize) -> Result<Vec<PortLease>, ProvisionError> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let placed: HashSet<u16> = self
            .store
            .owned_placements(&self.owner)
            .await?
            .into_iter()
            .filter(|p| p.status.is_live())
            .filter_map(|p| p.port)
            .collect();
        let mut leased = self.leased.lock().unwrap_or_else(PoisonError::into_inner);
        let free: Vec<u16> = (self.first..=self.last)
            .filter(|port| !placed.contains(port) && !leased.contains(port))
            .filter(|&port| TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok())
            .take(count)
            .collect();
        if free.len() < count {
            return Err(ProvisionError::PortsExhausted {
                first: self.first,
                last: self.last,
            });
        }
        leased.extend(&free);
        Ok(free
            .into_iter()
            .map(|port| PortLease {
                port,
                leased: Arc::clone(&self.leased),
            })
            .collect())
    }
}
