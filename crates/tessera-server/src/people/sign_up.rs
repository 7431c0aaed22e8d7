//! Password sign-up, confirmed by email. Asking answers the same whatever the address: the
//! password is hashed (argon2id, the work that dominates the answer's time) and one email goes
//! out, either a link and code that confirm the sign-up or, for an address that already has an
//! account, a note saying so. Nothing is written for a taken address. Only the confirmation
//! creates the account, with the password and the now-proven address as its doors.

use tessera_core::people::IdentityKind;
use url::Url;

use super::accounts::{Door, Entered};
use super::email::{Ask, Proven, Purpose};
use super::password;
use super::signed_in::SignedIn;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::mail::OutgoingEmail;
use crate::state::AppState;

/// A password sign-up as asked for (validated).
pub struct SignUp {
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub redirect_to: Option<Url>,
}

// By hand: the password stays out of logs.
impl std::fmt::Debug for SignUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUp")
            .field("email", &self.email)
            .field("redirect_to", &self.redirect_to)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Mails `sign_up.email` a confirmation, or a note that the address already has an account.
    /// With a session, the confirmation adds the password (and the address) to that user.
    pub async fn ask_password_sign_up(
        &self,
        ctx: &RequestContext,
        sign_up: SignUp,
        me: Option<SignedIn>,
    ) -> Result<(), ApiError> {
        // Counted before the hash, so the limits also bound the argon2id work one client causes.
        self.count_email_send(ctx, &sign_up.email)?;
        let hash = password::hash(sign_up.password)
            .await
            .map_err(ApiError::internal)?;
        if self.address_taken(&sign_up.email, me).await? {
            return self
                .mail(ctx, already_registered(&self.issuer, &sign_up.email))
                .await;
        }
        let ask = Ask {
            purpose: Purpose::SignUp,
            email: sign_up.email,
            redirect_to: sign_up.redirect_to,
            link_to: me.map(|me| me.user_id),
            password: Some(hash),
            name: sign_up.name,
        };
        self.send_challenge_email(ctx, ask).await
    }

    /// An address is taken when someone has a password for it, or when it is someone else's
    /// proven address (its owner signs in by email, and an invitation to it is theirs).
    async fn address_taken(&self, email: &str, me: Option<SignedIn>) -> Result<bool, ApiError> {
        if self
            .store
            .identity(&IdentityKind::Password, email)
            .await?
            .is_some()
        {
            return Ok(true);
        }
        let owner = self.store.identity(&IdentityKind::Email, email).await?;
        Ok(owner.is_some_and(|owner| me.is_none_or(|me| me.user_id != owner.user_id)))
    }

    /// Ends a confirmed sign-up: a new user behind the password and the address, or both added
    /// to the user who asked. Should the address have been taken meanwhile, `409` and nothing
    /// written (only the mailbox's owner can get this far).
    pub async fn finish_password_sign_up(
        &self,
        ctx: &RequestContext,
        proven: Proven,
        me: Option<SignedIn>,
    ) -> Result<Entered, ApiError> {
        let link_to = proven.completed_by(me)?;
        let hash = proven
            .password
            .ok_or_else(|| ApiError::internal("a password sign-up without its password"))?;
        let email = proven.email;
        let mut doors = vec![Door {
            credential: Some(hash),
            name: proven.name,
            ..Door::new(IdentityKind::Password, email.clone())
        }];
        let holds_address = match link_to {
            Some(me) => self
                .store
                .identity(&IdentityKind::Email, &email)
                .await?
                .is_some_and(|owner| owner.user_id == me.user_id),
            None => false,
        };
        if !holds_address {
            doors.push(Door {
                email: Some(email.clone()),
                ..Door::new(IdentityKind::Email, email)
            });
        }
        self.open(ctx, &doors, link_to).await
    }
}

/// The note an address's owner gets when someone signs up with it again.
fn already_registered(issuer: &str, email: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: email.to_owned(),
        subject: "You already have a Tessera account".to_owned(),
        text: format!(
            "Someone, hopefully you, tried to sign up for Tessera with this address, which \
             already has an account. Nothing was changed.\n\nSign in at {issuer}/console/login \
             with your password, or with a link sent to this address. Forgot the password? Ask \
             for a reset code: POST {issuer}/v1/auth/password/reset/start.\n\nIf it was not \
             you, ignore this email.\n"
        ),
    }
}
