//! The one error type of the HTTP API and its response: the status code plus
//! `{"message":"<TEXT>"}` with the V1 content-type header, exactly as the reference.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub const V1_HEADER: &str = "x-nsq-content-type";
pub const V1_VALUE: &str = "nsq; version=1.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: &str) -> ApiError {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: &str) -> ApiError {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn too_big(message: &str) -> ApiError {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }
    pub fn internal() -> ApiError {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "message": self.message }).to_string();
        let mut resp = (self.status, body).into_response();
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        h.insert(V1_HEADER, HeaderValue::from_static(V1_VALUE));
        resp
    }
}

/// A V1 success: a text payload (e.g. `OK`), an empty body, or compact JSON.
pub enum V1 {
    Text(&'static str),
    Plain(String),
    Empty,
    Json(Vec<u8>),
}

impl IntoResponse for V1 {
    fn into_response(self) -> Response {
        let mut resp = match self {
            V1::Text(t) => {
                let mut r = t.into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
            V1::Plain(t) => {
                let mut r = t.into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                r
            }
            V1::Empty => StatusCode::OK.into_response(),
            V1::Json(body) => {
                let mut r = body.into_response();
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json; charset=utf-8"),
                );
                r
            }
        };
        resp.headers_mut()
            .insert(V1_HEADER, HeaderValue::from_static(V1_VALUE));
        resp
    }
}

pub type ApiResult = Result<V1, ApiError>;
