//! Tessera's wallets: verifying wallet sign-ins and holding custodial wallets. No I/O and no
//! clock: the time is always an argument.
//!
//! - [`siwe`]: Sign-In with Ethereum (EIP-4361 message, EIP-191 `personal_sign` signature);
//! - [`siws`]: Sign-In With Solana (the Wallet Standard message, ed25519 signature);
//! - [`SignInError`]: why either refused a sign-in, with a stable [`reason`](SignInError::reason);
//! - [`custodial`]: generating Ethereum and Solana keys, their addresses, signing messages;
//! - [`eip55`]: Ethereum address text (checksums, case-insensitive comparison);
//! - [`recover_personal_signer`]: the signer of any EIP-191 `personal_sign` statement.
//!
//! Both `verify` functions return the message's nonce **unchecked**: the server issued it and
//! must confirm and consume it in its own store (single use) before the sign-in counts.
//! [`CLOCK_SKEW`] and [`DEFAULT_MAX_AGE`] bound the time window both protocols share.

mod checks;
pub mod custodial;
mod eip191;
pub mod eip55;
mod error;
mod grammar;
pub mod siwe;
pub mod siws;

pub use checks::{CLOCK_SKEW, DEFAULT_MAX_AGE};
pub use custodial::{Chain, NewWallet, PrivateKey, WalletError};
pub use eip55::{InvalidAddress, eq_address, to_checksum_address};
pub use eip191::recover_personal_signer;
pub use error::SignInError;
