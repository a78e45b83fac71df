//! Container log files, read from disk so they outlive the container (and the NodeManager's memory
//! of it): listing a log directory, serving one file, reading a file's tail for the pages.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use axum::body::Body;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use weft_proto::ContainerId;

use super::error::RestError;
use crate::container::is_plain_name;
use crate::dirs::Layout;

pub(crate) fn parse_container_id(text: &str) -> Result<ContainerId, RestError> {
    text.parse().map_err(|e: weft_proto::IdError| RestError::bad_request(e.to_string()))
}

/// The log file `name` of `id`; a name that is not a plain file name (`..`, `a/b`) is refused.
pub(crate) fn log_path(layout: &Layout, id: ContainerId, name: &str) -> Result<PathBuf, RestError> {
    if !is_plain_name(name) {
        return Err(RestError::bad_request(format!("invalid log file name {name:?}: expected a plain file name")));
    }
    Ok(layout.log_dir(id).join(name))
}

fn missing(id: ContainerId, name: &str) -> RestError {
    RestError::not_found(format!("Cannot find this log on the local disk: {name} of {id}"))
}

/// The regular files in a log directory, sorted; none when it does not exist.
pub(crate) async fn log_files(dir: &Path) -> Vec<String> {
    let Ok(mut entries) = tokio::fs::read_dir(dir).await else { return Vec::new() };
    let mut names = Vec::new();
    while let Ok(Some(entry)) = entries.next_entry().await {
        if entry.file_type().await.is_ok_and(|t| t.is_file()) {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    names
}

/// The whole file as `text/plain`, streamed, with `Last-Modified`.
pub(crate) async fn serve(layout: &Layout, id: ContainerId, name: &str) -> Result<Response, RestError> {
    let path = log_path(layout, id, name)?;
    let file = tokio::fs::File::open(&path).await.map_err(|_| missing(id, name))?;
    let metadata = file.metadata().await.map_err(|_| missing(id, name))?;
    if !metadata.is_file() {
        return Err(missing(id, name));
    }
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
    let path = log_path(layout, id, name)?;
    let mut file = tokio::fs::File::open(&path).await.map_err(|_| missing(id, name))?;
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
