//! The staging store with the application's authority (issue 14), against a real ResourceManager on
//! 127.0.0.1: uploads and checks need the application's staging token, downloads a container token
//! of a container of the file's application; one application's files are not another's to read; a
//! per-application quota refuses an upload past it and keeps nothing of it. Proof of possession is
//! per user (issue 17): a user's second application holds a file that user uploaded before on a
//! `Stat`, without the bytes, while another user's application must send them.

mod support;

use std::process::Stdio;
use std::time::Duration;

use prost::Message;
use sha2::{Digest, Sha256};
use support::{start, start_with, Rm};
use tonic::transport::Channel;
use tonic::{Code, Request};
use weft_hadoop_ipc::common::TokenProto;
use weft_hadoop_ipc::container_token::{self, Grant};
use weft_hadoop_ipc::token::MasterKey;
use weft_proto::pb;
use weft_proto::pb::application_client_client::ApplicationClientClient;
use weft_proto::pb::resource_tracker_client::ResourceTrackerClient;
use weft_proto::pb::staging_client::StagingClient;
use weft_proto::{ApplicationId, ContainerId, CONTAINER_TOKEN_METADATA, STAGING_TOKEN_METADATA, USER_METADATA};

async fn channel(address: &str) -> Channel {
    Channel::from_shared(format!("http://{address}")).unwrap().connect().await.unwrap()
}

/// An application id and its staging token, as a client that names no user gets them.
async fn new_application(rm: &Rm) -> (ApplicationId, Vec<u8>) {
    new_application_of(rm, None).await
}

/// An application id and its staging token, asked for by `user` (`weft-user` metadata).
async fn new_application_of(rm: &Rm, user: Option<&str>) -> (ApplicationId, Vec<u8>) {
    let mut client = ApplicationClientClient::new(channel(&rm.client).await);
    let mut request = Request::new(pb::GetNewApplicationRequest {});
    if let Some(user) = user {
        request.metadata_mut().insert(USER_METADATA, user.parse().unwrap());
    }
    let reply = client.get_new_application(request).await.unwrap().into_inner();
    assert!(!reply.staging_token.is_empty(), "GetNewApplication hands out a staging token");
    (reply.application_id.parse().unwrap(), reply.staging_token)
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn with<T>(key: &'static str, token: Option<&[u8]>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Some(token) = token {
        request.metadata_mut().insert_bin(key, tonic::metadata::BinaryMetadataValue::from_bytes(token));
    }
    request
}

/// Uploads `data` as `name`, claiming `header_size` bytes, with the staging token `token`.
async fn upload_claiming(
    staging: &mut StagingClient<Channel>,
    token: Option<&[u8]>,
    name: &str,
    sha: &str,
    header_size: u64,
    data: &[u8],
) -> Result<pb::UploadResponse, tonic::Status> {
    let header = pb::UploadHeader { name: name.into(), sha256: sha.into(), size: header_size };
    let mut chunks = vec![pb::UploadChunk { header: Some(header), data: Vec::new() }];
    chunks.extend(data.chunks(1000).map(|c| pb::UploadChunk { header: None, data: c.to_vec() }));
    staging.upload(with(STAGING_TOKEN_METADATA, token, tokio_stream::iter(chunks))).await.map(|r| r.into_inner())
}

async fn upload(
    staging: &mut StagingClient<Channel>,
    token: Option<&[u8]>,
    name: &str,
    data: &[u8],
) -> Result<pb::UploadResponse, tonic::Status> {
    upload_claiming(staging, token, name, &sha256(data), data.len() as u64, data).await
}

async fn stat(
    staging: &mut StagingClient<Channel>,
    key: &'static str,
    token: Option<&[u8]>,
    sha: &str,
) -> Result<bool, tonic::Status> {
    let request = with(key, token, pb::StatBlobRequest { sha256: sha.into() });
    staging.stat(request).await.map(|r| r.into_inner().exists)
}

async fn download(
    staging: &mut StagingClient<Channel>,
    container_token: Option<&[u8]>,
    sha: &str,
) -> Result<Vec<u8>, tonic::Status> {
    let request = with(CONTAINER_TOKEN_METADATA, container_token, pb::DownloadRequest { sha256: sha.into() });
    let mut stream = staging.download(request).await?.into_inner();
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend(chunk.data);
    }
    Ok(bytes)
}

