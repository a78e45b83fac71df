//! `yarn logs` blocks for logs read from a NodeManager (`LogAggregationType: LOCAL`), in the shape
//! Hadoop 3's `LogToolUtils` and `NMWebServices` write them, plus `LogsCLI`'s messages for a file it
//! could not fetch.

/// One log file of one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogFile<'a> {
    pub(crate) container_id: &'a str,
    /// The NodeManager's node id, `host:port`.
    pub(crate) node_id: &'a str,
    pub(crate) file_name: &'a str,
    /// As the NodeManager reported it; `N/A` when it did not.
    pub(crate) last_modified: Option<&'a str>,
    pub(crate) contents: &'a [u8],
    /// A running container's log may still grow.
    pub(crate) running: bool,
}

/// Header, contents, footer, and the empty line `LogsCLI` prints after each file.
pub(crate) fn block(log: &LogFile<'_>) -> Vec<u8> {
    let container_line = format!("Container: {} on {}", log.container_id, log.node_id);
    let mut out = format!(
        "{container_line}\nLogAggregationType: LOCAL\n{}\nLogType:{}\nLogLastModifiedTime:{}\nLogLength:{}\nLogContents:\n",
        "=".repeat(container_line.chars().count()),
        log.file_name,
        log.last_modified.unwrap_or("N/A"),
        log.contents.len(),
    )
    .into_bytes();
    out.extend_from_slice(log.contents);
    let end = format!("End of LogType:{}", log.file_name);
    let note = if log.running {
        format!("This log file belongs to a running container ({}) and so may not be complete.", log.container_id)
    } else {
        String::new()
    };
    out.extend_from_slice(format!("{end}.{note}\n{}\n\n\n", "*".repeat(end.chars().count() + 50)).as_bytes());
    out
}

/// What `LogsCLI` prints when the NodeManager answered a log request with an error.
pub(crate) fn fetch_failed(file_name: &str, node_id: &str, http_status: u16, body: &str) -> String {
    format!(
        "Can not get any logs for the log file: {file_name}\n\
         Response from the NodeManager:{node_id} WebService is not successful, HTTP error code: {http_status}, \
         Server response:\n{body}\n"
    )
}

/// What `LogsCLI` prints (on stderr) when the NodeManager could not be reached for a log file.
pub(crate) fn unreachable(file_name: &str, container_id: &str, node_id: &str) -> String {
    format!("Can not find the log file:{file_name} for the container:{container_id} in NodeManager:{node_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(log: LogFile<'_>, expected: &[&str]) {
        assert_eq!(String::from_utf8(block(&log)).unwrap(), expected.concat());
    }

    #[test]
    fn finished_container_block() {
        check(
            LogFile {
                container_id: "container_1_0001_01_000002",
                node_id: "host:8041",
                file_name: "stdout",
                last_modified: None,
                contents: b"hello\n",
                running: false,
            },
            &[
                "Container: container_1_0001_01_000002 on host:8041\n",
                "LogAggregationType: LOCAL\n",
                "==================================================\n",
                "LogType:stdout\n",
                "LogLastModifiedTime:N/A\n",
                "LogLength:6\n",
                "LogContents:\n",
                "hello\n",
                "End of LogType:stdout.\n",
                "***********************************************************************\n",
                "\n",
                "\n",
            ],
        );
    }

    #[test]
    fn running_container_block_warns_and_keeps_the_modified_time() {
        let text = String::from_utf8(block(&LogFile {
            container_id: "container_1_0001_01_000001",
            node_id: "h:1",
            file_name: "stderr",
            last_modified: Some("Tue, 01 Jul 2025 10:00:00 GMT"),
            contents: b"",
            running: true,
        }))
        .unwrap();
        assert!(text.contains("LogLastModifiedTime:Tue, 01 Jul 2025 10:00:00 GMT\nLogLength:0\nLogContents:\nEnd of LogType:stderr.This log file belongs to a running container (container_1_0001_01_000001) and so may not be complete.\n"), "{text}");
    }

    #[test]
    fn failure_messages() {
        assert_eq!(
            fetch_failed("stdout", "h:1", 404, "no such file"),
            "Can not get any logs for the log file: stdout\nResponse from the NodeManager:h:1 WebService is not successful, HTTP error code: 404, Server response:\nno such file\n"
        );
        assert_eq!(
            unreachable("stdout", "c", "h:1"),
            "Can not find the log file:stdout for the container:c in NodeManager:h:1"
        );
    }
}
