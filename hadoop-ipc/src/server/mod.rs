//! The tokio adapter: serves Hadoop IPC connections with a [`Handler`]. It reads frames, feeds them
//! to the pure connection machine (`crate::connection`) and carries out its steps: replies go through
//! one writer per connection, each call runs in its own task and is answered by call id whenever it
//! finishes, pings are swallowed, EOF at a frame boundary ends the connection quietly, a protocol
//! error is answered FATAL and the connection closed.
//!
//! A daemon may serve Hadoop IPC on its own listener ([`Server::serve`]) or beside gRPC on one port:
//! peek at the first bytes ([`peek_is_hadoop_ipc`]) and hand `hrpc` connections to
//! [`Server::serve_connection`].

mod shared_port;
mod source;

pub use shared_port::{serve_shared, SNIFF_TIMEOUT};

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::common::rpc_response_header_proto::RpcErrorCodeProto;
use crate::connection::{Connection, Fatal, Step};
use crate::exceptions;
use crate::frame::{is_fatal, is_hadoop_ipc, FrameError, ReplyTo, DEFAULT_MAX_FRAME_LEN, MAGIC};
use crate::handler::{Call, Handler};
use crate::sasl::AuthPolicy;
use source::{FrameSource, Incoming};

/// Frames waiting for the connection's writer before callers wait.
const WRITE_QUEUE_FRAMES: usize = 64;
/// After a FATAL answer, how long and how much of what the client still sends is read and dropped
/// before the connection closes.
const LINGER: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;
/// Random bytes in a DIGEST-MD5 nonce.
const NONCE_BYTES: usize = 24;

/// How a [`Server`] treats its connections.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub auth: AuthPolicy,
    /// Largest request frame accepted; a larger one is answered FATAL. Hadoop's
    /// `ipc.maximum.data.length`, 128 MiB.
    pub max_frame_len: u32,
    /// A connection with no call in flight that sends nothing for this long is closed, handshake
    /// included, so a silent client holds nothing for long. Hadoop's server closes idle connections
    /// after 20 s (twice `ipc.client.connection.maxidletime`); its clients reconnect on the next call.
    pub idle_timeout: Duration,
    /// Calls of one connection running at once; past it the server stops reading that connection
    /// until one finishes.
    pub max_calls_in_flight: usize,
}

impl ServerConfig {
    pub fn new(auth: AuthPolicy) -> ServerConfig {
        ServerConfig {
            auth,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            idle_timeout: Duration::from_secs(20),
            max_calls_in_flight: 64,
        }
    }
}

/// Why a connection ended other than by the client closing it at a frame boundary.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("connection i/o failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("closed after a FATAL response: {0}")]
    Fatal(String),
    #[error("closed after {} ms without a frame or a call in flight", .idle.as_millis())]
    Idle { idle: Duration },
    #[error("the client closed the connection inside a frame")]
    Truncated,
}

/// A Hadoop IPC server: a policy and a handler shared by all its connections. Cloning is cheap.
pub struct Server<H> {
    config: Arc<ServerConfig>,
    handler: Arc<H>,
}

impl<H> Clone for Server<H> {
    fn clone(&self) -> Self {
        Server { config: Arc::clone(&self.config), handler: Arc::clone(&self.handler) }
    }
}

impl<H: Handler> Server<H> {
    pub fn new(config: ServerConfig, handler: H) -> Server<H> {
        Server { config: Arc::new(config), handler: Arc::new(handler) }
    }

