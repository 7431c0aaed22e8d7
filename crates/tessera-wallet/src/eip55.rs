//! Ethereum address text: EIP-55 mixed-case checksums and case-insensitive comparison.
//!
//! The checksum only guards against typos; who owns an address is decided by a signature, so
//! Tessera compares addresses ignoring case and prints them checksummed.

use crate::eip191::{Address, keccak256};

/// The text is not `0x` followed by 40 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an Ethereum address (expected 0x and 40 hex digits)")]
pub struct InvalidAddress;

/// The EIP-55 form of an address given in any case (`0x` prefix required).
///
/// The input's own capitalisation is not checked: `0x52908400098527886e0f…` and a wrongly
/// capitalised form give the same answer.
pub fn to_checksum_address(address: &str) -> Result<String, InvalidAddress> {
    parse(address).map(|bytes| checksummed(&bytes))
}

/// Whether two texts are the same Ethereum address, ignoring case. Anything that is not an
/// address (wrong length, no `0x`, non-hex) equals nothing, itself included.
pub fn eq_address(a: &str, b: &str) -> bool {
    match (parse(a), parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// The 20 bytes of `0x` + 40 hex digits, any case.
pub(crate) fn parse(address: &str) -> Result<Address, InvalidAddress> {
    let digits = address.strip_prefix("0x").ok_or(InvalidAddress)?;
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(digits, &mut bytes).map_err(|_| InvalidAddress)?;
    Ok(bytes)
}

/// EIP-55: hex digit `i` of the lowercase address is uppercased when nibble `i` of
/// `keccak256(lowercase hex)` is 8 or more.
pub(crate) fn checksummed(address: &Address) -> String {
    let lower = hex::encode(address);
    let hash = keccak256(lower.as_bytes());
    let mut out = String::with_capacity(42);
    out.push_str("0x");
    for (i, c) in lower.chars().enumerate() {
        let byte = hash[i / 2];
        let nibble = if i % 2 == 0 { byte >> 4 } else { byte & 0x0f };
        out.push(if nibble >= 8 {
            c.to_ascii_uppercase()
        } else {
            c
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vectors of EIP-55 itself.
    const EIP55_VECTORS: [&str; 8] = [
        // all caps
        "0x52908400098527886E0F7030069857D2E4169EE7",
        "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
        // all lower
        "0xde709f2102306220921060314715629080e2fb77",
        "0x27b1fdb04752bbc536007a920d24acb045561c26",
        // normal
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];

    #[test]
    fn the_eip_55_vectors_checksum_to_themselves_from_any_case() {
        for vector in EIP55_VECTORS {
            let lower = format!("0x{}", vector[2..].to_ascii_lowercase());
            let upper = format!("0x{}", vector[2..].to_ascii_uppercase());
            assert_eq!(to_checksum_address(&lower).as_deref(), Ok(vector));
            assert_eq!(to_checksum_address(&upper).as_deref(), Ok(vector));
            assert_eq!(to_checksum_address(vector).as_deref(), Ok(vector));
        }
    }

    #[test]
    fn a_wrongly_capitalised_address_is_still_the_same_address() {
        let vector = EIP55_VECTORS[4];
        let swapped: String = vector
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else if c.is_ascii_lowercase() && c != 'x' {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        assert_ne!(swapped, vector);
        assert!(eq_address(&swapped, vector));
        assert_eq!(to_checksum_address(&swapped).as_deref(), Ok(vector));
    }

    #[test]
    fn different_addresses_differ() {
        assert!(!eq_address(EIP55_VECTORS[0], EIP55_VECTORS[1]));
        assert!(eq_address(
            EIP55_VECTORS[2],
            &EIP55_VECTORS[2].to_ascii_uppercase().replace("0X", "0x")
        ));
    }

    #[test]
    fn non_addresses_are_refused_and_equal_nothing() {
        for bad in [
            "",
            "0x",
            "52908400098527886E0F7030069857D2E4169EE7",
            "0X52908400098527886E0F7030069857D2E4169EE7",
            "0x52908400098527886E0F7030069857D2E4169EE",
            "0x52908400098527886E0F7030069857D2E4169EE700",
            "0x52908400098527886E0F7030069857D2E4169EEG",
            " 0x52908400098527886E0F7030069857D2E4169EE7",
        ] {
            assert_eq!(to_checksum_address(bad), Err(InvalidAddress), "{bad:?}");
            assert!(!eq_address(bad, bad), "{bad:?}");
        }
    }
}
