//! REST errors in YARN's RemoteException shape, and the one map from core errors to HTTP statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::core::RmError;

/// An error answer: HTTP status, YARN's exception name, and the message.
#[derive(Debug)]
pub(crate) struct RestError {
    status: StatusCode,
    exception: &'static str,
    java_class: &'static str,
    message: String,
}

impl RestError {
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::BAD_REQUEST,
            exception: "BadRequestException",
            java_class: "org.apache.hadoop.yarn.webapp.BadRequestException",
            message: message.into(),
        }
    }

    /// A method the path does not take (Jersey answers YARN's REST this way).
    pub(crate) fn method_not_allowed(method: &axum::http::Method, path: &str) -> Self {
        RestError {
            status: StatusCode::METHOD_NOT_ALLOWED,
            exception: "WebApplicationException",
            java_class: "javax.ws.rs.WebApplicationException",
            message: format!("HTTP 405 Method Not Allowed: {method} is not allowed on {path}"),
        }
    }

    /// A request body over the web port's limit.
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        RestError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            exception: "WebApplicationException",
            java_class: "javax.ws.rs.WebApplicationException",
            message: format!("HTTP 413 Request Entity Too Large: request bodies are limited to {limit} bytes"),
        }
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::NOT_FOUND,
            exception: "NotFoundException",
            java_class: "org.apache.hadoop.yarn.webapp.NotFoundException",
            message: message.into(),
        }
    }
}

impl From<RmError> for RestError {
    fn from(error: RmError) -> Self {
        match &error {
            RmError::UnknownApplication(id) => {
                RestError::not_found(format!("java.lang.Exception: app with id: {id} not found"))
            }
            RmError::UnknownNode(id) => {
                RestError::not_found(format!("java.lang.Exception: nodeId, {id}, is not found"))
            }
            RmError::UnknownAttempt(_) | RmError::UnknownContainer(_) => RestError::not_found(error.to_string()),
            _ => RestError::bad_request(error.to_string()),
        }
    }
}

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({
            "RemoteException": {
                "exception": self.exception,
                "message": self.message,
                "javaClassName": self.java_class,
            }
        });
        (self.status, Json(body)).into_response()
    }
}
