//! REST errors in YARN's `RemoteException` shape, `{"RemoteException":{"exception":…,"message":…,
//! "javaClassName":…}}`, the one place the daemons choose HTTP statuses for errors, and the answers
//! every router gives for an unknown path (404), a wrong method (405) and a body over its limit (413).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// An error answer: HTTP status, YARN's exception name and Java class, and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteException {
    status: StatusCode,
    exception: &'static str,
    java_class: &'static str,
    message: String,
}

impl RemoteException {
    pub fn bad_request(message: impl Into<String>) -> Self {
        RemoteException {
            status: StatusCode::BAD_REQUEST,
            exception: "BadRequestException",
            java_class: "org.apache.hadoop.yarn.webapp.BadRequestException",
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        RemoteException {
            status: StatusCode::NOT_FOUND,
            exception: "NotFoundException",
            java_class: "org.apache.hadoop.yarn.webapp.NotFoundException",
            message: message.into(),
        }
    }

    /// A caller the request may not be made by (YARN's `ForbiddenException`, 403).
    pub fn forbidden(message: impl Into<String>) -> Self {
        RemoteException {
            status: StatusCode::FORBIDDEN,
            exception: "ForbiddenException",
            java_class: "org.apache.hadoop.yarn.webapp.ForbiddenException",
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::web_application(StatusCode::INTERNAL_SERVER_ERROR, message.into())
    }

    /// A method the path does not take (Jersey answers YARN's REST this way).
    pub fn method_not_allowed(method: &Method, path: &str) -> Self {
        let message = format!("HTTP 405 Method Not Allowed: {method} is not allowed on {path}");
        Self::web_application(StatusCode::METHOD_NOT_ALLOWED, message)
    }

    /// A request body over the web port's limit.
    pub fn payload_too_large(limit: usize) -> Self {
        let message = format!("HTTP 413 Request Entity Too Large: request bodies are limited to {limit} bytes");
        Self::web_application(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    fn web_application(status: StatusCode, message: String) -> Self {
        RemoteException {
            status,
            exception: "WebApplicationException",
            java_class: "javax.ws.rs.WebApplicationException",
            message,
        }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl IntoResponse for RemoteException {
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

/// A router's fallback: nothing at this path.
pub async fn not_found(uri: Uri) -> RemoteException {
    RemoteException::not_found(format!("no resource at {}", uri.path()))
}

/// A router's `method_not_allowed_fallback`.
pub async fn method_not_allowed(method: Method, uri: Uri) -> RemoteException {
    RemoteException::method_not_allowed(&method, uri.path())
}

/// A body that could not be read: too large (413, naming `limit`) or cut off (400).
pub fn read_body(body: Result<Bytes, BytesRejection>, limit: usize) -> Result<Bytes, RemoteException> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => RemoteException::payload_too_large(limit),
        _ => RemoteException::bad_request(format!("cannot read the request body: {}", rejection.body_text())),
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::put;
    use axum::Router;
    use tower::ServiceExt;

    use super::*;

    const LIMIT: usize = 16;

    async fn echo(body: Result<Bytes, BytesRejection>) -> Result<Bytes, RemoteException> {
        read_body(body, LIMIT)
    }

    fn router() -> Router {
        Router::new()
            .route("/x", put(echo))
            .fallback(not_found)
            .method_not_allowed_fallback(method_not_allowed)
            .layer(axum::extract::DefaultBodyLimit::max(LIMIT))
    }

    async fn call(method: Method, path: &str, body: &'static [u8]) -> (StatusCode, serde_json::Value) {
        let request = Request::builder().method(method).uri(path).body(Body::from(body)).unwrap();
        let response = router().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn unknown_paths_wrong_methods_and_large_bodies_answer_in_yarns_shape() {
        let (status, body) = call(Method::GET, "/nowhere", b"").await;
        assert_eq!(
            (status, body["RemoteException"]["exception"].as_str()),
            (StatusCode::NOT_FOUND, Some("NotFoundException"))
        );
        let (status, body) = call(Method::POST, "/x", b"").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(body["RemoteException"]["message"].as_str().unwrap().contains("POST"), "{body}");
        let (status, body) = call(Method::PUT, "/x", b"seventeen bytes!!").await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["RemoteException"]["javaClassName"], "javax.ws.rs.WebApplicationException");
        let (status, _) = call(Method::PUT, "/x", b"small").await;
        assert_eq!(status, StatusCode::OK);
    }
}
