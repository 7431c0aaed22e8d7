//! Password reset by a code mailed to the account's address. Asking answers the same whatever
//! the address: an account with a password gets a code, any other address a note that there is
//! no password to reset. The code sets the new password and ends every session of the account
//! (whoever knew the old password is signed out), then signs in like every door.

use tessera_core::people::IdentityKind;
use tessera_proto::ErrorCode;

use super::accounts::{Door, Entered};
use super::email::{Ask, Purpose};
use super::password;
use super::sessions::actor;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::mail::OutgoingEmail;
use crate::state::AppState;

impl AppState {
    /// Mails `email` a reset code when it has a password, or a note when it has none.
    pub async fn ask_password_reset(
        &self,
        ctx: &RequestContext,
        email: &str,
    ) -> Result<(), ApiError> {
        self.count_email_send(ctx, email)?;
        let has_password = self
            .store
            .identity(&IdentityKind::Password, email)
            .await?
            .is_some();
        if !has_password {
            return self.mail(ctx, no_password(&self.issuer, email)).await;
        }
        let ask = Ask {
            purpose: Purpose::Reset,
            email: email.to_owned(),
            redirect_to: None,
            link_to: None,
            password: None,
            name: None,
        };
        self.send_challenge_email(ctx, ask).await
    }

    /// Checks the mailed code, sets `new_password` and ends every session of the account.
    /// Returns the account's user, for the new session.
    pub async fn reset_password(
        &self,
        ctx: &RequestContext,
        email: &str,
        code: &str,
        new_password: String,
    ) -> Result<Entered, ApiError> {
        self.prove_email_by_code(ctx, Purpose::Reset, email, code)
            .await?;
        let hash = password::hash(new_password)
            .await
            .map_err(ApiError::internal)?;
        let now = self.clock.now();
        // The password may have been removed since the code was sent.
        let identity = self
            .store
            .identity(&IdentityKind::Password, email)
            .await?
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InvalidCredentials,
                    "this address has no password any more; sign in another way",
                )
            })?;
        self.store
            .touch_identity(identity.id, Some(&hash), now)
            .await?;
        for session in self.store.live_sessions(identity.user_id, now).await? {
            self.store
                .revoke_session(identity.user_id, session.id, now)
                .await?;
        }
        // The old password's failures no longer hold the new one back.
        self.people.password_backoff.succeeded(email);
        let fact = Fact::success(
            None,
            actor(identity.user_id),
            "auth.password.reset",
            identity.id,
        );
        self.audit(ctx, fact).await;
        self.enter(ctx, Door::new(IdentityKind::Password, email), None)
            .await
    }
}

/// The note an address without a password gets when someone asks to reset one.
fn no_password(issuer: &str, email: &str) -> OutgoingEmail {
    OutgoingEmail {
        to: email.to_owned(),
        subject: "Resetting a Tessera password".to_owned(),
        text: format!(
            "Someone, hopefully you, asked to reset the Tessera password of this address, but no \
             account has a password here. Nothing was changed.\n\nSign in at \
             {issuer}/console/login with a link sent to this address, or sign up there.\n\nIf \
             it was not you, ignore this email.\n"
        ),
    }
}
