//! REST errors in YARN's RemoteException shape; the one place HTTP statuses are chosen.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer: HTTP status, YARN's exception name and Java class, and the message.
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

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::NOT_FOUND,
            exception: "NotFoundException",
            java_class: "org.apache.hadoop.yarn.webapp.NotFoundException",
            message: message.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        RestError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            exception: "WebApplicationException",
            java_class: "javax.ws.rs.WebApplicationException",
            message: message.into(),
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
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
