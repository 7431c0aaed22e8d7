//! Custodial wallets: every new user gets one, its private key sealed under the master key
//! (bound to the wallet's id, so a sealed key cannot be moved to another wallet row). Keys are
//! opened only to sign, and no API returns them.

use tessera_core::people::{Chain, Wallet};
use tessera_core::{UserId, WalletId};
use tessera_wallet::custodial;

use crate::config::WalletChain;
use crate::error::ApiError;
use crate::state::AppState;

impl AppState {
    /// A new wallet for `user`, on the configured chain, its key sealed.
    pub(crate) fn new_custodial_wallet(&self, user: UserId) -> Result<Wallet, ApiError> {
        let chain = match self.config.custodial_wallet_chain {
            WalletChain::Eip155 => Chain::Ethereum,
            WalletChain::Solana => Chain::Solana,
        };
        let generated = custodial::generate(wallet_chain(chain));
        let id = WalletId::generate();
        Ok(Wallet {
            id,
            user_id: user,
            chain,
            address: generated.address,
            sealed_key: self.master.seal(generated.private_key.expose(), &aad(id)),
            created_at: self.clock.now(),
        })
    }

    /// Signs `message` with the wallet's key: EIP-191 `personal_sign` on Ethereum, ed25519 on
    /// Solana.
    pub(crate) fn sign_with_wallet(
        &self,
        wallet: &Wallet,
        message: &[u8],
    ) -> Result<String, ApiError> {
        let key = self
            .master
            .open(&wallet.sealed_key, &aad(wallet.id))
            .map_err(ApiError::internal)?;
        custodial::sign_personal(wallet_chain(wallet.chain), &key, message)
            .map_err(ApiError::internal)
    }
}

fn wallet_chain(chain: Chain) -> custodial::Chain {
    match chain {
        Chain::Ethereum => custodial::Chain::Ethereum,
        Chain::Solana => custodial::Chain::Solana,
    }
}

/// What the sealed key is bound to.
fn aad(id: WalletId) -> Vec<u8> {
    format!("wallet:{id}").into_bytes()
}