/// Registers as a NodeManager and returns the container-token master key the ResourceManager hands it.
async fn register_node(rm: &Rm) -> MasterKey {
    let mut tracker = ResourceTrackerClient::new(channel(&rm.tracker).await);
    let request = pb::RegisterNodeRequest {
        host: "127.0.0.1".into(),
        rpc_port: 1,
        http_port: 2,
        total: Some(pb::Resource { memory_mb: 4096, vcores: 4 }),
        version: "test".into(),
        containers: Vec::new(),
    };
    let key = tracker.register_node_manager(request).await.unwrap().into_inner().container_token_master_key.unwrap();
    MasterKey::new(key.key_id, key.secret)
}

/// A container token for the AM container of `app`, signed with `key`, as a NodeManager holds it.
fn container_token(key: &MasterKey, app: ApplicationId) -> Vec<u8> {
    let container: ContainerId =
        format!("container_{}_{:04}_01_000001", app.cluster_timestamp, app.sequence).parse().unwrap();
    container_token::sign(
        key,
        &Grant {
            container,
            node: "127.0.0.1:1",
            user: "alice",
            memory_mb: 1024,
            vcores: 1,
            priority: 0,
            is_am: true,
            created_ms: 1,
            expiry_ms: 2,
            rm_identifier: app.cluster_timestamp,
        },
    )
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn one_applications_staged_file_is_not_anothers_to_read() {
    let rm = start("");
    let mut staging = StagingClient::new(channel(&rm.client).await);
    let (a, token_a) = new_application(&rm).await;
    let (b, token_b) = new_application(&rm).await;
    let binary = b"application A's binary".repeat(100);
    let sha = sha256(&binary);

    // No token, a forged one, garbage: refused, nothing stored.
    let refused = upload(&mut staging, None, "a.bin", &binary).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("needs the application's staging token"), "{}", refused.message());
    assert!(refused.message().contains(STAGING_TOKEN_METADATA), "{}", refused.message());
    let mut forged = TokenProto::decode(token_a.as_slice()).unwrap();
    forged.password[0] ^= 1;
    let refused = upload(&mut staging, Some(&forged.encode_to_vec()), "a.bin", &binary).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains(&format!("the token of {a} is forged")), "{}", refused.message());
    // A token rewritten to name another application keeps A's password: forged too.
    let mut renamed = TokenProto::decode(token_a.as_slice()).unwrap();
    renamed.identifier = TokenProto::decode(token_b.as_slice()).unwrap().identifier;
    let refused = stat(&mut staging, STAGING_TOKEN_METADATA, Some(&renamed.encode_to_vec()), &sha).await.unwrap_err();
    assert!(refused.message().contains(&format!("the token of {b} is forged")), "{}", refused.message());
    let refused = upload(&mut staging, Some(b"garbage"), "a.bin", &binary).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(files_in(&rm.dir.path().join("staging/blobs")).is_empty());

    // A stages its binary.
    let staged = upload(&mut staging, Some(&token_a), "a.bin", &binary).await.unwrap();
    assert_eq!((staged.sha256.as_str(), staged.size), (sha.as_str(), binary.len() as u64));
    assert!(stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_a), &sha).await.unwrap());

    // B knows the hash: its check says nothing is there, and a check without a token is refused.
    assert!(!stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_b), &sha).await.unwrap());
    let refused = stat(&mut staging, STAGING_TOKEN_METADATA, None, &sha).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    // Downloads: a NodeManager with a container token of A's container gets the bytes; with one of
    // B's it is refused, naming B; without one, or with a staging token, or signed by another key, too.
    let key = register_node(&rm).await;
    let a_container = container_token(&key, a);
    let b_container = container_token(&key, b);
    assert_eq!(download(&mut staging, Some(&a_container), &sha).await.unwrap(), binary);
    let refused = download(&mut staging, Some(&b_container), &sha).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains(&format!("{b} (container container_")), "{}", refused.message());
    assert!(refused.message().contains(&format!("holds no staged file with sha256 {sha}")), "{}", refused.message());
    let refused = download(&mut staging, None, &sha).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains(CONTAINER_TOKEN_METADATA), "{}", refused.message());
    let refused = download(&mut staging, Some(&token_a), &sha).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated, "a staging token is no container token");
    let stranger = MasterKey::new(key.key_id(), b"not the ResourceManager's key".to_vec());
    let refused = download(&mut staging, Some(&container_token(&stranger, a)), &sha).await.unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(refused.message().contains("forged"), "{}", refused.message());
    // A NodeManager's check with a container token answers for the container's application.
    assert!(stat(&mut staging, CONTAINER_TOKEN_METADATA, Some(&a_container), &sha).await.unwrap());
    assert!(!stat(&mut staging, CONTAINER_TOKEN_METADATA, Some(&b_container), &sha).await.unwrap());

    // B claiming the hash with other bytes gets nothing; sending the same bytes, B holds it too.
    let other = b"something else entirely".repeat(100);
    let refused =
        upload_claiming(&mut staging, Some(&token_b), "a.bin", &sha, binary.len() as u64, &other[..binary.len()])
            .await
            .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(!stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_b), &sha).await.unwrap());
    assert!(download(&mut staging, Some(&b_container), &sha).await.is_err());
    upload(&mut staging, Some(&token_b), "copy.bin", &binary).await.unwrap();
    assert!(stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_b), &sha).await.unwrap());
    assert_eq!(download(&mut staging, Some(&b_container), &sha).await.unwrap(), binary);
    assert_eq!(files_in(&rm.dir.path().join("staging/blobs")), [sha], "one copy");
}

