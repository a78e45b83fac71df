//! Nothing starts without the ResourceManager's authority on the Hadoop IPC faces either: an
//! application master proves its attempt with its AMRM token on the scheduler port and with NM
//! tokens on the NodeManagers (SASL DIGEST-MD5), and every start carries a container token the
//! NodeManager checks. Tokens come from where a real AM finds them: its container's token file.

use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use prost::Message;
use weft_hadoop_ipc::client::{Client, ClientAuth, ClientError};
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::credentials::Credentials;
use weft_hadoop_ipc::yarn::{
    AllocateRequestProto, AllocateResponseProto, ApplicationSubmissionContextProto, ContainerLaunchContextProto,
    ContainerProto, GetNewApplicationRequestProto, GetNewApplicationResponseProto, PriorityProto,
    RegisterApplicationMasterRequestProto, ResourceProto, ResourceRequestProto, StartContainerRequestProto,
    StartContainersRequestProto, StartContainersResponseProto, StopContainersRequestProto, StopContainersResponseProto,
    SubmitApplicationRequestProto,
};
use weft_tests::{wait_for, Cluster, ClusterOptions};

const CLIENT: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";
const MASTER: &str = "org.apache.hadoop.yarn.api.ApplicationMasterProtocolPB";
const CONTAINERS: &str = "org.apache.hadoop.yarn.api.ContainerManagementProtocolPB";
const TIMEOUT: Duration = Duration::from_secs(10);

fn resource(memory: i64) -> ResourceProto {
    ResourceProto { memory: Some(memory), virtual_cores: Some(1), resource_value_map: Vec::new() }
}

fn launch(command: &str) -> ContainerLaunchContextProto {
    ContainerLaunchContextProto { command: vec![command.to_string()], ..Default::default() }
}

/// Submits an application over Hadoop IPC whose AM copies its token file to `tokens` and waits;
/// the AMRM token it finds there.
fn submit(cluster: &Cluster, name: &str, tokens: &Path) -> TokenProto {
    let simple = ClientAuth::Simple { user: "alice".into() };
    let mut client = Client::connect(&cluster.rm_client, CLIENT, &simple, TIMEOUT).expect("connect to the RM");
    let new = client.call("getNewApplication", &GetNewApplicationRequestProto {}).expect("getNewApplication");
    let id = GetNewApplicationResponseProto::decode(new.as_slice()).unwrap().application_id;
    let command = format!("cp \"$HADOOP_TOKEN_FILE_LOCATION\" {} && exec sleep 600", tokens.display());
    let context = ApplicationSubmissionContextProto {
        application_id: id,
        application_name: Some(name.into()),
        am_container_spec: Some(launch(&command)),
        resource: Some(resource(256)),
        application_type: Some("SECURITY".into()),
        ..Default::default()
    };
    let submitted = SubmitApplicationRequestProto { application_submission_context: Some(context) };
    client.call("submitApplication", &submitted).expect("submitApplication");
    let file = wait_for("the AM's token file", Duration::from_secs(60), || std::fs::read(tokens).ok());
    let credentials = Credentials::parse_token_file(&file).expect("a token file");
    let (_, token) = credentials.tokens.into_iter().find(|(_, t)| t.kind == "YARN_AM_RM_TOKEN").expect("an AMRM token");
    token
}

fn with(token: &TokenProto) -> ClientAuth {
    ClientAuth::Token { identifier: token.identifier.clone(), password: token.password.clone() }
}

fn forged(token: &TokenProto) -> TokenProto {
    let mut password = token.password.clone();
    password[0] ^= 0xff;
    TokenProto { password, ..token.clone() }
}

