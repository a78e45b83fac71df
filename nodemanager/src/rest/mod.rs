//! The NodeManager's web port: REST `/ws/v1/node` with YARN's paths and JSON, container logs,
//! pages for people at `/node`, and Prometheus metrics at `/metrics`.

mod dto;
mod error;
mod logs;
mod web;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use weft_proto::ApplicationId;

use crate::nm::Nm;
use crate::node::NmAppState;
use error::RestError;

type Shared = State<Arc<Nm>>;
type RestResult = Result<Response, RestError>;

pub(crate) fn router(nm: Arc<Nm>) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/node") }))
        .route("/node", get(web::overview))
        .route("/node/containers", get(web::containers))
        .route("/node/containerlogs/{container}/{user}", get(web::log_list))
        .route("/node/containerlogs/{container}/{user}/{file}", get(web::log_file))
        .route("/metrics", get(metrics))
        .route("/ws/v1/node", get(node_info))
        .route("/ws/v1/node/info", get(node_info))
        .route("/ws/v1/node/apps", get(apps))
        .route("/ws/v1/node/apps/{app}", get(app))
        .route("/ws/v1/node/containers", get(containers))
        .route("/ws/v1/node/containers/{container}", get(container))
        .route("/ws/v1/node/containerlogs/{container}/{file}", get(container_log))
        .fallback(weft_daemon::rest::not_found)
        .method_not_allowed_fallback(weft_daemon::rest::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(nm)
}

/// The largest request body the web port reads (every route is a GET).
const MAX_BODY_BYTES: usize = 64 * 1024;

async fn node_info(State(nm): Shared) -> Response {
    Json(json!({ "nodeInfo": dto::node_info(&nm.info, &nm.enforcement, nm.last_heartbeat_ms()) })).into_response()
}

#[derive(Debug, Deserialize)]
struct AppsQuery {
    state: Option<String>,
    user: Option<String>,
}

async fn apps(State(nm): Shared, Query(query): Query<AppsQuery>) -> RestResult {
    let state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => Some(text.parse::<NmAppState>().map_err(|e| RestError::bad_request(e.to_string()))?),
        None => None,
    };
    let user = query.user.filter(|u| !u.is_empty());
    let apps: Vec<dto::AppDto> = nm
        .read(|core| core.apps())
        .iter()
        .filter(|a| state.is_none_or(|s| a.state == s) && user.as_ref().is_none_or(|u| &a.user == u))
        .map(dto::app)
        .collect();
    Ok(Json(dto::apps_body(apps)).into_response())
}

async fn app(State(nm): Shared, Path(raw): Path<String>) -> RestResult {
    let id: ApplicationId = raw.parse().map_err(|e: weft_proto::IdError| RestError::bad_request(e.to_string()))?;
    let app = nm.read(|core| core.apps().into_iter().find(|a| a.id == id));
    let app = app.ok_or_else(|| RestError::not_found(format!("app with id {id} not found")))?;
    Ok(Json(json!({ "app": dto::app(&app) })).into_response())
}

async fn containers(State(nm): Shared) -> Response {
    let all: Vec<_> = nm.read(|core| core.containers().cloned().collect());
    let mut dtos = Vec::with_capacity(all.len());
    for c in &all {
        let files = logs::log_files(&nm.layout, c.spec.id).await;
        dtos.push(dto::container(&nm.info, c, files));
    }
    Json(dto::containers_body(dtos)).into_response()
}

async fn container(State(nm): Shared, Path(raw): Path<String>) -> RestResult {
    let id = logs::parse_container_id(&raw)?;
    let c = nm.read(|core| core.container(&id).cloned());
    let c = c.ok_or_else(|| RestError::not_found(format!("container with id, {id}, not found")))?;
    let files = logs::log_files(&nm.layout, id).await;
    Ok(Json(json!({ "container": dto::container(&nm.info, &c, files) })).into_response())
}

async fn container_log(
    State(nm): Shared,
    Path((raw, file)): Path<(String, String)>,
    Query(as_user): Query<logs::AsUser>,
) -> RestResult {
    let id = logs::parse_container_id(&raw)?;
    logs::authorize(&nm, id, &as_user)?;
    logs::serve(&nm.layout, id, &file).await
}

async fn metrics(State(nm): Shared) -> RestResult {
    let (running, allocated) = nm.read(|core| (core.live().count(), core.allocated()));
    let text =
        nm.metrics.render(running, allocated).map_err(|e| RestError::internal(format!("encoding metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text).into_response())
}
