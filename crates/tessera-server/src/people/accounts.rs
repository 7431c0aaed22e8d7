//! Finding the person behind a door. Every door calls [`AppState::enter`] with what it proved
//! (an email address, a provider's subject, a wallet address…): without a session the door
//! signs its owner in, creating the user (and their custodial wallet) on first use; with a
//! session it is linked to the signed-in user. A door belongs to one person: linking a door
//! someone else holds is refused.

use tessera_core::people::{Identity, IdentityKind, User};
use tessera_core::{IdentityId, StoreError, UserId};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;

use super::sessions::actor;
use super::signed_in::SignedIn;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;

/// What a door proved.
#[derive(Debug, Clone)]
pub struct Door {
    pub kind: IdentityKind,
    pub subject: String,
    /// What a new identity stores to check the door next time (a password hash, a passkey);
    /// never written over an existing identity's.
    pub credential: Option<String>,
    /// An email address the door vouches for (verified), for the user's record.
    pub email: Option<String>,
    pub name: Option<String>,
}

impl Door {
    pub fn new(kind: IdentityKind, subject: impl Into<String>) -> Self {
        Self {
            kind,
            subject: subject.into(),
            credential: None,
            email: None,
            name: None,
        }
    }
}

/// Who came in through a door.
#[derive(Debug)]
pub struct Entered {
    pub user: User,
    pub identity: Identity,
    /// The user was created by this sign-in.
    pub created: bool,
}

impl AppState {
    /// Signs in through `door`, or links it to `link_to`'s user.
    pub async fn enter(
        &self,
        ctx: &RequestContext,
        door: Door,
        link_to: Option<SignedIn>,
    ) -> Result<Entered, ApiError> {
        let existing = self.store.identity(&door.kind, &door.subject).await?;
        let now = self.clock.now();
        match (existing, link_to) {
            (Some(identity), Some(me)) if identity.user_id != me.user_id => {
                let fact = Fact::failure(
                    None,
                    me.actor(),
                    "identity.link",
                    door.kind.as_str(),
                    "identity_taken",
                );
                self.audit(ctx, fact).await;
                Err(taken())
            }
            (Some(identity), _) => {
                // The stored credential stays: a door that changes it (a passkey's counter)
                // has checked the old one and writes the new one itself.
                self.store.touch_identity(identity.id, None, now).await?;
                let user = self.existing_user(identity.user_id).await?;
                Ok(Entered {
                    user,
                    identity,
                    created: false,
                })
            }
            (None, Some(me)) => self.link(ctx, std::slice::from_ref(&door), me).await,
            (None, None) => match self.create_user(ctx, std::slice::from_ref(&door)).await? {
                Some(entered) => Ok(entered),
                // Two first sign-ins through one door raced; the other one created the user.
                None => Box::pin(self.enter(ctx, door, None)).await,
            },
        }
    }

    /// Opens several new doors at once, all or none: a new user behind all of them, or, with a
    /// session, all of them added to the signed-in user. A door someone already holds (the
    /// signed-in user included) is `409 identity_taken` and nothing is written. The first door
    /// is the one `Entered::identity` names.
    pub async fn open(
        &self,
        ctx: &RequestContext,
        doors: &[Door],
        link_to: Option<SignedIn>,
    ) -> Result<Entered, ApiError> {
        match link_to {
            Some(me) => self.link(ctx, doors, me).await,
            None => self.create_user(ctx, doors).await?.ok_or_else(taken),
        }
    }

    /// Adds `doors` to `me`'s user in one transaction.
    async fn link(
        &self,
        ctx: &RequestContext,
        doors: &[Door],
        me: SignedIn,
    ) -> Result<Entered, ApiError> {
        let user = self.existing_user(me.user_id).await?;
        let now = self.clock.now();
        let identities: Vec<Identity> = doors
            .iter()
            .map(|door| identity_for(door, user.id, now))
            .collect();
        match self.store.insert_identities(&identities).await {
            Err(StoreError::Conflict(_)) => return Err(taken()),
            other => other?,
        }
        if user.email.is_none()
            && let Some(email) = doors.iter().find_map(|door| door.email.as_ref())
        {
            self.store.set_user_email(user.id, email).await?;
        }
        for identity in &identities {
            let fact = Fact::success(None, me.actor(), "identity.link", identity.id);
            self.audit(ctx, fact).await;
        }
        Ok(Entered {
            user,
            identity: first(identities)?,
            created: false,
        })
    }

    /// Creates a user behind `doors` (and their custodial wallet); None when one of the doors
    /// already belongs to someone, and then nothing is written.
    async fn create_user(
        &self,
        ctx: &RequestContext,
        doors: &[Door],
    ) -> Result<Option<Entered>, ApiError> {
        let user = User {
            id: UserId::generate(),
            email: doors.iter().find_map(|door| door.email.clone()),
            name: doors.iter().find_map(|door| door.name.clone()),
            created_at: self.clock.now(),
        };
        let identities: Vec<Identity> = doors
            .iter()
            .map(|door| identity_for(door, user.id, user.created_at))
            .collect();
        let wallet = self.new_custodial_wallet(user.id)?;
        match self.store.create_user(&user, &identities, &wallet).await {
            Ok(()) => {}
            Err(StoreError::Conflict("identities.kind")) => return Ok(None),
            Err(error) => return Err(error.into()),
        }
        let fact = Fact::success(None, actor(user.id), "user.create", user.id);
        self.audit(ctx, fact).await;
        Ok(Some(Entered {
            user,
            identity: first(identities)?,
            created: true,
        }))
    }

    async fn existing_user(&self, id: UserId) -> Result<User, ApiError> {
        self.store
            .user(id)
            .await?
            .ok_or_else(|| ApiError::internal(format!("identity of missing user {id}")))
    }
}

fn taken() -> ApiError {
    ApiError::new(
        ErrorCode::IdentityTaken,
        "this sign-in method already belongs to another user",
    )
}

fn first(identities: Vec<Identity>) -> Result<Identity, ApiError> {
    identities
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal("a door was opened without a door"))
}

fn identity_for(door: &Door, user: UserId, now: time::OffsetDateTime) -> Identity {
    Identity {
        id: IdentityId::generate(),
        user_id: user,
        kind: door.kind.clone(),
        subject: door.subject.clone(),
        credential: door.credential.clone(),
        created_at: now,
        last_used_at: Some(now),
    }
}

pub fn user_view(user: &User) -> wire::User {
    wire::User {
        id: user.id.to_string(),
        email: user.email.clone(),
        name: user.name.clone(),
        created_at: user.created_at,
    }
}

pub fn identity_view(identity: &Identity) -> wire::Identity {
    wire::Identity {
        id: identity.id.to_string(),
        kind: identity.kind.as_str().into_owned(),
        subject: identity.subject.clone(),
        created_at: identity.created_at,
        last_used_at: identity.last_used_at,
    }
}
