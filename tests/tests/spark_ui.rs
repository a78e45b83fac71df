//! A running Spark application seen from one port: the ResourceManager's trackingUrl leads through
//! its web proxy (`/proxy/{app}/`, YARN's path) to the driver's `/api/v1`, which answers in Spark's
//! shapes while a stage is held open (its tasks wait for a file the test creates), and to the driver's
//! pages (jobs, stages, a stage's task summary, executors); an unknown application is a 404 in YARN's
//! JSON, and a finished one's proxy leads to its RM page.

use std::process::Child;
use std::time::Duration;

use serde_json::Value;
use weft_tests::{example, wait_for, Cluster, ClusterOptions};

/// The `weft submit` the test started, ended by pid if the test fails before it is collected.
struct Submitted(Option<Child>);

impl Drop for Submitted {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn the_rm_proxy_leads_to_the_drivers_api_while_a_stage_runs() {
    let cluster = Cluster::start(ClusterOptions::default());
    let data = weft_tests::data_dir();
    let release = data.path().join("release");
    let program = example("spark_faults");
    let child = cluster
        .weft_command(&[
            "submit",
            "--master",
            "yarn",
            "--deploy-mode",
            "cluster",
            "--name",
            "held",
            "--num-executors",
            "1",
            "--executor-memory",
            "512m",
            "--driver-memory",
            "512m",
            &program,
            "hold",
            release.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut submit = Submitted(Some(child));

    // The application runs and its tracking URL is the RM's proxy.
    let app = wait_for("a RUNNING application with a proxied tracking URL", Duration::from_secs(90), || {
        let (_, apps) = cluster.get("/ws/v1/cluster/apps?states=RUNNING");
        let app = apps["apps"]["app"].as_array()?.first()?.clone();
        app["trackingUrl"].as_str()?.contains("/proxy/").then_some(app)
    });
    let id = app["id"].as_str().unwrap().to_owned();
    let tracking = app["trackingUrl"].as_str().unwrap().to_owned();
    assert_eq!(tracking, cluster.web_url(&format!("/proxy/{id}/")));
    assert_eq!(app["trackingUI"], "ApplicationMaster");

    // Through the proxy: the driver's /api/v1, with the stage held open.
    let (status, apps) = cluster.get_url(&format!("{tracking}api/v1/applications"));
    assert_eq!(status, 200, "{apps}");
    assert_eq!(apps[0]["id"], id.as_str());
    assert_eq!(apps[0]["name"], "held");
    assert_eq!(apps[0]["attempts"][0]["attemptId"], "1");
    assert_eq!(apps[0]["attempts"][0]["completed"], false);
    let api = format!("{tracking}api/v1/applications/{id}/1");
    // The map stage has ended and the reduce stage's tasks wait for the release file.
    let (active, done): (Value, Value) =
        wait_for("the map stage done, the held stage running", Duration::from_secs(90), || {
            let (_, done) = cluster.get_url(&format!("{api}/stages?status=complete"));
            let (_, active) = cluster.get_url(&format!("{api}/stages?status=active"));
            let active = active.as_array()?.first()?.clone();
            (done.as_array()?.len() == 1 && active["numActiveTasks"].as_u64()? > 0).then_some((active, done))
        });
    assert_eq!(active["status"], "ACTIVE");
    let stage_id = active["stageId"].as_u64().unwrap();
    assert_eq!(done[0]["status"], "COMPLETE", "{done}");
    assert!(done[0]["shuffleWriteBytes"].as_u64().unwrap() > 0, "{done}");
    assert_eq!(done[0]["numCompleteTasks"], done[0]["numTasks"], "{done}");
    let (status, jobs) = cluster.get_url(&format!("{api}/jobs"));
    assert_eq!(status, 200);
    assert_eq!(jobs[0]["status"], "RUNNING", "{jobs}");
    assert!(jobs[0]["stageIds"].as_array().unwrap().iter().any(|s| s.as_u64() == Some(stage_id)), "{jobs}");
    let (status, tasks) = cluster.get_url(&format!("{api}/stages/{stage_id}/0/taskList"));
    assert_eq!(status, 200);
    assert!(tasks.as_array().unwrap().iter().any(|t| t["status"] == "RUNNING"), "{tasks}");
    let (status, executors) = cluster.get_url(&format!("{api}/executors"));
    assert_eq!(status, 200);
    assert!(executors.as_array().unwrap().iter().any(|e| e["activeTasks"].as_u64() > Some(0)), "{executors}");
    // Without the attempt, as in client mode, the same application.
    let (status, _) = cluster.get_url(&format!("{tracking}api/v1/applications/{id}/jobs"));
    assert_eq!(status, 200);

    // The driver's pages, through the proxy: its root leads to the jobs page (relative links).
    let (status, jobs_page) = cluster.get_text(&tracking);
    assert_eq!(status, 200, "{jobs_page}");
    assert!(jobs_page.contains("<title>Jobs of held") && jobs_page.contains("RUNNING"), "{jobs_page}");
    let (status, stages_page) = cluster.get_text(&format!("{tracking}stages/"));
    assert_eq!(status, 200);
    assert!(stages_page.contains("ACTIVE") && stages_page.contains("COMPLETE"), "{stages_page}");
    let (status, stage_page) = cluster.get_text(&format!("{tracking}stages/stage/?id={stage_id}&attempt=0"));
    assert_eq!(status, 200, "{stage_page}");
    assert!(stage_page.contains("Summary of the") && stage_page.contains("RUNNING"), "{stage_page}");
    let (status, executors_page) = cluster.get_text(&format!("{tracking}executors/"));
    assert_eq!(status, 200);
    assert!(executors_page.contains("Active"), "{executors_page}");

    // An application the RM does not know: YARN's RemoteException, 404.
    let (status, missing) = cluster.get("/proxy/application_1_9999/");
    assert_eq!(status, 404, "{missing}");
    assert_eq!(missing["RemoteException"]["exception"], "NotFoundException", "{missing}");
    assert!(missing["RemoteException"]["message"].as_str().unwrap().contains("application_1_9999"), "{missing}");

    std::fs::write(&release, b"go").unwrap();
    let output = submit.0.take().unwrap().wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    // Finished, without a History Server: the proxy leads to the application's page on the RM.
    let no_redirects =
        reqwest::blocking::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let finished = no_redirects.get(cluster.web_url(&format!("/proxy/{id}/"))).send().unwrap();
    assert!(finished.status().is_redirection(), "{:?}", finished.status());
    let location = finished.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("/cluster/app/{id}"));
}
