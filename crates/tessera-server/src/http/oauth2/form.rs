//! The `application/x-www-form-urlencoded` bodies of the OAuth 2 endpoints, parsed strictly:
//! a parameter sent twice is an error (RFC 6749 §3.1), and so is any other content type.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};

use crate::error::OAuthError;

#[derive(Debug, Default)]
pub struct OAuthForm(HashMap<String, String>);

impl OAuthForm {
    pub fn parse(headers: &HeaderMap, body: &Bytes) -> Result<Self, OAuthError> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type.split(';').next().unwrap_or("").trim();
        if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(OAuthError::invalid_request(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let mut params = HashMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{name}` is repeated"
                )));
            }
        }
        Ok(Self(params))
    }

    /// A parameter; an empty value counts as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("parameter `{name}` is required")))
    }
}
