//! Passkeys (WebAuthn, verified by webauthn-rs). Tessera is the relying party named by
//! `passkey_rp_id` (default: the public URL's host) for the public URL's origin.
//!
//! A ceremony's state lives between its start and its finish as a one-time challenge keyed by
//! the SHA-256 of a random handle the client sends back, so any instance can finish what another
//! started, and a handle works once. An identity's subject is the credential id (base64url);
//! its credential is the serialized passkey (public key and signature counter) with the user
//! handle it was registered under. Each sign-in checks the counter (webauthn-rs refuses one that
//! does not move forward, unless the authenticator keeps none) and stores the new one only over
//! the credential it checked, so of two sign-ins with the same counter one fails.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tessera_core::people::{Challenge, ChallengeKind, Identity, IdentityKind};
use tessera_core::{UserId, validate};
use tessera_crypto::{GeneratedSecret, SecretKind, sha256};
use tessera_proto::ErrorCode;
use tessera_proto::people as wire;
use time::Duration;
use url::Url;
use webauthn_rs::prelude::{
    CredentialID, DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Uuid, Webauthn, WebauthnBuilder, WebauthnError,
};

use super::accounts::{Door, Entered};
use super::sessions::{Issued, actor};
use super::signed_in::SignedIn;
use crate::audit::Fact;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::state::AppState;

/// How long a ceremony may take (the browser's own timeout is shorter).
const CEREMONY_TTL: Duration = Duration::minutes(5);
/// What the authenticator shows for a new user who gave no name.
const DEFAULT_NAME: &str = "Tessera user";

/// The relying party of this server, or why there is none (an IP-address host cannot be one).
pub fn relying_party(config: &crate::config::Config) -> Result<Webauthn, String> {
    let origin = Url::parse(&config.issuer()).map_err(|e| e.to_string())?;
    let rp_id = match &config.passkey_rp_id {
        Some(id) => id.clone(),
        None => origin
            .domain()
            .ok_or("the public URL's host is an IP address")?
            .to_owned(),
    };
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|builder| builder.rp_name("Tessera").build())
        .map_err(|e| format!("passkey_rp_id {rp_id:?} does not fit the public URL {origin}: {e}"))
}

/// A registration between start and finish.
#[derive(Serialize, Deserialize)]
struct Registration {
    state: PasskeyRegistration,
    user_handle: Uuid,
    /// The signed-in person who started it: the passkey is theirs, and only theirs to finish.
    link_to: Option<UserId>,
    name: Option<String>,
}

/// What a passkey identity stores as its credential.
#[derive(Serialize, Deserialize)]
struct StoredPasskey {
    /// The WebAuthn user handle the authenticator keeps with the credential and returns at
    /// sign-in; checked against this one.
    user_handle: Uuid,
    passkey: Passkey,
}

impl AppState {
    fn webauthn(&self) -> Result<&Webauthn, ApiError> {
        self.people.passkeys.as_ref().map_err(|why| {
            ApiError::new(
                ErrorCode::PasskeysNotConfigured,
                format!("passkeys are off on this server: {why}"),
            )
        })
    }

    /// Starts registering a passkey: for `me` (their passkeys excluded, so an authenticator
    /// holds one per person), or for a new user called `name`.
    pub async fn start_passkey_registration(
        &self,
        ctx: &RequestContext,
        me: Option<SignedIn>,
        name: Option<String>,
    ) -> Result<wire::PasskeyCeremony, ApiError> {
        let webauthn = self.webauthn()?;
        let name = name
            .as_deref()
            .map(|name| validate::name("name", name, 100))
            .transpose()?;
        let (user_name, exclude) = match me {
            Some(me) => {
                let user = self.store.user(me.user_id).await?;
                let shown = user
                    .and_then(|u| u.email.or(u.name))
                    .unwrap_or_else(|| me.user_id.to_string());
                let passkeys = self.store.identities(me.user_id).await?;
                (shown, Some(credential_ids(&passkeys)))
            }
            None => {
                self.limits
                    .register(ctx.client_ip)
                    .map_err(ApiError::rate_limited)?;
                (
                    name.clone().unwrap_or_else(|| DEFAULT_NAME.to_owned()),
                    None,
                )
            }
        };
        let user_handle = Uuid::now_v7();
        let (options, state) = webauthn
            .start_passkey_registration(user_handle, &user_name, &user_name, exclude)
            .map_err(ApiError::internal)?;
        let mut options = serde_json::to_value(options).map_err(ApiError::internal)?;
        // webauthn-rs asks for a server-side credential ("discouraged"); signing in without a
        // username needs the authenticator to keep it (a discoverable credential). The
        // verification at finish does not depend on it.
        options["publicKey"]["authenticatorSelection"]["residentKey"] = "required".into();
        options["publicKey"]["authenticatorSelection"]["requireResidentKey"] = true.into();
        let registration = Registration {
            state,
            user_handle,
            link_to: me.map(|me| me.user_id),
            name,
        };
        let subject = me.map(|me| me.user_id.to_string()).unwrap_or_default();
        self.open_ceremony(
            ChallengeKind::PasskeyRegistration,
            subject,
            &registration,
            &options,
        )
        .await
    }

