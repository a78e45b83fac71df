//! The driver's pages for people, from the same figures as `/api/v1` (`status.rs`): jobs with their
//! progress, stage attempts with input, shuffle and spill, one stage's task summary (min, quartiles,
//! max of each figure) and tasks, and the executors. Rendered on the server (maud, the frame of
//! `weft_daemon::pages`); reached directly or through the ResourceManager's proxy, so every link is
//! relative.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;
use weft_daemon::pages::{human_bytes, human_duration};

use crate::backend::Shared;

/// The pages' routes.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("jobs/") }))
        .route("/jobs/", get(jobs))
        .route("/stages/", get(stages))
        .route("/stages/stage/", get(stage))
        .route("/executors/", get(executors))
}

fn page(title: &str, depth: usize, body: Markup) -> Markup {
    let up = "../".repeat(depth);
    let nav = [
        (format!("{up}jobs/"), "Jobs"),
        (format!("{up}stages/"), "Stages"),
        (format!("{up}executors/"), "Executors"),
        (format!("{up}api/v1/applications"), "REST"),
    ];
    let nav: Vec<(&str, &str)> = nav.iter().map(|(href, text)| (href.as_str(), *text)).collect();
    weft_daemon::pages::page(title, "Spark driver", &nav, body)
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn text(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// `3/8` with a bar filled to the share done.
fn progress(done: u64, total: u64) -> Markup {
    let percent = (done * 100).checked_div(total).unwrap_or(0);
    html! {
        td data-sort=(done) {
            span style={ "display:inline-block;width:8em;height:.8em;border:1px solid #999;background:linear-gradient(90deg,#5a5 " (percent) "%,#fff " (percent) "%)" } {}
            " " (done) "/" (total)
        }
    }
}

/// The time between two of Spark's API dates, when both are there.
fn between(from: &Value, to: &Value) -> String {
    let parse = |v: &Value| {
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]GMT");
        time::PrimitiveDateTime::parse(v.as_str()?, format).ok()
    };
    match (parse(from), parse(to)) {
        (Some(a), Some(b)) => human_duration((b - a).whole_milliseconds().max(0) as u64),
        _ => String::new(),
    }
}

/// An API date without its milliseconds and zone letters, as the pages show it.
fn when(v: &Value) -> String {
    text(v).get(..19).map(|s| format!("{} UTC", s.replace('T', " "))).unwrap_or_default()
}

async fn jobs(State(shared): State<Arc<Shared>>) -> Markup {
    let (app, jobs) = {
        let status = shared.status.lock().expect("status lock");
        (status.application(), status.jobs(None))
    };
    page(
        &format!("Jobs of {}", text(&app["name"])),
        1,
        html! {
            p { "Application " (text(&app["id"])) ", user " (text(&app["attempts"][0]["sparkUser"])) ", started " (when(&app["attempts"][0]["startTime"])) }
            table class="sortable" {
                tr { th { "Job Id" } th { "Description" } th { "Submitted" } th { "Duration" } th { "Status" } th { "Stages: Succeeded/Total" } th { "Tasks: Succeeded/Total" } th { "Failed Tasks" } }
                @for j in jobs.as_array().into_iter().flatten() {
                    tr {
                        td class="num" { (num(&j["jobId"])) } td { (text(&j["name"])) } td class="time" { (when(&j["submissionTime"])) }
                        td { (between(&j["submissionTime"], &j["completionTime"])) }
                        td class=(text(&j["status"])) { (text(&j["status"])) }
                        (progress(num(&j["numCompletedStages"]), j["stageIds"].as_array().map_or(0, |s| s.len() as u64) - num(&j["numSkippedStages"])))
                        (progress(num(&j["numCompletedTasks"]), num(&j["numTasks"]) - num(&j["numSkippedTasks"])))
                        td class="num" { (num(&j["numFailedTasks"])) }
                    }
                }
            }
        },
    )
}

fn bytes_cell(v: &Value) -> Markup {
    html! { td class="num" data-sort=(num(v)) { (human_bytes(num(v) as i64)) } }
}

async fn stages(State(shared): State<Arc<Shared>>) -> Markup {
    let stages = shared.status.lock().expect("status lock").stages(None);
    page(
        "Stages",
        1,
        html! {
            table class="sortable" {
                tr { th { "Stage Id" } th { "Description" } th { "Submitted" } th { "Duration" } th { "Status" } th { "Tasks: Succeeded/Total" } th { "Input" } th { "Shuffle Read" } th { "Shuffle Write" } th { "Spill (Memory)" } th { "Spill (Disk)" } }
                @for s in stages.as_array().into_iter().flatten() {
                    tr {
                        td class="num" { (num(&s["stageId"])) "." (num(&s["attemptId"])) }
                        td { a href={ "stage/?id=" (num(&s["stageId"])) "&attempt=" (num(&s["attemptId"])) } { (text(&s["name"])) } }
                        td class="time" { (when(&s["submissionTime"])) }
                        td { (between(&s["submissionTime"], &s["completionTime"])) }
                        td class=(text(&s["status"])) { (text(&s["status"])) }
                        (progress(num(&s["numCompleteTasks"]), num(&s["numTasks"])))
                        (bytes_cell(&s["inputBytes"])) (bytes_cell(&s["shuffleReadBytes"])) (bytes_cell(&s["shuffleWriteBytes"]))
                        (bytes_cell(&s["memoryBytesSpilled"])) (bytes_cell(&s["diskBytesSpilled"]))
                    }
                }
            }
        },
    )
}

/// A row of a stage's task summary: the figure, its quantiles, how to show a value.
type SummaryRow<'a> = (&'a str, Option<[u64; 5]>, fn(u64) -> String);

