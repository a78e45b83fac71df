//! `yarn application -list` and `yarn application -status`, as Hadoop's `ApplicationCLI` prints them.

use std::collections::BTreeSet;

use weft_proto::states::AppState;

use super::java::{bracketed, percent, right};

/// What the application commands print about one application.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AppReport {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) app_type: String,
    pub(crate) user: String,
    pub(crate) queue: String,
    pub(crate) state: String,
    pub(crate) final_status: String,
    /// 0–100.
    pub(crate) progress_percent: f32,
    pub(crate) tracking_url: String,
    pub(crate) started_ms: i64,
    pub(crate) finished_ms: i64,
    pub(crate) am_host: String,
    pub(crate) am_rpc_port: i32,
    pub(crate) memory_seconds: i64,
    pub(crate) vcore_seconds: i64,
    pub(crate) diagnostics: String,
    pub(crate) unmanaged: bool,
}

/// `APPLICATIONS_PATTERN` of `ApplicationCLI`: `%30s\t%20s\t%20s\t%10s\t%10s\t%18s\t%18s\t%15s\t%35s`.
fn row(columns: [&str; 9]) -> String {
    const WIDTHS: [usize; 9] = [30, 20, 20, 10, 10, 18, 18, 15, 35];
    let cells: Vec<String> = columns.iter().zip(WIDTHS).map(|(text, width)| right(text, width)).collect();
    format!("{}\n", cells.join("\t"))
}

fn or_na(text: &str) -> &str {
    if text.is_empty() {
        "N/A"
    } else {
        text
    }
}

/// `yarn application -list` (Hadoop 3): the count line with the filters, a header, one row per application.
pub(crate) fn list(types: &BTreeSet<String>, states: &BTreeSet<AppState>, apps: &[AppReport]) -> String {
    let mut out = format!(
        "Total number of applications (application-types: {}, states: {} and tags: []):{}\n",
        bracketed(types),
        bracketed(states),
        apps.len()
    );
    out.push_str(&row([
        "Application-Id",
        "Application-Name",
        "Application-Type",
        "User",
        "Queue",
        "State",
        "Final-State",
        "Progress",
        "Tracking-URL",
    ]));
    for app in apps {
        out.push_str(&row([
            &app.id,
            &app.name,
            &app.app_type,
            &app.user,
            &app.queue,
            &app.state,
            &app.final_status,
            &percent(app.progress_percent),
            or_na(&app.tracking_url),
        ]));
    }
    out
}

