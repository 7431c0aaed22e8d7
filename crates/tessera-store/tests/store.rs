//! The `Store` contract, checked on SQLite always and on PostgreSQL too when
//! `TESSERA_TEST_DATABASE_URL` names a server (each test then gets a database of its own).
#![allow(clippy::unwrap_used)]

mod connections;
mod people;
mod placements;
mod support;
mod upgrade;
mod webhooks;

support::store_tests!(
    ping_and_repeated_migration,
    operator_is_created_once,
    tenant_round_trip,
    tenant_creation_is_atomic,
    api_key_lifecycle,
    duplicate_key_hash_is_a_conflict,
    agent_round_trip,
    agent_update_applies_only_the_patch,
    agent_pages,
    client_secrets_and_cascade,
    agent_creation_is_atomic,
    agent_creation_stops_at_the_maximum,
    tenant_plan_changes,
    tenants_cannot_see_each_other,
    signing_key_rotation,
    token_revocation_is_idempotent,
    audit_trail,
    event_cursors_are_compare_and_set,
);

mod cases {
    use tessera_core::agent::{AgentPatch, AgentStatus};
    use tessera_core::api_key::KeyOwner;
    use tessera_core::audit::Outcome;
    use tessera_core::tenant::{Plan, TenantStatus};
    use tessera_core::{AgentId, ApiKeyId, OperatorId, Scopes, Store, StoreError, TenantId};
    use tessera_store::SqlStore;

    use crate::support::*;

    fn assert_conflict<T: std::fmt::Debug>(result: Result<T, StoreError>, rule: &str) {
        match result {
            Err(StoreError::Conflict(name)) => assert_eq!(name, rule),
            other => panic!("expected a conflict on {rule}, got {other:?}"),
        }
    }

    pub async fn ping_and_repeated_migration(store: &SqlStore) {
        store.ping().await.unwrap();
        store.migrate().await.unwrap();
        store.ping().await.unwrap();
    }

    pub async fn operator_is_created_once(store: &SqlStore) {
        assert_eq!(store.operator().await.unwrap(), None);
        let first = OperatorId::generate();
        let second = OperatorId::generate();
        assert_eq!(
            store.ensure_operator(first, T0).await.unwrap(),
            (first, true)
        );
        assert_eq!(
            store.ensure_operator(second, at(5)).await.unwrap(),
            (first, false)
        );
        assert_eq!(store.operator().await.unwrap(), Some(first));

        // Operator keys have no tenant and are found by hash like any other.
        let key = api_key(KeyOwner::Operator(first));
        store.insert_api_key(&key).await.unwrap();
        assert_eq!(
            store.api_key_by_hash(&key.secret_hash).await.unwrap(),
            Some(key)
        );
        let orphan = api_key(KeyOwner::Operator(OperatorId::generate()));
        assert_conflict(store.insert_api_key(&orphan).await, "api_keys.operator_id");
    }

