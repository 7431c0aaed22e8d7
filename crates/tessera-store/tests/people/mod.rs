//! The people part of the `Store` contract, on the backend the suite runs against: one door per
//! person, the last identity and the last owner kept under concurrency, refresh-token rotation
//! with reuse detection, and single-use challenges.

use tessera_core::people::{
    Chain, Challenge, ChallengeKind, ChallengeStore, Identity, IdentityKind, MemberChange,
    Membership, PeopleStore, RefreshToken, Role, Rotation, Session, SessionStore, Unlinked, User,
    Wallet,
};
use tessera_core::{IdentityId, SessionId, StoreError, UserId, WalletId};
use tessera_store::SqlStore;

use crate::support::{T0, at, fresh_hash, on_configured_backend, stored_tenant};

macro_rules! people_tests {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                on_configured_backend(|store| async move { cases::$case(&store).await }).await;
            }
        )*
    };
}

people_tests!(
    a_door_belongs_to_one_person,
    the_last_identity_stays_even_under_concurrent_unlinks,
    the_last_owner_stays_even_under_concurrent_changes,
    refresh_tokens_rotate_once_and_reuse_revokes_the_family,
    challenges_are_taken_once_and_burn_after_failures,
    live_challenges_list_one_subject_of_one_kind,
    a_credential_is_replaced_only_from_the_expected_value,
);

fn identity(user: UserId, kind: IdentityKind, subject: &str) -> Identity {
    Identity {
        id: IdentityId::generate(),
        user_id: user,
        kind,
        subject: subject.to_owned(),
        credential: None,
        created_at: T0,
        last_used_at: None,
    }
}

/// A stored user with one email identity; returns the user and that identity.
async fn stored_user(store: &SqlStore, email: &str) -> (User, Identity) {
    let user = User {
        id: UserId::generate(),
        email: Some(email.to_owned()),
        name: None,
        created_at: T0,
    };
    let door = identity(user.id, IdentityKind::Email, email);
    let wallet = Wallet {
        id: WalletId::generate(),
        user_id: user.id,
        chain: Chain::Ethereum,
        address: format!("0x{}", &hex::encode(fresh_hash())[24..]),
        sealed_key: vec![1, 2, 3],
        created_at: T0,
    };
    store
        .create_user(&user, std::slice::from_ref(&door), &wallet)
        .await
        .unwrap();
    (user, door)
}

mod cases {
    use super::*;

    pub async fn a_door_belongs_to_one_person(store: &SqlStore) {
        let (ada, door) = stored_user(store, "ada@example.com").await;
        assert_eq!(
            store
                .identity(&IdentityKind::Email, "ada@example.com")
                .await
                .unwrap(),
            Some(door)
        );
        // The same door for a second person: nothing of the second person is written.
        let other = UserId::generate();
        let again = identity(other, IdentityKind::Email, "ada@example.com");
        let user = User {
            id: other,
            email: None,
            name: None,
            created_at: T0,
        };
        let wallet = Wallet {
            id: WalletId::generate(),
            user_id: other,
            chain: Chain::Solana,
            address: "So1ana".to_owned(),
            sealed_key: vec![0],
            created_at: T0,
        };
        // Even beside a door nobody holds.
        let free = identity(other, IdentityKind::Password, "other@example.com");
        assert!(matches!(
            store.create_user(&user, &[free, again], &wallet).await,
            Err(StoreError::Conflict("identities.kind"))
        ));
        assert_eq!(store.user(other).await.unwrap(), None);
        assert!(store.wallets(other).await.unwrap().is_empty());
        // Linking a taken door to another user is a conflict too; another kind is another door.
        // Doors linked together go in all or none.
        let (grace, _) = stored_user(store, "grace@example.com").await;
        assert!(matches!(
            store
                .insert_identities(&[
                    identity(grace.id, IdentityKind::Password, "grace@work.example"),
                    identity(grace.id, IdentityKind::Email, "ada@example.com"),
                ])
                .await,
            Err(StoreError::Conflict("identities.kind"))
        ));
        assert_eq!(store.identities(grace.id).await.unwrap().len(), 1);
        store
            .insert_identities(&[
                identity(grace.id, IdentityKind::Password, "ada@example.com"),
                identity(grace.id, IdentityKind::Email, "grace@work.example"),
            ])
            .await
            .unwrap();
        assert_eq!(store.identities(ada.id).await.unwrap().len(), 1);
        assert_eq!(store.identities(grace.id).await.unwrap().len(), 3);
        assert_eq!(store.wallets(ada.id).await.unwrap().len(), 1);
    }

