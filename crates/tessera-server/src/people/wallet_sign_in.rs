//! The wallet doors (Sign-In with Ethereum, Sign-In With Solana): nonces issued by the server
//! (one-time challenges, 10 minutes) and the check of a signed message against this server's
//! domain, origin and configured chain. The nonce is consumed by any attempt, before the
//! signature is looked at, so a refused message cannot be retried with it.

use tessera_core::people::{Challenge, ChallengeKind, IdentityKind};
use tessera_crypto::sha256;
use tessera_proto::ErrorCode;
use tessera_proto::people::{WalletNonce, WalletProtocol};
use tessera_wallet::{SignInError, siwe, siws};
use time::Duration;
use url::Url;

use crate::error::ApiError;
use crate::state::AppState;

/// How long a nonce is accepted.
pub const NONCE_TTL: Duration = Duration::minutes(10);

/// Who a verified message proved the caller to be.
#[derive(Debug)]
pub struct ProvenWallet {
    pub kind: IdentityKind,
    /// Ethereum: the lowercase `0x` address (one identity whatever the checksum case);
    /// Solana: the base58 address.
    pub subject: String,
}

/// Why a wallet sign-in was refused; each maps to one error of the table.
#[derive(Debug)]
pub enum Refusal {
    /// The message has no nonce this server issued for this chain (unknown, used, expired).
    Nonce,
    Message(SignInError),
}

impl Refusal {
    /// The stable reason for the audit log.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Nonce => "invalid_nonce",
            Self::Message(error) => error.reason(),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Nonce => ApiError::new(
                ErrorCode::InvalidState,
                "the message's nonce is unknown, used or expired; ask for a new one",
            ),
            Refusal::Message(error) => ApiError::new(
                ErrorCode::SignInFailed,
                format!("{}: {error}", error.reason()),
            ),
        }
    }
}

/// What messages must name: the public URL's authority (the domain) and origin (the URI).
struct Site {
    domain: String,
    origin: Url,
}

impl AppState {
    fn wallet_site(&self) -> Result<Site, ApiError> {
        let origin = Url::parse(&self.issuer).map_err(ApiError::internal)?;
        let host = origin
            .host_str()
            .ok_or_else(|| ApiError::internal("the public URL has no host"))?;
        let domain = match origin.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        Ok(Site { domain, origin })
    }

    fn wallet_chain_id(&self, protocol: WalletProtocol) -> String {
        match protocol {
            WalletProtocol::Eip155 => self.config.wallet_chain_id.to_string(),
            WalletProtocol::Solana => self.config.solana_chain_id.clone(),
        }
    }

    /// A new single-use nonce and what the wallet's message must say around it.
    pub async fn issue_wallet_nonce(
        &self,
        protocol: WalletProtocol,
    ) -> Result<WalletNonce, ApiError> {
        let site = self.wallet_site()?;
        // EIP-4361 nonces are alphanumeric: 122 random bits as 32 hex digits.
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let now = self.clock.now();
        let challenge = Challenge {
            key: sha256(nonce.as_bytes()),
            kind: ChallengeKind::WalletNonce,
            subject: protocol.as_str().to_owned(),
            payload: String::new(),
            failures: 0,
            expires_at: now + NONCE_TTL,
            created_at: now,
        };
        self.store.insert_challenge(&challenge).await?;
        Ok(WalletNonce {
            nonce,
            expires_at: challenge.expires_at,
            domain: site.domain,
            uri: self.issuer.clone(),
            chain: protocol,
            chain_id: self.wallet_chain_id(protocol),
        })
    }

    /// Checks a signed sign-in message: its nonce is taken (whatever follows), then the
    /// domain, URI, chain, time window and signature. Ok(Err) is a refusal; Err a failure of
    /// Tessera (the store).
    pub async fn verify_wallet_message(
        &self,
        protocol: WalletProtocol,
        message: &str,
        signature: &str,
    ) -> Result<Result<ProvenWallet, Refusal>, ApiError> {
        let nonce = match protocol {
            WalletProtocol::Eip155 => siwe::SiweMessage::parse(message).map(|m| Some(m.nonce)),
            WalletProtocol::Solana => siws::SiwsMessage::parse(message).map(|m| m.nonce),
        };
        let nonce = match nonce {
            Ok(Some(nonce)) => nonce,
            Ok(None) => return Ok(Err(Refusal::Message(SignInError::MissingField("Nonce")))),
            Err(error) => return Ok(Err(Refusal::Message(error))),
        };
        let now = self.clock.now();
        let taken = self
            .store
            .take_challenge(ChallengeKind::WalletNonce, &sha256(nonce.as_bytes()), now)
            .await?;
        if taken.is_none_or(|challenge| challenge.subject != protocol.as_str()) {
            return Ok(Err(Refusal::Nonce));
        }
        let site = self.wallet_site()?;
        let proven = match protocol {
            WalletProtocol::Eip155 => {
                let expect = siwe::Expectations::new(
                    &site.domain,
                    &site.origin,
                    self.config.wallet_chain_id,
                    now,
                );
                siwe::verify(message, signature, &expect).map(|verified| ProvenWallet {
                    kind: IdentityKind::Ethereum,
                    subject: verified.address.to_ascii_lowercase(),
                })
            }
            WalletProtocol::Solana => {
                let chain_id = &self.config.solana_chain_id;
                let expect = siws::Expectations::new(&site.domain, &site.origin, chain_id, now);
                siws::verify(message, signature, &expect).map(|verified| ProvenWallet {
                    kind: IdentityKind::Solana,
                    subject: verified.address,
                })
            }
        };
        Ok(proven.map_err(Refusal::Message))
    }
}
