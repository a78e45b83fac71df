//! A session across a ResourceManager restart, against an in-process scheduler on 127.0.0.1:0 that
//! can forget its registration (answering ApplicationMasterNotRegistered once, as a restarted
//! ResourceManager does) and completes only the releases it is told to.

use std::sync::{Arc, Mutex};

use tonic::{Request, Response, Status};
use weft_proto::pb::application_master_server::{ApplicationMaster, ApplicationMasterServer};

use super::*;

#[derive(Default)]
struct Scheduler {
    /// The next allocate is answered "register again".
    restarted: bool,
    registrations: u32,
    /// Every allocate that reached a registered attempt: (response id, releases).
    allocates: Vec<(i64, Vec<String>)>,
    /// Completions to report with the next reply.
    completions: Vec<String>,
}

#[derive(Clone, Default)]
struct Fake(Arc<Mutex<Scheduler>>);

#[tonic::async_trait]
impl ApplicationMaster for Fake {
    async fn register_application_master(
        &self,
        _: Request<pb::RegisterApplicationMasterRequest>,
    ) -> Result<Response<pb::RegisterApplicationMasterResponse>, Status> {
        let mut s = self.0.lock().unwrap();
        s.registrations += 1;
        s.restarted = false;
        Ok(Response::new(pb::RegisterApplicationMasterResponse::default()))
    }

    async fn allocate(&self, request: Request<pb::AllocateRequest>) -> Result<Response<pb::AllocateResponse>, Status> {
        let request = request.into_inner();
        let mut s = self.0.lock().unwrap();
        if s.restarted {
            let mut status = Status::failed_precondition("AM is not registered for known application attempt");
            status.metadata_mut().insert(
                weft_proto::EXCEPTION_METADATA,
                tonic::metadata::MetadataValue::from_static(weft_proto::AM_NOT_REGISTERED),
            );
            return Err(status);
        }
        s.allocates.push((request.response_id, request.releases));
        let completed = std::mem::take(&mut s.completions)
            .into_iter()
            .map(|id| pb::ContainerStatus { container_id: id, ..Default::default() })
            .collect();
        Ok(Response::new(pb::AllocateResponse {
            response_id: request.response_id + 1,
            completed,
            ..Default::default()
        }))
    }

    async fn finish_application_master(
        &self,
        _: Request<pb::FinishApplicationMasterRequest>,
    ) -> Result<Response<pb::FinishApplicationMasterResponse>, Status> {
        Ok(Response::new(pb::FinishApplicationMasterResponse { unregistered: true }))
    }
}

async fn serve() -> (Fake, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let fake = Fake::default();
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    let server = tonic::transport::Server::builder()
        .add_service(ApplicationMasterServer::new(fake.clone()))
        .serve_with_incoming(incoming);
    tokio::spawn(server);
    (fake, address)
}

#[tokio::test]
async fn after_registering_again_every_release_not_heard_completed_is_sent_again() {
    let (fake, address) = serve().await;
    let attempt = weft_proto::ApplicationId::new(1_700_000_000_000, 3).attempt(1);
    let registration = Registration {
        scheduler_address: address,
        attempt_id: attempt,
        amrm_token: vec![1, 2, 3],
        host: "h".into(),
        rpc_port: -1,
        tracking_url: String::new(),
    };
    let (mut session, _) = AmSession::register(&registration).await.unwrap();
    let [c2, c3, c4] = [attempt.container(2), attempt.container(3), attempt.container(4)];
    let ask = Ask { priority: 1, capability: Resource::new(1024, 1), num_containers: 0 };
    session.allocate(ask, &[c2, c3], 0.1).await.unwrap();
    // The scheduler took c3's release into account; c2's completion has not come back yet.
    fake.0.lock().unwrap().completions.push(c3.to_string());
    session.allocate(ask, &[], 0.2).await.unwrap();
    // The ResourceManager restarts: the next call registers again and carries c2 beside c4.
    fake.0.lock().unwrap().restarted = true;
    session.allocate(ask, &[c4], 0.3).await.unwrap();
    let s = fake.0.lock().unwrap();
    assert_eq!(s.registrations, 2);
    let sent: Vec<(i64, Vec<String>)> = s.allocates.clone();
    assert_eq!(
        sent,
        [(0, vec![c2.to_string(), c3.to_string()]), (1, vec![]), (0, vec![c2.to_string(), c4.to_string()]),],
        "the call after the new registration starts the response ids again and sends every pending release"
    );
}
