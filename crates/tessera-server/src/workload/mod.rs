//! Workload identity, both ways:
//!
//! - [`federate`]: outside workloads (GitHub Actions, a cloud's or a partner's identity
//!   provider) become agents through the tenants' trust policies (the `jwt-bearer` grant);
//! - [`oidc_token`]: an agent's workloads get short-lived OIDC JWTs with Tessera as issuer, to
//!   show to others (cloud web-identity federation), and through [`sts`] AWS credentials.

pub mod caller;
pub mod federate;
pub mod oidc_token;
pub mod sts;

use std::sync::Arc;
use std::time::Duration;

use tessera_federation::{KeySets, TrustedIssuers};
use url::Url;

pub use self::federate::{Federated, Refusal, actor};
use crate::config::Config;
use crate::people::oauth::{check_outbound, provider_client};

/// What workload identity keeps between requests.
#[derive(Debug)]
pub struct Workload {
    /// Outside issuers' keys, fetched through the providers' client (no redirects, bounded
    /// time, the private-address policy of `oauth_allow_private_issuers`).
    pub issuers: TrustedIssuers,
    /// AWS STS, when `aws_sts_endpoint` is set.
    pub sts: Option<sts::Sts>,
}

/// Key sets fetched from URIs clients registered, through the providers' client and its
/// private-address policy, as outside issuers' keys are.
pub fn outbound_key_sets(config: &Config, cooldown: Duration) -> reqwest::Result<KeySets> {
    let allow_private = config.oauth_allow_private_issuers;
    let check = Arc::new(move |url: &Url| check_outbound(url, allow_private));
    Ok(KeySets::new(
        provider_client(allow_private)?,
        check,
        cooldown,
    ))
}

impl Workload {
    pub fn new(config: &Config) -> reqwest::Result<Self> {
        let allow_private = config.oauth_allow_private_issuers;
        let check = Arc::new(move |url: &Url| check_outbound(url, allow_private));
        let issuers = TrustedIssuers::new(
            provider_client(allow_private)?,
            check,
            Duration::from_secs(config.workload_jwks_refetch_secs),
        );
        let sts = config
            .aws_sts_endpoint
            .clone()
            .map(sts::Sts::new)
            .transpose()?;
        Ok(Self { issuers, sts })
    }
}