#[tokio::test]
async fn an_upload_past_the_applications_quota_is_refused_and_nothing_of_it_is_kept() {
    let rm = start("weft.resourcemanager.staging.max-app-bytes: 10000\n");
    let mut staging = StagingClient::new(channel(&rm.client).await);
    let (a, token_a) = new_application(&rm).await;
    let (_, token_b) = new_application(&rm).await;
    let first = vec![1u8; 6000];
    upload(&mut staging, Some(&token_a), "first", &first).await.unwrap();

    let second = vec![2u8; 5000];
    let refused = upload(&mut staging, Some(&token_a), "second", &second).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    let message = refused.message();
    for part in [&a.to_string(), "\"second\"", "quota of 10000 bytes", "weft.resourcemanager.staging.max-app-bytes"] {
        assert!(message.contains(part), "{message}");
    }
    // A header that understates the size does not get past it: the upload fails, nothing is kept.
    let refused =
        upload_claiming(&mut staging, Some(&token_a), "second", &sha256(&second), 100, &second).await.unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(files_in(&rm.dir.path().join("staging/blobs")), [sha256(&first)]);
    assert!(files_in(&rm.dir.path().join("staging/tmp")).is_empty(), "the partial upload is discarded");
    assert!(!stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_a), &sha256(&second)).await.unwrap());

    // Nothing else was lost: A still holds its first file and may fill its quota exactly; another
    // application has a quota of its own.
    assert!(stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_a), &sha256(&first)).await.unwrap());
    upload(&mut staging, Some(&token_a), "fits", &[3u8; 4000]).await.unwrap();
    upload(&mut staging, Some(&token_b), "second", &second).await.unwrap();
    let refused = upload(&mut staging, Some(&token_a), "one more", &[4u8; 1]).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
}

#[tokio::test]
async fn an_ended_applications_files_leave_its_account_and_then_the_store() {
    let rm = start(
        "weft.resourcemanager.staging.cleaner.interval-ms: 1000\n\
         weft.resourcemanager.staging.retain-unreferenced-ms: 0\n",
    );
    let mut staging = StagingClient::new(channel(&rm.client).await);
    let mut client = ApplicationClientClient::new(channel(&rm.client).await);
    let (ended, token_ended) = new_application(&rm).await;
    let (running, token_running) = new_application(&rm).await;
    let only_ended = b"only the ended application's".to_vec();
    let shared = b"both applications'".to_vec();
    upload(&mut staging, Some(&token_ended), "mine", &only_ended).await.unwrap();
    for token in [&token_ended, &token_running] {
        upload(&mut staging, Some(token), "shared", &shared).await.unwrap();
    }
    for app in [ended, running] {
        let context = pb::ApplicationSubmissionContext {
            application_id: app.to_string(),
            name: "staged".into(),
            user: "alice".into(),
            am_resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
            am_container: Some(pb::ContainerLaunchContext { command: vec!["true".into()], ..Default::default() }),
            ..Default::default()
        };
        client.submit_application(pb::SubmitApplicationRequest { context: Some(context) }).await.unwrap();
    }
    let kill = pb::KillApplicationRequest { application_id: ended.to_string(), diagnostics: "done".into() };
    client.kill_application(kill).await.unwrap();

    // Within a few cleaner passes: the ended application holds nothing, its own file is gone, and the
    // file the running application also holds stays, still its.
    let blobs = rm.dir.path().join("staging/blobs");
    for waited in 0.. {
        let released = !stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_ended), &sha256(&shared)).await.unwrap();
        if released && files_in(&blobs) == [sha256(&shared)] {
            break;
        }
        assert!(waited < 100, "the ended application's account was not released within 10 s: {:?}", files_in(&blobs));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_ended), &sha256(&only_ended)).await.unwrap());
    assert!(stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_running), &sha256(&shared)).await.unwrap());
}

