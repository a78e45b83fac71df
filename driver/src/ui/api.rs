//! Spark's monitoring REST API on the driver's web port, `/api/v1`, with Spark's paths (on YARN an
//! application is `[app-id]/[attempt-id]` in cluster mode; both forms answer) and Spark 4.3's JSON
//! shapes, read from the listener's store (`status.rs`). Unknown applications, jobs and stages are
//! 404s in Spark's words.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::backend::Shared;
use crate::events::SPARK_VERSION;
use crate::status::AppStatus;

type Params = HashMap<String, String>;
type Args = Query<HashMap<String, String>>;

/// The `/api/v1` routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    let per_app = || {
        Router::new()
            .route("/", get(application))
            .route("/jobs", get(jobs))
            .route("/jobs/{job}", get(job))
            .route("/stages", get(stages))
            .route("/stages/{stage}", get(stage))
            .route("/stages/{stage}/{stage_attempt}", get(stage_attempt))
            .route("/stages/{stage}/{stage_attempt}/taskList", get(task_list))
            .route("/executors", get(executors))
            .route("/allexecutors", get(all_executors))
            .route("/environment", get(environment))
    };
    Router::new()
        .route("/api/v1/version", get(|| async { Json(json!({"spark": SPARK_VERSION})) }))
        .route("/api/v1/applications", get(applications))
        .nest("/api/v1/applications/{app}/{attempt}", per_app())
        .nest("/api/v1/applications/{app}", per_app())
}

fn not_found(message: String) -> Response {
    (StatusCode::NOT_FOUND, message).into_response()
}

/// A path or query value that is not a number: 400 naming it.
struct BadNumber(String);

impl IntoResponse for BadNumber {
    fn into_response(self) -> Response {
        (StatusCode::BAD_REQUEST, self.0).into_response()
    }
}

/// Runs `view` on the store when the path names this application (and its attempt, if any).
fn with_app(shared: &Shared, params: &Params, view: impl FnOnce(&AppStatus) -> Response) -> Response {
    let status = shared.status.lock().expect("status lock");
    let app = params.get("app").map(String::as_str).unwrap_or_default();
    if app.is_empty() || app != status.app_id() {
        return not_found(format!("no such app: {app}"));
    }
    view(&status)
}

fn number<T: std::str::FromStr>(params: &Params, name: &str) -> Result<T, BadNumber> {
    let text = params.get(name).map(String::as_str).unwrap_or_default();
    text.parse().map_err(|_| BadNumber(format!("{name} must be a number, not {text:?}")))
}

async fn applications(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.status.lock().expect("status lock").applications()).into_response()
}

async fn application(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    with_app(&shared, &params, |s| Json(s.application()).into_response())
}

async fn jobs(State(shared): State<Arc<Shared>>, Path(params): Path<Params>, Query(args): Args) -> Response {
    with_app(&shared, &params, |s| Json(s.jobs(args.get("status").map(String::as_str))).into_response())
}

async fn job(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    let id: u32 = match number(&params, "job") {
        Ok(id) => id,
        Err(bad) => return bad.into_response(),
    };
    with_app(&shared, &params, |s| match s.job(id) {
        Some(job) => Json(job).into_response(),
        None => not_found(format!("unknown job: {id}")),
    })
}

async fn stages(State(shared): State<Arc<Shared>>, Path(params): Path<Params>, Query(args): Args) -> Response {
    with_app(&shared, &params, |s| Json(s.stages(args.get("status").map(String::as_str))).into_response())
}

async fn stage(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    let id: u32 = match number(&params, "stage") {
        Ok(id) => id,
        Err(bad) => return bad.into_response(),
    };
    with_app(&shared, &params, |s| match s.stage(id) {
        Some(attempts) => Json(attempts).into_response(),
        None => not_found(format!("unknown stage: {id}")),
    })
}

fn stage_and_attempt(params: &Params) -> Result<(u32, u32), BadNumber> {
    Ok((number(params, "stage")?, number(params, "stage_attempt")?))
}

async fn stage_attempt(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    let (id, attempt) = match stage_and_attempt(&params) {
        Ok(ids) => ids,
        Err(bad) => return bad.into_response(),
    };
    with_app(&shared, &params, |s| match s.stage_attempt(id, attempt) {
        Some(stage) => Json(stage).into_response(),
        None => not_found(format!("unknown attempt {attempt} for stage {id}")),
    })
}

async fn task_list(State(shared): State<Arc<Shared>>, Path(params): Path<Params>, Query(args): Args) -> Response {
    let (id, attempt) = match stage_and_attempt(&params) {
        Ok(ids) => ids,
        Err(bad) => return bad.into_response(),
    };
    let (offset, length) = match (number_or(&args, "offset", 0), number_or(&args, "length", 20)) {
        (Ok(offset), Ok(length)) => (offset, length),
        (Err(bad), _) | (_, Err(bad)) => return bad.into_response(),
    };
    let sort = args.get("sortBy").map(String::as_str);
    let status = args.get("status").map(String::as_str);
    with_app(&shared, &params, |s| match s.task_list(id, attempt, offset, length, sort, status) {
        Some(tasks) => Json(tasks).into_response(),
        None => not_found(format!("unknown attempt {attempt} for stage {id}")),
    })
}

fn number_or(args: &HashMap<String, String>, name: &str, default: usize) -> Result<usize, BadNumber> {
    match args.get(name) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| BadNumber(format!("{name} must be a number, not {text:?}"))),
    }
}

async fn executors(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    with_app(&shared, &params, |s| Json(s.executors(false)).into_response())
}

async fn all_executors(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    with_app(&shared, &params, |s| Json(s.executors(true)).into_response())
}

async fn environment(State(shared): State<Arc<Shared>>, Path(params): Path<Params>) -> Response {
    with_app(&shared, &params, |s| Json(s.environment()).into_response())
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::events::SparkEvent;

    async fn get_json(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn both_forms_of_an_application_answer_and_unknowns_are_404s() {
        let shared = Arc::new(Shared::default());
        shared.status.lock().unwrap().apply(&SparkEvent::ApplicationStart {
            name: "wc".into(),
            app_id: "application_1_0001".into(),
            attempt_id: Some("1".into()),
            time: 1_700_000_000_000,
            user: "alice".into(),
        });
        let router = routes().with_state(shared);
        let (status, body) = get_json(&router, "/api/v1/applications").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["attempts"][0]["attemptId"], "1");
        for path in ["/api/v1/applications/application_1_0001/jobs", "/api/v1/applications/application_1_0001/1/jobs"] {
            let (status, body) = get_json(&router, path).await;
            assert_eq!((status, body.as_str()), (StatusCode::OK, "[]"), "{path}");
        }
        let (status, body) = get_json(&router, "/api/v1/applications/application_1_0002/jobs").await;
        assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "no such app: application_1_0002"));
        let (status, body) = get_json(&router, "/api/v1/applications/application_1_0001/jobs/7").await;
        assert_eq!((status, body.as_str()), (StatusCode::NOT_FOUND, "unknown job: 7"));
        let (status, body) = get_json(&router, "/api/v1/applications/application_1_0001/stages/x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = get_json(&router, "/api/v1/version").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "{\"spark\":\"4.3.0\"}"));
    }
}