/// Registers with the AMRM token and allocates `n` containers; the containers and the NM tokens
/// by node address.
fn containers(cluster: &Cluster, amrm: &TokenProto, n: i32) -> (Vec<ContainerProto>, Vec<(String, TokenProto)>) {
    let mut am = Client::connect(&cluster.rm_scheduler, MASTER, &with(amrm), TIMEOUT).expect("AMRM token accepted");
    let register = RegisterApplicationMasterRequestProto {
        host: Some("127.0.0.1".into()),
        rpc_port: Some(-1),
        tracking_url: None,
    };
    am.call("registerApplicationMaster", &register).expect("register");
    let ask = ResourceRequestProto {
        priority: Some(PriorityProto { priority: Some(0) }),
        resource_name: Some("*".into()),
        capability: Some(resource(128)),
        num_containers: Some(n),
        ..Default::default()
    };
    let (mut granted, mut nm_tokens, mut response_id) = (Vec::new(), Vec::new(), 0);
    let mut request = AllocateRequestProto { ask: vec![ask], response_id: Some(0), ..Default::default() };
    wait_for("the containers asked for", Duration::from_secs(30), || {
        request.response_id = Some(response_id);
        let reply = AllocateResponseProto::decode(am.call("allocate", &request).expect("allocate").as_slice()).unwrap();
        request.ask.clear();
        response_id = reply.response_id();
        granted.extend(reply.allocated_containers);
        for t in reply.nm_tokens {
            nm_tokens.push((weft_hadoop_ipc::token::node_address(t.node_id.as_ref().unwrap()), t.token.unwrap()));
        }
        (granted.len() >= n as usize).then_some(())
    });
    (granted, nm_tokens)
}

fn node_of(container: &ContainerProto) -> String {
    weft_hadoop_ipc::token::node_address(container.node_id.as_ref().unwrap())
}

fn start(nm: &mut Client, token: Option<TokenProto>) -> StartContainersResponseProto {
    let request =
        StartContainerRequestProto { container_launch_context: Some(launch("exec sleep 600")), container_token: token };
    let batch = StartContainersRequestProto { start_container_request: vec![request] };
    StartContainersResponseProto::decode(nm.call("startContainers", &batch).expect("startContainers").as_slice())
        .unwrap()
}

fn refused(response: &StartContainersResponseProto, why: &str) -> String {
    assert!(response.succeeded_requests.is_empty(), "{why}: started anyway: {response:?}");
    let failure = response.failed_requests.first().unwrap_or_else(|| panic!("{why}: no failure reported"));
    let exception = failure.exception.as_ref().unwrap();
    format!("{}: {}", exception.class_name(), exception.message())
}

fn fatal_class(result: Result<Client, ClientError>) -> String {
    match result {
        Err(ClientError::Remote { class_name, fatal: true, .. }) => class_name,
        Err(other) => panic!("expected a FATAL refusal, got {other}"),
        Ok(_) => panic!("expected a FATAL refusal, got a connection"),
    }
}

/// Garbage, a half preamble and an abandoned connection on `address`.
fn abuse(address: &str) -> Vec<TcpStream> {
    let mut half_open = TcpStream::connect(address).unwrap();
    half_open.write_all(b"hrp").unwrap();
    let mut garbage = TcpStream::connect(address).unwrap();
    garbage.write_all(b"hrpc\x09\x00\xdf\xff\xff\xff\xff garbage").unwrap();
    drop(TcpStream::connect(address).unwrap());
    vec![half_open, garbage]
}

