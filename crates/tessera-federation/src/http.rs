//! Reading a provider's answers: bodies capped in size (a hostile or broken issuer must not
//! make Tessera buffer without bound), JSON parsed without echoing the body into errors.

use reqwest::Response;
use serde::de::DeserializeOwned;

/// Discovery documents, key sets, token responses and user profiles are a few kilobytes.
pub(crate) const MAX_BODY: usize = 256 * 1024;

/// The body, or why it could not be read.
pub(crate) async fn read_body(mut response: Response) -> Result<Vec<u8>, String> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(format!("the response is larger than {MAX_BODY} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the response is larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses JSON; the error names the position only, since a body may hold tokens.
pub(crate) fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| {
        format!(
            "not the expected JSON ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        )
    })
}

/// A successful (2xx) response's JSON, else why not.
pub(crate) async fn json_of<T: DeserializeOwned>(response: Response) -> Result<T, String> {
    let status = response.status();
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    parse_json(&read_body(response).await?)
}
