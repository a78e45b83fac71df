//! A real NodeManager in-process against a test ResourceManager on 127.0.0.1:0: registration,
//! heartbeats that carry completed statuses until acknowledged, cleanup lists, RESYNC, SHUTDOWN,
//! localization with sha256 checks, ContainerManagement answers, and REST.

mod support;

use std::collections::HashSet;

use support::{container_id, is_complete, request, TestNm, TestRm};
use weft_proto::pb;

#[tokio::test]
async fn registers_with_its_bound_address_and_total() {
    let rm = TestRm::start(50).await;
    let nm = TestNm::start(&rm).await;
    let registration = rm.wait_for("a registration", |s| s.registrations.first().cloned()).await;
    assert_eq!(format!("{}:{}", registration.host, registration.rpc_port), nm.addresses.rpc);
    assert!(nm.addresses.rpc.starts_with("127.0.0.1:"), "{}", nm.addresses.rpc);
    assert_eq!(format!("127.0.0.1:{}", registration.http_port), nm.addresses.http);
    assert_eq!(registration.total, Some(pb::Resource { memory_mb: 4096, vcores: 4 }));
    let beat = rm.wait_for("a heartbeat", |s| s.beats.first().cloned()).await;
    assert_eq!(beat.request.node_id, nm.addresses.rpc);
    assert!(beat.request.healthy);
    assert!(beat.request.utilization.is_some_and(|u| u.node_physical_memory_mb > 0));
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_completion_is_reported_at_once_not_at_the_next_interval() {
    let rm = TestRm::start(60_000).await;
    let mut nm = TestNm::start(&rm).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let id = container_id(1, 2);
    let response = nm.start_containers(vec![request(&id, &["true"])]).await;
    assert_eq!(response.started, std::slice::from_ref(&id));
    let status = rm.completed_status(&id).await;
    assert_eq!((status.exit_status, status.diagnostics.as_str()), (0, ""));
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_completed_status_is_resent_until_a_heartbeat_carrying_it_is_answered() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    rm.wait_for("a heartbeat", |s| (!s.beats.is_empty()).then_some(())).await;
    rm.state.lock().unwrap().refuse_heartbeats = true;
    let id = container_id(1, 2);
    nm.start_containers(vec![request(&id, &["sh", "-c", "echo bad >&2; exit 3"])]).await;
    let carries = |b: &support::Beat| b.request.containers.iter().any(|c| c.container_id == id && is_complete(c));
    rm.wait_for("three refused heartbeats carrying it", |s| {
        (s.beats.iter().filter(|b| carries(b)).count() >= 3).then_some(())
    })
    .await;
    rm.state.lock().unwrap().refuse_heartbeats = false;
    let answered_at = rm
        .wait_for("an answered heartbeat carrying it", |s| s.beats.iter().position(|b| b.answered && carries(b)))
        .await;
    rm.wait_for("two more heartbeats", |s| (s.beats.len() > answered_at + 2).then_some(())).await;
    let beats = rm.state.lock().unwrap().beats.clone();
    assert!(beats[answered_at + 1..].iter().all(|b| !carries(b)), "acknowledged statuses are not sent again");
    let status = beats[answered_at].request.containers.iter().find(|c| c.container_id == id).unwrap().clone();
    assert_eq!(status.exit_status, 3);
    assert!(status.diagnostics.contains("Last 4096 bytes of stderr :\nbad\n"), "{}", status.diagnostics);
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn cleanup_lists_stop_containers_with_yarns_statuses_and_a_resync_keeps_them() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let (a2, a3, b2) = (container_id(1, 2), container_id(1, 3), container_id(2, 2));
    let sleep = ["sleep", "600"];
    let response = nm.start_containers(vec![request(&a2, &sleep), request(&a3, &sleep), request(&b2, &sleep)]).await;
    assert_eq!(response.started.len(), 3, "{response:?}");
    rm.wait_for("all three running", |s| {
        let last = s.beats.last()?;
        (last.request.containers.iter().filter(|c| c.state == pb::ContainerState::Running as i32).count() == 3)
            .then_some(())
    })
    .await;
    rm.script(pb::NodeHeartbeatResponse { containers_to_cleanup: vec![a2.clone()], ..Default::default() });
    let status = rm.completed_status(&a2).await;
    assert_eq!(status.exit_status, -106);
    assert!(status.diagnostics.contains("]Container Killed by ResourceManager\n"), "{}", status.diagnostics);
    rm.script(pb::NodeHeartbeatResponse {
        applications_to_cleanup: vec!["application_1700000000000_0001".into()],
        ..Default::default()
    });
    let status = rm.completed_status(&a3).await;
    assert_eq!(status.exit_status, -107);
    assert!(status.diagnostics.contains("]Container killed on application-finish event\n"), "{}", status.diagnostics);
    let refused = nm.start_containers(vec![request(&container_id(1, 4), &["true"])]).await;
    assert!(refused.failed[0].message.contains("has finished"), "{refused:?}");
    let (_, apps) = nm.get_json("/ws/v1/node/apps?state=FINISHED").await;
    assert_eq!(apps["apps"]["app"][0]["id"], "application_1700000000000_0001");
    rm.script(pb::NodeHeartbeatResponse { action: pb::NodeAction::Resync as i32, ..Default::default() });
    // A RESYNC keeps containers running (work-preserving): the node registers again with them.
    let (again, beats) =
        rm.wait_for("a second registration", |s| s.registrations.get(1).cloned().map(|r| (r, s.beats.len()))).await;
    let b2_status = again.containers.iter().find(|c| c.container_id == b2).expect("b2 in the registration");
    assert_eq!(b2_status.state, pb::ContainerState::Running as i32, "{b2_status:?}");
    // Registered again (a heartbeat follows the answer): a stop now ends with a last heartbeat.
    rm.wait_for("a heartbeat after the second registration", |s| (s.beats.len() > beats).then_some(())).await;
    nm.stop().await.unwrap();
    let status = rm.completed_status(&b2).await;
    assert_eq!(status.exit_status, -100);
    assert!(status.diagnostics.contains("]Container killed on NodeManager shutdown\n"), "{}", status.diagnostics);
}

#[tokio::test]
async fn a_container_cannot_make_the_node_manager_serve_a_file_outside_its_log_directory() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let secret = nm.dir.path().join("secret");
    std::fs::write(&secret, "the node's secret\n").unwrap();
    let id = container_id(1, 2);
    // What a container may leave in its log directory: a symlink, a hard link and a FIFO.
    let script = format!(
        "ln -s {s} \"$LOG_DIRS/x.txt\" && ln {s} \"$LOG_DIRS/h.txt\" && mkfifo \"$LOG_DIRS/f.txt\" && \
         ln -sf {s} \"$LOG_DIRS/stderr\" && echo done && exit 3",
        s = secret.display()
    );
    nm.start_containers(vec![request(&id, &["sh", "-c", &script])]).await;
    let status = rm.completed_status(&id).await;
    assert_eq!(status.exit_status, 3, "{}", status.diagnostics);
    assert!(!status.diagnostics.contains("secret"), "the stderr tail followed the link: {}", status.diagnostics);
    for name in ["x.txt", "h.txt", "f.txt", "stderr"] {
        let (code, body) = nm.get(&format!("/ws/v1/node/containerlogs/{id}/{name}")).await;
        assert_eq!(code, 404, "{name}: {body}");
        assert!(!body.contains("secret"), "{name}: {body}");
        let (code, page) = nm.get(&format!("/node/containerlogs/{id}/alice/{name}")).await;
        assert!(code == 404 && !page.contains("the node's secret"), "{name}: {page}");
    }
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{id}")).await;
    assert_eq!(c["container"]["containerLogFiles"], serde_json::json!(["stdout"]), "{c}");
    let (code, stdout) = nm.get(&format!("/ws/v1/node/containerlogs/{id}/stdout")).await;
    assert_eq!((code, stdout.as_str()), (200, "done\n"));
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn only_the_applications_nm_token_stops_or_reads_its_containers() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let (victim, other) = (container_id(1, 2), container_id(2, 2));
    let started =
        nm.start_containers(vec![request(&victim, &["sleep", "60"]), request(&other, &["sleep", "60"])]).await;
    assert_eq!(started.started.len(), 2, "{started:?}");
    let node = nm.addresses.rpc.clone();
    let stop = |token: Option<Vec<u8>>| {
        let message = pb::StopContainersRequest { container_ids: vec![victim.clone()] };
        match token {
            Some(token) => support::with_nm_token(message, &token),
            None => tonic::Request::new(message),
        }
    };
    // No token, a forged one, one for another node, one of another key: refused outright.
    let status = nm.client.stop_containers(stop(None)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(status.message().contains("needs the application's NM token"), "{}", status.message());
    let status = nm.client.get_container_statuses(tonic::Request::new(pb::GetContainerStatusesRequest {
        container_ids: vec![victim.clone()],
    }));
    assert_eq!(status.await.unwrap_err().code(), tonic::Code::Unauthenticated);
    let mut forged: weft_hadoop_ipc::common::TokenProto =
        prost::Message::decode(support::nm_token(&victim, &node).as_slice()).unwrap();
    forged.password = vec![7; 20];
    let forged = prost::Message::encode_to_vec(&forged);
    let elsewhere = support::nm_token(&victim, "127.0.0.1:1");
    let stranger =
        support::nm_token_with(&weft_hadoop_ipc::token::MasterKey::new(99, b"guess".to_vec()), &victim, &node);
    for (token, expected) in
        [(forged, "forged"), (elsewhere, "not for this NodeManager"), (stranger, "not for this NodeManager")]
    {
        let status = nm.client.stop_containers(stop(Some(token))).await.unwrap_err();
        assert!(status.message().contains(expected), "{expected}: {}", status.message());
    }
    // Application 2's own token reaches only its own containers.
    let theirs = support::nm_token(&other, &node);
    let reply = nm.client.stop_containers(stop(Some(theirs.clone()))).await.unwrap().into_inner();
    assert!(reply.stopped.is_empty(), "{reply:?}");
    assert!(reply.failed[0].message.contains("not to application_1700000000000_0002"), "{reply:?}");
    let statuses = nm
        .client
        .get_container_statuses(support::with_nm_token(
            pb::GetContainerStatusesRequest { container_ids: vec![victim.clone(), other.clone()] },
            &theirs,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(statuses.statuses.iter().map(|s| s.container_id.as_str()).collect::<Vec<_>>(), [other.as_str()]);
    assert_eq!(statuses.failed[0].container_id, victim);
    // The victim still runs; its own application's token stops it.
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{victim}")).await;
    assert_eq!(c["container"]["state"], "RUNNING", "{c}");
    assert_eq!(nm.stop_containers(std::slice::from_ref(&victim)).await.stopped, std::slice::from_ref(&victim));
    assert_eq!(rm.completed_status(&victim).await.exit_status, -105);
    assert_eq!(nm.stop_containers(std::slice::from_ref(&other)).await.stopped, std::slice::from_ref(&other));
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn with_acls_on_only_the_owner_the_admins_and_the_view_acl_read_logs() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start_with(&rm, "yarn.acl.enable: true\nyarn.admin.acl: carol\n").await;
    let (shared, private) = (container_id(1, 2), container_id(2, 2));
    let mut with_acl = request(&shared, &["echo", "shared-line"]);
    with_acl.launch.as_mut().unwrap().view_acls = "bob".into();
    nm.start_containers(vec![with_acl, request(&private, &["echo", "private-line"])]).await;
    for id in [&shared, &private] {
        assert_eq!(rm.completed_status(id).await.exit_status, 0);
    }
    let read = |id: &str, user: Option<&str>| {
        let query = user.map(|u| format!("?user.name={u}")).unwrap_or_default();
        format!("/ws/v1/node/containerlogs/{id}/stdout{query}")
    };
    for (id, user, allowed) in [
        (&shared, Some("alice"), true),
        (&shared, Some("bob"), true),
        (&shared, Some("carol"), true),
        (&shared, Some("mallory"), false),
        (&shared, None, false),
        (&private, Some("alice"), true),
        (&private, Some("bob"), false),
    ] {
        let (status, body) = nm.get(&read(id, user)).await;
        if allowed {
            assert_eq!(status, 200, "{user:?} on {id}: {body}");
        } else {
            let who = user.unwrap_or("dr.who");
            let app = &id[..id.len() - 10].replace("container_", "application_");
            let expected = format!("User [{who}] is not authorized to view the logs for {app}");
            assert_eq!(status, 403, "{user:?} on {id}: {body}");
            assert!(body.contains("ForbiddenException") && body.contains(&expected), "{body}");
            assert!(!body.contains("-line"), "{body}");
        }
    }
    let (status, page) = nm.get(&format!("/node/containerlogs/{shared}/alice/stdout?user.name=mallory")).await;
    assert!(status == 403 && !page.contains("shared-line"), "{status}: {page}");
    let (status, page) = nm.get(&format!("/node/containerlogs/{shared}/alice?user.name=bob")).await;
    assert!(status == 200 && page.contains("stdout?user.name=bob"), "{status}: {page}");
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_start_sent_while_the_node_registers_waits_for_the_keys() {
    // The ResourceManager may grant on a node it has just registered before the node has read the
    // answer carrying the keys; such a start is served once they arrive, not refused.
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let id = container_id(1, 2);
    let mut start = request(&id, &["echo", "early"]);
    start.container_token = support::sign(&id, &nm.addresses.rpc);
    let response = nm.start_containers_as_sent(vec![start]).await;
    assert_eq!(response.started, std::slice::from_ref(&id), "{response:?}");
    assert_eq!(rm.completed_status(&id).await.exit_status, 0);
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn files_are_localized_once_verified_and_linked_and_a_bad_hash_fails_the_container() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let script = b"#!/bin/sh\necho localized \"$1\"\n";
    let sha = rm.stage(script);
    let resource = |name: &str, sha: &str| pb::LocalResource {
        name: name.into(),
        sha256: sha.into(),
        size: script.len() as u64,
        executable: true,
    };
    let with_file = |id: &str, r: pb::LocalResource| {
        let mut req = request(id, &["./run.sh", id]);
        req.launch.as_mut().unwrap().local_resources.push(r);
        req
    };
    let (c2, c3) = (container_id(1, 2), container_id(1, 3));
    nm.start_containers(vec![with_file(&c2, resource("run.sh", &sha)), with_file(&c3, resource("run.sh", &sha))]).await;
    for id in [&c2, &c3] {
        assert_eq!(rm.completed_status(id).await.exit_status, 0);
        let (status, stdout) = nm.get(&format!("/ws/v1/node/containerlogs/{id}/stdout")).await;
        assert_eq!((status, stdout), (200, format!("localized {id}\n")));
    }
    assert_eq!(rm.state.lock().unwrap().downloads[&sha], 1, "one download per node");
    assert!(nm.dir.path().join("local/filecache").join(&sha).join("run.sh").is_file());
    // The staging store hands out content that does not match the hash asked for.
    let claimed = support::sha256_hex(b"what the client uploaded");
    rm.state.lock().unwrap().blobs.insert(claimed.clone(), b"something else".to_vec());
    let c4 = container_id(1, 4);
    nm.start_containers(vec![with_file(&c4, resource("run.sh", &claimed))]).await;
    let status = rm.completed_status(&c4).await;
    assert_eq!(status.exit_status, -1);
    let actual = support::sha256_hex(b"something else");
    let d = &status.diagnostics;
    assert!(d.contains("Failed to localize resource run.sh") && d.contains(&claimed) && d.contains(&actual), "{d}");
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{c4}")).await;
    assert_eq!(c["container"]["state"], "DONE");
    let missing = container_id(1, 5);
    nm.start_containers(vec![with_file(&missing, resource("run.sh", &"0".repeat(64)))]).await;
    let status = rm.completed_status(&missing).await;
    assert!(
        status.diagnostics.contains("cannot download it") && status.diagnostics.contains("NotFound"),
        "{}",
        status.diagnostics
    );
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn container_management_answers_each_request() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let (good, dup) = (container_id(1, 2), container_id(1, 2));
    let mut no_resource = request(&container_id(1, 3), &["true"]);
    no_resource.resource = None;
    let response = nm
        .start_containers(vec![
            request(&good, &["sleep", "600"]),
            request(&dup, &["true"]),
            request("container_bad", &["true"]),
            request(&container_id(1, 4), &[]),
            no_resource,
        ])
        .await;
    assert_eq!(response.started, std::slice::from_ref(&good));
    let messages: Vec<&str> = response.failed.iter().map(|f| f.message.as_str()).collect();
    assert!(messages[0].contains("already known"), "{messages:?}");
    assert!(messages[1].contains("\"container_bad\""), "{messages:?}");
    assert!(messages[2].contains("the command is empty"), "{messages:?}");
    assert!(messages[3].contains("no resource"), "{messages:?}");
    let statuses = nm.container_statuses(&[good.clone(), container_id(1, 9)]).await;
    assert_eq!(statuses.statuses[0].container_id, good);
    assert_eq!(statuses.statuses[0].exit_status, -1000);
    assert!(statuses.failed[0].message.contains("not handled by this NodeManager"));
    let stopped = nm.stop_containers(&[good.clone(), "nope".into()]).await;
    assert_eq!(stopped.stopped, std::slice::from_ref(&good));
    assert!(stopped.failed[0].message.contains("\"nope\""));
    let status = rm.completed_status(&good).await;
    assert_eq!(status.exit_status, -105);
    assert!(status.diagnostics.contains("]Container killed by the ApplicationMaster.\n"), "{}", status.diagnostics);
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn rest_answers_in_yarns_shapes() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let (_, empty) = nm.get_json("/ws/v1/node/containers").await;
    assert_eq!(empty, serde_json::json!({ "containers": null }));
    let (_, empty) = nm.get_json("/ws/v1/node/apps").await;
    assert_eq!(empty, serde_json::json!({ "apps": null }));
    let (done, running) = (container_id(1, 2), container_id(1, 3));
    nm.start_containers(vec![request(&done, &["sh", "-c", "echo out"]), request(&running, &["sleep", "600"])]).await;
    rm.completed_status(&done).await;
    rm.wait_for("the sleeping container to run", |s| {
        let last = s.beats.last()?;
        last.request
            .containers
            .iter()
            .any(|c| c.container_id == running && c.state == pb::ContainerState::Running as i32)
            .then_some(())
    })
    .await;
    let (status, info) = nm.get_json("/ws/v1/node/info").await;
    assert_eq!(status, 200);
    assert_eq!(info["nodeInfo"]["id"], nm.addresses.rpc.as_str());
    assert_eq!(info["nodeInfo"]["totalPmemAllocatedContainersMB"], 4096);
    assert_eq!(info["nodeInfo"]["totalVmemAllocatedContainersMB"], 8601);
    assert!(info["nodeInfo"]["lastNodeUpdateTime"].as_u64().unwrap() > 0);
    let node_info = &info["nodeInfo"];
    assert_eq!(
        (&node_info["cgroupsEnabled"], &node_info["cgroupsVersion"], &node_info["cgroupsReason"]),
        (&serde_json::json!(true), &serde_json::json!("v1"), &serde_json::json!("")),
        "this machine has cgroup v1 memory and cpu controllers: {info}"
    );
    assert_eq!(node_info["cgroupsHierarchy"], nm.hierarchy.as_str());
    assert_eq!((&node_info["pmemCheckEnabled"], &node_info["vmemCheckEnabled"]), (&true.into(), &true.into()));
    let (_, node) = nm.get_json("/ws/v1/node").await;
    assert_eq!(node["nodeInfo"]["nodeHostName"], "127.0.0.1");
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{running}")).await;
    let c = &c["container"];
    assert_eq!(
        (c["state"].as_str(), c["exitCode"].as_i64(), c["diagnostics"].as_str()),
        (Some("RUNNING"), Some(-1000), Some(""))
    );
    assert_eq!(c["containerLogFiles"], serde_json::json!(["stderr", "stdout"]));
    assert_eq!(c["totalMemoryNeededMB"], 1024);
    assert_eq!(
        (c["physicalMemoryLimitBytes"].as_u64(), c["virtualMemoryLimitBytes"].as_u64()),
        (Some(1 << 30), Some(2_254_857_830))
    );
    assert_eq!(c["killReason"], "");
    assert_eq!(c["containerLogsLink"], format!("http://{}/node/containerlogs/{running}/alice", nm.addresses.http));
    let (_, list) = nm.get_json("/ws/v1/node/containers").await;
    let ids: HashSet<&str> =
        list["containers"]["container"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, HashSet::from([done.as_str(), running.as_str()]));
    let (_, apps) = nm.get_json("/ws/v1/node/apps?user=alice").await;
    assert_eq!(apps["apps"]["app"][0]["containerids"], serde_json::json!([running]));
    let (_, app) = nm.get_json("/ws/v1/node/apps/application_1700000000000_0001").await;
    assert_eq!(app["app"]["state"], "RUNNING");
    let (_, none) = nm.get_json("/ws/v1/node/apps?user=bob").await;
    assert_eq!(none, serde_json::json!({ "apps": null }));
    for (path, code, exception) in [
        (format!("/ws/v1/node/containers/{}", container_id(9, 9)), 404, "NotFoundException"),
        ("/ws/v1/node/containers/container_x".to_owned(), 400, "BadRequestException"),
        ("/ws/v1/node/apps/application_x".to_owned(), 400, "BadRequestException"),
        ("/ws/v1/node/apps/application_1_0099".to_owned(), 404, "NotFoundException"),
        ("/ws/v1/node/apps?state=DONE".to_owned(), 400, "BadRequestException"),
        (format!("/ws/v1/node/containerlogs/{done}/..%2F..%2Fetc%2Fpasswd"), 400, "BadRequestException"),
        (format!("/ws/v1/node/containerlogs/{done}/nothere"), 404, "NotFoundException"),
    ] {
        let (status, body) = nm.get_json(&path).await;
        assert_eq!(status, code, "{path}: {body}");
        assert_eq!(body["RemoteException"]["exception"], exception, "{path}: {body}");
    }
    let (_, bad) = nm.get_json("/ws/v1/node/containers/container_x").await;
    assert!(bad["RemoteException"]["message"].as_str().unwrap().contains("\"container_x\""), "{bad}");
    let (_, metrics) = nm.get("/metrics").await;
    for line in ["weft_nm_containers_launched_total 2", "weft_nm_containers_running 1", "weft_nm_memory_total_mb 4096"]
    {
        assert!(metrics.contains(line), "{line} missing:\n{metrics}");
    }
    let (status, page) = nm.get("/node").await;
    assert_eq!(status, 200);
    assert!(page.contains(&running) && page.contains("RUNNING"), "{page}");
    let (status, page) = nm.get(&format!("/node/containerlogs/{done}/alice")).await;
    assert!(status == 200 && page.contains("stdout"), "{page}");
    let (status, page) = nm.get(&format!("/node/containerlogs/{done}/alice/stdout")).await;
    assert!(status == 200 && page.contains("out"), "{page}");
    let (status, page) = nm.get("/").await;
    assert!(status == 200 && page.contains("Weft NodeManager"), "/ leads to /node");
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_stops_containers_and_sends_a_last_heartbeat() {
    let rm = TestRm::start(60_000).await;
    let mut nm = TestNm::start(&rm).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let id = container_id(1, 2);
    nm.start_containers(vec![request(&id, &["sleep", "600"])]).await;
    let http = nm.addresses.http.clone();
    nm.stop().await.unwrap();
    let status = rm.completed_status(&id).await;
    assert_eq!(status.exit_status, -100);
    assert!(status.diagnostics.contains("]Container killed on NodeManager shutdown\n"), "{}", status.diagnostics);
    assert!(reqwest::get(format!("http://{http}/ws/v1/node")).await.is_err(), "the web port is closed");
    let state = rm.state.lock().unwrap();
    let node_id = format!("{}:{}", state.registrations[0].host, state.registrations[0].rpc_port);
    assert_eq!(state.unregistered, [node_id], "a NodeManager stopping on its own leaves the cluster");
    let last_beat = state.beats.iter().rposition(|b| b.answered).expect("a last heartbeat");
    assert!(last_beat + 1 == state.beats.len(), "unregistering comes after the last heartbeat");
}

#[tokio::test]
async fn the_resource_managers_shutdown_stops_the_node_manager() {
    let rm = TestRm::start(30).await;
    let nm = TestNm::start(&rm).await;
    rm.wait_for("a heartbeat", |s| (!s.beats.is_empty()).then_some(())).await;
    rm.script(pb::NodeHeartbeatResponse { action: pb::NodeAction::Shutdown as i32, ..Default::default() });
    let result = tokio::time::timeout(support::DEADLINE, nm.task).await.expect("it stops on its own");
    result.unwrap().unwrap();
    assert!(rm.state.lock().unwrap().unregistered.is_empty(), "told to shut down, it does not unregister");
    assert_eq!(support::remove_hierarchy(&nm.hierarchy), Vec::<std::path::PathBuf>::new());
}

#[tokio::test]
async fn a_memory_kill_reaches_the_resource_manager_with_its_reason_usage_and_limits() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start_with(&rm, "yarn.nodemanager.container-monitor.interval-ms: 200\n").await;
    let id = container_id(1, 2);
    let mut hog = request(&id, &[&support::example("memhog"), "200", "200"]);
    hog.resource = Some(pb::Resource { memory_mb: 64, vcores: 1 });
    nm.start_containers(vec![hog]).await;
    let status = rm.completed_status(&id).await;
    assert_eq!(status.exit_status, -104, "{}", status.diagnostics);
    assert!(["physical_memory", "kernel_oom"].contains(&status.kill_reason.as_str()), "{}", status.kill_reason);
    assert!(status.diagnostics.contains(" of 64 MB physical memory used; "), "{}", status.diagnostics);
    assert_eq!(status.physical_memory_limit_bytes, 64 << 20);
    assert_eq!(status.virtual_memory_limit_bytes, (64.0 * 2.1 * (1 << 20) as f64) as i64);
    assert!(status.peak_physical_memory_bytes > 0 && status.peak_virtual_memory_bytes > 0, "{status:?}");
    assert!(status.killed_time > 0);
    let (_, c) = nm.get_json(&format!("/ws/v1/node/containers/{id}")).await;
    assert_eq!(
        (c["container"]["exitCode"].as_i64(), c["container"]["killReason"].as_str()),
        (Some(-104), Some(status.kill_reason.as_str()))
    );
    nm.stop().await.unwrap();
}

/// A second NodeManager given a live one's cgroup hierarchy used to take its containers for stale
/// groups and SIGKILL them; now it refuses to start, naming the holder, and the first is untouched.
#[tokio::test]
async fn a_second_nodemanager_on_the_same_hierarchy_refuses_to_start_and_kills_nothing() {
    let rm = TestRm::start(30).await;
    let mut nm = TestNm::start(&rm).await;
    let id = container_id(1, 2);
    nm.start_containers(vec![request(&id, &["sleep", "600"])]).await;
    rm.wait_for("the container to run", |s| {
        s.beats
            .iter()
            .rev()
            .flat_map(|b| &b.request.containers)
            .find(|c| c.container_id == id && c.state == 2)
            .map(|_| ())
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("nm.yaml");
    std::fs::write(
        &config,
        format!(
            "yarn.resourcemanager.resource-tracker.address: {rm}\n\
             yarn.nodemanager.address: 127.0.0.1:0\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: 2048\n\
             yarn.nodemanager.resource.cpu-vcores: 2\n\
             yarn.nodemanager.linux-container-executor.cgroups.hierarchy: {hierarchy}\n\
             hadoop.tmp.dir: {tmp}\n",
            rm = rm.address,
            hierarchy = nm.hierarchy,
            tmp = dir.path().display()
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_nodemanager"))
        .arg("--config")
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cgroup hierarchy {} is in use by another NodeManager", nm.hierarchy)),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("(pid {})", std::process::id())), "{stderr}");
    // The first NodeManager's container still runs.
    let (_, body) = nm.get_json(&format!("/ws/v1/node/containers/{id}")).await;
    assert_eq!(body["container"]["state"], "RUNNING", "{body}");
    nm.stop().await.unwrap();
}

/// Two NodeManagers may not share a local or log directory either.
#[tokio::test]
async fn a_second_nodemanager_on_the_same_local_dir_refuses_to_start() {
    let rm = TestRm::start(30).await;
    let nm = TestNm::start(&rm).await;
    let local = nm.dir.path().join("local");
    let config = nm.dir.path().join("second.yaml");
    std::fs::write(
        &config,
        format!(
            "yarn.resourcemanager.resource-tracker.address: {rm}\n\
             yarn.nodemanager.address: 127.0.0.1:0\n\
             yarn.nodemanager.webapp.address: 127.0.0.1:0\n\
             yarn.nodemanager.resource.memory-mb: 2048\n\
             yarn.nodemanager.local-dirs: {local}\n\
             yarn.nodemanager.log-dirs: {logs}\n\
             weft.nodemanager.cgroups.enabled: false\n",
            rm = rm.address,
            local = local.display(),
            logs = nm.dir.path().join("other-logs").display(),
        ),
    )
    .unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_nodemanager"))
        .arg("--config")
        .arg(&config)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("local dir {} is in use by another NodeManager", local.display())), "{stderr}");
    nm.stop().await.unwrap();
}

#[tokio::test]
async fn a_start_without_the_resource_managers_authority_starts_nothing() {
    let rm = TestRm::start(50).await;
    let mut nm = TestNm::start(&rm).await;
    rm.wait_for("a registration", |s| (!s.registrations.is_empty()).then_some(())).await;
    let node = nm.addresses.rpc.clone();
    let marker = nm.dir.path().join("ran");
    let touch = |id: &str| request(id, &["sh", "-c", &format!("echo {id} >> {}", marker.display())]);
    // A signed one first, so the key has surely arrived before the refusals are judged.
    let allowed = container_id(1, 2);
    let response = nm.start_containers(vec![touch(&allowed)]).await;
    assert_eq!(response.started, std::slice::from_ref(&allowed), "{response:?}");
    rm.completed_status(&allowed).await;
    let forged_key = weft_hadoop_ipc::token::MasterKey::new(support::RM_KEY_ID, b"a guess".to_vec());
    let cases = [
        (container_id(1, 3), Vec::new(), "no container token was given"),
        (container_id(1, 4), support::sign_with(&forged_key, &container_id(1, 4), &node), "invalid container token"),
        (
            container_id(1, 5),
            support::sign(&container_id(1, 6), &node),
            "is for container container_1700000000000_0001_01_000006",
        ),
        (
            container_id(1, 7),
            support::sign(&container_id(1, 7), "127.0.0.1:1"),
            "is for the NodeManager at 127.0.0.1:1",
        ),
        (container_id(1, 8), vec![0xff, 0x00, 0x13], "does not decode"),
    ];
    for (id, token, why) in cases {
        let mut refused = touch(&id);
        refused.container_token = token;
        let response = nm.start_containers_as_sent(vec![refused]).await;
        assert!(response.started.is_empty(), "{id}: {response:?}");
        assert_eq!(response.failed.len(), 1, "{id}: {response:?}");
        assert!(response.failed[0].message.contains(why), "{id}: {:?} should say {why:?}", response.failed[0].message);
    }
    // A genuine token does not let a request claim another user's container.
    let mut as_mallory = touch(&container_id(1, 9));
    as_mallory.user = "mallory".into();
    let response = nm.start_containers(vec![as_mallory]).await;
    assert!(response.started.is_empty(), "{response:?}");
    assert!(response.failed[0].message.contains("granted the container to \"alice\""), "{response:?}");
    let (_, containers) = nm.get_json("/ws/v1/node/containers").await;
    let listed = containers.to_string();
    assert!(!listed.contains("_000003") && !listed.contains("_000004") && !listed.contains("_000005"), "{listed}");
    assert!(!listed.contains("_000009"), "{listed}");
    assert_eq!(std::fs::read_to_string(&marker).unwrap().trim(), allowed, "only the granted container ran");
    nm.stop().await.unwrap();
}
