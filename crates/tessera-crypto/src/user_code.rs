//! User codes of the device authorization grant (RFC 8628 §6.1): eight letters a person types
//! from another screen, shown as `WDJB-MJHT`. The alphabet has no vowels (no words) and no
//! look-alikes; 20^8 (about 2^34.6) codes, which live minutes and whose guesses are limited.

/// Consonants only, without `Y`, so that a code spells no word.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
const LEN: usize = 8;

/// A fresh random user code, formatted for display.
pub fn user_code() -> String {
    let mut letters = String::with_capacity(LEN + 1);
    let mut count = 0;
    while count < LEN {
        let mut byte = [0u8; 1];
        // As in `GeneratedSecret::new`: without randomness there is nothing safe to hand out.
        aws_lc_rs::rand::fill(&mut byte).expect("system random number generator failed");
        // Rejection sampling: 240 is the largest multiple of 20 below 256, so no letter is
        // likelier than another.
        if byte[0] >= 240 {
            continue;
        }
        if count == LEN / 2 {
            letters.push('-');
        }
        letters.push(char::from(ALPHABET[usize::from(byte[0] % 20)]));
        count += 1;
    }
    letters
}

/// What a person typed, as the canonical code (upper case, no separators), if it can be one.
pub fn normalize_user_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_typable_and_normalize_back() {
        let code = user_code();
        assert_eq!(code.len(), LEN + 1);
        assert_eq!(&code[4..5], "-");
        let canonical = normalize_user_code(&code.to_lowercase()).unwrap();
        assert_eq!(canonical, code.replace('-', ""));
        assert_eq!(
            normalize_user_code(" wdjb mjht ").as_deref(),
            Some("WDJBMJHT")
        );
        assert_ne!(user_code(), user_code());
    }

    #[test]
    fn anything_else_is_refused() {
        for typed in ["", "WDJB-MJH", "WDJB-MJHTX", "AEIO-UAEI", "WDJB-MJH1"] {
            assert_eq!(normalize_user_code(typed), None, "{typed}");
        }
    }
}
