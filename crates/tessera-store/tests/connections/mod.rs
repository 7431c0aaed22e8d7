//! The connection part of the `Store` contract (the token vault's rows), on the backend the
//! suite runs against: replacing and reading by scope key, listing one scope, revisions, the
//! refresh lease (one holder at a time) and writes over the revision read (a refresh that
//! outlived its lease still lands; a stale one does not), rewrapping, and tenants not seeing
//! each other's rows.

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
    connections_are_replaced_read_and_listed,
    one_lease_holder_at_a_time,
    writes_land_only_over_the_revision_read,
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
        revision: 0,
    }
}

mod cases {
    use super::*;

    pub async fn connections_are_replaced_read_and_listed(store: &SqlStore) {
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
        // A new consent replaces the row, at the next revision.
        let mut again = connection(google.clone(), b"g2");
        again.account = None;
        again.expires_at = None;
        store.put_connection(&again).await.unwrap();
        again.revision = 1;
        assert_eq!(store.connection(&google).await.unwrap(), Some(again));

        let listed = store
            .scope_connections(tenant.id, ScopeKind::Agent, "agt_1")
            .await
            .unwrap();
        let providers: Vec<&str> = listed.iter().map(|c| c.key.provider.as_str()).collect();
        assert_eq!(providers, ["google", "slack"]);

        assert_eq!(store.connection(&slack).await.unwrap().unwrap().revision, 0);
    }

    pub async fn one_lease_holder_at_a_time(store: &SqlStore) {
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
        // Writing the outcome drops the writer's lease.
        let mut refreshed = connection(k.clone(), b"new");
        refreshed.refreshed_at = Some(at(2));
        assert!(
            store
                .update_connection(&refreshed, Some("one"))
                .await
                .unwrap()
        );
        assert!(
            store
                .lease_connection(&k, "two", at(40), at(10))
                .await
                .unwrap()
        );
        // A released lease, or one past its time, can be taken again; releasing someone
        // else's lease does nothing.
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

    pub async fn writes_land_only_over_the_revision_read(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let k = key(&tenant, ScopeKind::Agent, "agt_1", "google");
        store
            .put_connection(&connection(k.clone(), b"old"))
            .await
            .unwrap();
        let read = store.connection(&k).await.unwrap().unwrap();
        // "one" takes the lease and is slow: the lease runs out, and "two" takes it over.
        assert!(store.lease_connection(&k, "one", at(30), T0).await.unwrap());
        assert!(
            store
                .lease_connection(&k, "two", at(60), at(31))
                .await
                .unwrap()
        );
        // "one"'s refresh still lands (nothing was written since it read): the refresh token
        // the provider rotated for it is kept. "two"'s lease stays until "two" lets go.
        let mut first = read.clone();
        first.sealed_tokens = b"rotated by one".to_vec();
        first.refreshed_at = Some(at(32));
        assert!(store.update_connection(&first, Some("one")).await.unwrap());
        let stored = store.connection(&k).await.unwrap().unwrap();
        assert_eq!(stored.sealed_tokens, b"rotated by one");
        assert_eq!(stored.revision, read.revision + 1);
        assert!(
            !store
                .lease_connection(&k, "three", at(90), at(33))
                .await
                .unwrap()
        );
        // "two" started from the same revision: its outcome (say, the provider refusing the
        // already-rotated refresh token) is not written over the newer tokens.
        let mut second = read.clone();
        second.status = ConnectionStatus::NeedsReauth;
        assert!(!store.update_connection(&second, Some("two")).await.unwrap());
        assert_eq!(store.connection(&k).await.unwrap().unwrap(), stored);
        store.release_lease(&k, "two").await.unwrap();
        assert!(
            store
                .lease_connection(&k, "three", at(90), at(34))
                .await
                .unwrap()
        );
        // A new consent moves the revision on too: a refresh of the replaced tokens is stale.
        store
            .put_connection(&connection(k.clone(), b"new consent"))
            .await
            .unwrap();
        let mut late = stored.clone();
        late.sealed_tokens = b"late".to_vec();
        assert!(!store.update_connection(&late, Some("three")).await.unwrap());
        let current = store.connection(&k).await.unwrap().unwrap();
        assert_eq!(current.sealed_tokens, b"new consent");
        // Nothing is written to a row that does not exist.
        let mut missing = current.clone();
        missing.key = key(&tenant, ScopeKind::Agent, "agt_2", "google");
        assert!(!store.update_connection(&missing, None).await.unwrap());
        assert_eq!(store.connection(&missing.key).await.unwrap(), None);
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
        // A disconnected connection's tokens are erased: there is nothing to rewrap.
        let mut revoked = connection(key(&tenant, ScopeKind::Agent, "agt_1", "slack"), b"");
        revoked.status = ConnectionStatus::Revoked;
        store.put_connection(&revoked).await.unwrap();
        let outcome = store
            .rewrap_sealed(|blob| match blob {
                b"v1" => Ok(Some(b"v2".to_vec())),
                b"" => Err("an erased token set was offered for rewrapping"),
                _ => Ok(None),
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
        let mut forged = store.connection(&of_a).await.unwrap().unwrap();
        forged.key = of_b.clone();
        forged.status = ConnectionStatus::Revoked;
        assert!(!store.update_connection(&forged, None).await.unwrap());
        assert_eq!(store.connection(&of_b).await.unwrap(), None);
        assert_eq!(
            store.connection(&of_a).await.unwrap().unwrap().status,
            ConnectionStatus::Connected
        );
    }
}
