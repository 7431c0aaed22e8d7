//! The connection part of the `Store` contract (the token vault's rows), on the backend the
//! suite runs against: replacing and reading by scope key, listing one scope, deletion, the
//! refresh lease (one holder at a time; only the holder writes), rewrapping, and tenants not
//! seeing each other's rows.

use tessera_core::connection::{
    Connection, ConnectionKey, ConnectionStatus, ConnectionStore, ScopeKind,
};
use tessera_core::tenant::Tenant;
use tessera_store::SqlStore;

use crate::support::{T0, at, on_configured_backend, stored_tenant};

macro_rules! connection_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                on_configured_backend(|store| async move { cases::$case(&store).await }).await;
            }
        )*
    };
}

connection_tests!(
    connections_are_replaced_read_listed_and_deleted,
    one_lease_holder_at_a_time_and_only_it_writes,
    rewrapping_replaces_blobs_that_did_not_change_meanwhile,
    tenants_do_not_share_connections,
);

fn key(tenant: &Tenant, kind: ScopeKind, scope_id: &str, provider: &str) -> ConnectionKey {
    ConnectionKey {
        tenant_id: tenant.id,
        scope_kind: kind,
        scope_id: scope_id.into(),
        provider: provider.into(),
        name: "oauth_token".into(),
    }
}

fn connection(key: ConnectionKey, sealed: &[u8]) -> Connection {
    Connection {
        key,
        status: ConnectionStatus::Connected,
        scopes: vec!["a".into(), "b".into()],
        account: Some("alice@example.test".into()),
        sealed_tokens: sealed.to_vec(),
        expires_at: Some(at(3600)),
        connected_at: T0,
        refreshed_at: None,
        updated_at: T0,
    }
}

mod cases {
    use super::*;

    pub async fn connections_are_replaced_read_listed_and_deleted(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let google = key(&tenant, ScopeKind::Agent, "agt_1", "google");
        let slack = key(&tenant, ScopeKind::Agent, "agt_1", "slack");
        store
            .put_connection(&connection(google.clone(), b"g1"))
            .await
            .unwrap();
        store
            .put_connection(&connection(slack.clone(), b"s1"))
            .await
            .unwrap();
        store
            .put_connection(&connection(
                key(&tenant, ScopeKind::Role, "agt_1", "google"),
                b"r",
            ))
            .await
            .unwrap();
        // A new consent replaces the row.
        let mut again = connection(google.clone(), b"g2");
        again.account = None;
        again.expires_at = None;
        store.put_connection(&again).await.unwrap();
        assert_eq!(store.connection(&google).await.unwrap(), Some(again));

        let listed = store
            .scope_connections(tenant.id, ScopeKind::Agent, "agt_1")
            .await
            .unwrap();
        let providers: Vec<&str> = listed.iter().map(|c| c.key.provider.as_str()).collect();
        assert_eq!(providers, ["google", "slack"]);

        let deleted = store.delete_connection(&slack).await.unwrap().unwrap();
        assert_eq!(deleted.sealed_tokens, b"s1");
        assert_eq!(store.delete_connection(&slack).await.unwrap(), None);
        assert_eq!(store.connection(&slack).await.unwrap(), None);
    }

    pub async fn one_lease_holder_at_a_time_and_only_it_writes(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let k = key(&tenant, ScopeKind::Agent, "agt_1", "google");
        store
            .put_connection(&connection(k.clone(), b"old"))
            .await
            .unwrap();
        assert!(store.lease_connection(&k, "one", at(30), T0).await.unwrap());
        assert!(
            !store
                .lease_connection(&k, "two", at(30), at(1))
                .await
                .unwrap()
        );
        // Only the holder's outcome is written, and writing drops the lease.
        let mut refreshed = connection(k.clone(), b"new");
        refreshed.refreshed_at = Some(at(2));
        assert!(!store.finish_lease(&refreshed, "two").await.unwrap());
        assert!(store.finish_lease(&refreshed, "one").await.unwrap());
        assert_eq!(store.connection(&k).await.unwrap(), Some(refreshed.clone()));
        assert!(!store.finish_lease(&refreshed, "one").await.unwrap());
        // A released lease, or one past its time, can be taken again.
        assert!(
            store
                .lease_connection(&k, "two", at(40), at(10))
                .await
                .unwrap()
        );
        store.release_lease(&k, "one").await.unwrap();
        assert!(
            !store
                .lease_connection(&k, "three", at(40), at(11))
                .await
                .unwrap()
        );
        assert!(
            store
                .lease_connection(&k, "three", at(70), at(40))
                .await
                .unwrap()
        );
        store.release_lease(&k, "three").await.unwrap();
        assert!(
            store
                .lease_connection(&k, "four", at(80), at(41))
                .await
                .unwrap()
        );
        // No lease on a row that does not exist.
        let missing = key(&tenant, ScopeKind::Agent, "agt_2", "google");
        assert!(
            !store
                .lease_connection(&missing, "one", at(30), T0)
                .await
                .unwrap()
        );
    }

    pub async fn rewrapping_replaces_blobs_that_did_not_change_meanwhile(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let k = key(&tenant, ScopeKind::Tenant, &tenant.id.to_string(), "notion");
        store
            .put_connection(&connection(k.clone(), b"v1"))
            .await
            .unwrap();
        let other = key(&tenant, ScopeKind::Agent, "agt_1", "notion");
        store
            .put_connection(&connection(other.clone(), b"current"))
            .await
            .unwrap();
        let outcome = store
            .rewrap_sealed(|blob| {
                Ok::<_, String>(match blob {
                    b"v1" => Some(b"v2".to_vec()),
                    _ => None,
                })
            })
            .await
            .unwrap();
        assert_eq!(outcome.rewrapped, 1);
        let stored = store.connection(&k).await.unwrap().unwrap();
        assert_eq!(stored.sealed_tokens, b"v2");
        let untouched = store.connection(&other).await.unwrap().unwrap();
        assert_eq!(untouched.sealed_tokens, b"current");
        // A blob it cannot read stops the run with an error, nothing half-written.
        let failed = store
            .rewrap_sealed(|_| Err::<Option<Vec<u8>>, _>("unknown master key version"))
            .await;
        assert!(failed.is_err());
    }

    pub async fn tenants_do_not_share_connections(store: &SqlStore) {
        let (a, _) = stored_tenant(store).await;
        let (b, _) = stored_tenant(store).await;
        let of_a = key(&a, ScopeKind::Agent, "agt_1", "google");
        store
            .put_connection(&connection(of_a.clone(), b"a"))
            .await
            .unwrap();
        // The same scope id under another tenant is another row.
        let of_b = key(&b, ScopeKind::Agent, "agt_1", "google");
        assert_eq!(store.connection(&of_b).await.unwrap(), None);
        assert!(
            store
                .scope_connections(b.id, ScopeKind::Agent, "agt_1")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.delete_connection(&of_b).await.unwrap().is_none());
        assert!(store.connection(&of_a).await.unwrap().is_some());
    }
}
