//! Webhook subscriptions and deliveries.

use async_trait::async_trait;
use tessera_core::webhook::WebhookStore;

use crate::SqlStore;

#[async_trait]
impl WebhookStore for SqlStore {}
