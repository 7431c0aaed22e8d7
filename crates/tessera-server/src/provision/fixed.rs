//! The `static` backend: the operator names where a runtime already listens; Tessera starts
//! and stops nothing, it only routes there.

use async_trait::async_trait;
use tessera_core::TenantId;

use super::{ProvisionError, Provisioner, Runtime};

#[derive(Debug)]
pub struct StaticProvisioner;

#[async_trait]
impl Provisioner for StaticProvisioner {
    async fn start(&self, _runtime: &Runtime) -> Result<Option<u32>, ProvisionError> {
        Ok(None)
    }

    async fn stop(&self, _entity: TenantId) -> Result<(), ProvisionError> {
        Ok(())
    }

    async fn is_running(&self, _entity: TenantId) -> Result<bool, ProvisionError> {
        Ok(true)
    }

    async fn shutdown(&self) {}
}

/// An `http(s)://host[:port]` base URL, with no path beyond `/`, query or credentials.
pub fn check_address(address: &str) -> Result<(), ProvisionError> {
    let bad = |why: &str| Err(ProvisionError::Address(format!("address: {why}")));
    let Ok(url) = url::Url::parse(address) else {
        return bad("not a URL");
    };
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return bad("must be an http(s) URL with a host");
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return bad("must be a base URL, without path, query or fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return bad("must not carry credentials");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_base_urls() {
        assert!(check_address("http://10.0.0.7:8080").is_ok());
        assert!(check_address("https://runtime.example.com/").is_ok());
        for bad in [
            "10.0.0.7:8080",
            "ftp://x.example",
            "http://x.example/api",
            "http://u:p@x.example",
            "http://x.example?a=1",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }
}