/// Min, 25th percentile, median, 75th percentile and max of `values` (nearest rank), Spark's summary.
pub(crate) fn quantiles(mut values: Vec<u64>) -> Option<[u64; 5]> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let at = |q: f64| values[((q * (values.len() - 1) as f64).round() as usize).min(values.len() - 1)];
    Some([at(0.0), at(0.25), at(0.5), at(0.75), at(1.0)])
}

async fn stage(State(shared): State<Arc<Shared>>, Query(args): Query<HashMap<String, String>>) -> Response {
    let number = |name: &str| args.get(name).and_then(|v| v.parse::<u32>().ok());
    let (Some(id), attempt) = (number("id"), number("attempt").unwrap_or(0)) else {
        return (axum::http::StatusCode::BAD_REQUEST, "id must be a stage id").into_response();
    };
    let (stage, tasks) = {
        let status = shared.status.lock().expect("status lock");
        (status.stage_attempt(id, attempt), status.task_list(id, attempt, 0, usize::MAX, None, None))
    };
    let (Some(stage), Some(tasks)) = (stage, tasks) else {
        return (axum::http::StatusCode::NOT_FOUND, format!("unknown attempt {attempt} for stage {id}"))
            .into_response();
    };
    let tasks: Vec<Value> = tasks.as_array().cloned().unwrap_or_default();
    let done: Vec<&Value> = tasks.iter().filter(|t| t["status"] == "SUCCESS").collect();
    let metric = |f: &dyn Fn(&Value) -> u64| quantiles(done.iter().map(|t| f(t)).collect());
    let rows: Vec<SummaryRow> = vec![
        ("Duration", metric(&|t| num(&t["duration"])), |v| human_duration(v)),
        ("Run Time", metric(&|t| num(&t["taskMetrics"]["executorRunTime"])), |v| human_duration(v)),
        ("Input", metric(&|t| num(&t["taskMetrics"]["inputMetrics"]["bytesRead"])), |v| human_bytes(v as i64)),
        (
            "Shuffle Read",
            metric(&|t| {
                num(&t["taskMetrics"]["shuffleReadMetrics"]["remoteBytesRead"])
                    + num(&t["taskMetrics"]["shuffleReadMetrics"]["localBytesRead"])
            }),
            |v| human_bytes(v as i64),
        ),
        ("Shuffle Write", metric(&|t| num(&t["taskMetrics"]["shuffleWriteMetrics"]["bytesWritten"])), |v| {
            human_bytes(v as i64)
        }),
        ("Spill (Memory)", metric(&|t| num(&t["taskMetrics"]["memoryBytesSpilled"])), |v| human_bytes(v as i64)),
        ("Spill (Disk)", metric(&|t| num(&t["taskMetrics"]["diskBytesSpilled"])), |v| human_bytes(v as i64)),
    ];
    page(
        &format!("Stage {id} (attempt {attempt}): {}", text(&stage["name"])),
        2,
        html! {
            p { (text(&stage["status"])) ", " (num(&stage["numCompleteTasks"])) " of " (num(&stage["numTasks"])) " tasks done, " (num(&stage["numFailedTasks"])) " failed" }
            h2 { "Summary of the " (done.len()) " completed tasks" }
            table {
                tr { th { "Metric" } th { "Min" } th { "25th percentile" } th { "Median" } th { "75th percentile" } th { "Max" } }
                @for (name, q, show) in &rows {
                    tr {
                        td { (name) }
                        @match q { Some(q) => { @for v in q { td class="num" { (show(*v)) } } }, None => { td colspan="5" class="muted" { "no completed task yet" } } }
                    }
                }
            }
            h2 { "Tasks" }
            table class="sortable" {
                tr { th { "Index" } th { "Task Id" } th { "Attempt" } th { "Status" } th { "Locality" } th { "Executor" } th { "Host" } th { "Launched" } th { "Duration" } th { "Shuffle Read" } th { "Shuffle Write" } th { "Spill (Memory)" } th { "Error" } }
                @for t in &tasks {
                    tr {
                        td class="num" { (num(&t["index"])) } td class="num" { (num(&t["taskId"])) } td class="num" { (num(&t["attempt"])) }
                        td class=(text(&t["status"])) { (text(&t["status"])) } td { (text(&t["taskLocality"])) }
                        td { (text(&t["executorId"])) } td { (text(&t["host"])) } td class="time" { (when(&t["launchTime"])) }
                        td data-sort=(num(&t["duration"])) { @if t["duration"].is_null() { span class="muted" { "running" } } @else { (human_duration(num(&t["duration"]))) } }
                        (bytes_cell(&Value::from(num(&t["taskMetrics"]["shuffleReadMetrics"]["remoteBytesRead"]) + num(&t["taskMetrics"]["shuffleReadMetrics"]["localBytesRead"]))))
                        (bytes_cell(&t["taskMetrics"]["shuffleWriteMetrics"]["bytesWritten"]))
                        (bytes_cell(&t["taskMetrics"]["memoryBytesSpilled"]))
                        td { (weft_daemon::pages::diagnostics(text(&t["errorMessage"]))) }
                    }
                }
            }
        },
    )
    .into_response()
}

