#![doc = include_str!("../README.md")]

mod authorize;
pub mod config;
pub mod connect;
mod discovery;
mod error;
mod exchange;
mod github;
mod http;
pub mod id_token;
pub mod jwks;
mod key_sets;
mod pkce;
mod provider;
mod userinfo;
pub mod workload;

pub use authorize::Begin;
pub use config::{ClientAuthMethod, ProviderConfig, ProviderKind, Secret};
pub use error::FederationError;
pub use exchange::TokenResponse;
pub use id_token::IdTokenClaims;
pub use key_sets::KeySets;
pub use provider::{ExternalIdentity, LazyProvider, Provider};
pub use workload::{TrustedIssuers, WorkloadToken};
