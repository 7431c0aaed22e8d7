//! Running the peer scripts of `tests/peers/`, and the fixed "now" and site the tests sign in to.

use std::sync::LazyLock;

use serde_json::Value;
pub use tessera_testkit::peer::merged;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use url::Url;

/// The server's clock in every test: time is an argument, so the tests pick it.
pub const NOW: OffsetDateTime = datetime!(2026-03-01 12:00:00 UTC);
pub const DOMAIN: &str = "app.example.com";
pub static ORIGIN: LazyLock<Url> = LazyLock::new(|| Url::parse("https://app.example.com").unwrap());

/// `NOW + offset` as the RFC 3339 text a wallet would write.
pub fn at(offset: Duration) -> String {
    (NOW + offset).format(&Rfc3339).unwrap()
}

/// A peer script: the interpreter and the file under `tests/peers/`.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    /// npm `siwe` + `ethers`.
    SiweJs,
    /// PyPI `eth-account`.
    SiwePy,
    /// `@solana/wallet-standard-util` + `tweetnacl` + `bs58`.
    SiwsJs,
}

impl Peer {
    fn command(self) -> (&'static str, &'static str) {
        match self {
            Self::SiweJs => ("node", "siwe_sign.mjs"),
            Self::SiwePy => ("python3", "siwe_sign.py"),
            Self::SiwsJs => ("node", "siws_sign.mjs"),
        }
    }

    /// Runs `MODE` with `input` on stdin and returns the JSON it prints. A peer whose packages
    /// are missing fails the test with the command that installs them: a wallet test that
    /// silently skipped would prove nothing.
    pub fn run(self, mode: &str, input: &Value) -> Value {
        let (program, script) = self.command();
        tessera_testkit::peer::run(program, script, mode, input)
    }
}

/// A string field of a peer's answer.
pub fn field<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string `{key}` in {value}"))
}
