//! Request-body and path extraction whose failures are Tessera errors (`{"error", "message"}`)
//! instead of axum's plain-text rejections.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use tessera_proto::ErrorCode;

use crate::error::ApiError;

/// `axum::Json`, with rejections mapped to the error table.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::JsonDataError(e) => ApiError::new(ErrorCode::InvalidBody, e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::new(ErrorCode::InvalidJson, e.body_text()),
        JsonRejection::MissingJsonContentType(_) => ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        JsonRejection::BytesRejection(e) if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(
                ErrorCode::PayloadTooLarge,
                "the body is larger than the server accepts",
            )
        }
        other => ApiError::new(ErrorCode::InvalidJson, other.body_text()),
    }
}

/// Parses an identifier from the path, answering 400 `invalid_id` when malformed.
pub fn path_id<T>(raw: &str) -> Result<T, ApiError>
where
    T: std::str::FromStr<Err = tessera_core::IdError>,
{
    raw.parse()
        .map_err(|e: tessera_core::IdError| ApiError::new(ErrorCode::InvalidId, e.to_string()))
}

/// `axum::extract::Query`, with rejections mapped to the error table.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        state: &S,
    ) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Self(q.0))
            .map_err(|rejection| ApiError::new(ErrorCode::InvalidParameter, rejection.body_text()))
    }
}
