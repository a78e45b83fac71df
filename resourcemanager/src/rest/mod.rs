//! The ResourceManager's web port: REST `/ws/v1/cluster` with YARN's paths and JSON, pages for
//! people at `/cluster`, and Prometheus metrics at `/metrics`.

mod dto;
mod error;
mod metrics;
mod proxy;
mod web;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use weft_proto::states::{AppState, FinalStatus, NodeState};
use weft_proto::{ApplicationAttemptId, ApplicationId, NodeId};

use crate::core::{AccessType, AppFilter, Caller, KillFilter, KillReason, RmError};
use crate::staging::StagingStore;
use crate::state::Rm;
use error::RestError;

type Shared = State<Arc<Rm>>;
type RestResult = Result<Response, RestError>;

pub fn router(rm: Arc<Rm>, staging: StagingStore) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cluster") }))
        .route("/cluster", get(web::overview))
        .route("/cluster/nodes", get(web::nodes))
        .route("/cluster/apps", get(web::apps))
        .route("/cluster/app/{id}", get(web::app))
        .route("/cluster/kills", get(web::kills))
        .route("/metrics", get(metrics::render))
        .route("/proxy/{app}", get(proxy::proxy))
        .route("/proxy/{app}/", get(proxy::proxy))
        .route("/proxy/{app}/{*rest}", get(proxy::proxy))
        .route("/ws/v1/cluster", get(info))
        .route("/ws/v1/cluster/info", get(info))
        .route("/ws/v1/cluster/metrics", get(cluster_metrics))
        .route("/ws/v1/cluster/nodes", get(nodes))
        .route("/ws/v1/cluster/nodes/{id}", get(node))
        .route("/ws/v1/cluster/apps", get(apps))
        .route("/ws/v1/cluster/apps/new-application", axum::routing::post(new_application))
        .route("/ws/v1/cluster/apps/{id}", get(app))
        .route("/ws/v1/cluster/apps/{id}/state", get(app_state).put(put_app_state))
        .route("/ws/v1/cluster/apps/{id}/appattempts", get(attempts))
        .route("/ws/v1/cluster/apps/{id}/appattempts/{attempt}/containers", get(attempt_containers))
        .route("/ws/v1/cluster/containers/kills", get(kills))
        .fallback(weft_daemon::rest::not_found)
        .method_not_allowed_fallback(weft_daemon::rest::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::Extension(staging))
        .with_state(rm)
}

/// The largest request body the web port reads (the state PUT needs a few bytes).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The user a request names with `?user.name=` (Hadoop's simple HTTP authentication, trusted as
/// YARN's simple mode trusts it); empty without one, which [`Rm::caller`] takes as anonymous
/// (`dr.who`, Hadoop's static web user).
pub(crate) struct UserName(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UserName {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = Query::<std::collections::HashMap<String, String>>::try_from_uri(&parts.uri);
        let user = query.ok().and_then(|Query(mut q)| q.remove("user.name")).unwrap_or_default();
        Ok(UserName(user.trim().to_owned()))
    }
}

impl UserName {
    fn caller(&self, rm: &Rm) -> Caller {
        rm.caller(&self.0)
    }
}

fn json(value: Value) -> Response {
    Json(value).into_response()
}

fn parse_app_id(text: &str) -> Result<ApplicationId, RestError> {
    text.parse().map_err(|_| RestError::bad_request(format!("Invalid ApplicationId: {text}")))
}

async fn info(State(rm): Shared) -> Response {
    json(json!({ "clusterInfo": dto::cluster_info(&rm.info) }))
}

async fn cluster_metrics(State(rm): Shared) -> Response {
    let m = rm.with(|core, _| core.metrics());
    json(json!({ "clusterMetrics": dto::cluster_metrics(&m) }))
}

