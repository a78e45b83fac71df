//! The ResourceManager's web port: REST `/ws/v1/cluster` with YARN's paths and JSON, pages for
//! people at `/cluster`, and Prometheus metrics at `/metrics`.

mod dto;
mod error;
mod metrics;
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

use crate::core::{AppFilter, KillFilter, KillReason};
use crate::state::Rm;
use error::RestError;

type Shared = State<Arc<Rm>>;
type RestResult = Result<Response, RestError>;

pub fn router(rm: Arc<Rm>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/cluster") }))
        .route("/cluster", get(web::overview))
        .route("/cluster/nodes", get(web::nodes))
        .route("/cluster/apps", get(web::apps))
        .route("/cluster/app/{id}", get(web::app))
        .route("/metrics", get(metrics::render))
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
        .fallback(not_found)
        .with_state(rm)
}

async fn not_found(uri: axum::http::Uri) -> RestError {
    RestError::not_found(format!("no resource at {}", uri.path()))
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

fn parse_number(query: &std::collections::HashMap<String, String>, key: &str) -> Result<Option<u64>, RestError> {
    query
        .get(key)
        .map(|v| {
            v.trim().parse::<u64>().map_err(|_| {
                RestError::bad_request(format!("{key} must be a number of milliseconds at least 0, got {v:?}"))
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
        started_begin_ms: parse_number(query, "startedTimeBegin")?,
        started_end_ms: parse_number(query, "startedTimeEnd")?,
        finished_begin_ms: parse_number(query, "finishedTimeBegin")?,
        finished_end_ms: parse_number(query, "finishedTimeEnd")?,
    })
}

async fn apps(State(rm): Shared, Query(query): Query<std::collections::HashMap<String, String>>) -> RestResult {
    let filter = app_filter(&query)?;
    if let (Some(b), Some(e)) = (filter.started_begin_ms, filter.started_end_ms) {
        if b > e {
            return Err(RestError::bad_request("startedTimeEnd must be greater than startTimeBegin"));
        }
    }
    let info = rm.info.clone();
    let list: Vec<_> =
        rm.with(|core, now| core.apps(&filter).into_iter().map(|a| dto::app_info(a, core, &info, now)).collect());
    Ok(json(if list.is_empty() { json!({ "apps": null }) } else { json!({ "apps": { "app": list } }) }))
}

async fn app(State(rm): Shared, Path(id): Path<String>) -> RestResult {
    let id = parse_app_id(&id)?;
    let info = rm.info.clone();
    let app = rm.with(|core, now| core.app(id).map(|a| dto::app_info(a, core, &info, now)))?;
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
/// when the application had already ended, 400 for any other target state or a malformed body.
async fn put_app_state(State(rm): Shared, Path(id): Path<String>, body: Bytes) -> RestResult {
    let id = parse_app_id(&id)?;
    let body: Value = serde_json::from_slice(&body).map_err(|e| {
        RestError::bad_request(format!("malformed body: expected JSON like {{\"state\":\"KILLED\"}}: {e}"))
    })?;
    let target = body.get("state").and_then(Value::as_str).ok_or_else(|| {
        RestError::bad_request("malformed body: expected a \"state\" field, like {\"state\":\"KILLED\"}")
    })?;
    if !target.eq_ignore_ascii_case("KILLED") {
        return Err(RestError::bad_request("Only 'KILLED' is allowed as a target state."));
    }
    let (killed, state) = rm.with(|core, now| {
        let killed = core.kill(id, "Application killed by user through the REST API.".into(), now)?;
        Ok::<_, crate::core::RmError>((killed, core.app(id)?.state))
    })?;
    let body = Json(json!({ "state": state }));
    if killed {
        let location = format!("/ws/v1/cluster/apps/{id}/state");
        Ok((StatusCode::ACCEPTED, [(header::LOCATION, location)], body).into_response())
    } else {
        Ok(body.into_response())
    }
}

async fn attempts(State(rm): Shared, Path(id): Path<String>) -> RestResult {
    let id = parse_app_id(&id)?;
    let list = rm.with(|core, _| {
        core.app(id).map(|a| a.attempts.iter().map(|t| dto::attempt_info(t, &a.submission.user)).collect::<Vec<_>>())
    })?;
    Ok(json(json!({ "appAttempts": { "appAttempt": list } })))
}

async fn attempt_containers(State(rm): Shared, Path((id, attempt)): Path<(String, String)>) -> RestResult {
    let app = parse_app_id(&id)?;
    let attempt: ApplicationAttemptId =
        attempt.parse().map_err(|_| RestError::bad_request(format!("Invalid AppAttemptId: {attempt}")))?;
    if attempt.application != app {
        return Err(RestError::bad_request(format!("application attempt {attempt} does not belong to {app}")));
    }
    let list = rm.with(|core, now| {
        let user = core.app(app)?.submission.user.clone();
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
/// (e.g. `physical_memory`), `since` (ms since the epoch), `limit`.
async fn kills(State(rm): Shared, Query(query): Query<std::collections::HashMap<String, String>>) -> RestResult {
    let filter = KillFilter {
        app: query.get("app").map(|a| parse_app_id(a)).transpose()?,
        node: query
            .get("node")
            .map(|n| n.parse::<NodeId>().map_err(|e| RestError::bad_request(e.to_string())))
            .transpose()?,
        reason: query.get("reason").map(|r| r.parse::<KillReason>().map_err(RestError::bad_request)).transpose()?,
        since_ms: parse_number(&query, "since")?,
    };
    let limit = parse_number(&query, "limit")?.map_or(usize::MAX, |n| n as usize);
    let list: Vec<_> = rm.with(|core, _| {
        core.kills(&filter)
            .into_iter()
            .take(limit)
            .map(|k| {
                let http = core.node(&k.node).map(|n| n.http_address.clone()).unwrap_or_default();
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