    pub async fn the_last_identity_stays_even_under_concurrent_unlinks(store: &SqlStore) {
        let (ada, first) = stored_user(store, "ada@example.com").await;
        let second = identity(ada.id, IdentityKind::Password, "ada@example.com");
        store
            .insert_identities(std::slice::from_ref(&second))
            .await
            .unwrap();
        let (a, b) = tokio::join!(
            store.unlink_identity(ada.id, first.id),
            store.unlink_identity(ada.id, second.id),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert!(outcomes.contains(&Unlinked::Removed));
        assert!(outcomes.contains(&Unlinked::LastIdentity), "{outcomes:?}");
        assert_eq!(store.identities(ada.id).await.unwrap().len(), 1);
        // Another person's identity is not found, and changes nothing.
        let (grace, theirs) = stored_user(store, "grace@example.com").await;
        assert_eq!(
            store.unlink_identity(ada.id, theirs.id).await.unwrap(),
            Unlinked::NotFound
        );
        assert_eq!(store.identities(grace.id).await.unwrap().len(), 1);
    }

    pub async fn the_last_owner_stays_even_under_concurrent_changes(store: &SqlStore) {
        let (tenant, _) = stored_tenant(store).await;
        let (ada, _) = stored_user(store, "ada@example.com").await;
        let (grace, _) = stored_user(store, "grace@example.com").await;
        for user in [ada.id, grace.id] {
            store
                .insert_membership(&Membership {
                    tenant_id: tenant.id,
                    user_id: user,
                    role: Role::Owner,
                    created_at: T0,
                })
                .await
                .unwrap();
        }
        // Both owners step down at once: one of them must stay.
        let (a, b) = tokio::join!(
            store.set_role(tenant.id, ada.id, Role::Member),
            store.remove_member(tenant.id, grace.id),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert!(outcomes.contains(&MemberChange::Done));
        assert!(outcomes.contains(&MemberChange::LastOwner), "{outcomes:?}");
        let owners = store
            .members(tenant.id)
            .await
            .unwrap()
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .count();
        assert_eq!(owners, 1);
        // A second membership is a conflict; a stranger is not found.
        assert!(matches!(
            store
                .insert_membership(&Membership {
                    tenant_id: tenant.id,
                    user_id: ada.id,
                    role: Role::Viewer,
                    created_at: T0,
                })
                .await,
            Err(StoreError::Conflict("memberships.tenant_id"))
        ));
        let stranger = UserId::generate();
        assert_eq!(
            store.remove_member(tenant.id, stranger).await.unwrap(),
            MemberChange::NotFound
        );
    }

    pub async fn refresh_tokens_rotate_once_and_reuse_revokes_the_family(store: &SqlStore) {
        let (ada, _) = stored_user(store, "ada@example.com").await;
        let session = Session {
            id: SessionId::generate(),
            user_id: ada.id,
            method: "email".to_owned(),
            client_ip: None,
            user_agent: None,
            created_at: T0,
            refreshed_at: T0,
            expires_at: at(3600),
            revoked_at: None,
        };
        let first = fresh_hash();
        store
            .create_session(
                &session,
                &RefreshToken {
                    hash: first,
                    session_id: session.id,
                    expires_at: at(3600),
                },
            )
            .await
            .unwrap();
        // Two presentations of the first token at once: one rotates, the other is reuse.
        let (second, third) = (fresh_hash(), fresh_hash());
        let (a, b) = tokio::join!(
            store.rotate_refresh_token(&first, &second, at(7200), at(10)),
            store.rotate_refresh_token(&first, &third, at(7200), at(10)),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| matches!(o, Rotation::Rotated(_)))
                .count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|o| matches!(o, Rotation::Reused(_))),
            "{outcomes:?}"
        );
        // The family is revoked: the token that did rotate is worth nothing now.
        let fresh = if matches!(outcomes[0], Rotation::Rotated(_)) {
            second
        } else {
            third
        };
        assert_eq!(
            store
                .rotate_refresh_token(&fresh, &fresh_hash(), at(7200), at(20))
                .await
                .unwrap(),
            Rotation::Invalid
        );
        let stored = store.session(session.id).await.unwrap().unwrap();
        assert!(stored.revoked_at.is_some());
        assert!(
            store
                .live_sessions(ada.id, at(20))
                .await
                .unwrap()
                .is_empty()
        );
        // Unknown tokens are invalid, and touch nothing.
        assert_eq!(
            store
                .rotate_refresh_token(&fresh_hash(), &fresh_hash(), at(7200), at(20))
                .await
                .unwrap(),
            Rotation::Invalid
        );
    }