    /// Finishes a registration: the new passkey signs its new user in, or is linked to the
    /// person who started the ceremony (who must be the one finishing it).
    pub async fn finish_passkey_registration(
        &self,
        ctx: &RequestContext,
        headers: &HeaderMap,
        me: Option<SignedIn>,
        body: wire::PasskeyFinishRequest,
    ) -> Result<Issued, ApiError> {
        let webauthn = self.webauthn()?;
        let answer: RegisterPublicKeyCredential = parse_credential(body.credential)?;
        let registration: Registration = self
            .take_ceremony(ChallengeKind::PasskeyRegistration, &body.handle)
            .await?;
        if registration.link_to != me.map(|me| me.user_id) {
            return Err(ApiError::new(
                ErrorCode::InvalidState,
                "finish the registration with the same session (or none) it was started with",
            ));
        }
        let passkey = match webauthn.finish_passkey_registration(&answer, &registration.state) {
            Ok(passkey) => passkey,
            Err(error) => {
                return Err(self
                    .refused(ctx, "auth.passkey.register", &failure(&error))
                    .await);
            }
        };
        let stored = StoredPasskey {
            user_handle: registration.user_handle,
            passkey,
        };
        let door = Door {
            credential: Some(serde_json::to_string(&stored).map_err(ApiError::internal)?),
            name: registration.name,
            ..Door::new(IdentityKind::Passkey, subject_of(stored.passkey.cred_id()))
        };
        let entered = self.enter(ctx, door, me).await?;
        if !entered.created && me.is_none() {
            // The authenticator answered with a credential someone registered already.
            return Err(ApiError::new(
                ErrorCode::IdentityTaken,
                "this passkey is registered already; sign in with it instead",
            ));
        }
        self.passkey_signed_in(ctx, headers, entered, "auth.passkey.register")
            .await
    }

