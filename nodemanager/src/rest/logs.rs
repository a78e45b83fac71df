//! Container log files, read from disk so they outlive the container (and the NodeManager's memory
//! of it): listing a log directory, serving one file, reading a file's tail for the pages; every
//! open goes through `logfile`, which follows no link the container left.

use std::io::SeekFrom;

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use weft_proto::ContainerId;

use super::error::RestError;
use crate::container::is_plain_name;
use crate::dirs::Layout;
use crate::logfile;
use crate::nm::Nm;

pub(crate) fn parse_container_id(text: &str) -> Result<ContainerId, RestError> {
    text.parse().map_err(|e: weft_proto::IdError| RestError::bad_request(e.to_string()))
}

/// The caller a request names: `?user.name=` (YARN's simple authentication; none is `dr.who`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct AsUser {
    #[serde(rename = "user.name")]
    pub(crate) user_name: Option<String>,
}

impl AsUser {
    /// `?user.name=…` to carry on in links, or "".
    pub(crate) fn query(&self) -> String {
        self.user_name.as_deref().map(|u| format!("?user.name={u}")).unwrap_or_default()
    }
}

/// With `yarn.acl.enable` on, only whom the application's VIEW_APP allows (its owner, the admins,
/// its view ACL) reads its containers' logs; others get 403 with YARN's words.
pub(crate) fn authorize(nm: &Nm, id: ContainerId, as_user: &AsUser) -> Result<(), RestError> {
    if !nm.acls.is_enabled() {
        return Ok(());
    }
    let caller = weft_daemon::callers::caller(as_user.user_name.as_deref().unwrap_or_default(), true);
    if nm.may_read_logs(&caller, id) {
        return Ok(());
    }
    tracing::info!(user = %caller.user, container_id = %id, "log read refused: no VIEW_APP");
    Err(RestError::forbidden(format!(
        "User [{}] is not authorized to view the logs for {}",
        caller.user,
        id.application()
    )))
}

fn missing(id: ContainerId, name: &str) -> RestError {
    RestError::not_found(format!("Cannot find this log on the local disk: {name} of {id}"))
}

/// The regular files in the container's log directory, sorted; none when it does not exist.
pub(crate) async fn log_files(layout: &Layout, id: ContainerId) -> Vec<String> {
    let layout = layout.clone();
    tokio::task::spawn_blocking(move || logfile::list(&layout, id)).await.unwrap_or_default()
}

/// Opens the log file `name` of `id` as `logfile::open` allows (no link followed, no escape).
async fn open(layout: &Layout, id: ContainerId, name: &str) -> Result<tokio::fs::File, RestError> {
    if !is_plain_name(name) {
        return Err(RestError::bad_request(format!("invalid log file name {name:?}: expected a plain file name")));
    }
    let (layout, owned) = (layout.clone(), name.to_owned());
    let opened = tokio::task::spawn_blocking(move || logfile::open(&layout, id, &owned)).await;
    match opened {
        Ok(Ok(file)) => Ok(tokio::fs::File::from_std(file)),
        _ => Err(missing(id, name)),
    }
}

/// The whole file as `text/plain`, streamed, with `Last-Modified`.
pub(crate) async fn serve(layout: &Layout, id: ContainerId, name: &str) -> Result<Response, RestError> {
    let file = open(layout, id, name).await?;
    let metadata = file.metadata().await.map_err(|_| missing(id, name))?;
    let mut headers = vec![
        (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
        (header::CONTENT_LENGTH, metadata.len().to_string()),
    ];
    if let Ok(modified) = metadata.modified() {
        headers.push((header::LAST_MODIFIED, httpdate::fmt_http_date(modified)));
    }
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file.take(metadata.len())));
    let mut response = body.into_response();
    for (name, value) in headers {
        if let Ok(value) = value.parse() {
            response.headers_mut().insert(name, value);
        }
    }
    Ok(response)
}

/// At most the last `max_bytes` of the file, as text, and whether the start was cut off.
pub(crate) async fn tail(
    layout: &Layout,
    id: ContainerId,
    name: &str,
    max_bytes: u64,
) -> Result<(String, bool), RestError> {
    let mut file = open(layout, id, name).await?;
    let length = file.metadata().await.map_err(|_| missing(id, name))?.len();
    let start = length.saturating_sub(max_bytes);
    file.seek(SeekFrom::Start(start)).await.map_err(|e| RestError::internal(format!("reading {name}: {e}")))?;
    let mut bytes = Vec::new();
    file.take(max_bytes)
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| RestError::internal(format!("reading {name}: {e}")))?;
    Ok((String::from_utf8_lossy(&bytes).into_owned(), start > 0))
}
