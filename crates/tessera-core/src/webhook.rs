//! Webhook subscriptions and their deliveries.

use async_trait::async_trait;

/// Storage of webhook subscriptions, deliveries and dead letters.
#[async_trait]
pub trait WebhookStore: Send + Sync {}
