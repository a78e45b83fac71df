//! YARN's web proxy on the ResourceManager's web port: `/proxy/{app}/…` reaches a running
//! application master's UI (Spark's `/api/v1`, say) through the one port a user can reach, and after
//! the application finished redirects to the URL it unregistered with (its History Server page).
//! An application without a UI of its own leads to its page on the ResourceManager. With ACLs on, the
//! caller needs VIEW_APP, as YARN's proxy checks it.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};

use super::error::RestError;
use super::{parse_app_id, UserName};
use crate::core::{AccessType, ProxyTarget, RmError};
use crate::state::Rm;

const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);

/// `GET /proxy/{app}` and `/proxy/{app}/{*rest}`.
pub(super) async fn proxy(
    State(rm): State<Arc<Rm>>,
    Path(params): Path<Vec<(String, String)>>,
    uri: Uri,
    user: UserName,
) -> Result<Response, RestError> {
    let text = params.iter().find(|(k, _)| k == "app").map(|(_, v)| v.as_str()).unwrap_or_default();
    let rest = params.iter().find(|(k, _)| k == "rest").map(|(_, v)| v.as_str()).unwrap_or_default();
    let id = parse_app_id(text)?;
    let caller = user.caller(&rm);
    let target = rm.with(|core, _| core.authorized(id, &caller, AccessType::ViewApp).map(|app| app.proxy_target()));
    let target = match target {
        Ok(target) => target,
        Err(RmError::UnknownApplication(_)) => {
            return Err(RestError::not_found(format!("Application {id} could not be found in RM or history server")))
        }
        Err(e) => return Err(e.into()),
    };
    let query = uri.query().map(|q| format!("?{q}")).unwrap_or_default();
    match target {
        ProxyTarget::RmPage => Ok(Redirect::to(&format!("/cluster/app/{id}")).into_response()),
        ProxyTarget::Redirect(url) => Ok(Redirect::to(&join(&url, rest, &query)).into_response()),
        ProxyTarget::Forward(base) => Ok(forward(&join(&base, rest, &query)).await),
    }
}

/// `base` + `/rest` + `?query`, with one slash between.
fn join(base: &str, rest: &str, query: &str) -> String {
    format!("{}/{}{query}", base.trim_end_matches('/'), rest.trim_start_matches('/'))
}

/// Fetches `url` and hands its status, type and body back; an unreachable UI is a 502 naming it.
async fn forward(url: &str) -> Response {
    let client =
        reqwest::Client::builder().timeout(FORWARD_TIMEOUT).redirect(reqwest::redirect::Policy::none()).build();
    let fetched = match client {
        Ok(client) => client.get(url).send().await,
        Err(e) => {
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot build the proxy's client: {e}")).into_response()
        }
    };
    let response = match fetched {
        Ok(response) => response,
        Err(e) => {
            return (StatusCode::BAD_GATEWAY, format!("the application master's web UI at {url} did not answer: {e}"))
                .into_response()
        }
    };
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
    let content_type =
        response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let location = response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match response.bytes().await {
        Ok(body) => {
            let mut out = (status, body).into_response();
            if let Some(value) = content_type.and_then(|v| v.parse().ok()) {
                out.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            if let Some(value) = location.and_then(|v| v.parse().ok()) {
                out.headers_mut().insert(header::LOCATION, value);
            }
            out
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("reading the answer of {url}: {e}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_queries_are_joined_with_one_slash() {
        assert_eq!(join("http://h:4040", "api/v1/applications", ""), "http://h:4040/api/v1/applications");
        assert_eq!(join("http://h:4040/", "/jobs/", "?status=running"), "http://h:4040/jobs/?status=running");
        assert_eq!(join("http://shs:18080/history/app/1", "", ""), "http://shs:18080/history/app/1/");
    }
}