/// Stages `data` as `weft` does: `Stat`, then `Upload` only if the application does not hold it.
/// Returns whether the bytes were sent.
async fn stage(staging: &mut StagingClient<Channel>, token: &[u8], data: &[u8]) -> Result<bool, tonic::Status> {
    if stat(staging, STAGING_TOKEN_METADATA, Some(token), &sha256(data)).await? {
        return Ok(false);
    }
    upload(staging, Some(token), "program", data).await?;
    Ok(true)
}

/// The sizes of the uploads the ResourceManager received for `app`, from its log.
fn uploads_received(log: &std::path::Path, app: ApplicationId) -> Vec<u64> {
    let text = std::fs::read_to_string(log).unwrap();
    let field = format!("app_id={app} ");
    text.lines()
        .filter(|line| line.contains("file staged app_id=") && line.contains(&field))
        .map(|line| line.split("size=").nth(1).and_then(|s| s.split_whitespace().next()).unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn issue_17_a_users_second_application_is_not_sent_the_bytes_but_another_users_is() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let rm = start_with("weft.resourcemanager.staging.max-app-bytes: 500000\n", Stdio::from(log.reopen().unwrap()));
    let mut staging = StagingClient::new(channel(&rm.client).await);
    let program: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let (first, token_first) = new_application_of(&rm, Some("alice")).await;
    let (second, token_second) = new_application_of(&rm, Some("alice")).await;
    let (bobs, token_bobs) = new_application_of(&rm, Some("bob")).await;
    let (anonymous, token_anonymous) = new_application(&rm).await;

    // Alice's first application sends the program; her second one holds it on its hash alone.
    assert!(stage(&mut staging, &token_first, &program).await.unwrap());
    assert!(!stage(&mut staging, &token_second, &program).await.unwrap());
    assert_eq!(uploads_received(log.path(), first), [program.len() as u64]);
    assert_eq!(uploads_received(log.path(), second), [0u64; 0], "no byte of the program was sent for the second");
    // Bob knowing the hash gets nothing: his application sends the same bytes; so does one of a
    // client that named no user.
    assert!(!stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_bobs), &sha256(&program)).await.unwrap());
    assert!(stage(&mut staging, &token_bobs, &program).await.unwrap());
    assert!(stage(&mut staging, &token_anonymous, &program).await.unwrap());
    assert_eq!(uploads_received(log.path(), bobs), [program.len() as u64]);
    assert_eq!(uploads_received(log.path(), anonymous), [program.len() as u64]);
    assert_eq!(files_in(&rm.dir.path().join("staging/blobs")), [sha256(&program)], "one copy");

    // What Alice's second application holds this way it holds as if uploaded: a NodeManager
    // localizing one of its containers gets the bytes.
    let key = register_node(&rm).await;
    assert_eq!(download(&mut staging, Some(&container_token(&key, second)), &sha256(&program)).await.unwrap(), program);

    // A claim counts toward the application's quota: past it, Stat is refused as an upload would be.
    let (third, token_third) = new_application_of(&rm, Some("alice")).await;
    upload(&mut staging, Some(&token_third), "data", &[7u8; 250_000]).await.unwrap();
    let refused = stat(&mut staging, STAGING_TOKEN_METADATA, Some(&token_third), &sha256(&program)).await.unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted);
    for part in [&third.to_string(), "quota of 500000 bytes", "weft.resourcemanager.staging.max-app-bytes"] {
        assert!(refused.message().contains(part), "{}", refused.message());
    }
    assert!(download(&mut staging, Some(&container_token(&key, third)), &sha256(&program)).await.is_err());
}