    pub async fn tenant_round_trip(store: &SqlStore) {
        let (tenant, key) = stored_tenant(store).await;
        assert_eq!(store.tenant(tenant.id).await.unwrap(), Some(tenant.clone()));
        assert_eq!(
            store.api_key_by_hash(&key.secret_hash).await.unwrap(),
            Some(key.clone())
        );
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(tenant.id)).await.unwrap(),
            vec![key]
        );

        assert!(
            store
                .set_tenant_status(tenant.id, TenantStatus::Suspended)
                .await
                .unwrap()
        );
        let suspended = store.tenant(tenant.id).await.unwrap().unwrap();
        assert_eq!(suspended.status, TenantStatus::Suspended);

        let unknown = TenantId::generate();
        assert_eq!(store.tenant(unknown).await.unwrap(), None);
        assert!(
            !store
                .set_tenant_status(unknown, TenantStatus::Active)
                .await
                .unwrap()
        );
        assert_conflict(
            store.create_tenant(&tenant, &tenant_key(&tenant)).await,
            "tenants.id",
        );
    }

    pub async fn tenant_creation_is_atomic(store: &SqlStore) {
        let (_, existing) = stored_tenant(store).await;
        let tenant = tenant();
        let mut key = tenant_key(&tenant);
        key.secret_hash = existing.secret_hash;
        assert_conflict(
            store.create_tenant(&tenant, &key).await,
            "api_keys.secret_hash",
        );
        assert_eq!(store.tenant(tenant.id).await.unwrap(), None);
    }

    pub async fn api_key_lifecycle(store: &SqlStore) {
        let (tenant, first) = stored_tenant(store).await;
        let second = tenant_key(&tenant);
        store.insert_api_key(&second).await.unwrap();
        // Newest first.
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(tenant.id)).await.unwrap(),
            vec![second.clone(), first.clone()]
        );

        store.touch_api_key(second.id, at(60)).await.unwrap();
        // A late, older touch does not move the time back.
        store.touch_api_key(second.id, at(30)).await.unwrap();
        let touched = store
            .api_key_by_hash(&second.secret_hash)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(touched.last_used_at, Some(at(60)));

        let revoked = store
            .revoke_api_key(KeyOwner::Tenant(tenant.id), second.id, at(120))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(revoked.id, second.id);
        assert_eq!(revoked.revoked_at, Some(at(120)));
        assert_eq!(revoked.last_used_at, Some(at(60)));
        // Revoking again finds no live key, and keeps the first revocation time.
        assert_eq!(
            store
                .revoke_api_key(KeyOwner::Tenant(tenant.id), second.id, at(180))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.api_key_by_hash(&second.secret_hash).await.unwrap(),
            Some(revoked.clone())
        );
        assert_eq!(
            store
                .revoke_api_key(KeyOwner::Tenant(tenant.id), ApiKeyId::generate(), at(180))
                .await
                .unwrap(),
            None
        );
        // Revoked keys stay listed.
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(tenant.id)).await.unwrap(),
            vec![revoked, first]
        );

        let orphan = api_key(KeyOwner::Tenant(TenantId::generate()));
        assert_conflict(store.insert_api_key(&orphan).await, "api_keys.tenant_id");
        assert_eq!(store.api_key_by_hash(&fresh_hash()).await.unwrap(), None);
    }

    pub async fn duplicate_key_hash_is_a_conflict(store: &SqlStore) {
        let (tenant, first) = stored_tenant(store).await;
        let mut copy = tenant_key(&tenant);
        copy.secret_hash = first.secret_hash;
        assert_conflict(store.insert_api_key(&copy).await, "api_keys.secret_hash");
        let mut same_id = tenant_key(&tenant);
        same_id.id = first.id;
        assert_conflict(store.insert_api_key(&same_id).await, "api_keys.id");
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(tenant.id)).await.unwrap(),
            vec![first]
        );
    }

    pub async fn agent_round_trip(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (agent, _) = stored_agent(store, &tenant).await;
        assert_eq!(
            store.agent(tenant.id, agent.id).await.unwrap(),
            Some(agent.clone())
        );
        assert_eq!(
            store.agent_by_client_id(agent.id).await.unwrap(),
            Some(agent.clone())
        );
        assert_eq!(
            store.agent_by_client_id(AgentId::generate()).await.unwrap(),
            None
        );

        let mut bare = crate::support::agent(&tenant);
        bare.description = None;
        bare.capabilities = Vec::new();
        bare.scopes = Scopes::default();
        store
            .create_agent(&bare, &client_secret(&bare), None)
            .await
            .unwrap();
        assert_eq!(store.agent(tenant.id, bare.id).await.unwrap(), Some(bare));

        assert_conflict(
            store
                .create_agent(&agent, &client_secret(&agent), None)
                .await,
            "agents.id",
        );
    }

    pub async fn agent_update_applies_only_the_patch(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (agent, _) = stored_agent(store, &tenant).await;

        let renamed = store
            .update_agent(
                tenant.id,
                agent.id,
                &AgentPatch {
                    name: Some("renamed".into()),
                    ..AgentPatch::default()
                },
                at(10),
            )
            .await
            .unwrap()
            .unwrap();
        let mut expected = agent.clone();
        expected.name = "renamed".into();
        expected.updated_at = at(10);
        assert_eq!(renamed, expected);

        let patch = AgentPatch {
            name: None,
            description: Some(None),
            capabilities: Some(vec!["search".into()]),
            scopes: Some(Scopes::parse("docs:read").unwrap()),
            status: Some(AgentStatus::Disabled),
        };
        let updated = store
            .update_agent(tenant.id, agent.id, &patch, at(20))
            .await
            .unwrap()
            .unwrap();
        expected.description = None;
        expected.capabilities = vec!["search".into()];
        expected.scopes = Scopes::parse("docs:read").unwrap();
        expected.status = AgentStatus::Disabled;
        expected.updated_at = at(20);
        assert_eq!(updated, expected);
        assert_eq!(
            store.agent(tenant.id, agent.id).await.unwrap(),
            Some(expected)
        );

        assert_eq!(
            store
                .update_agent(tenant.id, AgentId::generate(), &patch, at(30))
                .await
                .unwrap(),
            None
        );
    }

    pub async fn agent_pages(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (other, _) = stored_tenant(store).await;
        let mut ids = Vec::new();
        for _ in 0..7 {
            ids.push(stored_agent(store, &tenant).await.0.id);
            stored_agent(store, &other).await;
        }

        let first = store.agents(tenant.id, None, 3).await.unwrap();
        let second = store.agents(tenant.id, first.next_cursor, 3).await.unwrap();
        let third = store
            .agents(tenant.id, second.next_cursor, 3)
            .await
            .unwrap();
        let page_ids = |page: &tessera_core::Page<_, _>| -> Vec<AgentId> {
            page.items
                .iter()
                .map(|a: &tessera_core::agent::Agent| a.id)
                .collect()
        };
        assert_eq!(page_ids(&first), ids[0..3]);
        assert_eq!(first.next_cursor, Some(ids[2]));
        assert_eq!(page_ids(&second), ids[3..6]);
        assert_eq!(second.next_cursor, Some(ids[5]));
        assert_eq!(page_ids(&third), ids[6..]);
        assert_eq!(third.next_cursor, None);

        // A page that ends exactly at the last agent says there is no more.
        let exact = store.agents(tenant.id, Some(ids[3]), 3).await.unwrap();
        assert_eq!(page_ids(&exact), ids[4..]);
        assert_eq!(exact.next_cursor, None);

        let all = store.agents(tenant.id, None, 100).await.unwrap();
        assert_eq!(page_ids(&all), ids);
        assert_eq!(all.next_cursor, None);

        let empty = store.agents(TenantId::generate(), None, 3).await.unwrap();
        assert!(empty.items.is_empty() && empty.next_cursor.is_none());
    }

    pub async fn client_secrets_and_cascade(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (agent, first) = stored_agent(store, &tenant).await;
        let (other_agent, other_secret) = stored_agent(store, &tenant).await;
        let mut second = client_secret(&agent);
        second.expires_at = Some(at(3600));
        store.insert_client_secret(&second).await.unwrap();
        assert_eq!(
            store.client_secrets(agent.id).await.unwrap(),
            vec![first.clone(), second.clone()]
        );

        // A secret is deleted only through its own agent.
        assert!(
            !store
                .delete_client_secret(other_agent.id, first.id)
                .await
                .unwrap()
        );
        assert!(
            store
                .delete_client_secret(agent.id, first.id)
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_client_secret(agent.id, first.id)
                .await
                .unwrap()
        );
        assert_eq!(
            store.client_secrets(agent.id).await.unwrap(),
            vec![second.clone()]
        );

        assert!(store.delete_agent(tenant.id, agent.id).await.unwrap());
        assert!(!store.delete_agent(tenant.id, agent.id).await.unwrap());
        assert_eq!(store.agent(tenant.id, agent.id).await.unwrap(), None);
        assert!(store.client_secrets(agent.id).await.unwrap().is_empty());
        assert_eq!(
            store.client_secrets(other_agent.id).await.unwrap(),
            vec![other_secret]
        );
        // The secret's hash went with the row: reinserting it must name the missing agent.
        assert_conflict(
            store.insert_client_secret(&second).await,
            "client_secrets.agent_id",
        );
    }

    pub async fn agent_creation_is_atomic(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let agent = crate::support::agent(&tenant);
        let mut stray = client_secret(&agent);
        stray.agent_id = AgentId::generate();
        assert_conflict(
            store.create_agent(&agent, &stray, Some(5)).await,
            "client_secrets.agent_id",
        );
        assert_eq!(store.agent(tenant.id, agent.id).await.unwrap(), None);

        let never_stored = crate::support::tenant();
        let homeless = crate::support::agent(&never_stored);
        assert_conflict(
            store
                .create_agent(&homeless, &client_secret(&homeless), Some(5))
                .await,
            "agents.tenant_id",
        );
    }

    pub async fn agent_creation_stops_at_the_maximum(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (other, _) = stored_tenant(store).await;
        stored_agent(store, &other).await;
        let first = crate::support::agent(&tenant);
        assert!(
            store
                .create_agent(&first, &client_secret(&first), Some(2))
                .await
                .unwrap()
        );
        // Two racing for the last place: exactly one gets it.
        let (a, b) = (
            crate::support::agent(&tenant),
            crate::support::agent(&tenant),
        );
        let (a_secret, b_secret) = (client_secret(&a), client_secret(&b));
        let (a_created, b_created) = tokio::join!(
            store.create_agent(&a, &a_secret, Some(2)),
            store.create_agent(&b, &b_secret, Some(2)),
        );
        assert!(a_created.unwrap() ^ b_created.unwrap());
        let refused = if store.agent(tenant.id, a.id).await.unwrap().is_some() {
            &b
        } else {
            &a
        };
        assert_eq!(store.agent(tenant.id, refused.id).await.unwrap(), None);
        assert!(store.client_secrets(refused.id).await.unwrap().is_empty());
        let page = store.agents(tenant.id, None, 10).await.unwrap();
        assert_eq!(page.items.len(), 2, "nothing written past the limit");
        let third = crate::support::agent(&tenant);
        assert!(
            store
                .create_agent(&third, &client_secret(&third), None)
                .await
                .unwrap(),
            "no limit"
        );
    }

    pub async fn tenant_plan_changes(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        assert_eq!(
            store
                .set_tenant_plan(tenant.id, Plan::Business)
                .await
                .unwrap(),
            Some(tenant.plan)
        );
        assert_eq!(
            store
                .set_tenant_plan(tenant.id, Plan::Enterprise)
                .await
                .unwrap(),
            Some(Plan::Business)
        );
        let changed = store.tenant(tenant.id).await.unwrap().unwrap();
        assert_eq!(changed.plan, Plan::Enterprise);
        assert_eq!(
            store
                .set_tenant_plan(TenantId::generate(), Plan::Business)
                .await
                .unwrap(),
            None
        );
    }

    pub async fn tenants_cannot_see_each_other(store: &SqlStore) {
        let (a, a_key) = stored_tenant(store).await;
        let (b, b_key) = stored_tenant(store).await;
        let (a_agent, a_secret) = stored_agent(store, &a).await;

        assert_eq!(store.agent(b.id, a_agent.id).await.unwrap(), None);
        let patch = AgentPatch {
            name: Some("hijacked".into()),
            ..AgentPatch::default()
        };
        assert_eq!(
            store
                .update_agent(b.id, a_agent.id, &patch, at(1))
                .await
                .unwrap(),
            None
        );
        assert!(!store.delete_agent(b.id, a_agent.id).await.unwrap());
        assert!(store.agents(b.id, None, 10).await.unwrap().items.is_empty());
        assert_eq!(
            store
                .revoke_api_key(KeyOwner::Tenant(b.id), a_key.id, at(1))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(b.id)).await.unwrap(),
            vec![b_key]
        );

        // A's objects are untouched.
        assert_eq!(
            store.agent(a.id, a_agent.id).await.unwrap(),
            Some(a_agent.clone())
        );
        assert_eq!(
            store.client_secrets(a_agent.id).await.unwrap(),
            vec![a_secret]
        );
        assert_eq!(
            store.api_keys(KeyOwner::Tenant(a.id)).await.unwrap(),
            vec![a_key]
        );
    }

    pub async fn signing_key_rotation(store: &SqlStore) {
        assert!(store.signing_keys().await.unwrap().is_empty());
        let first = signing_key("k1", T0);
        store.rotate_signing_key(&first, at(1)).await.unwrap();
        assert_eq!(store.signing_keys().await.unwrap(), vec![first.clone()]);

        let second = signing_key("k2", at(3600));
        store.rotate_signing_key(&second, at(7200)).await.unwrap();
        let mut retired = first.clone();
        retired.retired_at = Some(at(3600));
        retired.unpublish_at = Some(at(7200));
        assert_eq!(
            store.signing_keys().await.unwrap(),
            vec![retired.clone(), second.clone()]
        );

        // A failed rotation retires nothing.
        assert_conflict(
            store.rotate_signing_key(&second, at(9000)).await,
            "signing_keys.kid",
        );
        assert_eq!(
            store.signing_keys().await.unwrap(),
            vec![retired.clone(), second.clone()]
        );

        // Keys retired earlier keep their times.
        let third = signing_key("k3", at(7200));
        store.rotate_signing_key(&third, at(10_800)).await.unwrap();
        let mut second_retired = second;
        second_retired.retired_at = Some(at(7200));
        second_retired.unpublish_at = Some(at(10_800));
        assert_eq!(
            store.signing_keys().await.unwrap(),
            vec![retired, second_retired, third]
        );
    }

    pub async fn token_revocation_is_idempotent(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let jti = "tok_0197a3c1d2e34f5a8b9c0d1e2f3a4b5c";
        assert!(!store.is_token_revoked(jti).await.unwrap());
        store
            .revoke_token(jti, tenant.id, at(900), at(10))
            .await
            .unwrap();
        assert!(store.is_token_revoked(jti).await.unwrap());
        store
            .revoke_token(jti, tenant.id, at(900), at(20))
            .await
            .unwrap();
        assert!(store.is_token_revoked(jti).await.unwrap());
        assert!(!store.is_token_revoked("tok_other").await.unwrap());
    }

    /// A stand-in for SHA-256 (the store only links; which hash is the caller's business).
    fn toy_hash(input: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, byte) in input.iter().enumerate() {
            out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(*byte);
        }
        out
    }

    pub async fn audit_trail(store: &SqlStore) {
        use tessera_core::audit::{AuditFilter, Checkpoint, GENESIS_HASH, chain_of, link_input};

        let (a, _) = stored_tenant(store).await;
        let (b, _) = stored_tenant(store).await;
        let created = audit_event(Some(a.id), "tenant.create");
        let mut failed = audit_event(Some(a.id), "api_key.revoke");
        failed.outcome = Outcome::Failure;
        failed.reason = "not_found".into();
        failed.target = format!("api_key:{}", ApiKeyId::generate());
        failed.client_ip = None;
        failed.request_id = Some("req-1".into());
        failed.occurred_at = at(5);
        let other = audit_event(Some(b.id), "tenant.create");
        let installation = audit_event(None, "signing_key.rotate");
        let first = store
            .append_audit(&[created.clone(), other.clone()], toy_hash)
            .await
            .unwrap();
        let second = store
            .append_audit(&[failed.clone(), installation.clone()], toy_hash)
            .await
            .unwrap();

        // Each chain links from genesis; the log position counts across chains.
        let seqs: Vec<_> = first
            .iter()
            .chain(&second)
            .map(|e| (e.seq, e.chain_seq))
            .collect();
        assert_eq!(seqs, [(1, 1), (2, 1), (3, 2), (4, 1)]);
        assert_eq!(first[0].prev_hash, GENESIS_HASH);
        assert_eq!(
            first[0].hash,
            toy_hash(&link_input(&GENESIS_HASH, 1, &created))
        );
        assert_eq!(
            second[0].prev_hash, first[0].hash,
            "A's second event links to A's first"
        );
        assert_eq!(
            second[1].prev_hash, GENESIS_HASH,
            "the installation has its own chain"
        );

        // Listing is per tenant, filterable, paged by chain position.
        let page = store
            .audit_page(a.id, &AuditFilter::default(), None, 1)
            .await
            .unwrap();
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].event, created);
        assert_eq!(page.next_cursor, Some(1));
        let rest = store
            .audit_page(a.id, &AuditFilter::default(), page.next_cursor, 10)
            .await
            .unwrap();
        assert_eq!(
            rest.items.iter().map(|e| &e.event).collect::<Vec<_>>(),
            [&failed]
        );
        assert_eq!(rest.next_cursor, None);
        let failures = AuditFilter {
            outcome: Some(Outcome::Failure),
            ..AuditFilter::default()
        };
        assert_eq!(
            store
                .audit_page(a.id, &failures, None, 10)
                .await
                .unwrap()
                .items
                .len(),
            1
        );
        let by_action = AuditFilter {
            action: Some("tenant.create".into()),
            since: Some(T0),
            until: Some(at(1)),
            ..AuditFilter::default()
        };
        assert_eq!(
            store
                .audit_page(a.id, &by_action, None, 10)
                .await
                .unwrap()
                .items[0]
                .event,
            created
        );
        assert_eq!(
            store
                .audit_page(b.id, &AuditFilter::default(), None, 10)
                .await
                .unwrap()
                .items[0]
                .event,
            other
        );

        // The outbox view: every chain, in log order.
        let after_one = store.audit_events_after(1, 10).await.unwrap();
        assert_eq!(
            after_one.iter().map(|e| e.seq).collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(
            store
                .audit_chain(&chain_of(Some(a.id)), 1, 10)
                .await
                .unwrap()[0]
                .event,
            failed
        );
        let mut chains = store.audit_chains().await.unwrap();
        chains.sort();
        assert_eq!(chains.len(), 3);

        // Checkpoints: idempotent per position; heads past their checkpoint are listed.
        assert_eq!(store.unsigned_chain_heads().await.unwrap().len(), 3);
        let checkpoint = Checkpoint {
            chain: chain_of(Some(a.id)),
            chain_seq: 2,
            hash: second[0].hash,
            signature: "sig".into(),
            created_at: at(10),
        };
        store.insert_checkpoint(&checkpoint).await.unwrap();
        store.insert_checkpoint(&checkpoint).await.unwrap();
        assert_eq!(
            store.checkpoints(&chain_of(Some(a.id))).await.unwrap(),
            vec![checkpoint.clone()]
        );
        assert_eq!(store.unsigned_chain_heads().await.unwrap().len(), 2);

        // Pruning through a checkpoint keeps the checkpoint as the anchor.
        assert_eq!(
            store.prune_audit(&chain_of(Some(a.id)), 2).await.unwrap(),
            2
        );
        assert!(
            store
                .audit_page(a.id, &AuditFilter::default(), None, 10)
                .await
                .unwrap()
                .items
                .is_empty()
        );
        assert_eq!(
            store.checkpoints(&chain_of(Some(a.id))).await.unwrap(),
            vec![checkpoint]
        );
        let next = store
            .append_audit(&[audit_event(Some(a.id), "agent.create")], toy_hash)
            .await
            .unwrap();
        assert_eq!(
            (next[0].chain_seq, next[0].prev_hash),
            (3, second[0].hash),
            "the chain goes on after pruning"
        );

        assert_conflict(
            store.append_audit(&[other], toy_hash).await,
            "audit_events.id",
        );
    }

    pub async fn event_cursors_are_compare_and_set(store: &SqlStore) {
        assert_eq!(store.event_cursor("webhooks").await.unwrap(), 0);
        assert!(store.advance_event_cursor("webhooks", 0, 5).await.unwrap());
        assert!(
            !store.advance_event_cursor("webhooks", 0, 7).await.unwrap(),
            "a stale position loses"
        );
        assert_eq!(store.event_cursor("webhooks").await.unwrap(), 5);
        assert_eq!(
            store.event_cursor("nats").await.unwrap(),
            0,
            "each consumer has its own"
        );
    }
}

/// Checks what only a SQLite file shows: it is in WAL mode, and the hot path (authenticating a
/// request by its key) is planned on the unique index, so it stays one lookup however many keys.
#[tokio::test]
async fn sqlite_file_is_wal_and_finds_keys_through_the_index() {
    use sqlx::Connection;

    let dir = support::scratch_dir();
    let path = dir.join("plan.db");
    let store = tessera_store::SqlStore::open_sqlite(&path).await.unwrap();
    store.migrate().await.unwrap();
    store.close().await;

    let mut conn = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let (journal_mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let plan: Vec<(i64, i64, i64, String)> =
        sqlx::query_as("EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE secret_hash = $1")
            .bind(vec![0_u8; 32])
            .fetch_all(&mut conn)
            .await
            .unwrap();
    conn.close().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(journal_mode, "wal");
    let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
    assert!(
        details
            .iter()
            .any(|d| d.contains("USING INDEX api_keys_secret_hash_key")),
        "plan: {details:?}"
    );
}