/// Splits a comma-separated query value and parses each item.
fn parse_list<T: std::str::FromStr>(text: Option<&String>) -> Result<Vec<T>, RestError>
where
    T::Err: std::fmt::Display,
{
    let Some(text) = text else { return Ok(Vec::new()) };
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|e| RestError::bad_request(e.to_string())))
        .collect()
}

/// A time filter: milliseconds since the epoch.
fn parse_time(query: &std::collections::HashMap<String, String>, key: &str) -> Result<Option<u64>, RestError> {
    query
        .get(key)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                RestError::bad_request(format!("{key} must be a time in milliseconds since the epoch, got {v:?}"))
            })
        })
        .transpose()
}

async fn nodes(State(rm): Shared, Query(query): Query<std::collections::HashMap<String, String>>) -> RestResult {
    let states: Vec<NodeState> = parse_list(query.get("states").or(query.get("state")))?;
    let wanted = |s: NodeState| if states.is_empty() { s.is_active() } else { states.contains(&s) };
    let list: Vec<_> = rm.with(|core, _| core.nodes().filter(|n| wanted(n.state)).map(dto::node_info).collect());
    Ok(json(if list.is_empty() { json!({ "nodes": null }) } else { json!({ "nodes": { "node": list } }) }))
}

async fn node(State(rm): Shared, Path(id): Path<String>) -> RestResult {
    let node_id: NodeId =
        id.parse().map_err(|_| RestError::bad_request(format!("Invalid NodeId [{id}]. Expected host:port")))?;
    let node = rm.with(|core, _| core.node(&node_id).map(dto::node_info))?;
    Ok(json(json!({ "node": node })))
}

fn app_filter(query: &std::collections::HashMap<String, String>) -> Result<AppFilter, RestError> {
    let limit = match query.get("limit") {
        Some(v) => match v.trim().parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            _ => return Err(RestError::bad_request(format!("limit value must be greater then 0, got {v:?}"))),
        },
        None => None,
    };
    Ok(AppFilter {
        states: parse_list::<AppState>(query.get("states").or(query.get("state")))?,
        final_statuses: parse_list::<FinalStatus>(query.get("finalStatus"))?,
        queue: query.get("queue").cloned(),
        user: query.get("user").cloned(),
        name: query.get("name").cloned(),
        application_types: parse_list::<String>(query.get("applicationTypes"))?,
        limit,
        started_begin_ms: parse_time(query, "startedTimeBegin")?,
        started_end_ms: parse_time(query, "startedTimeEnd")?,
        finished_begin_ms: parse_time(query, "finishedTimeBegin")?,
        finished_end_ms: parse_time(query, "finishedTimeEnd")?,
    })
}