    /// Starts a usernameless sign-in: any passkey registered here may answer.
    pub async fn start_passkey_login(
        &self,
        ctx: &RequestContext,
    ) -> Result<wire::PasskeyCeremony, ApiError> {
        let webauthn = self.webauthn()?;
        self.limits
            .auth_allowed(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        self.people
            .sign_in_started(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let (options, state) = webauthn
            .start_discoverable_authentication()
            .map_err(ApiError::internal)?;
        self.open_ceremony(ChallengeKind::PasskeyLogin, String::new(), &state, &options)
            .await
    }

    /// Finishes a sign-in: the assertion must answer this ceremony's challenge, be signed by a
    /// registered passkey, and move its counter forward.
    pub async fn finish_passkey_login(
        &self,
        ctx: &RequestContext,
        headers: &HeaderMap,
        body: wire::PasskeyFinishRequest,
    ) -> Result<Issued, ApiError> {
        let webauthn = self.webauthn()?;
        self.limits
            .auth_allowed(ctx.client_ip)
            .map_err(ApiError::rate_limited)?;
        let answer: PublicKeyCredential = parse_credential(body.credential)?;
        let state: DiscoverableAuthentication = self
            .take_ceremony(ChallengeKind::PasskeyLogin, &body.handle)
            .await?;
        let action = "auth.passkey.login";
        let (user_handle, credential_id) =
            match webauthn.identify_discoverable_authentication(&answer) {
                Ok(found) => found,
                Err(error) => return Err(self.refused(ctx, action, &failure(&error)).await),
            };
        let subject = URL_SAFE_NO_PAD.encode(credential_id);
        let identity = self
            .store
            .identity(&IdentityKind::Passkey, &subject)
            .await?;
        let Some((identity, stored_text)) =
            identity.and_then(|i| i.credential.clone().map(|c| (i, c)))
        else {
            return Err(self.refused(ctx, action, "no such passkey").await);
        };
        let mut stored: StoredPasskey =
            serde_json::from_str(&stored_text).map_err(ApiError::internal)?;
        if stored.user_handle != user_handle {
            return Err(self
                .refused(ctx, action, "the user handle does not match")
                .await);
        }
        let result =
            match webauthn.finish_discoverable_authentication_v2(&answer, state, &stored.passkey) {
                Ok(result) => result,
                Err(error) => return Err(self.refused(ctx, action, &failure(&error)).await),
            };
        if stored.passkey.update_credential(&result) == Some(true) {
            let updated = serde_json::to_string(&stored).map_err(ApiError::internal)?;
            if !self
                .store
                .replace_identity_credential(identity.id, &stored_text, &updated)
                .await?
            {
                let why = "another sign-in with this passkey changed its counter meanwhile";
                return Err(self.refused(ctx, action, why).await);
            }
        }
        let entered = self
            .enter(ctx, Door::new(IdentityKind::Passkey, subject), None)
            .await?;
        self.passkey_signed_in(ctx, headers, entered, action).await
    }

    async fn open_ceremony(
        &self,
        kind: ChallengeKind,
        subject: String,
        state: &impl Serialize,
        options: &impl Serialize,
    ) -> Result<wire::PasskeyCeremony, ApiError> {
        let handle = GeneratedSecret::new(SecretKind::PasskeyCeremony);
        let now = self.clock.now();
        let challenge = Challenge {
            key: handle.hash,
            kind,
            subject,
            payload: serde_json::to_string(state).map_err(ApiError::internal)?,
            failures: 0,
            expires_at: now + CEREMONY_TTL,
            created_at: now,
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(wire::PasskeyCeremony {
            handle: handle.secret.expose().to_owned(),
            options: serde_json::to_value(options).map_err(ApiError::internal)?,
            expires_at: challenge.expires_at,
        })
    }

    /// Takes a ceremony's state; it is gone afterwards, whatever the answer.
    async fn take_ceremony<T: for<'de> Deserialize<'de>>(
        &self,
        kind: ChallengeKind,
        handle: &str,
    ) -> Result<T, ApiError> {
        let gone = || {
            ApiError::new(
                ErrorCode::InvalidState,
                "unknown, used or expired ceremony handle; start again",
            )
        };
        if SecretKind::of(handle) != Some(SecretKind::PasskeyCeremony) {
            return Err(gone());
        }
        let challenge = self
            .store
            .take_challenge(kind, &sha256(handle.as_bytes()), self.clock.now())
            .await?
            .ok_or_else(gone)?;
        serde_json::from_str(&challenge.payload).map_err(ApiError::internal)
    }

    /// A refused ceremony: audited, counted against the address, 401.
    async fn refused(&self, ctx: &RequestContext, action: &'static str, why: &str) -> ApiError {
        self.limits.auth_failed(ctx.client_ip);
        let fact = Fact::failure(None, "anonymous".to_owned(), action, "", "sign_in_failed");
        self.audit(ctx, fact).await;
        ApiError::new(
            ErrorCode::SignInFailed,
            format!("the passkey did not prove who the caller is: {why}"),
        )
    }

    async fn passkey_signed_in(
        &self,
        ctx: &RequestContext,
        headers: &HeaderMap,
        entered: Entered,
        action: &'static str,
    ) -> Result<Issued, ApiError> {
        let fact = Fact::success(None, actor(entered.user.id), action, entered.identity.id);
        self.audit(ctx, fact).await;
        self.start_session(ctx, headers, &entered.user, "passkey", entered.created)
            .await
    }
}

/// The credential ids of a person's passkeys (to exclude from a new registration).
fn credential_ids(identities: &[Identity]) -> Vec<CredentialID> {
    identities
        .iter()
        .filter(|identity| identity.kind == IdentityKind::Passkey)
        .filter_map(|identity| URL_SAFE_NO_PAD.decode(&identity.subject).ok())
        .collect()
}

/// Why webauthn-rs refused an answer, in words a client can act on.
fn failure(error: &WebauthnError) -> String {
    match error {
        WebauthnError::CredentialPossibleCompromise => {
            "its signature counter did not move forward (a cloned authenticator?)".to_owned()
        }
        other => other.to_string(),
    }
}

fn subject_of(credential_id: &CredentialID) -> String {
    URL_SAFE_NO_PAD.encode(credential_id.as_slice())
}

/// Reads the browser's `PublicKeyCredential` JSON; a shape webauthn-rs cannot read is bad input
/// (and leaves the ceremony in place).
fn parse_credential<T: for<'de> Deserialize<'de>>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value)
        .map_err(|e| ApiError::invalid(format!("credential: not a WebAuthn credential: {e}")))
}
