//! EIP-191 `personal_sign`: the hash wallets sign, recovering the signer's address from a
//! 65-byte `r‖s‖v` signature, and signing with a custodial key.

use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use sha3::{Digest, Keccak256};

use crate::SignInError;

/// An Ethereum address: the last 20 bytes of the Keccak-256 of the uncompressed public key.
pub(crate) type Address = [u8; 20];

pub(crate) fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// `keccak256("\x19Ethereum Signed Message:\n" ‖ len(message) ‖ message)`, the length in
/// decimal ASCII bytes. The prefix is what keeps a personal message from ever being a valid
/// transaction.
pub(crate) fn personal_message_hash(message: &[u8]) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(b"\x19Ethereum Signed Message:\n");
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message);
    hasher.finalize().into()
}

/// The address of a public key.
pub(crate) fn address_of(key: &VerifyingKey) -> Address {
    let point = key.to_sec1_point(false);
    // Uncompressed SEC1 is 0x04 ‖ X ‖ Y; Ethereum hashes X ‖ Y.
    let hash = keccak256(&point.as_bytes()[1..]);
    let mut address = [0u8; 20];
    address.copy_from_slice(&hash[12..]);
    address
}

/// A `personal_sign` signature as wallets send it: `0x` and 130 hex digits, `r‖s‖v`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PersonalSignature {
    signature: Signature,
    recovery_id: RecoveryId,
}

impl PersonalSignature {
    /// Accepts `v` as 27/28 (what `personal_sign` returns) or 0/1 (what some libraries and
    /// hardware wallets return). Other values (EIP-155 transaction `v`s) are not message
    /// signatures. The `0x` prefix is optional and hex is case-insensitive.
    ///
    /// A high `s` is accepted: the other form of the same signature recovers the same
    /// address, and a sign-in cannot be replayed anyway once its nonce is consumed.
    pub(crate) fn parse(text: &str) -> Result<Self, SignInError> {
        let digits = text
            .strip_prefix("0x")
            .or_else(|| text.strip_prefix("0X"))
            .unwrap_or(text);
        let mut bytes = [0u8; 65];
        hex::decode_to_slice(digits, &mut bytes).map_err(|_| {
            SignInError::MalformedSignature("expected 65 bytes as 130 hex digits (r, s, v)")
        })?;
        let y_odd = match bytes[64] {
            0 | 27 => false,
            1 | 28 => true,
            _ => return Err(SignInError::MalformedSignature("v must be 27, 28, 0 or 1")),
        };
        let signature =
            Signature::from_slice(&bytes[..64]).map_err(|_| SignInError::BadSignature)?;
        Ok(Self {
            signature,
            recovery_id: RecoveryId::new(y_odd, false),
        })
    }

    /// The address whose key made this signature over `message`, if any.
    pub(crate) fn recover(&self, message: &[u8]) -> Result<Address, SignInError> {
        let hash = personal_message_hash(message);
        VerifyingKey::recover_from_prehash(&hash, &self.signature, self.recovery_id)
            .map(|key| address_of(&key))
            .map_err(|_| SignInError::BadSignature)
    }
}

/// The lowercase `0x` address whose key made `signature` (`personal_sign`, `0x` + 130 hex)
/// over `message`: how a statement signed by a wallet (a binding) is checked.
pub fn recover_personal_signer(message: &str, signature: &str) -> Result<String, SignInError> {
    let address = PersonalSignature::parse(signature)?.recover(message.as_bytes())?;
    Ok(format!("0x{}", hex::encode(address)))
}

/// Signs `message` the way `personal_sign` does: low `s` (k256 normalises it), `v` = 27/28.
pub(crate) fn sign(key: &SigningKey, message: &[u8]) -> [u8; 65] {
    let (signature, recovery_id) = key.sign_prehash_recoverable(&personal_message_hash(message));
    let mut out = [0u8; 65];
    out[..64].copy_from_slice(&signature.to_bytes());
    // `is_x_reduced` happens with probability ~2^-128 and has no Ethereum encoding; the
    // y parity is all a `v` can carry.
    out[64] = 27 + u8::from(recovery_id.is_y_odd());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The private key 0x…01 is the generator point; its address is public knowledge.
    fn key_one() -> SigningKey {
        let mut bytes = [0u8; 32];
        bytes[31] = 1;
        SigningKey::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_address_of_the_generator_is_the_well_known_one() {
        let address = address_of(key_one().verifying_key());
        assert_eq!(
            hex::encode(address),
            "7e5f4552091a69125d5dfcb7b8c2659029395bdf"
        );
    }

    #[test]
    fn the_personal_message_hash_matches_the_eip_191_vector() {
        // keccak256("\x19Ethereum Signed Message:\n11hello world"), as web3/ethers compute it.
        assert_eq!(
            hex::encode(personal_message_hash(b"hello world")),
            "d9eba16ed0ecae432b71fe008c98cc872bb4cc214d3220a36f365326cf807d68"
        );
    }

    #[test]
    fn a_signature_recovers_its_signer_with_either_v_convention() {
        let key = key_one();
        let signed = sign(&key, b"sign in");
        assert!(signed[64] == 27 || signed[64] == 28);
        let expected = address_of(key.verifying_key());

        let text = format!("0x{}", hex::encode(signed));
        let recovered = PersonalSignature::parse(&text).unwrap().recover(b"sign in");
        assert_eq!(recovered, Ok(expected));

        let mut zero_one = signed;
        zero_one[64] -= 27;
        let text = hex::encode_upper(zero_one);
        let recovered = PersonalSignature::parse(&text).unwrap().recover(b"sign in");
        assert_eq!(recovered, Ok(expected));

        let other = PersonalSignature::parse(&format!("0x{}", hex::encode(signed)))
            .unwrap()
            .recover(b"sign in!");
        assert_ne!(other, Ok(expected));
    }

    #[test]
    fn malformed_signatures_are_refused_before_any_curve_work() {
        let good = hex::encode(sign(&key_one(), b"x"));
        let reason = |s: &str| {
            PersonalSignature::parse(s)
                .map(|_| ())
                .map_err(|e| e.reason())
        };
        assert_eq!(reason(&good[..128]), Err("malformed_signature"));
        assert_eq!(reason(&format!("{good}00")), Err("malformed_signature"));
        assert_eq!(
            reason(&format!("0x{}zz", &good[..128])),
            Err("malformed_signature")
        );
        assert_eq!(
            reason(&format!("0x{}25", &good[..128])),
            Err("malformed_signature")
        );
        assert_eq!(reason(""), Err("malformed_signature"));
        // r = 0 is the right shape but no signature at all.
        assert_eq!(
            reason(&format!("0x{}{}1b", "00".repeat(32), &good[64..128])),
            Err("bad_signature")
        );
    }
}
