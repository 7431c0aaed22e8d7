//! Standard Webhooks signatures: secrets are `whsec_` + base64 of 32 random bytes; each
//! delivery carries `webhook-id`, `webhook-timestamp` and `webhook-signature`, the latter
//! `v1,<base64 HMAC-SHA256(key, "<id>.<timestamp>.<body>")>` once per signing secret,
//! space-separated (two while a rotated secret overlaps). The secret is kept sealed with the
//! master key, bound to its subscription's id, because signing needs it in clear.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tessera_core::WebhookId;
use tessera_crypto::{EnvelopeError, MasterKeys, SecretString};
use zeroize::Zeroizing;

pub const SECRET_PREFIX: &str = "whsec_";
const KEY_LEN: usize = 32;

/// A new signing key: its sealed form to store, and the `whsec_` string to show once.
pub fn new_secret(master: &MasterKeys, webhook: WebhookId) -> (Vec<u8>, SecretString) {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    // The system RNG failing is unrecoverable; there is nothing safe to hand out instead.
    #[allow(clippy::expect_used)]
    aws_lc_rs::rand::fill(&mut key[..]).expect("system random number generator failed");
    let shown = SecretString::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(&key[..])));
    (seal(master, webhook, &key[..]), shown)
}

fn seal(master: &MasterKeys, webhook: WebhookId, key: &[u8]) -> Vec<u8> {
    master.seal(key, webhook.to_string().as_bytes())
}

/// Opens a sealed signing key of `webhook`.
pub fn open(
    master: &MasterKeys,
    webhook: WebhookId,
    sealed: &[u8],
) -> Result<Zeroizing<Vec<u8>>, EnvelopeError> {
    master.open(sealed, webhook.to_string().as_bytes())
}

/// One `v1,<base64>` signature of a message.
pub fn signature(key: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut context = hmac::Context::with_key(&key);
    context.update(msg_id.as_bytes());
    context.update(b".");
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
}

/// The `webhook-signature` header: one signature per key, space-separated.
pub fn signature_header<'k>(
    keys: impl IntoIterator<Item = &'k [u8]>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    keys.into_iter()
        .map(|key| signature(key, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use tessera_crypto::MasterKey;

    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn matches_the_specification_example() {
        let key = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = signature_header([&key[..], b"other"], "m", 1, b"{}");
        assert_eq!(both.split(' ').count(), 2);
    }

    #[test]
    fn sealed_secrets_open_only_for_their_subscription() {
        let master = MasterKeys::new(MasterKey::generate(1), Vec::new());
        let id = WebhookId::generate();
        let (sealed, shown) = new_secret(&master, id);
        let key = open(&master, id, &sealed).unwrap();
        let encoded = shown.expose().strip_prefix(SECRET_PREFIX).unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), key.as_slice());
        assert!(open(&master, WebhookId::generate(), &sealed).is_err());
    }
}
