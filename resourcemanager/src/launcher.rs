//! The AM launcher: starts each granted AM container on its NodeManager and tells the core how it went.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use weft_proto::pb;
use weft_proto::pb::container_management_client::ContainerManagementClient;

use crate::core::Effect;
use crate::grpc::convert_launch_context;
use crate::state::Rm;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Carries out effects until shutdown (or until the channel closes); each launch runs in its own
/// tracked task, so shutdown waits only for launches that are under way.
pub async fn run(
    rm: Arc<Rm>,
    mut effects: mpsc::UnboundedReceiver<Effect>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    loop {
        let effect = tokio::select! {
            _ = shutdown.cancelled() => return,
            effect = effects.recv() => effect,
        };
        let Some(effect) = effect else { return };
        let rm = rm.clone();
        tasks.spawn(async move { carry_out(rm, effect).await });
    }
}

async fn carry_out(rm: Arc<Rm>, effect: Effect) {
    match effect {
        Effect::LaunchAm { attempt, container, node, resource, user, launch } => {
            if !rm.with(|core, _| core.am_launch_wanted(attempt, container)) {
                tracing::info!(%attempt, %container, "not launching the AM container: its attempt no longer waits for it");
                return;
            }
            let env = am_environment(&rm, attempt);
            let container_token = rm.with(|core, _| {
                let rm_identifier = core.config().cluster_timestamp;
                core.container(container).map(|c| rm.keys.container_token(c, &user, rm_identifier))
            });
            let container_token = match container_token {
                Ok(token) => token,
                Err(error) => {
                    let error = format!("cannot sign the AM container's token: {error}");
                    tracing::warn!(%attempt, %container, %error, "could not launch the AM container");
                    rm.with(|core, now| core.am_launched(attempt, Err(error), now));
                    return;
                }
            };
            let hadoop_launch_context = if launch.hadoop_context.is_empty() {
                Vec::new()
            } else {
                match hadoop_am_context(&rm, attempt, &launch.hadoop_context) {
                    Ok(context) => context,
                    Err(error) => {
                        tracing::warn!(%attempt, %container, %error, "could not launch the AM container");
                        rm.with(|core, now| core.am_launched(attempt, Err(error), now));
                        return;
                    }
                }
            };
            // The application's ACLs go with its AM: the NodeManager decides who may read its logs.
            let acls = rm.with(|core, _| core.app(attempt.application).map(|a| a.submission.acls.clone()));
            let text = |acl: Option<&crate::core::AccessControlList>| acl.map(ToString::to_string).unwrap_or_default();
            let launch = hadoop_launch_context.is_empty().then(|| {
                let acls = acls.unwrap_or_default();
                pb::ContainerLaunchContext {
                    view_acls: text(acls.view.as_ref()),
                    modify_acls: text(acls.modify.as_ref()),
                    ..convert_launch_context(launch, &env)
                }
            });
            let request = pb::StartContainerRequest {
                container_id: container.to_string(),
                launch,
                resource: Some(resource.into()),
                user,
                container_token,
                hadoop_launch_context,
            };
            let result = start_on(&node.to_string(), request).await;
            if let Err(error) = &result {
                tracing::warn!(%attempt, %container, %node, %error, "could not launch the AM container");
            }
            rm.with(|core, now| core.am_launched(attempt, result, now));
        }
    }
}

/// What an AM needs to find the ResourceManager, on top of what the NodeManager sets: its AMRM
/// token, the RM's addresses, and what YARN's AM launcher tells every AM.
fn am_environment(rm: &Rm, attempt: weft_proto::ApplicationAttemptId) -> Vec<(String, String)> {
    let (submitted_ms, max_attempts) =
        rm.with(|core, _| core.app(attempt.application).map(|a| (a.started_ms, a.max_attempts)).unwrap_or((0, 1)));
    let token = rm.keys.amrm_token(attempt, &rm.info.scheduler_address);
    let mut environment = vec![
        (weft_proto::AMRM_TOKEN_ENV.into(), hex::encode(prost::Message::encode_to_vec(&token))),
        ("WEFT_RM_SCHEDULER_ADDRESS".into(), rm.info.scheduler_address.clone()),
        ("WEFT_RM_ADDRESS".into(), rm.info.client_address.clone()),
    ];
    let yarn = crate::hadoop::am_environment(attempt.application, submitted_ms, max_attempts);
    environment.extend(yarn.into_iter().map(|(k, v)| (k.to_owned(), v)));
    environment
}

/// A Hadoop client's AM launch context with what YARN's AM launcher adds: the attempt's AMRM token,
/// and its proxy path, submit time and attempt limit in its environment.
fn hadoop_am_context(rm: &Rm, attempt: weft_proto::ApplicationAttemptId, context: &[u8]) -> Result<Vec<u8>, String> {
    let (submitted_ms, max_attempts) = rm
        .with(|core, _| core.app(attempt.application).map(|a| (a.started_ms, a.max_attempts)))
        .map_err(|e| e.to_string())?;
    let amrm = rm.keys.amrm_token(attempt, &rm.info.scheduler_address);
    let environment = crate::hadoop::am_environment(attempt.application, submitted_ms, max_attempts);
    crate::hadoop::am_launch_context(context, amrm, &attempt.to_string(), &environment)
}

async fn start_on(node: &str, request: pb::StartContainerRequest) -> Result<(), String> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{node}"))
        .map_err(|e| format!("bad NodeManager address {node}: {e}"))?
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT);
    let channel = endpoint.connect().await.map_err(|e| format!("cannot reach NodeManager {node}: {e}"))?;
    let mut client = ContainerManagementClient::new(channel);
    let response = client
        .start_containers(pb::StartContainersRequest { requests: vec![request] })
        .await
        .map_err(|status| format!("NodeManager {node} refused: {}", status.message()))?
        .into_inner();
    match response.failed.into_iter().next() {
        Some(failure) => {
            Err(format!("NodeManager {node} could not start {}: {}", failure.container_id, failure.message))
        }
        None => Ok(()),
    }
}
