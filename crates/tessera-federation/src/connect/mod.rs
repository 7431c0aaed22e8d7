//! Connections: Tessera as the OAuth 2 client of a provider an agent's account lives at
//! (Google, GitHub, Slack, Notion, any OAuth 2 or OpenID provider), for the token vault. Unlike
//! sign-in, nobody is signed in here: the tokens themselves are what is kept (sealed, by the
//! server), refreshed and revoked.

mod config;
mod connector;
mod tokens;

pub use config::{ConnectorConfig, ConnectorKind};
pub use connector::{Authorization, Connector};
pub use tokens::Granted;

/// Why a call to the provider failed. No variant carries a token or secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("invalid integration configuration: {0}")]
    Config(String),
    #[error("the provider could not be reached: {0}")]
    Unreachable(String),
    /// The refresh token (or code) is revoked, expired or foreign: consent is needed again.
    #[error("the provider refused the grant (invalid_grant)")]
    InvalidGrant,
    #[error("the provider refused the request (HTTP {status}, error {error:?})")]
    Refused { error: Option<String>, status: u16 },
    #[error("the provider's answer is unusable: {0}")]
    Invalid(String),
}

impl ConnectError {
    /// A stable reason code for audit events, metrics and `?error=` redirects.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Config(_) => "provider_misconfigured",
            Self::Unreachable(_) => "provider_unreachable",
            Self::InvalidGrant => "invalid_grant",
            Self::Refused { .. } => "provider_refused",
            Self::Invalid(_) => "provider_answer_invalid",
        }
    }
}
