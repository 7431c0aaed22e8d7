//! The token vault: agents' (roles', tenants') accounts at third-party providers.
//!
//! - [`Vault`] holds the configured integrations (resolved on first use), the HTTP client every
//!   provider call goes through, the `state` key, and the in-process single-flight table.
//! - [`state`] signs and checks the `state` of a connection flow.
//! - [`tokens`] is the sealed token set and the one code path that stores a connection
//!   (callback and ingest alike).
//! - [`refresh`] hands out fresh access tokens: scope fallback, refresh within 60 s of expiry,
//!   one refresh per connection across requests and instances.
//! - [`proxy`] calls a provider's API with an agent's token, refreshing once on a 401.

pub mod proxy;
pub mod refresh;
pub mod state;
pub mod tokens;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use tessera_core::agent::{Agent, AgentStatus};
use tessera_core::connection::ConnectionKey;
use tessera_federation::connect::{ConnectError, Connector, ConnectorConfig};
use tessera_proto::ErrorCode;
use tokio::sync::OnceCell;

use crate::config::Config;
use crate::error::ApiError;
use crate::people::oauth::{check_name, check_outbound, provider_client};
use state::StateKey;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("integrations: building the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("integrations.{name}: {detail}")]
    Integration { name: String, detail: String },
}

#[derive(Debug)]
struct Integration {
    config: ConnectorConfig,
    resolved: OnceCell<Arc<Connector>>,
}

pub struct Vault {
    integrations: BTreeMap<String, Integration>,
    pub(crate) http: reqwest::Client,
    allow_private: bool,
    state_key: Option<StateKey>,
    /// One lock per connection being refreshed in this process.
    flights: Mutex<HashMap<ConnectionKey, Arc<tokio::sync::Mutex<()>>>>,
    /// This instance's name as a lease owner.
    pub(crate) instance: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field(
                "integrations",
                &self.integrations.keys().collect::<Vec<_>>(),
            )
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(config: &Config, state_secret: Option<&[u8]>) -> Result<Self, SetupError> {
        let allow_private = config.oauth_allow_private_issuers;
        let mut integrations = BTreeMap::new();
        for (name, integration) in &config.integrations {
            let refused = |detail: String| SetupError::Integration {
                name: name.clone(),
                detail,
            };
            check_name(name).map_err(refused)?;
            let issuer = integration
                .issuer
                .as_deref()
                .and_then(|i| url::Url::parse(i).ok());
            let configured = [
                issuer.as_ref(),
                integration.authorization_endpoint.as_ref(),
                integration.token_endpoint.as_ref(),
                integration.revocation_endpoint.as_ref(),
            ];
            let bases = integration.api_base_urls.iter().flatten();
            for url in configured.into_iter().flatten().chain(bases) {
                check_outbound(url, allow_private).map_err(refused)?;
            }
            integrations.insert(
                name.clone(),
                Integration {
                    config: integration.clone(),
                    resolved: OnceCell::new(),
                },
            );
        }
        Ok(Self {
            integrations,
            http: provider_client(allow_private)?,
            allow_private,
            state_key: state_secret.map(StateKey::new),
            flights: Mutex::new(HashMap::new()),
            instance: uuid::Uuid::now_v7().simple().to_string(),
        })
    }

    /// The integration called `name`, resolved (discovery on first use). A name that is not
    /// one is 400; a configured-nowhere one is 503 `<name>_oauth_not_configured`.
    pub async fn connector(&self, name: &str) -> Result<Arc<Connector>, ApiError> {
        check_name(name).map_err(|why| ApiError::invalid(format!("provider: {why}")))?;
        let integration = self
            .integrations
            .get(name)
            .ok_or_else(|| ApiError::integration_not_configured(name))?;
        let connector = integration
            .resolved
            .get_or_try_init(|| async {
                Connector::resolve(name, &integration.config, &self.http)
                    .await
                    .map(Arc::new)
            })
            .await
            .map_err(|e| provider_error(&e))?;
        for url in connector.endpoints() {
            check_outbound(url, self.allow_private).map_err(|detail| {
                ApiError::new(ErrorCode::OAuthProviderFailed, format!("{name}: {detail}"))
            })?;
        }
        Ok(Arc::clone(connector))
    }

    pub fn state_key(&self) -> Result<&StateKey, ApiError> {
        self.state_key
            .as_ref()
            .ok_or_else(|| ApiError::internal("integrations are configured without a state key"))
    }

    /// The lock refreshes of `key` take in this process.
    pub(crate) fn flight(&self, key: &ConnectionKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut flights = self.flights.lock().unwrap_or_else(|p| p.into_inner());
        // Locks nobody holds or waits for are dropped, so the table stays as small as the
        // number of refreshes in flight.
        flights.retain(|_, lock| Arc::strong_count(lock) > 1);
        Arc::clone(flights.entry(key.clone()).or_default())
    }
}

/// A failed provider call as an error of the table.
pub fn provider_error(error: &ConnectError) -> ApiError {
    let code = match error {
        ConnectError::InvalidGrant => ErrorCode::ConnectionNeedsReauth,
        ConnectError::Config(_)
        | ConnectError::Unreachable(_)
        | ConnectError::Refused { .. }
        | ConnectError::Invalid(_) => ErrorCode::OAuthProviderFailed,
    };
    ApiError::new(code, error.to_string())
}

/// A disabled agent's connections are neither started, completed nor used.
pub fn ensure_enabled(agent: &Agent) -> Result<(), ApiError> {
    if agent.status == AgentStatus::Active {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::AgentDisabled,
        format!("agent {} is disabled; enable it first", agent.id),
    ))
}
