//! AWS STS `AssumeRoleWithWebIdentity` (API version 2011-06-15): an agent's workload OIDC
//! token (audience `sts.amazonaws.com`) exchanged for temporary AWS credentials of a role whose
//! trust policy names Tessera as its OIDC provider. The call is unsigned (the token is the
//! proof), so no AWS SDK or SigV4 is needed: a form POST, and the XML answer read with
//! quick-xml. The secret parts of the answer never reach a log (`Secret`'s `Debug` is `***`).

use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::config::Secret;

/// The audience AWS expects in web-identity tokens.
pub const AUDIENCE: &str = "sts.amazonaws.com";
const TIMEOUT: Duration = Duration::from_secs(10);
/// STS answers are a few kilobytes.
const MAX_BODY: usize = 64 * 1024;

/// The STS endpoint and the client that calls it.
#[derive(Debug)]
pub struct Sts {
    endpoint: Url,
    http: reqwest::Client,
}

/// Temporary credentials, as STS issued them.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    /// RFC 3339, as STS writes it.
    pub expiration: String,
}

/// What STS answered: the credentials and the assumed role's session ARN.
#[derive(Debug, Clone)]
pub struct Assumed {
    pub credentials: Credentials,
    pub assumed_role_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum StsError {
    #[error("AWS STS could not be reached: {0}")]
    Unreachable(String),
    /// An `ErrorResponse` (AccessDenied, InvalidIdentityToken, ValidationError…).
    #[error("AWS STS refused: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("AWS STS answered something unusable: {0}")]
    Unusable(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Answer {
    assume_role_with_web_identity_result: AnswerResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AnswerResult {
    credentials: Credentials,
    #[serde(default)]
    assumed_role_user: Option<AssumedRoleUser>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    arn: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorAnswer {
    error: ErrorDetail,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDetail {
    code: String,
    #[serde(default)]
    message: String,
}

impl Sts {
    pub fn new(endpoint: Url) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("Tessera/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { endpoint, http })
    }

    /// `AssumeRoleWithWebIdentity` for `role_arn` with `token`.
    pub async fn assume_role(
        &self,
        role_arn: &str,
        session_name: &str,
        token: &str,
        duration_secs: u32,
    ) -> Result<Assumed, StsError> {
        let duration = duration_secs.to_string();
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"),
            ("Version", "2011-06-15"),
            ("RoleArn", role_arn),
            ("RoleSessionName", session_name),
            ("WebIdentityToken", token),
            ("DurationSeconds", duration.as_str()),
        ];
        let mut response = self
            .http
            .post(self.endpoint.clone())
            .form(&form)
            .send()
            .await
            .map_err(|e| StsError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| StsError::Unreachable(e.without_url().to_string()))?
        {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(StsError::Unusable("the answer is too large".to_owned()));
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(body)
            .map_err(|_| StsError::Unusable("the answer is not UTF-8".to_owned()))?;
        parse(status.is_success(), &text)
    }
}

/// Reads STS's XML answer: the credentials on success, its error code and message otherwise.
fn parse(success: bool, xml: &str) -> Result<Assumed, StsError> {
    if !success {
        return Err(match quick_xml::de::from_str::<ErrorAnswer>(xml) {
            Ok(answer) => StsError::Refused {
                code: answer.error.code.chars().take(100).collect(),
                message: answer.error.message.chars().take(500).collect(),
            },
            Err(_) => StsError::Unusable("an error without an ErrorResponse".to_owned()),
        });
    }
    let answer: Answer = quick_xml::de::from_str(xml).map_err(|e| {
        StsError::Unusable(format!("not an AssumeRoleWithWebIdentityResponse: {e}"))
    })?;
    let result = answer.assume_role_with_web_identity_result;
    Ok(Assumed {
        credentials: result.credentials,
        assumed_role_arn: result.assumed_role_user.map(|u| u.arn),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_errors_are_read() {
        let ok = r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
          <AssumeRoleWithWebIdentityResult>
            <SubjectFromWebIdentityToken>agt_1</SubjectFromWebIdentityToken>
            <AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deploy/agt_1</Arn>
              <AssumedRoleId>AROA:agt_1</AssumedRoleId></AssumedRoleUser>
            <Credentials><SessionToken>tok&amp;en</SessionToken><SecretAccessKey>s3cr3t-value</SecretAccessKey>
              <Expiration>2030-01-01T00:00:00Z</Expiration><AccessKeyId>ASIA1</AccessKeyId></Credentials>
          </AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"#;
        let assumed = parse(true, ok).unwrap();
        assert_eq!(assumed.credentials.access_key_id, "ASIA1");
        assert_eq!(assumed.credentials.session_token.expose(), "tok&en");
        assert!(!format!("{:?}", assumed.credentials).contains("s3cr3t"));
        assert_eq!(
            assumed.assumed_role_arn.as_deref(),
            Some("arn:aws:sts::123456789012:assumed-role/deploy/agt_1")
        );
        let denied = r#"<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>
            <Message>Not authorized</Message></Error><RequestId>r</RequestId></ErrorResponse>"#;
        assert!(matches!(
            parse(false, denied),
            Err(StsError::Refused { code, .. }) if code == "AccessDenied"
        ));
        assert!(matches!(
            parse(false, "<html/>"),
            Err(StsError::Unusable(_))
        ));
        assert!(matches!(
            parse(true, "<Other/>"),
            Err(StsError::Unusable(_))
        ));
    }
}
