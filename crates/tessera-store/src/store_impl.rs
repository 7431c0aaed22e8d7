//! The `Store` port implemented by delegating to the per-area helpers of `SqlStore`.

use async_trait::async_trait;
use tessera_core::agent::{Agent, AgentPatch, ClientSecret};
use tessera_core::api_key::{ApiKey, KeyOwner};
use tessera_core::audit::{AuditEvent, AuditFilter, ChainedEvent, Checkpoint, LinkHash};
use tessera_core::signing_key::SigningKeyRecord;
use tessera_core::store::StoreResult;
use tessera_core::tenant::{Plan, Tenant, TenantStatus};
use tessera_core::{AgentId, ApiKeyId, ClientSecretId, OperatorId, Page, Store, TenantId};
use time::OffsetDateTime;

use crate::SqlStore;
use crate::error::db_error;

#[async_trait]
impl Store for SqlStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    async fn operator(&self) -> StoreResult<Option<OperatorId>> {
        self.read_operator().await
    }

    async fn ensure_operator(
        &self,
        id: OperatorId,
        at: OffsetDateTime,
    ) -> StoreResult<(OperatorId, bool)> {
        self.insert_operator_if_none(id, at).await
    }

    async fn create_tenant(&self, tenant: &Tenant, first_key: &ApiKey) -> StoreResult<()> {
        self.insert_tenant_with_key(tenant, first_key).await
    }

    async fn tenant(&self, id: TenantId) -> StoreResult<Option<Tenant>> {
        self.read_tenant(id).await
    }

    async fn set_tenant_status(&self, id: TenantId, status: TenantStatus) -> StoreResult<bool> {
        self.update_tenant_status(id, status).await
    }

    async fn set_tenant_plan(&self, id: TenantId, plan: Plan) -> StoreResult<Option<Plan>> {
        self.update_tenant_plan(id, plan).await
    }

    async fn insert_api_key(&self, key: &ApiKey) -> StoreResult<()> {
        self.insert_api_key_row(key).await
    }

    async fn api_key_by_hash(&self, secret_hash: &[u8; 32]) -> StoreResult<Option<ApiKey>> {
        self.read_api_key_by_hash(secret_hash).await
    }

    async fn api_keys(&self, owner: KeyOwner) -> StoreResult<Vec<ApiKey>> {
        self.read_api_keys(owner).await
    }

    async fn revoke_api_key(
        &self,
        owner: KeyOwner,
        id: ApiKeyId,
        at: OffsetDateTime,
    ) -> StoreResult<Option<ApiKey>> {
        self.mark_api_key_revoked(owner, id, at).await
    }

    async fn touch_api_key(&self, id: ApiKeyId, at: OffsetDateTime) -> StoreResult<()> {
        self.mark_api_key_used(id, at).await
    }

    async fn create_agent(
        &self,
        agent: &Agent,
        secret: &ClientSecret,
        max_agents: Option<u64>,
    ) -> StoreResult<bool> {
        self.insert_agent_with_secret(agent, secret, max_agents)
            .await
    }

    async fn agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<Option<Agent>> {
        self.read_agent(tenant, id).await
    }

    async fn agent_by_client_id(&self, id: AgentId) -> StoreResult<Option<Agent>> {
        self.read_agent_by_client_id(id).await
    }

    async fn agents(
        &self,
        tenant: TenantId,
        after: Option<AgentId>,
        limit: u32,
    ) -> StoreResult<Page<Agent, AgentId>> {
        self.read_agents(tenant, after, limit).await
    }

    async fn update_agent(
        &self,
        tenant: TenantId,
        id: AgentId,
        patch: &AgentPatch,
        at: OffsetDateTime,
    ) -> StoreResult<Option<Agent>> {
        self.patch_agent(tenant, id, patch, at).await
    }

    async fn delete_agent(&self, tenant: TenantId, id: AgentId) -> StoreResult<bool> {
        self.delete_agent_row(tenant, id).await
    }

    async fn insert_client_secret(&self, secret: &ClientSecret) -> StoreResult<()> {
        self.insert_client_secret_row(secret).await
    }

    async fn client_secrets(&self, agent: AgentId) -> StoreResult<Vec<ClientSecret>> {
        self.read_client_secrets(agent).await
    }

    async fn delete_client_secret(&self, agent: AgentId, id: ClientSecretId) -> StoreResult<bool> {
        self.delete_client_secret_row(agent, id).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRecord>> {
        self.read_signing_keys().await
    }

    async fn rotate_signing_key(
        &self,
        next: &SigningKeyRecord,
        unpublish_retired_at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.insert_signing_key_retiring_others(next, unpublish_retired_at)
            .await
    }

    async fn revoke_token(
        &self,
        jti: &str,
        tenant: TenantId,
        expires_at: OffsetDateTime,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.insert_revoked_token(jti, tenant, expires_at, at).await
    }

    async fn is_token_revoked(&self, jti: &str) -> StoreResult<bool> {
        self.read_token_revoked(jti).await
    }

    async fn append_audit(
        &self,
        events: &[AuditEvent],
        sha256: LinkHash,
    ) -> StoreResult<Vec<ChainedEvent>> {
        self.append_audit_events(events, sha256).await
    }

    async fn audit_page(
        &self,
        tenant: TenantId,
        filter: &AuditFilter,
        after: Option<i64>,
        limit: u32,
    ) -> StoreResult<Page<ChainedEvent, i64>> {
        self.audit_page_of(tenant, filter, after, limit).await
    }

    async fn audit_chain(
        &self,
        chain: &str,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<ChainedEvent>> {
        self.audit_chain_after(chain, after, limit).await
    }

    async fn audit_events_after(&self, after: i64, limit: u32) -> StoreResult<Vec<ChainedEvent>> {
        self.audit_log_after(after, limit).await
    }

    async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> StoreResult<()> {
        self.insert_audit_checkpoint(checkpoint).await
    }

    async fn checkpoints(&self, chain: &str) -> StoreResult<Vec<Checkpoint>> {
        self.audit_checkpoints(chain).await
    }

    async fn audit_chains(&self) -> StoreResult<Vec<String>> {
        self.audit_chain_names().await
    }

    async fn unsigned_chain_heads(&self) -> StoreResult<Vec<(String, i64, [u8; 32])>> {
        self.audit_unsigned_heads().await
    }

    async fn prune_audit(&self, chain: &str, through: i64) -> StoreResult<u64> {
        self.prune_audit_chain(chain, through).await
    }

    async fn event_cursor(&self, consumer: &str) -> StoreResult<i64> {
        self.read_event_cursor(consumer).await
    }

    async fn advance_event_cursor(&self, consumer: &str, from: i64, to: i64) -> StoreResult<bool> {
        self.move_event_cursor(consumer, from, to).await
    }
}
