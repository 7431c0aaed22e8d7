//! The state every handler shares: configuration, the store, the clock, keys, caches, limiters.

use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tessera_core::agent::AgentStatus;
use tessera_core::tenant::{Plan, TenantStatus};
use tessera_core::{AgentId, Clock, Store, TenantId};
use tessera_crypto::MasterKeys;
use tessera_gateway::ratelimit::{ConcurrencyLimiter, RateLimiter};

use crate::audit::writer::AuditWriter;
use crate::auth::{ApiKeyAuthenticator, StatusCache};
use crate::config::Config;
use crate::gateway::Gateway;
use crate::http::v1::compliance::ReportCache;
use crate::keys::KeyService;
use crate::limits::Limits;
use crate::people::People;
use crate::provision::Provisioning;
use crate::revocation::Revocations;
use crate::vault::Vault;

#[derive(Clone, Debug)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
pub struct Inner {
    pub config: Config,
    /// The issuer identifier (`iss`) and base of every advertised URL.
    pub issuer: String,
    /// The `aud` of access tokens.
    pub audience: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub keys: KeyService,
    /// Seals and opens secrets kept at rest that Tessera must use in clear (webhook secrets).
    pub master: MasterKeys,
    pub api_keys: ApiKeyAuthenticator,
    pub tenants: Arc<StatusCache<TenantId, Option<TenantStatus>>>,
    pub agents: StatusCache<AgentId, Option<(TenantId, AgentStatus)>>,
    pub revocations: Revocations,
    /// Compliance reports, each served for 5 minutes.
    pub compliance_reports: ReportCache,
    pub audit_writer: AuditWriter,
    pub limits: Limits,
    pub metrics: PrometheusHandle,
    pub gateway: Gateway,
    /// Requests per tenant per minute and day (in Redis when `redis_url` is set).
    pub rate_limits: RateLimiter,
    /// Requests in flight per tenant (per instance).
    pub concurrency: ConcurrencyLimiter,
    /// Each tenant's plan, cached like its status (changes on this instance apply at once).
    pub plans: StatusCache<TenantId, Option<Plan>>,
    /// Starts, supervises and stops entities' runtimes.
    pub provisioning: Provisioning,
    /// Throttles and limiters of the sign-in doors.
    pub people: People,
    /// Agents' connections to third-party providers (integrations, refresh, proxy).
    pub vault: Vault,
    /// Workload identity: outside issuers' keys (trust policies), AWS STS.
    pub workload: crate::workload::Workload,
    /// The key sets `private_key_jwt` applications publish at their `jwks_uri`.
    pub client_keys: tessera_federation::KeySets,
}

impl Deref for AppState {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub(crate) fn new(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        keys: KeyService,
        master: MasterKeys,
        metrics: PrometheusHandle,
        oauth_state_secret: Option<&[u8]>,
    ) -> anyhow::Result<Self> {
        let ttl = Duration::from_secs(config.auth_cache_ttl_secs);
        let tenants = Arc::new(StatusCache::new(10_000, ttl));
        let api_keys = ApiKeyAuthenticator::new(
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&tenants),
            config.auth_cache_capacity,
            ttl,
        );
        let limits = Limits::new(
            config.registrations_per_hour,
            config.auth_failures_per_minute,
        );
        // Nothing connects to Redis here: the first request does, and while Redis is
        // unreachable requests are counted in process.
        let rate_limits = match &config.redis_url {
            Some(url) => RateLimiter::with_redis(url.expose(), Arc::clone(&clock))?,
            None => RateLimiter::in_process(Arc::clone(&clock)),
        };
        Ok(Self(Arc::new(Inner {
            rate_limits,
            concurrency: ConcurrencyLimiter::new(),
            plans: StatusCache::new(10_000, ttl),
            issuer: config.issuer(),
            audience: config.audience(),
            agents: StatusCache::new(config.auth_cache_capacity, ttl),
            revocations: Revocations::new(Arc::clone(&store)),
            compliance_reports: ReportCache::new(10_000),
            audit_writer: AuditWriter::start(Arc::clone(&store), config.audit_queue_capacity),
            gateway: Gateway::new(&config),
            provisioning: Provisioning::new(&config, Arc::clone(&store), Arc::clone(&clock)),
            people: People::new(&config)?,
            vault: Vault::new(&config, oauth_state_secret)?,
            workload: crate::workload::Workload::new(&config)?,
            client_keys: crate::workload::outbound_key_sets(
                &config,
                Duration::from_secs(config.client_jwks_refetch_secs),
            )?,
            config,
            store,
            clock,
            keys,
            master,
            api_keys,
            tenants,
            limits,
            metrics,
        })))
    }

    /// Whether a tenant exists and is active (cached).
    pub async fn tenant_status(
        &self,
        tenant: TenantId,
    ) -> Result<Option<TenantStatus>, tessera_core::StoreError> {
        self.tenants
            .get_or_load(&tenant, async {
                Ok(self.store.tenant(tenant).await?.map(|t| t.status))
            })
            .await
    }

    /// A tenant's plan, None when there is no such tenant (cached).
    pub async fn tenant_plan(
        &self,
        tenant: TenantId,
    ) -> Result<Option<Plan>, tessera_core::StoreError> {
        self.plans
            .get_or_load(&tenant, async {
                Ok(self.store.tenant(tenant).await?.map(|t| t.plan))
            })
            .await
    }

    /// An agent's tenant and status (cached).
    pub async fn agent_status(
        &self,
        agent: AgentId,
    ) -> Result<Option<(TenantId, AgentStatus)>, tessera_core::StoreError> {
        self.agents
            .get_or_load(&agent, async {
                Ok(self
                    .store
                    .agent_by_client_id(agent)
                    .await?
                    .map(|a| (a.tenant_id, a.status)))
            })
            .await
    }
}
