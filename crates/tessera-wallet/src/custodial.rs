//! Custodial wallets: keys Tessera generates and holds for a user, their addresses, and
//! `personal_sign`-style message signatures.
//!
//! Private keys are 32 bytes on both chains: the secp256k1 scalar (Ethereum) and the ed25519
//! seed (Solana, not the 64-byte "keypair" some tools export). They leave this module only as
//! [`PrivateKey`], which never prints and is wiped on drop; the caller seals the bytes with
//! envelope encryption before storing them.

use std::fmt;

use k256::ecdsa::SigningKey as EthereumKey;
use k256::elliptic_curve::Generate;
use zeroize::Zeroizing;

use crate::{eip55, eip191};

/// The chains Tessera keeps custodial wallets on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    Ethereum,
    Solana,
}

impl Chain {
    pub const ALL: [Chain; 2] = [Self::Ethereum, Self::Solana];

    /// The CAIP-2 namespace: `eip155` (every EVM chain shares the key and address) or `solana`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ethereum => "eip155",
            Self::Solana => "solana",
        }
    }

    /// The chain named by its [`as_str`](Self::as_str) form, ignoring case.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(name))
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    /// The bytes are not a private key of the chain (wrong length, or for Ethereum zero or not
    /// below the curve order): a corrupt or mislabelled stored key.
    #[error("the stored private key is not a valid {0} key")]
    InvalidPrivateKey(Chain),
}

/// A private key in clear. It never prints and is wiped from memory when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(Zeroizing<Vec<u8>>);

impl PrivateKey {
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    /// The key bytes: for sealing them, or for [`address_of`] and [`sign_personal`].
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// A freshly generated wallet.
#[derive(Debug)]
pub struct NewWallet {
    pub chain: Chain,
    /// EIP-55 for Ethereum, base58 for Solana.
    pub address: String,
    pub private_key: PrivateKey,
}

/// Generates a key from the operating system's random number generator.
///
/// # Panics
/// If the system random number generator fails: unrecoverable, and nothing safe can be handed
/// out instead.
pub fn generate(chain: Chain) -> NewWallet {
    #[allow(clippy::expect_used)]
    let private_key = match chain {
        Chain::Ethereum => {
            // k256 rejection-samples a uniform scalar in [1, n): always a valid key.
            let key = EthereumKey::try_generate().expect("system random number generator failed");
            let scalar = Zeroizing::new(key.to_bytes());
            Zeroizing::new(scalar.to_vec())
        }
        Chain::Solana => {
            // Every 32-byte string is a valid ed25519 seed.
            let mut seed = Zeroizing::new(vec![0u8; 32]);
            getrandom::fill(&mut seed).expect("system random number generator failed");
            seed
        }
    };
    let private_key = PrivateKey(private_key);
    // The key was just made for this chain, so it is valid; no error path to report.
    let address = match chain {
        Chain::Ethereum => ethereum_key(private_key.expose())
            .map(|key| eip55::checksummed(&eip191::address_of(key.verifying_key()))),
        Chain::Solana => solana_key(private_key.expose())
            .map(|key| bs58::encode(key.verifying_key().as_bytes()).into_string()),
    };
    #[allow(clippy::expect_used)]
    let address = address.expect("a freshly generated key is valid");
    NewWallet {
        chain,
        address,
        private_key,
    }
}

/// The address of a stored private key: EIP-55 for Ethereum, base58 for Solana.
pub fn address_of(chain: Chain, private_key: &[u8]) -> Result<String, WalletError> {
    match chain {
        Chain::Ethereum => {
            let key = ethereum_key(private_key)?;
            Ok(eip55::checksummed(&eip191::address_of(key.verifying_key())))
        }
        Chain::Solana => {
            let key = solana_key(private_key)?;
            Ok(bs58::encode(key.verifying_key().as_bytes()).into_string())
        }
    }
}

/// Signs a message as the wallet would for a dapp:
/// - Ethereum: EIP-191 `personal_sign`, `0x` + 130 hex digits, `r‖s‖v` with `v` = 27/28;
/// - Solana: ed25519 over the message bytes themselves (`signMessage`), base58.
pub fn sign_personal(
    chain: Chain,
    private_key: &[u8],
    message: &[u8],
) -> Result<String, WalletError> {
    match chain {
        Chain::Ethereum => {
            let key = ethereum_key(private_key)?;
            Ok(format!("0x{}", hex::encode(eip191::sign(&key, message))))
        }
        Chain::Solana => {
            use ed25519_dalek::Signer;
            let key = solana_key(private_key)?;
            Ok(bs58::encode(key.sign(message).to_bytes()).into_string())
        }
    }
}

fn ethereum_key(bytes: &[u8]) -> Result<EthereumKey, WalletError> {
    // `from_slice` would also take shorter slices, zero-padded; a stored key is exactly 32.
    if bytes.len() != 32 {
        return Err(WalletError::InvalidPrivateKey(Chain::Ethereum));
    }
    EthereumKey::from_slice(bytes).map_err(|_| WalletError::InvalidPrivateKey(Chain::Ethereum))
}

fn solana_key(bytes: &[u8]) -> Result<ed25519_dalek::SigningKey, WalletError> {
    let seed: &[u8; 32] = bytes
        .try_into()
        .map_err(|_| WalletError::InvalidPrivateKey(Chain::Solana))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(seed))
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::Verifier;

