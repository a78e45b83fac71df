//! The two NodeManager REST calls `weft logs` makes: a container's log file names
//! (`/ws/v1/node/containers/<cid>`) and one log file (`/ws/v1/node/containerlogs/<cid>/<file>`).

use std::time::Duration;

use serde::Deserialize;

use crate::error::chain;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// What the NodeManager writes for every container when it lists nothing.
const DEFAULT_LOG_FILES: [&str; 2] = ["stderr", "stdout"];

#[derive(Deserialize)]
struct ContainerBody {
    container: ContainerInfo,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerInfo {
    #[serde(default)]
    container_log_files: Vec<String>,
}

/// A log file as the NodeManager answered: its HTTP status and body.
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) last_modified: Option<String>,
}

pub(crate) struct NmRest {
    http: reqwest::Client,
}

/// `http://host:port` for a node's web address, which may already carry its scheme.
fn base_url(node_http_address: &str) -> String {
    let trimmed = node_http_address.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        trimmed.to_owned()
    } else {
        format!("http://{trimmed}")
    }
}

impl NmRest {
    pub(crate) fn new() -> Result<NmRest, String> {
        let http = reqwest::Client::builder().timeout(REQUEST_TIMEOUT).build().map_err(|e| chain(&e))?;
        Ok(NmRest { http })
    }

    /// The container's log file names; stderr and stdout when the NodeManager does not list them.
    pub(crate) async fn log_files(&self, node_http_address: &str, container_id: &str) -> Vec<String> {
        let url = format!("{}/ws/v1/node/containers/{container_id}", base_url(node_http_address));
        let listed = match self.http.get(&url).send().await {
            Ok(response) if response.status().is_success() => {
                response.json::<ContainerBody>().await.map(|b| b.container.container_log_files).unwrap_or_default()
            }
            Ok(response) => {
                tracing::debug!(%url, status = %response.status(), "no container info; trying the usual log files");
                Vec::new()
            }
            Err(e) => {
                tracing::debug!(%url, error = %chain(&e), "no container info; trying the usual log files");
                Vec::new()
            }
        };
        if listed.is_empty() {
            DEFAULT_LOG_FILES.iter().map(|s| s.to_string()).collect()
        } else {
            listed
        }
    }

    /// One log file; `Err` only when the NodeManager could not be reached at all.
    pub(crate) async fn log_file(
        &self,
        node_http_address: &str,
        container_id: &str,
        file_name: &str,
    ) -> Result<Fetched, String> {
        let url = format!("{}/ws/v1/node/containerlogs/{container_id}/{file_name}", base_url(node_http_address));
        // YARN's simple authentication: the NodeManager lets whom the application's VIEW_APP allows
        // read its logs when ACLs are on.
        let user = weft_yarn_client::rm::submitting_user();
        let response = self.http.get(&url).query(&[("user.name", user)]).send().await.map_err(|e| chain(&e))?;
        let status = response.status().as_u16();
        let last_modified =
            response.headers().get(reqwest::header::LAST_MODIFIED).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = response.bytes().await.map_err(|e| chain(&e))?.to_vec();
        Ok(Fetched { status, body, last_modified })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("h:8042"), "http://h:8042");
        assert_eq!(base_url("http://h:8042/"), "http://h:8042");
        assert_eq!(base_url("https://h:8044"), "https://h:8044");
    }

    #[test]
    fn container_info_shape() {
        let body: ContainerBody = serde_json::from_str(
            r#"{"container":{"id":"c","state":"DONE","containerLogFiles":["stderr","stdout","prelaunch.err"],"user":"u"}}"#,
        )
        .unwrap();
        assert_eq!(body.container.container_log_files, ["stderr", "stdout", "prelaunch.err"]);
    }
}