    pub async fn challenges_are_taken_once_and_burn_after_failures(store: &SqlStore) {
        let challenge = |key: [u8; 32], subject: &str, expires: i64| Challenge {
            key,
            kind: ChallengeKind::Email,
            subject: subject.to_owned(),
            payload: "{}".to_owned(),
            failures: 0,
            expires_at: at(expires),
            created_at: T0,
        };
        let key = fresh_hash();
        store
            .insert_challenge(&challenge(key, "ada@example.com", 900))
            .await
            .unwrap();
        // Not as another kind; once, even when taken twice at the same time.
        assert_eq!(
            store
                .take_challenge(ChallengeKind::WalletNonce, &key, at(1))
                .await
                .unwrap(),
            None
        );
        let (a, b) = tokio::join!(
            store.take_challenge(ChallengeKind::Email, &key, at(1)),
            store.take_challenge(ChallengeKind::Email, &key, at(1)),
        );
        assert_eq!(
            [a.unwrap(), b.unwrap()].iter().flatten().count(),
            1,
            "taken exactly once"
        );
        // Expired: gone.
        let late = fresh_hash();
        store
            .insert_challenge(&challenge(late, "ada@example.com", 10))
            .await
            .unwrap();
        assert_eq!(
            store
                .latest_challenge(ChallengeKind::Email, "ada@example.com", at(11))
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .take_challenge(ChallengeKind::Email, &late, at(11))
                .await
                .unwrap(),
            None
        );
        // Wrong answers count up and burn it at the limit.
        let guessed = fresh_hash();
        store
            .insert_challenge(&challenge(guessed, "grace@example.com", 900))
            .await
            .unwrap();
        for expected in 1..=4 {
            assert_eq!(store.fail_challenge(&guessed, 5).await.unwrap(), expected);
        }
        assert!(
            store
                .latest_challenge(ChallengeKind::Email, "grace@example.com", at(1))
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(store.fail_challenge(&guessed, 5).await.unwrap(), 5);
        assert_eq!(
            store
                .latest_challenge(ChallengeKind::Email, "grace@example.com", at(1))
                .await
                .unwrap(),
            None
        );
    }

    pub async fn live_challenges_list_one_subject_of_one_kind(store: &SqlStore) {
        let challenge =
            |kind: ChallengeKind, subject: &str, created: i64, expires: i64| Challenge {
                key: fresh_hash(),
                kind,
                subject: subject.to_owned(),
                payload: "{}".to_owned(),
                failures: 0,
                expires_at: at(expires),
                created_at: at(created),
            };
        let first = challenge(ChallengeKind::Invitation, "ten_a", 1, 900);
        let second = challenge(ChallengeKind::Invitation, "ten_a", 2, 900);
        let expiring = challenge(ChallengeKind::Invitation, "ten_a", 3, 10);
        let other_tenant = challenge(ChallengeKind::Invitation, "ten_b", 1, 900);
        let other_kind = challenge(ChallengeKind::Email, "ten_a", 1, 900);
        for c in [&second, &first, &expiring, &other_tenant, &other_kind] {
            store.insert_challenge(c).await.unwrap();
        }
        let live = |now| store.live_challenges(ChallengeKind::Invitation, "ten_a", at(now));
        assert_eq!(
            live(5).await.unwrap(),
            [first.clone(), second.clone(), expiring],
            "oldest first"
        );
        assert_eq!(live(11).await.unwrap(), [first, second], "expired left out");
    }

    pub async fn a_credential_is_replaced_only_from_the_expected_value(store: &SqlStore) {
        let (ada, _) = stored_user(store, "ada@example.com").await;
        let passkey = Identity {
            credential: Some("counter=1".to_owned()),
            ..identity(ada.id, IdentityKind::Passkey, "cred-1")
        };
        store
            .insert_identities(std::slice::from_ref(&passkey))
            .await
            .unwrap();
        // Two sign-ins that both saw counter 1 race to store their counter: one wins.
        let (a, b) = tokio::join!(
            store.replace_identity_credential(passkey.id, "counter=1", "counter=2"),
            store.replace_identity_credential(passkey.id, "counter=1", "counter=3"),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "exactly one replacement wins: {a} {b}");
        let stored = store
            .identity(&IdentityKind::Passkey, "cred-1")
            .await
            .unwrap()
            .unwrap()
            .credential
            .unwrap();
        assert_eq!(stored, if a { "counter=2" } else { "counter=3" });
        // A stale expectation changes nothing; an unknown identity neither.
        assert!(
            !store
                .replace_identity_credential(passkey.id, "counter=1", "counter=9")
                .await
                .unwrap()
        );
        assert!(
            !store
                .replace_identity_credential(IdentityId::generate(), &stored, "counter=9")
                .await
                .unwrap()
        );
        let after = store
            .identity(&IdentityKind::Passkey, "cred-1")
            .await
            .unwrap();
        assert_eq!(after.unwrap().credential.as_deref(), Some(stored.as_str()));
    }
}