/// `yarn application -status`: the `Application Report : ` block of Hadoop 3, then a blank line.
/// Weft has no application priorities, preemption, log aggregation, node labels or lifetimes, so those
/// lines show what YARN shows for an application that uses none of them.
pub(crate) fn status(app: &AppReport) -> String {
    let fields: [(&str, String); 21] = [
        ("Application-Id", app.id.clone()),
        ("Application-Name", app.name.clone()),
        ("Application-Type", app.app_type.clone()),
        ("User", app.user.clone()),
        ("Queue", app.queue.clone()),
        ("Application Priority", "0".into()),
        ("Start-Time", app.started_ms.to_string()),
        ("Finish-Time", app.finished_ms.to_string()),
        ("Progress", percent(app.progress_percent)),
        ("State", app.state.clone()),
        ("Final-State", app.final_status.clone()),
        ("Tracking-URL", or_na(&app.tracking_url).to_owned()),
        ("RPC Port", app.am_rpc_port.to_string()),
        ("AM Host", or_na(&app.am_host).to_owned()),
        (
            "Aggregate Resource Allocation",
            format!("{} MB-seconds, {} vcore-seconds", app.memory_seconds, app.vcore_seconds),
        ),
        ("Aggregate Resource Preempted", "0 MB-seconds, 0 vcore-seconds".into()),
        ("Log Aggregation Status", "DISABLED".into()),
        ("Diagnostics", app.diagnostics.clone()),
        ("Unmanaged Application", app.unmanaged.to_string()),
        ("Application Node Label Expression", "<Not set>".into()),
        ("AM container Node Label Expression", "<DEFAULT_PARTITION>".into()),
    ];
    let mut out = String::from("Application Report : \n");
    for (name, value) in fields {
        out.push_str(&format!("\t{name} : {value}\n"));
    }
    out.push_str("\tTimeoutType : LIFETIME\tExpiryTime : UNLIMITED\tRemainingTime : -1seconds\n\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(seq: u32, name: &str, app_type: &str, n: &str, state: &str, final_status: &str, progress: f32) -> AppReport {
        AppReport {
            id: format!("application_1234_{seq:04}"),
            name: name.into(),
            app_type: app_type.into(),
            user: format!("user{n}"),
            queue: format!("queue{n}"),
            state: state.into(),
            final_status: final_status.into(),
            progress_percent: progress,
            tracking_url: "N/A".into(),
            started_ms: 0,
            finished_ms: 0,
            am_host: "host".into(),
            am_rpc_port: 124,
            memory_seconds: 123456,
            vcore_seconds: 4567,
            diagnostics: "diagnostics".into(),
            unmanaged: false,
        }
    }

    fn check(actual: String, expected: &[&str]) {
        assert_eq!(actual, expected.concat());
    }

    const HEADER: &[&str] = &[
        "                Application-Id\t    Application-Name",
        "\t    Application-Type",
        "\t      User\t     Queue\t             State\t       ",
        "Final-State\t       Progress",
        "\t                       Tracking-URL\n",
    ];

    // Rows and header as Hadoop's TestYarnCLI#testGetApplications expects them.
    #[test]
    fn list_matches_yarn() {
        let apps = [
            app(5, "appname", "YARN", "", "RUNNING", "SUCCEEDED", 53.789),
            app(9, "appname5", "HIVE", "5", "ACCEPTED", "KILLED", 93.789),
        ];
        let states: BTreeSet<AppState> = [AppState::RUNNING, AppState::ACCEPTED, AppState::SUBMITTED].into();
        let mut expected =
            vec!["Total number of applications (application-types: [], states: [SUBMITTED, ACCEPTED, RUNNING] and tags: []):2\n"];
        expected.extend_from_slice(HEADER);
        expected.extend_from_slice(&[
            "         application_1234_0005\t             ",
            "appname\t                YARN\t      user\t     ",
            "queue\t           RUNNING\t         ",
            "SUCCEEDED\t         53.79%",
            "\t                                N/A\n",
            "         application_1234_0009\t            ",
            "appname5\t                HIVE\t     user5\t    ",
            "queue5\t          ACCEPTED\t            ",
            "KILLED\t         93.79%",
            "\t                                N/A\n",
        ]);
        check(list(&BTreeSet::new(), &states, &apps), &expected);
    }

    #[test]
    fn list_header_names_the_filters() {
        let types: BTreeSet<String> = ["YARN".to_owned(), "NON-YARN".to_owned()].into();
        let states: BTreeSet<AppState> = [AppState::FAILED, AppState::FINISHED].into();
        let text = list(&types, &states, &[]);
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            "Total number of applications (application-types: [NON-YARN, YARN], states: [FINISHED, FAILED] and tags: []):0"
        );
        assert_eq!(text.lines().count(), 2, "the header row follows even when nothing matched");
    }

    // The block of Hadoop 3's TestYarnCLI#testGetApplicationReport.
    #[test]
    fn status_matches_yarn() {
        let mut report = app(5, "appname", "YARN", "", "FINISHED", "SUCCEEDED", 53.789);
        report.user = "user".into();
        report.queue = "queue".into();
        check(
            status(&report),
            &[
                "Application Report : \n",
                "\tApplication-Id : application_1234_0005\n",
                "\tApplication-Name : appname\n",
                "\tApplication-Type : YARN\n",
                "\tUser : user\n",
                "\tQueue : queue\n",
                "\tApplication Priority : 0\n",
                "\tStart-Time : 0\n",
                "\tFinish-Time : 0\n",
                "\tProgress : 53.79%\n",
                "\tState : FINISHED\n",
                "\tFinal-State : SUCCEEDED\n",
                "\tTracking-URL : N/A\n",
                "\tRPC Port : 124\n",
                "\tAM Host : host\n",
                "\tAggregate Resource Allocation : 123456 MB-seconds, 4567 vcore-seconds\n",
                "\tAggregate Resource Preempted : 0 MB-seconds, 0 vcore-seconds\n",
                "\tLog Aggregation Status : DISABLED\n",
                "\tDiagnostics : diagnostics\n",
                "\tUnmanaged Application : false\n",
                "\tApplication Node Label Expression : <Not set>\n",
                "\tAM container Node Label Expression : <DEFAULT_PARTITION>\n",
                "\tTimeoutType : LIFETIME\tExpiryTime : UNLIMITED\tRemainingTime : -1seconds\n",
                "\n",
            ],
        );
    }

    #[test]
    fn empty_tracking_url_and_host_print_as_na() {
        let mut report = app(1, "a", "YARN", "", "ACCEPTED", "UNDEFINED", 0.0);
        report.tracking_url.clear();
        report.am_host.clear();
        let text = status(&report);
        assert!(text.contains("\tTracking-URL : N/A\n") && text.contains("\tAM Host : N/A\n"), "{text}");
        assert!(text.contains("\tProgress : 0%\n"), "{text}");
    }
}