    use super::*;

    #[test]
    fn chains_have_their_caip_2_names() {
        for chain in Chain::ALL {
            assert_eq!(Chain::parse(chain.as_str()), Some(chain));
            assert_eq!(chain.to_string(), chain.as_str());
        }
        assert_eq!(Chain::parse("EIP155"), Some(Chain::Ethereum));
        assert_eq!(Chain::parse("ethereum"), None);
        assert_eq!(Chain::parse(""), None);
    }

    #[test]
    fn generated_wallets_rederive_their_address_and_are_distinct() {
        for chain in Chain::ALL {
            let a = generate(chain);
            let b = generate(chain);
            assert_eq!(a.chain, chain);
            assert_eq!(a.private_key.expose().len(), 32);
            assert_eq!(
                address_of(chain, a.private_key.expose()).unwrap(),
                a.address
            );
            assert_ne!(a.address, b.address);
            assert_ne!(a.private_key, b.private_key);
        }
        let eth = generate(Chain::Ethereum);
        assert_eq!(
            eip55::to_checksum_address(&eth.address).unwrap(),
            eth.address
        );
        let sol = generate(Chain::Solana);
        assert_eq!(bs58::decode(&sol.address).into_vec().unwrap().len(), 32);
    }

    #[test]
    fn the_known_key_one_has_the_known_ethereum_address() {
        let mut one = [0u8; 32];
        one[31] = 1;
        assert_eq!(
            address_of(Chain::Ethereum, &one).unwrap(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
    }

    #[test]
    fn private_keys_never_print() {
        let wallet = generate(Chain::Solana);
        let printed = format!("{wallet:?} {:?}", wallet.private_key);
        assert!(printed.contains("***"));
        let hex_key = hex::encode(wallet.private_key.expose());
        assert!(!printed.contains(&hex_key), "{printed}");
        assert!(!printed.contains(&format!("{:?}", wallet.private_key.expose())));
    }

    #[test]
    fn invalid_private_keys_are_refused() {
        for chain in Chain::ALL {
            for bad in [&[][..], &[1u8; 31], &[1u8; 33], &[1u8; 64]] {
                assert_eq!(
                    address_of(chain, bad),
                    Err(WalletError::InvalidPrivateKey(chain))
                );
                assert_eq!(
                    sign_personal(chain, bad, b"x"),
                    Err(WalletError::InvalidPrivateKey(chain))
                );
            }
        }
        // Zero and the group order are not secp256k1 private keys.
        let order = hex::decode("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141")
            .unwrap();
        assert!(address_of(Chain::Ethereum, &[0u8; 32]).is_err());
        assert!(address_of(Chain::Ethereum, &order).is_err());
    }

    #[test]
    fn solana_signatures_verify_under_the_address() {
        let wallet = generate(Chain::Solana);
        let signature = sign_personal(Chain::Solana, wallet.private_key.expose(), b"hi").unwrap();
        let signature: [u8; 64] = bs58::decode(signature)
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        let public: [u8; 32] = bs58::decode(&wallet.address)
            .into_vec()
            .unwrap()
            .try_into()
            .unwrap();
        let key = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        assert!(key.verify(b"hi", &signature).is_ok());
        assert!(key.verify(b"ho", &signature).is_err());
    }

    #[test]
    fn ethereum_signatures_recover_to_the_address() {
        let wallet = generate(Chain::Ethereum);
        let signature = sign_personal(Chain::Ethereum, wallet.private_key.expose(), b"hi").unwrap();
        assert_eq!(signature.len(), 132);
        let recovered = eip191::PersonalSignature::parse(&signature)
            .unwrap()
            .recover(b"hi")
            .unwrap();
        assert_eq!(eip55::checksummed(&recovered), wallet.address);
    }
}