async fn apps(
    State(rm): Shared,
    user: UserName,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> RestResult {
    let filter = app_filter(&query)?;
    if let (Some(b), Some(e)) = (filter.started_begin_ms, filter.started_end_ms) {
        if b > e {
            return Err(RestError::bad_request("startedTimeEnd must be greater than startTimeBegin"));
        }
    }
    let info = rm.info.clone();
    let caller = user.caller(&rm);
    let list: Vec<_> = rm.with(|core, now| {
        let shown = |a| dto::app_info(a, core, &info, now, core.may(a, &caller, AccessType::ViewApp));
        core.apps(&filter).into_iter().map(shown).collect()
    });
    Ok(json(if list.is_empty() { json!({ "apps": null }) } else { json!({ "apps": { "app": list } }) }))
}

async fn app(State(rm): Shared, Path(id): Path<String>, user: UserName) -> RestResult {
    let id = parse_app_id(&id)?;
    let info = rm.info.clone();
    let caller = user.caller(&rm);
    let app = rm.with(|core, now| {
        core.app(id).map(|a| dto::app_info(a, core, &info, now, core.may(a, &caller, AccessType::ViewApp)))
    })?;
    Ok(json(json!({ "app": app })))
}

async fn new_application(State(rm): Shared) -> Response {
    let (id, max) = rm.with(|core, _| (core.new_application(), core.config().maximum_allocation));
    json(json!({
        "application-id": id.to_string(),
        "maximum-resource-capability": { "memory": max.memory_mb, "vCores": max.vcores },
    }))
}

async fn app_state(State(rm): Shared, Path(id): Path<String>) -> RestResult {
    let id = parse_app_id(&id)?;
    let state = rm.with(|core, _| core.app(id).map(|a| a.state))?;
    Ok(json(json!({ "state": state })))
}

/// `PUT /apps/{id}/state` with `{"state":"KILLED"}`: 202 (with Location) when the kill starts, 200
/// when the application had already ended, 400 for any other target state or a malformed body,
/// 403 when ACLs are on and the caller may not modify the application.
async fn put_app_state(
    State(rm): Shared,
    Path(id): Path<String>,
    user: UserName,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> RestResult {
    let id = parse_app_id(&id)?;
    let body = weft_daemon::rest::read_body(body, MAX_BODY_BYTES)?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        RestError::bad_request(format!("malformed body: expected JSON like {{\"state\":\"KILLED\"}}: {e}"))
    })?;
    let target = body.get("state").and_then(Value::as_str).ok_or_else(|| {
        RestError::bad_request("malformed body: expected a \"state\" field, like {\"state\":\"KILLED\"}")
    })?;
    if !target.eq_ignore_ascii_case("KILLED") {
        return Err(RestError::bad_request("Only 'KILLED' is allowed as a target state."));
    }
    let caller = user.caller(&rm);
    let (killed, state) = rm
        .with(|core, now| {
            core.authorized(id, &caller, AccessType::ModifyApp)?;
            let killed = core.kill(id, "Application killed by user through the REST API.".into(), now)?;
            Ok::<_, RmError>((killed, core.app(id)?.state))
        })
        .map_err(|e| match e {
            // RMWebServices' words for this refusal.
            RmError::AccessDenied { user, app, .. } => {
                RestError::forbidden(format!("Unauthorized attempt to kill appid {app} by remote user {user}"))
            }
            other => other.into(),
        })?;
    let body = Json(json!({ "state": state }));
    if killed {
        let location = format!("/ws/v1/cluster/apps/{id}/state");
        Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response())
    } else {
        Ok(body.into_response())
    }
}

async fn attempts(State(rm): Shared, Path(id): Path<String>, user: UserName) -> RestResult {
    let id = parse_app_id(&id)?;
    let caller = user.caller(&rm);
    let list = rm.with(|core, _| {
        core.authorized(id, &caller, AccessType::ViewApp)
            .map(|a| a.attempts.iter().map(|t| dto::attempt_info(t, &a.submission.user)).collect::<Vec<_>>())
    })?;
    Ok(json(json!({ "appAttempts": { "appAttempt": list } })))
}

async fn attempt_containers(
    State(rm): Shared,
    Path((id, attempt)): Path<(String, String)>,
    user: UserName,
) -> RestResult {
    let app = parse_app_id(&id)?;
    let attempt: ApplicationAttemptId =
        attempt.parse().map_err(|_| RestError::bad_request(format!("Invalid AppAttemptId: {attempt}")))?;
    if attempt.application != app {
        return Err(RestError::bad_request(format!("application attempt {attempt} does not belong to {app}")));
    }
    let caller = user.caller(&rm);
    let list = rm.with(|core, now| {
        let user = core.authorized(app, &caller, AccessType::ViewApp)?.submission.user.clone();
        core.attempt_containers(attempt)
            .map(|cs| cs.into_iter().map(|c| dto::container_info(c, &user, now)).collect::<Vec<_>>())
    })?;
    Ok(json(if list.is_empty() {
        json!({ "containers": null })
    } else {
        json!({ "containers": { "container": list } })
    }))
}

