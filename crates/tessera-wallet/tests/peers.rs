//! Tessera's wallet code against real wallet libraries: messages made and signed by npm `siwe` +
//! `ethers`, PyPI `eth-account`, and the Wallet Standard's SIWS text signed by `tweetnacl`, all
//! driven through the scripts in `tests/peers/` (installed by `scripts/install-peers`); and
//! Tessera's own custodial signatures checked by those libraries. One test binary, one module
//! per protocol.

// Every function in this crate is test code, helpers included.
#![allow(clippy::unwrap_used)]

#[path = "peers/support.rs"]
mod support;

#[path = "peers/custodial.rs"]
mod custodial;
#[path = "peers/siwe.rs"]
mod siwe;
#[path = "peers/siws.rs"]
mod siws;
