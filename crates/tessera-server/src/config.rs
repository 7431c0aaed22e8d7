//! Configuration: defaults < TOML file < `TESSERA_*` environment < command-line flags, merged
//! into one validated [`Config`]. Secrets are [`Secret`]s, which never print.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tessera_core::{PlanTable, TenantId};
use tessera_crypto::Algorithm;
use tessera_federation::ProviderConfig;
use tessera_federation::connect::ConnectorConfig;
use tessera_gateway::routes::{Route, RouteTable};
use url::Url;

/// A configuration value that must never appear in logs or `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Who may create tenants with `POST /v1/tenants`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Registration {
    /// Anyone (rate-limited per client address).
    Open,
    /// Only the operator.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the public listener binds.
    pub listen: SocketAddr,
    /// Threads serving the public listener, each with its own runtime and upstream
    /// connections; unset: one per core available to the process.
    pub public_workers: Option<usize>,
    /// Holds the SQLite database and, in embedded mode, the master key file.
    pub data_dir: PathBuf,
    /// `postgres://…` for cluster mode; unset means SQLite in `data_dir`.
    pub database_url: Option<Secret>,
    /// The URL clients reach Tessera at: the token issuer and the base of every advertised
    /// endpoint. Defaults to `http://<listen>`.
    pub public_url: Option<Url>,
    /// Base64 of 32 random bytes. Required with PostgreSQL; in embedded mode a key file is
    /// generated in the data directory when unset.
    pub master_key: Option<Secret>,
    /// The version of `master_key` that seals; unset, the highest. Pinning the old version
    /// lets every instance learn a new one before any seals with it (a rolling rotation).
    pub master_key_seal_version: Option<u32>,
    pub registration: Registration,
    /// Tenant registrations allowed per client address per hour when registration is open.
    pub registrations_per_hour: u32,
    /// Failed authentications allowed per client address per minute before it gets 429.
    pub auth_failures_per_minute: u32,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: i64,
    /// The `aud` of access tokens; defaults to the public URL.
    pub access_token_audience: Option<String>,
    /// Whether resources (the gateway, `/oauth2/userinfo`, the agent's connection token) insist
    /// that a DPoP proof carry the server's current nonce (RFC 9449 §9), so a proof made ahead
    /// of time is good for minutes at most. Off only for clients that cannot answer
    /// `use_dpop_nonce` at a resource.
    pub dpop_resource_nonce: bool,
    /// The algorithm of keys generated at first start and by rotation.
    pub signing_alg: Algorithm,
    /// How long a rotated key is published before it starts signing, in seconds.
    pub key_publish_lead_secs: i64,
    /// How often the server looks for keys rotated by another process, in seconds.
    pub key_refresh_secs: u64,
    /// How long an instance may serve an API key, tenant or agent status from its cache before
    /// re-reading it (bounds staleness across instances; local changes apply at once).
    pub auth_cache_ttl_secs: u64,
    /// Entries in the API-key cache.
    pub auth_cache_capacity: usize,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// `json` (default) or `pretty`.
    pub log_format: LogFormat,
    /// Audit events that may wait for the writer before requests start waiting.
    pub audit_queue_capacity: usize,
    /// How often chain heads are signed (checkpointed), in seconds.
    pub audit_checkpoint_secs: u64,
    /// Days to keep audit events; 0 keeps them forever. Only whole checkpointed segments go.
    pub audit_retention_days: u32,
    /// How often the usage counters pick up events other instances wrote, in seconds (this
    /// instance's own events are counted as soon as they are stored).
    pub usage_poll_secs: u64,
    /// Whether webhooks may target private, loopback, link-local or unspecified addresses
    /// (checked after DNS resolution, when a subscription is made and at every attempt).
    pub webhooks_allow_private_targets: bool,
    /// Seconds between the attempts of a webhook delivery (each stretched by ±20 % jitter):
    /// a delivery gets one attempt more than there are delays, then it is dead-lettered.
    pub webhooks_retry_schedule_secs: Vec<u64>,
    /// How long a webhook receiver has to answer, in seconds.
    pub webhooks_timeout_secs: u64,
    /// A subscription is disabled after this many of its deliveries in a row are dead-lettered.
    pub webhooks_disable_after_dead_letters: u32,
    /// A subscription is disabled when all its attempts have failed for this long, in seconds.
    pub webhooks_disable_after_failing_secs: u64,
    /// Days a delivered or dead-lettered delivery is kept (with its attempts) before it is
    /// pruned; 0 keeps them forever.
    pub webhooks_history_days: u32,
    /// How often the event consumers (webhook fan-out and delivery, NATS) look for work, in
    /// milliseconds.
    pub events_poll_interval_ms: u64,
    /// `nats://host:port` (or several, comma-separated): publish every event to NATS
    /// JetStream. Unset: no NATS.
    pub nats_url: Option<Secret>,
    /// What each plan allows (`[plans.explorer]` … in the file).
    pub plans: PlanTable,
    /// Services behind the gateway by path prefix (`[[gateway_routes]]`: prefix, upstream,
    /// public, scopes, timeout_secs); the longest prefix wins. Requests naming an entity
    /// (`X-Entity`) go to its placement instead.
    pub gateway_routes: Vec<Route>,
    /// How long the gateway waits for an upstream's response head, in seconds (a route may
    /// set its own).
    pub gateway_timeout_secs: u64,
    /// How long a streamed response body may stall before the gateway cuts it, in seconds.
    pub gateway_idle_timeout_secs: u64,
    /// How long connecting to an upstream may take, in milliseconds.
    pub gateway_connect_timeout_ms: u64,
    /// Browser origins allowed to call `/api` cross-origin (CORS); empty allows none.
    pub gateway_cors_origins: Vec<String>,
    /// Whether Tessera sits behind a proxy whose `X-Forwarded-For`/`Forwarded` it extends
    /// (otherwise the gateway replaces what clients send).
    pub gateway_trust_forwarded: bool,
    /// Where the internal listener binds (endpoints for the operator's network and the
    /// runtimes, never reachable through the public listener or `/api`).
    pub internal_listen: SocketAddr,
    /// `redis://…` or `rediss://…`: rate-limit counters shared by every instance. Unset: each
    /// instance counts in process. While Redis is unreachable, instances count in process.
    pub redis_url: Option<Secret>,
    /// How `POST /v1/start` starts an entity's runtime: `process` (a supervised child process),
    /// `systemd` (a transient unit) or `static` (the request names an existing address).
    pub provisioning_backend: ProvisioningBackend,
    /// The runtime's argv (`process`, `systemd`); it gets `PORT`, `TESSERA_ENTITY_ID` and
    /// `TESSERA_URL` in its environment. Empty: provisioning answers 503 until it is set.
    pub provisioning_command: Vec<String>,
    /// The ports runtimes may listen on, first and last (inclusive).
    pub provisioning_ports: [u16; 2],
    /// Where a runtime accepts its blueprint (`POST`, JSON).
    pub provisioning_init_path: String,
    /// Where a runtime accepts a stack's edges (`POST`, JSON, one edge per call).
    pub provisioning_edges_path: String,
    /// Where a runtime answers 2xx once it is ready.
    pub provisioning_health_path: String,
    /// How long a runtime has to answer its health path after a start, in seconds.
    pub provisioning_start_timeout_secs: u64,
    /// How long a runtime has to exit after SIGTERM before it is killed, in seconds.
    pub provisioning_stop_grace_secs: u64,
    /// Failed restarts in a row after which a runtime is left `failed`.
    pub provisioning_max_restarts: u32,
    /// Names this instance as the supervisor of the runtimes it starts (it restarts them when
    /// it starts again). Defaults to the host name; give each instance on a host its own.
    pub provisioning_owner: Option<String>,
    /// Lifetime of a person's session access token, in seconds.
    pub session_ttl_secs: i64,
    /// Lifetime of a refresh token, in days (each refresh hands out a new one).
    pub refresh_token_ttl_days: u32,
    /// Origins (`scheme://host[:port]`) sign-in flows may redirect to with `redirect_to`,
    /// besides the public URL's own.
    pub sign_in_redirect_origins: Vec<String>,
    /// `smtp://user:pass@host:port` (STARTTLS when offered), `smtps://…` (TLS) or
    /// `smtp+plain://host:port` (no TLS, for loopback test servers). Unset: mail goes to the
    /// outbox table and the log.
    pub smtp_url: Option<Secret>,
    /// The `From` of the mail Tessera sends.
    pub email_from: String,
    /// The chain of the custodial wallet every new user gets: `eip155` (Ethereum) or `solana`.
    pub custodial_wallet_chain: WalletChain,
    /// Outside OAuth 2 / OIDC providers people may sign in with, by name
    /// (`[oauth_providers.google]`: kind, issuer, client_id, client_secret, scopes…).
    pub oauth_providers: BTreeMap<String, ProviderConfig>,
    /// Whether OAuth issuers may resolve to private or loopback addresses (tests, on-premises
    /// identity providers); refused otherwise.
    pub oauth_allow_private_issuers: bool,
    /// The EIP-155 chain id Ethereum sign-in messages must name.
    pub wallet_chain_id: u64,
    /// The chain id Solana sign-in messages must name (`mainnet`, `devnet`…).
    pub solana_chain_id: String,
    /// The WebAuthn relying party id (a registrable domain, never an IP address); defaults to
    /// the public URL's host.
    pub passkey_rp_id: Option<String>,
    /// Providers agents connect their accounts at, by name (`[integrations.google]`: kind,
    /// client_id, client_secret, scopes, endpoints…); each one's redirect URI is
    /// `<public_url>/v1/integrations/<name>/callback`.
    pub integrations: BTreeMap<String, ConnectorConfig>,
    /// Where a connection's callback sends the browser: `?connected=<provider>` or
    /// `?error=<reason>` is added. Unset: the callback answers JSON.
    pub integrations_return_url: Option<Url>,
    /// The HMAC-SHA256 key of connection `state`s (at least 32 bytes). Required with
    /// PostgreSQL when integrations are configured (every instance needs the same one); in
    /// embedded mode a key file is generated in the data directory when unset.
    pub oauth_state_secret: Option<Secret>,
    /// Dynamic client registration (RFC 7591) at `/oauth2/register`: off unless set; the
    /// clients that register themselves belong to this tenant (e.g. the tenant whose MCP server
    /// Tessera guards).
    pub dynamic_registration_tenant: Option<TenantId>,
    /// Token exchange (RFC 8693): the most agents a delegation chain may hold, the subject
    /// agent counting (a person does not): 1 to 10.
    pub delegation_max_depth: u32,
    /// The shortest time, in seconds, between two fetches of an outside workload issuer's keys
    /// caused by tokens naming a key it does not publish (workload identity federation).
    pub workload_jwks_refetch_secs: u64,
    /// The shortest time, in seconds, between two fetches of a `private_key_jwt` application's
    /// `jwks_uri` caused by assertions naming a key it does not publish.
    pub client_jwks_refetch_secs: u64,
    /// The AWS STS endpoint `POST /v1/agents/{agent_id}/aws-credentials` calls
    /// (`https://sts.amazonaws.com`, a regional one, or a stand-in); unset: that call answers
    /// 503 `aws_not_configured`.
    pub aws_sts_endpoint: Option<Url>,
}