/// The kill feed: containers ended by a kill, newest first. Filters: `app`, `node`, `reason`
/// (e.g. `physical_memory`), `since` (ms since the epoch), `limit`. With ACLs on, only the kills of
/// applications the caller may view.
async fn kills(
    State(rm): Shared,
    user: UserName,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> RestResult {
    let filter = KillFilter {
        app: query.get("app").map(|a| parse_app_id(a)).transpose()?,
        node: query
            .get("node")
            .map(|n| n.parse::<NodeId>().map_err(|e| RestError::bad_request(e.to_string())))
            .transpose()?,
        reason: query.get("reason").map(|r| r.parse::<KillReason>().map_err(RestError::bad_request)).transpose()?,
        since_ms: parse_time(&query, "since")?,
    };
    let limit = match query.get("limit") {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(RestError::bad_request(format!("limit must be a whole number above 0, got {v:?}"))),
        },
        None => usize::MAX,
    };
    let caller = user.caller(&rm);
    let list: Vec<_> = rm.with(|core, _| {
        core.kills(&filter)
            .into_iter()
            .filter(|k| core.may_view(k.container.application(), &caller))
            .take(limit)
            .map(|k| {
                let http = core.node(&k.node).map(|n| n.http_address.to_string()).unwrap_or_default();
                dto::kill_info(k, http)
            })
            .collect()
    });
    Ok(json(if list.is_empty() {
        json!({ "containerKills": null })
    } else {
        json!({ "containerKills": { "containerKill": list } })
    }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    use super::*;
    use crate::core::{CoreConfig, RmCore};
    use crate::state::RmInfo;

    fn rm() -> Arc<Rm> {
        let info = RmInfo {
            cluster_id: "test".into(),
            cluster_timestamp: 1,
            client_address: "127.0.0.1:1".into(),
            scheduler_address: "127.0.0.1:2".into(),
            webapp_address: "127.0.0.1:3".into(),
            version: "test",
        };
        let keys = crate::tokens::Keys::generate(1, std::time::Duration::from_secs(600)).unwrap();
        Arc::new(Rm::new(RmCore::new(CoreConfig::with_defaults(1)), info, keys, None).0)
    }

    async fn call(method: Method, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let request = Request::builder().method(method).uri(path).body(Body::from(body)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let staging = StagingStore::open(dir.path(), u64::MAX).unwrap();
        let response = router(rm(), staging).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into())),
        )
    }

    fn remote_exception(body: &Value) -> (&str, &str) {
        let e = &body["RemoteException"];
        (e["exception"].as_str().unwrap_or_default(), e["message"].as_str().unwrap_or_default())
    }

    #[tokio::test]
    async fn a_wrong_method_is_405_in_yarns_shape() {
        let (status, body) = call(Method::DELETE, "/ws/v1/cluster/apps/application_1_0001/state", vec![]).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
        let (exception, message) = remote_exception(&body);
        assert_eq!(exception, "WebApplicationException", "{body}");
        assert!(message.contains("DELETE"), "{body}");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_413_in_yarns_shape() {
        let huge = vec![b' '; MAX_BODY_BYTES + 1];
        let (status, body) = call(Method::PUT, "/ws/v1/cluster/apps/application_1_0001/state", huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
        let (exception, message) = remote_exception(&body);
        assert_eq!(exception, "WebApplicationException", "{body}");
        assert!(message.contains(&MAX_BODY_BYTES.to_string()), "{body}");
    }

    #[tokio::test]
    async fn the_kill_feeds_limit_error_speaks_of_a_count() {
        let (status, body) = call(Method::GET, "/ws/v1/cluster/containers/kills?limit=ten", vec![]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (_, message) = remote_exception(&body);
        assert!(message.contains("limit must be a whole number above 0"), "{body}");
        assert!(!message.contains("milliseconds"), "{body}");
        let (status, body) = call(Method::GET, "/ws/v1/cluster/containers/kills?since=yesterday", vec![]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(remote_exception(&body).1.contains("milliseconds since the epoch"), "{body}");
    }
}
