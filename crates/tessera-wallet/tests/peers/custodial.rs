//! Custodial wallets: Tessera's keys and signatures checked by `eth-account`, `ethers` and
//! `tweetnacl`, which must see the same addresses and accept the same signatures.

use serde_json::json;
use tessera_wallet::custodial::{Chain, address_of, generate, sign_personal};

use crate::support::{Peer, field};

/// Text a dapp might ask a custodial wallet to sign: several lines and non-ASCII, so the EIP-191
/// length prefix counts bytes, not characters.
const MESSAGE: &str = "Approve transfer №42\nto: Zoë\namount: 1.5 ETH ✓";

#[test]
fn ethereum_signatures_recover_to_the_wallet_address_with_eth_account_and_ethers() {
    let wallet = generate(Chain::Ethereum);
    let key = wallet.private_key.expose();
    let signature = sign_personal(Chain::Ethereum, key, MESSAGE.as_bytes()).unwrap();
    assert!(
        signature.starts_with("0x") && signature.len() == 132,
        "{signature}"
    );
    assert!(
        signature.ends_with("1b") || signature.ends_with("1c"),
        "v is 27 or 28"
    );

    let input = json!({ "message": MESSAGE, "signature": signature });
    let by_eth_account = Peer::SiwePy.run("recover", &input);
    assert_eq!(field(&by_eth_account, "address"), wallet.address);
    let by_ethers = Peer::SiweJs.run("recover", &input);
    assert_eq!(field(&by_ethers, "address"), wallet.address);

    let other = json!({ "message": format!("{MESSAGE}."), "signature": signature });
    assert_ne!(
        field(&Peer::SiwePy.run("recover", &other), "address"),
        wallet.address
    );
}

#[test]
fn eth_account_derives_the_same_address_and_the_same_deterministic_signature() {
    // RFC 6979 nonces and low-s normalisation on both sides: the very same bytes.
    let wallet = generate(Chain::Ethereum);
    let key = wallet.private_key.expose();
    let peer = Peer::SiwePy.run(
        "sign-text",
        &json!({ "private_key": format!("0x{}", hex::encode(key)), "message": MESSAGE }),
    );
    assert_eq!(field(&peer, "address"), wallet.address);
    assert_eq!(address_of(Chain::Ethereum, key).unwrap(), wallet.address);
    assert_eq!(
        sign_personal(Chain::Ethereum, key, MESSAGE.as_bytes()).unwrap(),
        field(&peer, "signature")
    );
}

#[test]
fn solana_signatures_verify_with_tweetnacl() {
    let wallet = generate(Chain::Solana);
    let key = wallet.private_key.expose();
    let signature = sign_personal(Chain::Solana, key, MESSAGE.as_bytes()).unwrap();

    let check = |message: &str| {
        let input =
            json!({ "message": message, "signature": signature, "address": wallet.address });
        Peer::SiwsJs.run("verify", &input)["valid"]
            .as_bool()
            .unwrap()
    };
    assert!(check(MESSAGE));
    assert!(!check(&format!("{MESSAGE}.")));
}

#[test]
fn tweetnacl_derives_the_same_address_and_signature_from_the_seed() {
    let wallet = generate(Chain::Solana);
    let key = wallet.private_key.expose();
    let peer = Peer::SiwsJs.run(
        "sign-text",
        &json!({ "secret_key": bs58::encode(key).into_string(), "message": MESSAGE }),
    );
    assert_eq!(field(&peer, "address"), wallet.address);
    assert_eq!(address_of(Chain::Solana, key).unwrap(), wallet.address);
    assert_eq!(
        sign_personal(Chain::Solana, key, MESSAGE.as_bytes()).unwrap(),
        field(&peer, "signature")
    );
}