#[test]
fn hadoop_ipc_starts_nothing_without_the_resource_managers_authority() {
    let cluster = Cluster::start(ClusterOptions::default());
    // The AM (running as the containers' user) copies its token file here.
    let data = weft_tests::data_dir();
    let dir = data.path();
    let amrm = submit(&cluster, "alice-app", &dir.join("a.tokens"));

    // The scheduler port: the AMRM token or nothing.
    let wrong = fatal_class(Client::connect(&cluster.rm_scheduler, MASTER, &with(&forged(&amrm)), TIMEOUT));
    assert_eq!(wrong, "javax.security.sasl.SaslException");
    let simple = ClientAuth::Simple { user: "alice".into() };
    let anonymous = Client::connect(&cluster.rm_scheduler, MASTER, &simple, TIMEOUT)
        .and_then(|mut c| c.call("registerApplicationMaster", &RegisterApplicationMasterRequestProto::default()));
    assert!(
        matches!(&anonymous, Err(ClientError::Remote { class_name, .. }) if class_name.ends_with("AccessControlException")),
        "{:?}",
        anonymous.err()
    );
    let _abused = abuse(&cluster.rm_scheduler);

    // Four containers: round-robin puts them on both nodes.
    let (granted, nm_tokens) = containers(&cluster, &amrm, 4);
    let here = node_of(&granted[0]);
    let mine = granted.iter().find(|c| node_of(c) == here).unwrap();
    let elsewhere = granted.iter().find(|c| node_of(c) != here).expect("a container on the other node");
    let nm_token = |node: &str| nm_tokens.iter().find(|(n, _)| n == node).map(|(_, t)| t.clone()).expect("an NM token");

    // Another application's container token.
    let other_amrm = submit(&cluster, "bob-app", &dir.join("b.tokens"));
    let (others, _) = containers(&cluster, &other_amrm, 1);

    // The NodeManager: an NM token for this node, else no connection.
    assert_eq!(
        fatal_class(Client::connect(&here, CONTAINERS, &with(&forged(&nm_token(&here))), TIMEOUT)),
        "javax.security.sasl.SaslException"
    );
    // A token this node's keys never signed for it: unknown here, as Hadoop's server says.
    let other_nodes_token = nm_token(&node_of(elsewhere));
    assert_eq!(
        fatal_class(Client::connect(&here, CONTAINERS, &with(&other_nodes_token), TIMEOUT)),
        "org.apache.hadoop.security.token.SecretManager$InvalidToken"
    );
    let anonymous = Client::connect(&here, CONTAINERS, &simple, TIMEOUT)
        .and_then(|mut c| c.call("startContainers", &StartContainersRequestProto::default()));
    assert!(matches!(&anonymous, Err(ClientError::Remote { fatal: true, .. })), "{:?}", anonymous.err());
    let _abused_nm = abuse(&here);

    let mut nm = Client::connect(&here, CONTAINERS, &with(&nm_token(&here)), TIMEOUT).expect("NM token accepted");
    let why = refused(&start(&mut nm, None), "no container token");
    assert!(why.contains("InvalidToken"), "{why}");
    let why = refused(&start(&mut nm, Some(forged(mine.container_token.as_ref().unwrap()))), "a forged token");
    assert!(why.contains("password does not match"), "{why}");
    let why = refused(&start(&mut nm, elsewhere.container_token.clone()), "another node's token");
    assert!(why.contains("not this one"), "{why}");
    let why = refused(&start(&mut nm, others[0].container_token.clone()), "another application's token");
    assert!(why.contains("Unauthorized request to start container"), "{why}");
    for container in [elsewhere, &others[0]] {
        let id = weft_hadoop_ipc::ids::container_id(container.id.as_ref().unwrap()).unwrap().to_string();
        assert!(cluster.container_pids(&id).is_empty(), "{id} must not run");
    }

    // The genuine article starts, and stops when its application asks.
    let started = start(&mut nm, mine.container_token.clone());
    assert_eq!(started.succeeded_requests.len(), 1, "{started:?}");
    let id = weft_hadoop_ipc::ids::container_id(mine.id.as_ref().unwrap()).unwrap().to_string();
    wait_for("the started container's process", Duration::from_secs(30), || {
        (!cluster.container_pids(&id).is_empty()).then_some(())
    });
    let stop = StopContainersRequestProto { container_id: vec![mine.id.unwrap()] };
    let stopped = StopContainersResponseProto::decode(nm.call("stopContainers", &stop).unwrap().as_slice()).unwrap();
    assert_eq!(stopped.succeeded_requests.len(), 1, "{stopped:?}");
    wait_for("the stopped container's process to end", Duration::from_secs(30), || {
        cluster.container_pids(&id).is_empty().then_some(())
    });

    for app in ["alice-app", "bob-app"] {
        let (_, apps) = cluster.get("/ws/v1/cluster/apps?applicationTypes=SECURITY");
        let id = apps["apps"]["app"].as_array().unwrap().iter().find(|a| a["name"] == app).unwrap()["id"].clone();
        let killed = cluster.weft(&["application", "-kill", id.as_str().unwrap()]);
        assert_eq!(killed.code, Some(0), "{}", killed.both());
    }
    cluster.stop_checked();
}

