//! Outgoing mail, sent one way: [`AppState::send_email`]. With `smtp_url` set it goes out over
//! SMTP (lettre's pooled tokio transport); without it (embedded mode) it is kept in the
//! `email_outbox` table and written to the log, which is how a developer running Tessera
//! locally reads their sign-in links.
//!
//! Sending is part of the request that asks for it, with a short timeout: when the SMTP server
//! refuses or does not answer, the caller gets `503 unavailable` and may ask again (each
//! request makes a new secret), rather than a promise of mail that never comes.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::transport::smtp::{self, AsyncSmtpTransportBuilder};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tessera_core::StoreError;
use tessera_core::mail::OutboxEmail;

use crate::config::Config;
use crate::state::AppState;

/// How long one SMTP exchange may take before the request gives up.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// A message to send. The text may hold a sign-in secret: it never goes to `Debug` output.
#[derive(Clone)]
pub struct OutgoingEmail {
    /// A validated address.
    pub to: String,
    pub subject: String,
    pub text: String,
}

impl std::fmt::Debug for OutgoingEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutgoingEmail")
            .field("to", &self.to)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("building the message: {0}")]
    Message(String),
    #[error("SMTP: {0}")]
    Smtp(#[from] smtp::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the mailer could not be set up: {0}")]
    Unusable(String),
}

/// Where mail goes.
pub enum Mailer {
    Smtp {
        transport: AsyncSmtpTransport<Tokio1Executor>,
        from: Mailbox,
    },
    Outbox,
    /// `smtp_url` or `email_from` could not be used (configuration validation refuses both
    /// first, so this is a guard, not a mode): every send fails rather than mail going astray.
    Unusable(String),
}

// By hand: the transport holds the SMTP credentials.
impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Smtp { .. } => "Mailer::Smtp",
            Self::Outbox => "Mailer::Outbox",
            Self::Unusable(_) => "Mailer::Unusable",
        })
    }
}

impl Mailer {
    /// The mailer `config` asks for. Needs a tokio runtime (the SMTP pool starts a task).
    pub fn new(config: &Config) -> Self {
        let Some(url) = &config.smtp_url else {
            return Self::Outbox;
        };
        let builder = match smtp_builder(url.expose()) {
            Ok(builder) => builder,
            Err(e) => return Self::Unusable(format!("smtp_url: {e}")),
        };
        match config.email_from.parse() {
            Ok(from) => Self::Smtp {
                transport: builder.timeout(Some(SMTP_TIMEOUT)).build(),
                from,
            },
            Err(e) => Self::Unusable(format!("email_from: {e}")),
        }
    }
}

/// lettre's builder for one of the `smtp_url` forms Tessera accepts: `smtp://` upgrades with
/// STARTTLS when the server offers it, `smtps://` is TLS from the start, `smtp+plain://` never
/// uses TLS (loopback test servers). An explicit `?tls=` is respected.
pub fn smtp_builder(url: &str) -> Result<AsyncSmtpTransportBuilder, smtp::Error> {
    let lettre_url = if let Some(rest) = url.strip_prefix("smtp+plain://") {
        format!("smtp://{rest}")
    } else if url.starts_with("smtp://") && !url.contains("tls=") {
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}tls=opportunistic")
    } else {
        url.to_owned()
    };
    AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url)
}

impl AppState {
    /// Sends `email` (or keeps it in the outbox when there is no SMTP server).
    pub async fn send_email(&self, email: OutgoingEmail) -> Result<(), MailError> {
        match &self.people.mailer {
            Mailer::Smtp { transport, from } => {
                let to: Mailbox =
                    email
                        .to
                        .parse()
                        .map_err(|e: lettre::address::AddressError| {
                            MailError::Message(e.to_string())
                        })?;
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(email.subject)
                    .body(email.text)
                    .map_err(|e| MailError::Message(e.to_string()))?;
                transport.send(message).await?;
                Ok(())
            }
            Mailer::Outbox => {
                let kept = OutboxEmail {
                    id: format!("eml_{}", uuid::Uuid::now_v7().simple()),
                    recipient: email.to,
                    subject: email.subject,
                    body: email.text,
                    created_at: self.clock.now(),
                };
                self.store.insert_outbox_email(&kept).await?;
                // Embedded mode only: the log is how a developer gets the link without SMTP.
                tracing::info!(
                    to = %kept.recipient,
                    subject = %kept.subject,
                    body = %kept.body,
                    "no smtp_url: the email was kept in the outbox instead of being sent"
                );
                Ok(())
            }
            Mailer::Unusable(reason) => Err(MailError::Unusable(reason.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_accepted_smtp_url_form_builds() {
        for url in [
            "smtp://mail.example.com:25",
            "smtp://user:pass@mail.example.com",
            "smtps://mail.example.com",
            "smtp+plain://127.0.0.1:2525",
            "smtp://mail.example.com?tls=required",
        ] {
            assert!(smtp_builder(url).is_ok(), "{url}");
        }
    }
}