async fn executors(State(shared): State<Arc<Shared>>) -> Markup {
    let executors = shared.status.lock().expect("status lock").executors(true);
    page(
        "Executors",
        1,
        html! {
            table class="sortable" {
                tr { th { "Executor Id" } th { "Address" } th { "Status" } th { "Cores" } th { "Active Tasks" } th { "Failed Tasks" } th { "Complete Tasks" } th { "Task Time" } th { "Input" } th { "Shuffle Read" } th { "Shuffle Write" } th { "Removed" } }
                @for e in executors.as_array().into_iter().flatten() {
                    tr {
                        td { (text(&e["id"])) } td { (text(&e["hostPort"])) }
                        td { @if e["isActive"] == true { "Active" } @else { "Dead" } }
                        td class="num" { (num(&e["totalCores"])) } td class="num" { (num(&e["activeTasks"])) }
                        td class="num" { (num(&e["failedTasks"])) } td class="num" { (num(&e["completedTasks"])) }
                        td data-sort=(num(&e["totalDuration"])) { (human_duration(num(&e["totalDuration"]))) }
                        (bytes_cell(&e["totalInputBytes"])) (bytes_cell(&e["totalShuffleRead"])) (bytes_cell(&e["totalShuffleWrite"]))
                        td { (weft_daemon::pages::diagnostics(text(&e["removeReason"]))) }
                    }
                }
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_sparks_nearest_ranks() {
        assert_eq!(quantiles(vec![]), None);
        assert_eq!(quantiles(vec![7]), Some([7, 7, 7, 7, 7]));
        assert_eq!(quantiles(vec![5, 1, 4, 2, 3]), Some([1, 2, 3, 4, 5]));
        assert_eq!(quantiles((1..=100).collect()), Some([1, 26, 51, 75, 100]));
    }

    #[test]
    fn durations_between_api_dates() {
        let (a, b) = (Value::from("2026-12-04T10:00:00.000GMT"), Value::from("2026-12-04T10:01:05.500GMT"));
        assert_eq!(between(&a, &b), "1 min 05 s");
        assert_eq!(between(&a, &Value::Null), "");
        assert_eq!(when(&a), "2026-12-04 10:00:00 UTC");
    }
}
