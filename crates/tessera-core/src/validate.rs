//! Checks on the free-text fields people send (names, emails, descriptions), shared by every
//! surface so that the same input is refused the same way everywhere.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ValidationError {
    pub field: &'static str,
    pub problem: String,
}

fn invalid(field: &'static str, problem: impl Into<String>) -> ValidationError {
    ValidationError {
        field,
        problem: problem.into(),
    }
}

/// A display name: trimmed, 1 to `max` characters, no control characters.
pub fn name(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// Free text up to `max` characters (newlines allowed).
pub fn text(field: &'static str, value: &str, max: usize) -> Result<String, ValidationError> {
    if value.chars().count() > max {
        return Err(invalid(field, format!("must be at most {max} characters")));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(value.to_owned())
}

/// An email address: one `@`, a non-empty local part, a dotted domain, no spaces; lowercased.
/// Deliverability is proven by sending mail, not by parsing.
pub fn email(value: &str) -> Result<String, ValidationError> {
    let value = value.trim();
    let well_formed = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if well_formed {
        Ok(value.to_lowercase())
    } else {
        Err(invalid("email", "is not an email address"))
    }
}

/// A list of short labels (capabilities), each a name of up to 100 characters, at most 64.
pub fn labels(field: &'static str, values: &[String]) -> Result<Vec<String>, ValidationError> {
    if values.len() > 64 {
        return Err(invalid(field, "must hold at most 64 entries"));
    }
    let mut out: Vec<String> = values
        .iter()
        .map(|v| name(field, v, 100))
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Acme ", 10).unwrap(), "Acme");
        assert!(name("name", "   ", 10).is_err());
        assert!(name("name", "a\u{0}b", 10).is_err());
        assert!(name("name", &"x".repeat(11), 10).is_err());
    }

    #[test]
    fn emails_need_a_dotted_domain() {
        assert_eq!(email("Ops@Example.com").unwrap(), "ops@example.com");
        for bad in [
            "", "no-at", "a@b", "@x.io", "a@@x.io", "a b@x.io", "a@.x", "a@x.",
        ] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