/// The chain of new users' custodial wallets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WalletChain {
    Eip155,
    Solana,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProvisioningBackend {
    Process,
    Systemd,
    Static,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// The fields of [`Config`], the only `TESSERA_*` variables read as configuration (other tools
/// use the prefix too, and an unknown key in the file is an error).
const FIELDS: [&str; 70] = [
    "listen",
    "public_workers",
    "data_dir",
    "database_url",
    "public_url",
    "master_key",
    "master_key_seal_version",
    "registration",
    "registrations_per_hour",
    "auth_failures_per_minute",
    "access_token_ttl_secs",
    "access_token_audience",
    "dpop_resource_nonce",
    "signing_alg",
    "key_publish_lead_secs",
    "key_refresh_secs",
    "auth_cache_ttl_secs",
    "auth_cache_capacity",
    "max_body_bytes",
    "log_format",
    "audit_queue_capacity",
    "audit_checkpoint_secs",
    "audit_retention_days",
    "usage_poll_secs",
    "webhooks_allow_private_targets",
    "webhooks_retry_schedule_secs",
    "webhooks_timeout_secs",
    "webhooks_disable_after_dead_letters",
    "webhooks_disable_after_failing_secs",
    "webhooks_history_days",
    "events_poll_interval_ms",
    "nats_url",
    "plans",
    "gateway_routes",
    "gateway_timeout_secs",
    "gateway_idle_timeout_secs",
    "gateway_connect_timeout_ms",
    "gateway_cors_origins",
    "gateway_trust_forwarded",
    "internal_listen",
    "redis_url",
    "provisioning_backend",
    "provisioning_command",
    "provisioning_ports",
    "provisioning_init_path",
    "provisioning_edges_path",
    "provisioning_health_path",
    "provisioning_start_timeout_secs",
    "provisioning_stop_grace_secs",
    "provisioning_max_restarts",
    "provisioning_owner",
    "session_ttl_secs",
    "refresh_token_ttl_days",
    "sign_in_redirect_origins",
    "smtp_url",
    "email_from",
    "custodial_wallet_chain",
    "oauth_providers",
    "oauth_allow_private_issuers",
    "wallet_chain_id",
    "solana_chain_id",
    "passkey_rp_id",
    "integrations",
    "integrations_return_url",
    "oauth_state_secret",
    "dynamic_registration_tenant",
    "delegation_max_depth",
    "workload_jwks_refetch_secs",
    "client_jwks_refetch_secs",
    "aws_sts_endpoint",
];

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./tessera-data"),
            database_url: None,
            public_url: None,
            master_key: None,
            master_key_seal_version: None,
            registration: Registration::Open,
            registrations_per_hour: 20,
            auth_failures_per_minute: 60,
            access_token_ttl_secs: 3600,
            access_token_audience: None,
            dpop_resource_nonce: true,
            signing_alg: Algorithm::Es256,
            key_publish_lead_secs: 300,
            key_refresh_secs: 5,
            auth_cache_ttl_secs: 10,
            auth_cache_capacity: 100_000,
            max_body_bytes: 1024 * 1024,
            log_format: LogFormat::Json,
            audit_queue_capacity: 10_000,
            audit_checkpoint_secs: 60,
            audit_retention_days: 0,
            usage_poll_secs: 1,
            webhooks_allow_private_targets: false,
            // 8 attempts over about 27 hours: now, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
            webhooks_retry_schedule_secs: vec![5, 300, 1800, 7200, 18_000, 36_000, 36_000],
            webhooks_timeout_secs: 10,
            webhooks_disable_after_dead_letters: 5,
            webhooks_disable_after_failing_secs: 3 * 86_400,
            webhooks_history_days: 30,
            events_poll_interval_ms: 500,
            nats_url: None,
            plans: PlanTable::default(),
            gateway_routes: Vec::new(),
            gateway_timeout_secs: 30,
            gateway_idle_timeout_secs: 300,
            gateway_connect_timeout_ms: 2_000,
            gateway_cors_origins: Vec::new(),
            gateway_trust_forwarded: false,
            internal_listen: SocketAddr::from(([127, 0, 0, 1], 8090)),
            public_workers: None,
            redis_url: None,
            provisioning_backend: ProvisioningBackend::Process,
            provisioning_command: Vec::new(),
            provisioning_ports: [20_000, 20_999],
            provisioning_init_path: "/init".to_owned(),
            provisioning_edges_path: "/edges".to_owned(),
            provisioning_health_path: "/health".to_owned(),
            provisioning_start_timeout_secs: 30,
            provisioning_stop_grace_secs: 10,
            provisioning_max_restarts: 5,
            provisioning_owner: None,
            session_ttl_secs: 900,
            refresh_token_ttl_days: 30,
            sign_in_redirect_origins: Vec::new(),
            smtp_url: None,
            email_from: "Tessera <no-reply@localhost>".to_owned(),
            custodial_wallet_chain: WalletChain::Eip155,
            oauth_providers: BTreeMap::new(),
            oauth_allow_private_issuers: false,
            wallet_chain_id: 1,
            solana_chain_id: "mainnet".to_owned(),
            passkey_rp_id: None,
            integrations: BTreeMap::new(),
            integrations_return_url: None,
            oauth_state_secret: None,
            dynamic_registration_tenant: None,
            delegation_max_depth: 3,
            workload_jwks_refetch_secs: 30,
            client_jwks_refetch_secs: 30,
            aws_sts_endpoint: None,
        }
    }
}