/// Weft's own gRPC face of the scheduler port demands the same proof: the attempt's AMRM token in
/// every call's metadata, for that attempt and no other.
#[test]
fn grpc_application_master_calls_need_the_attempts_amrm_token() {
    use weft_proto::pb;
    use weft_proto::pb::application_master_client::ApplicationMasterClient;

    let cluster = Cluster::start(ClusterOptions { node_managers: 1, ..ClusterOptions::default() });
    // The AM (running as the containers' user) copies its token file here.
    let data = weft_tests::data_dir();
    let dir = data.path();
    let mine = submit(&cluster, "alice-app", &dir.join("a.tokens"));
    let theirs = submit(&cluster, "bob-app", &dir.join("b.tokens"));
    let attempt = |token: &TokenProto| {
        let id: weft_hadoop_ipc::yarn::AmrmTokenIdentifierProto =
            weft_hadoop_ipc::token::decode_identifier(token, weft_hadoop_ipc::token::TokenKind::AmRm).unwrap();
        weft_hadoop_ipc::ids::attempt_id(id.app_attempt_id.as_ref().unwrap()).unwrap().to_string()
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let register = |token: Option<&TokenProto>| {
        runtime.block_on(async {
            let mut client =
                ApplicationMasterClient::connect(format!("http://{}", cluster.rm_scheduler)).await.unwrap();
            let mut request = tonic::Request::new(pb::RegisterApplicationMasterRequest {
                attempt_id: attempt(&mine),
                host: "127.0.0.1".into(),
                rpc_port: -1,
                tracking_url: String::new(),
            });
            if let Some(token) = token {
                let value = tonic::metadata::BinaryMetadataValue::from_bytes(&token.encode_to_vec());
                request.metadata_mut().insert_bin(weft_proto::AMRM_TOKEN_METADATA, value);
            }
            client.register_application_master(request).await
        })
    };
    let none = register(None).unwrap_err();
    assert_eq!(none.code(), tonic::Code::Unauthenticated, "{none:?}");
    assert!(none.message().contains("carries no AMRM token"), "{}", none.message());
    let forged_token = register(Some(&forged(&mine))).unwrap_err();
    assert_eq!(forged_token.code(), tonic::Code::Unauthenticated, "{forged_token:?}");
    let other = register(Some(&theirs)).unwrap_err();
    assert_eq!(other.code(), tonic::Code::PermissionDenied, "{other:?}");
    assert!(other.message().contains(&format!("not for {}", attempt(&mine))), "{}", other.message());
    let (_, apps) = cluster.get("/ws/v1/cluster/apps?applicationTypes=SECURITY&states=RUNNING");
    assert!(apps["apps"].is_null() || apps["apps"]["app"].as_array().is_none_or(|a| a.is_empty()), "{apps}");
    register(Some(&mine)).expect("the attempt's own token registers it");
    let (_, app) = cluster.get(&format!(
        "/ws/v1/cluster/apps/{}",
        attempt(&mine).replace("appattempt_", "application_").rsplit_once('_').unwrap().0
    ));
    assert_eq!(app["app"]["state"], "RUNNING", "{app}");
    for app in ["alice-app", "bob-app"] {
        let (_, apps) = cluster.get("/ws/v1/cluster/apps?applicationTypes=SECURITY");
        let id = apps["apps"]["app"].as_array().unwrap().iter().find(|a| a["name"] == app).unwrap()["id"].clone();
        let killed = cluster.weft(&["application", "-kill", id.as_str().unwrap()]);
        assert_eq!(killed.code, Some(0), "{}", killed.both());
    }
    cluster.stop_checked();
}
