//! The placement part of the `Store` contract, on the backend the suite runs against: the
//! gateway's two lookups, listing, the owner's rows, state changes, deletion, and the rules
//! (one placement per entity, an agent routes to one placement, rows go with their tenant).

use tessera_core::placement::{
    Placement, PlacementBackend, PlacementState, PlacementStatus, PlacementStore,
};
use tessera_core::tenant::Tenant;
use tessera_core::{AgentId, StoreError, TenantId};
use tessera_store::SqlStore;

use crate::support::{T0, at, on_configured_backend, stored_agent, stored_tenant};

macro_rules! placement_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                on_configured_backend(|store| async move { cases::$case(&store).await }).await;
            }
        )*
    };
}

placement_tests!(
    placements_round_trip_by_entity_and_by_agent,
    placements_page_and_belong_to_their_owner,
    state_changes_and_deletion,
    one_placement_per_entity_and_per_agent,
);

fn placement(tenant: &Tenant, agent: Option<AgentId>, port: u16, owner: &str) -> Placement {
    Placement {
        entity_id: tenant.id,
        agent_id: agent,
        address: format!("http://127.0.0.1:{port}"),
        port: Some(port),
        backend: PlacementBackend::Process,
        owner: owner.into(),
        status: PlacementStatus::Starting,
        state: PlacementState::default(),
        created_at: T0,
        updated_at: T0,
    }
}

mod cases {
    use super::*;

    pub async fn placements_round_trip_by_entity_and_by_agent(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (agent, _) = stored_agent(store, &tenant).await;
        let made = placement(&tenant, Some(agent.id), 20_001, "host-a");
        store.insert_placement(&made).await.unwrap();
        assert_eq!(
            store.placement(tenant.id).await.unwrap(),
            Some(made.clone())
        );
        assert_eq!(
            store.placement_by_agent(agent.id).await.unwrap(),
            Some(made.clone())
        );
        assert_eq!(store.placement(TenantId::generate()).await.unwrap(), None);
        assert_eq!(
            store.placement_by_agent(AgentId::generate()).await.unwrap(),
            None
        );

        // A registered address has no port of Tessera's and no agent.
        let (other, _) = stored_tenant(store).await;
        let registered = Placement {
            port: None,
            agent_id: None,
            backend: PlacementBackend::Static,
            address: "https://runtime.example.com:8443".into(),
            ..placement(&other, None, 1, "host-a")
        };
        store.insert_placement(&registered).await.unwrap();
        assert_eq!(store.placement(other.id).await.unwrap(), Some(registered));

        // Deleting the agent keeps the placement, reachable by entity id only.
        assert!(
            tessera_core::Store::delete_agent(store, tenant.id, agent.id)
                .await
                .unwrap()
        );
        let kept = store.placement(tenant.id).await.unwrap().unwrap();
        assert_eq!(kept.agent_id, None);
        assert_eq!(store.placement_by_agent(agent.id).await.unwrap(), None);
    }

    pub async fn placements_page_and_belong_to_their_owner(store: &SqlStore) {
        let mut made = Vec::new();
        for (i, owner) in ["host-a", "host-b", "host-a"].into_iter().enumerate() {
            let (tenant, _) = stored_tenant(store).await;
            let p = placement(&tenant, None, 20_000 + i as u16, owner);
            store.insert_placement(&p).await.unwrap();
            made.push(p);
        }
        let first = store.placements(None, 2).await.unwrap();
        assert_eq!(first.items, made[..2].to_vec());
        assert_eq!(first.next_cursor, Some(made[1].entity_id));
        let rest = store.placements(first.next_cursor, 2).await.unwrap();
        assert_eq!(rest.items, made[2..].to_vec());
        assert_eq!(rest.next_cursor, None);

        let owned = store.owned_placements("host-a").await.unwrap();
        assert_eq!(owned, vec![made[0].clone(), made[2].clone()]);
        assert!(store.owned_placements("host-c").await.unwrap().is_empty());
    }

    pub async fn state_changes_and_deletion(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let made = placement(&tenant, None, 20_010, "host-a");
        store.insert_placement(&made).await.unwrap();
        let state = PlacementState {
            pid: Some(4242),
            restarts: 3,
            detail: Some("exited with status 1".into()),
        };
        assert!(
            store
                .set_placement_state(tenant.id, PlacementStatus::Restarting, &state, at(30))
                .await
                .unwrap()
        );
        let read = store.placement(tenant.id).await.unwrap().unwrap();
        assert_eq!(read.status, PlacementStatus::Restarting);
        assert_eq!(read.state, state);
        assert_eq!((read.created_at, read.updated_at), (T0, at(30)));
        assert_eq!(read.address, made.address, "only the state changes");

        let other = TenantId::generate();
        assert!(
            !store
                .set_placement_state(other, PlacementStatus::Running, &state, at(31))
                .await
                .unwrap()
        );
        assert!(store.delete_placement(tenant.id).await.unwrap());
        assert!(!store.delete_placement(tenant.id).await.unwrap());
        assert_eq!(store.placement(tenant.id).await.unwrap(), None);
    }

    pub async fn one_placement_per_entity_and_per_agent(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (agent, _) = stored_agent(store, &tenant).await;
        store
            .insert_placement(&placement(&tenant, Some(agent.id), 20_020, "a"))
            .await
            .unwrap();
        let conflict = |result: Result<(), StoreError>, rule: &str| match result {
            Err(StoreError::Conflict(name)) => assert_eq!(name, rule),
            other => panic!("expected a conflict on {rule}, got {other:?}"),
        };
        conflict(
            store
                .insert_placement(&placement(&tenant, None, 20_021, "a"))
                .await,
            "placements.entity_id",
        );
        let (second, _) = stored_tenant(store).await;
        conflict(
            store
                .insert_placement(&placement(&second, Some(agent.id), 20_022, "a"))
                .await,
            "placements.agent_id",
        );
        // A placement needs its tenant.
        let unknown = Tenant {
            id: TenantId::generate(),
            ..second.clone()
        };
        conflict(
            store
                .insert_placement(&placement(&unknown, None, 20_023, "a"))
                .await,
            "placements.entity_id",
        );
        assert_eq!(store.placement(second.id).await.unwrap(), None);
    }
}