    /// Accepts connections on `listener` and serves each in its own task until this future is
    /// dropped, which ends every connection it accepted.
    pub async fn serve(&self, listener: TcpListener) {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let server = self.clone();
                        connections.spawn(async move {
                            if let Err(error) = server.serve_connection(stream, &[]).await {
                                tracing::debug!(%peer, %error, "hadoop ipc connection ended");
                            }
                        });
                    }
                    Err(error) => {
                        // Out of descriptors or similar: the listener stays good, so wait and retry.
                        tracing::warn!(%error, "hadoop ipc accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
    }

    /// Serves one connection to its end. `already_read` holds bytes the caller has read off the
    /// stream already (none when it only peeked). Ok when the client closed at a frame boundary.
    pub async fn serve_connection<S>(&self, stream: S, already_read: &[u8]) -> Result<(), ConnectionError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read_half, write_half) = tokio::io::split(stream);
        let (sender, receiver) = mpsc::channel(WRITE_QUEUE_FRAMES);
        let reading = self.read_frames(FrameSource::new(read_half, already_read), sender);
        let (read_result, write_result) = tokio::join!(reading, write_frames(write_half, receiver));
        read_result?;
        Ok(write_result?)
    }

    async fn read_frames<R: AsyncRead + Unpin>(
        &self,
        mut source: FrameSource<R>,
        sender: mpsc::Sender<Vec<u8>>,
    ) -> Result<(), ConnectionError> {
        let idle = self.config.idle_timeout;
        let Some(preamble) =
            tokio::time::timeout(idle, source.preamble()).await.map_err(|_| ConnectionError::Idle { idle })??
        else {
            return Ok(());
        };
        let mut connection = match Connection::open(&preamble, &self.config.auth, nonce()?) {
            Ok(connection) => connection,
            Err(fatal) => return send_fatal(&mut source, sender, fatal).await,
        };
        let mut calls = JoinSet::new();
        let mut idle_deadline = Instant::now() + idle;
        loop {
            let can_read = calls.len() < self.config.max_calls_in_flight;
            tokio::select! {
                incoming = source.frame(self.config.max_frame_len), if can_read => {
                    let body = match incoming? {
                        Incoming::Frame(body) => body,
                        Incoming::Eof => break,
                        Incoming::Truncated => return Err(ConnectionError::Truncated),
                        Incoming::BadLength(error) => return send_fatal(&mut source, sender, bad_length(&error)).await,
                    };
                    match connection.on_frame(&body) {
                        Step::Send(frame) => {
                            if sender.send(frame).await.is_err() {
                                break;
                            }
                        }
                        Step::Nothing => {}
                        Step::Dispatch { call, reply_to } => {
                            calls.spawn(answer(Arc::clone(&self.handler), call, reply_to, sender.clone()));
                        }
                        Step::Fatal(fatal) => return send_fatal(&mut source, sender, fatal).await,
                    }
                    idle_deadline = Instant::now() + idle;
                }
                Some(finished) = calls.join_next(), if !calls.is_empty() => {
                    if let Ok(Some(reason)) = finished {
                        return Err(ConnectionError::Fatal(reason));
                    }
                    idle_deadline = Instant::now() + idle;
                }
                () = tokio::time::sleep_until(idle_deadline), if calls.is_empty() => {
                    return Err(ConnectionError::Idle { idle });
                }
            }
        }
        // The client has stopped sending; answer what it already asked.
        while calls.join_next().await.is_some() {}
        Ok(())
    }
}

/// Runs one call and queues its response. Returns the reason when the handler's answer was FATAL,
/// which closes the connection.
async fn answer<H: Handler>(
    handler: Arc<H>,
    call: Call,
    reply_to: ReplyTo,
    sender: mpsc::Sender<Vec<u8>>,
) -> Option<String> {
    let (protocol, method) = (call.protocol.clone(), call.method.clone());
    let outcome = AssertUnwindSafe(handler.call(call)).catch_unwind().await;
    let (frame, fatal) = match outcome {
        Ok(Ok(response)) => (reply_to.success(&response), None),
        Ok(Err(error)) => {
            let fatal = is_fatal(error.detail).then(|| error.to_string());
            (reply_to.failure(&error.class_name, &error.message, error.detail), fatal)
        }
        Err(_) => {
            tracing::error!(%protocol, %method, "hadoop ipc handler panicked");
            let message = format!("internal error in {protocol}.{method}");
            (reply_to.failure(exceptions::IO, &message, RpcErrorCodeProto::ErrorRpcServer), None)
        }
    };
    // A closed writer means the connection is going away: nobody is left to answer.
    let _ = sender.send(frame).await;
    fatal
}

/// Queues the FATAL answer, then reads what the client still sends until it closes (at most
/// `LINGER`, `LINGER_BYTES`), so that it reads the answer rather than a reset connection.
async fn send_fatal<R: AsyncRead + Unpin>(
    source: &mut FrameSource<R>,
    sender: mpsc::Sender<Vec<u8>>,
    fatal: Fatal,
) -> Result<(), ConnectionError> {
    let _ = sender.send(fatal.frame).await;
    drop(sender);
    let _ = tokio::time::timeout(LINGER, source.discard(LINGER_BYTES)).await;
    Err(ConnectionError::Fatal(fatal.reason))
}

fn bad_length(error: &FrameError) -> Fatal {
    Fatal::headerless(exceptions::IPC, error.to_string(), RpcErrorCodeProto::FatalInvalidRpcHeader)
}

async fn write_frames<W: AsyncWrite>(writer: W, mut receiver: mpsc::Receiver<Vec<u8>>) -> std::io::Result<()> {
    let mut writer = std::pin::pin!(writer);
    while let Some(frame) = receiver.recv().await {
        writer.write_all(&frame).await?;
    }
    // The client may already be gone; a failed shutdown changes nothing for anyone.
    let _ = writer.shutdown().await;
    Ok(())
}

fn nonce() -> std::io::Result<String> {
    let mut bytes = [0; NONCE_BYTES];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(BASE64.encode(bytes))
}

/// Waits for a new connection's first bytes and tells whether they are Hadoop IPC's, leaving them in
/// the socket for whoever serves it. False at EOF or as soon as the bytes differ from `hrpc`. Bound
/// the wait with a timeout: a silent client makes it wait as long as it stays silent.
pub async fn peek_is_hadoop_ipc(stream: &TcpStream) -> std::io::Result<bool> {
    let mut first = [0; MAGIC.len()];
    loop {
        let count = stream.peek(&mut first).await?;
        if count == 0 || count == first.len() || !MAGIC.starts_with(&first[..count]) {
            return Ok(is_hadoop_ipc(&first[..count]));
        }
        // Only part of "hrpc" has arrived: peek returns at once while data waits, so pause first.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
