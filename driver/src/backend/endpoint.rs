//! The driver's gRPC endpoint for its executors: registration (refusing another build of the
//! binary), heartbeats, task status updates (streamed in chunks), and broadcast values. Handlers
//! only decode and forward [`Event`]s to the driver loop; the state they touch is [`Shared`].

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures::{Stream, StreamExt};
use tokio::sync::mpsc::UnboundedSender;
use tonic::{Request, Response, Status, Streaming};
use weft_executor::build_id;
use weft_executor::plan::{TaskStatus, CHUNK};
use weft_proto::spark_pb::driver_endpoint_server::DriverEndpoint;
use weft_proto::spark_pb::{self as pb};

use super::{Event, Registration, Shared};

/// The driver's gRPC endpoint for its executors.
pub(crate) struct DriverService {
    pub(crate) tx: UnboundedSender<Event>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) application_id: String,
}

type ChunkStream = Pin<Box<dyn Stream<Item = Result<pb::Chunk, Status>> + Send>>;

#[tonic::async_trait]
impl DriverEndpoint for DriverService {
    async fn register_executor(
        &self,
        request: Request<pb::RegisterExecutorRequest>,
    ) -> Result<Response<pb::RegisterExecutorResponse>, Status> {
        let r = request.into_inner();
        let own = build_id().to_string();
        if r.build_id != own {
            let message = format!(
                "executor {} runs build {} of the application binary, the driver runs {own}; refusing it",
                r.executor_id, r.build_id
            );
            tracing::error!("{message}");
            return Err(Status::failed_precondition(message));
        }
        self.shared.heartbeats.lock().expect("heartbeat lock").insert(r.executor_id.clone(), Instant::now());
        let event = Event::Registered(Registration {
            id: r.executor_id,
            address: r.address,
            host: r.host,
            cores: r.cores.max(1) as usize,
            shuffle_dir: r.shuffle_dir,
        });
        self.tx.send(event).map_err(|_| Status::unavailable("the driver is stopping"))?;
        Ok(Response::new(pb::RegisterExecutorResponse { application_id: self.application_id.clone() }))
    }

    async fn heartbeat(
        &self,
        request: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatResponse>, Status> {
        let r = request.into_inner();
        let mut beats = self.shared.heartbeats.lock().expect("heartbeat lock");
        let known = beats.contains_key(&r.executor_id);
        if known {
            beats.insert(r.executor_id, Instant::now());
        }
        Ok(Response::new(pb::HeartbeatResponse { unknown_executor: !known }))
    }

    async fn status_update(&self, request: Request<Streaming<pb::Chunk>>) -> Result<Response<pb::Ack>, Status> {
        let mut stream = request.into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk?.data);
        }
        let status: TaskStatus = bincode::deserialize(&bytes)
            .map_err(|e| Status::invalid_argument(format!("undecodable task status: {e}")))?;
        self.tx.send(Event::Status(Box::new(status))).map_err(|_| Status::unavailable("the driver is stopping"))?;
        Ok(Response::new(pb::Ack {}))
    }

    type FetchBroadcastStream = ChunkStream;

    async fn fetch_broadcast(
        &self,
        request: Request<pb::FetchBroadcastRequest>,
    ) -> Result<Response<ChunkStream>, Status> {
        let id = request.into_inner().broadcast_id;
        let bytes = self.shared.broadcasts.lock().expect("broadcast lock").get(&id).cloned();
        let bytes = bytes.ok_or_else(|| Status::not_found(format!("no broadcast {id}")))?;
        let chunks: Vec<Result<pb::Chunk, Status>> =
            bytes.chunks(CHUNK).map(|c| Ok(pb::Chunk { data: c.to_vec() })).collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}