/// Values given on the command line; each overrides the file and the environment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nats_url: Option<Secret>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub internal_listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// Layers the defaults, the TOML file (when given), `TESSERA_*` variables and `overrides`.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Invalid(format!(
                    "config file {} does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("TESSERA_").filter(|key| {
                FIELDS
                    .iter()
                    .any(|field| key.as_str().eq_ignore_ascii_case(field))
            }))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(Box::new)?;
        config.validate()
    }

    fn validate(self) -> Result<Self, ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if let Some(url) = &self.database_url {
            let url = url.expose();
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid(
                    "database_url must be a postgres:// URL (leave it unset for embedded SQLite)",
                );
            }
        }
        if let Some(url) = &self.public_url
            && (!matches!(url.scheme(), "http" | "https")
                || url.query().is_some()
                || url.fragment().is_some())
        {
            return invalid("public_url must be an http(s) URL without query or fragment");
        }
        if !(60..=86_400).contains(&self.access_token_ttl_secs) {
            return invalid("access_token_ttl_secs must be between 60 and 86400");
        }
        if !(1..=10).contains(&self.delegation_max_depth) {
            return invalid("delegation_max_depth must be between 1 and 10");
        }
        if self.key_publish_lead_secs < 0 || self.key_refresh_secs == 0 {
            return invalid("key_publish_lead_secs must be >= 0 and key_refresh_secs > 0");
        }
        if self.registrations_per_hour == 0 || self.auth_failures_per_minute == 0 {
            return invalid("registrations_per_hour and auth_failures_per_minute must be > 0");
        }
        if self.audit_queue_capacity == 0 || self.audit_checkpoint_secs == 0 {
            return invalid("audit_queue_capacity and audit_checkpoint_secs must be > 0");
        }
        if self.usage_poll_secs == 0 {
            return invalid("usage_poll_secs must be > 0");
        }
        if self.webhooks_retry_schedule_secs.len() > 30
            || self
                .webhooks_retry_schedule_secs
                .iter()
                .any(|&d| d > 7 * 86_400)
        {
            return invalid("webhooks_retry_schedule_secs: at most 30 delays of at most 7 days");
        }
        if !(1..=300).contains(&self.webhooks_timeout_secs)
            || self.webhooks_disable_after_dead_letters == 0
            || !(1..=3650 * 86_400).contains(&self.webhooks_disable_after_failing_secs)
            || self.webhooks_history_days > 36_500
        {
            return invalid(
                "webhooks_timeout_secs must be 1 to 300, webhooks_disable_after_dead_letters > 0, \
                 webhooks_disable_after_failing_secs 1 s to 10 years, webhooks_history_days at most 36500",
            );
        }
        if !(10..=60_000).contains(&self.events_poll_interval_ms) {
            return invalid("events_poll_interval_ms must be between 10 and 60000");
        }
        if let Some(url) = &self.nats_url
            && !url.expose().split(',').all(|u| {
                let u = u.trim();
                u.starts_with("nats://") || u.starts_with("tls://")
            })
        {
            return invalid("nats_url must be nats:// or tls:// URLs, comma-separated");
        }
        self.plans.validate().map_err(ConfigError::Invalid)?;
        RouteTable::new(&self.gateway_routes).map_err(ConfigError::Invalid)?;
        if !(1..=3600).contains(&self.gateway_timeout_secs)
            || !(1..=86_400).contains(&self.gateway_idle_timeout_secs)
            || !(10..=60_000).contains(&self.gateway_connect_timeout_ms)
        {
            return invalid(
                "gateway_timeout_secs must be 1 to 3600, gateway_idle_timeout_secs 1 to 86400, \
                 gateway_connect_timeout_ms 10 to 60000",
            );
        }
        if let Some(origin) = self
            .gateway_cors_origins
            .iter()
            .find(|origin| http::HeaderValue::from_str(origin).is_err() || origin.ends_with('/'))
        {
            return Err(ConfigError::Invalid(format!(
                "gateway_cors_origins: {origin:?} is not an origin (scheme://host[:port])"
            )));
        }
        if self
            .public_workers
            .is_some_and(|workers| !(1..=256).contains(&workers))
        {
            return invalid("public_workers must be 1 to 256");
        }
        if self.internal_listen == self.listen && self.listen.port() != 0 {
            return invalid("internal_listen must differ from listen");
        }
        if let Some(url) = &self.redis_url
            && !(url.expose().starts_with("redis://") || url.expose().starts_with("rediss://"))
        {
            return invalid("redis_url must be a redis:// or rediss:// URL");
        }
        if self.auth_cache_capacity == 0 || self.max_body_bytes < 1024 {
            return invalid("auth_cache_capacity must be > 0 and max_body_bytes >= 1024");
        }
        self.validate_provisioning()?;
        self.validate_people()?;
        self.validate_integrations()?;
        Ok(self)
    }

    fn validate_provisioning(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        let [first, last] = self.provisioning_ports;
        if first == 0 || first > last {
            return invalid("provisioning_ports must be [first, last] with 0 < first <= last");
        }
        let paths = [
            &self.provisioning_init_path,
            &self.provisioning_edges_path,
            &self.provisioning_health_path,
        ];
        if paths
            .iter()
            .any(|p| !p.starts_with('/') || p.contains(['?', '#', ' ']))
        {
            return invalid("provisioning_*_path must be paths starting with `/`");
        }
        if !(1..=600).contains(&self.provisioning_start_timeout_secs)
            || !(1..=600).contains(&self.provisioning_stop_grace_secs)
        {
            return invalid(
                "provisioning_start_timeout_secs and provisioning_stop_grace_secs must be 1 to 600",
            );
        }
        if self
            .provisioning_owner
            .as_deref()
            .is_some_and(str::is_empty)
        {
            return invalid("provisioning_owner must not be empty");
        }
        Ok(())
    }

    fn validate_people(&self) -> Result<(), ConfigError> {
        let invalid = |m: &str| Err(ConfigError::Invalid(m.to_owned()));
        if !(60..=86_400).contains(&self.session_ttl_secs)
            || !(1..=365).contains(&self.refresh_token_ttl_days)
        {
            return invalid(
                "session_ttl_secs must be 60 to 86400 and refresh_token_ttl_days 1 to 365",
            );
        }
        if let Some(origin) = self.sign_in_redirect_origins.iter().find(|origin| {
            Url::parse(origin).map_or(true, |url| url.origin().ascii_serialization() != **origin)
        }) {
            return Err(ConfigError::Invalid(format!(
                "sign_in_redirect_origins: {origin:?} is not an origin (scheme://host[:port])"
            )));
        }
        if let Some(url) = &self.smtp_url
            && !["smtp://", "smtps://", "smtp+plain://"]
                .iter()
                .any(|scheme| url.expose().starts_with(scheme))
        {
            return invalid("smtp_url must be an smtp://, smtps:// or smtp+plain:// URL");
        }
        if let Some(url) = &self.smtp_url
            && let Err(e) = crate::mail::smtp_builder(url.expose())
        {
            return Err(ConfigError::Invalid(format!("smtp_url: {e}")));
        }
        // Unset, passkeys are off when the public URL's host is an IP address; set, it must fit.
        if self.passkey_rp_id.is_some()
            && let Err(why) = crate::people::passkeys::relying_party(self)
        {
            return invalid(&why);
        }
        if self.email_from.parse::<lettre::message::Mailbox>().is_err() {
            return invalid("email_from must be a mailbox (`Name <address>` or `address`)");
        }
        Ok(())
    }

    fn validate_integrations(&self) -> Result<(), ConfigError> {
        for (name, integration) in &self.integrations {
            integration
                .validate()
                .map_err(|why| ConfigError::Invalid(format!("integrations.{name}: {why}")))?;
        }
        if let Some(url) = &self.integrations_return_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(ConfigError::Invalid(
                "integrations_return_url must be an http(s) URL".to_owned(),
            ));
        }
        if let Some(url) = &self.aws_sts_endpoint
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(ConfigError::Invalid(
                "aws_sts_endpoint must be an http(s) URL".to_owned(),
            ));
        }
        if self
            .oauth_state_secret
            .as_ref()
            .is_some_and(|s| s.expose().len() < 32)
        {
            return Err(ConfigError::Invalid(
                "oauth_state_secret must be at least 32 bytes".to_owned(),
            ));
        }
        Ok(())
    }

    /// The issuer identifier: the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        match &self.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    pub fn audience(&self) -> String {
        self.access_token_audience
            .clone()
            .unwrap_or_else(|| self.issuer())
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir.join("tessera.db")
    }

    pub fn master_key_path(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }

    pub fn oauth_state_secret_path(&self) -> PathBuf {
        self.data_dir.join("oauth_state.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_secrets_do_not_print() {
        let config = Config {
            database_url: Some(Secret::new("postgres://u:pw@h/db")),
            ..Config::default()
        };
        let config = config.validate().unwrap();
        assert!(!format!("{config:?}").contains("pw"));
        assert_eq!(config.issuer(), "http://127.0.0.1:8080");
    }

    #[test]
    fn every_field_is_listed_for_the_environment() {
        let value = serde_json::to_value(Config::default()).unwrap();
        let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
        let mut fields: Vec<_> = FIELDS.iter().map(|f| f.to_string()).collect();
        keys.sort();
        fields.sort();
        assert_eq!(keys, fields);
    }

    #[test]
    fn public_workers_are_one_to_256_or_one_per_core() {
        for (workers, valid) in [
            (None, true),
            (Some(1), true),
            (Some(256), true),
            (Some(0), false),
            (Some(257), false),
        ] {
            let config = Config {
                public_workers: workers,
                ..Config::default()
            };
            assert_eq!(config.validate().is_ok(), valid, "{workers:?}");
        }
    }

    #[test]
    fn refuses_a_redis_url_of_another_scheme() {
        for (url, valid) in [
            ("redis://127.0.0.1:6379", true),
            ("rediss://user:pw@cache.example:6380/0", true),
            ("http://127.0.0.1:6379", false),
            ("127.0.0.1:6379", false),
        ] {
            let config = Config {
                redis_url: Some(Secret::new(url)),
                ..Config::default()
            };
            assert_eq!(config.validate().is_ok(), valid, "{url}");
        }
    }

    #[test]
    fn refuses_a_non_postgres_database_url() {
        let config = Config {
            database_url: Some(Secret::new("mysql://x")),
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }
}
