//! One listening port for two protocols: YARN's clients dial the same `host:port` whether they speak
//! Hadoop IPC (Spark, Hadoop's `yarn`) or Weft's gRPC (`weft`, Weft's application masters). Each new
//! connection's first bytes are peeked: `hrpc` goes to the Hadoop IPC [`Server`], anything else
//! (HTTP/2's `PRI * HTTP/2.0` preface) is handed on untouched, its bytes still unread, for the gRPC
//! server to accept from a channel.

use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::{peek_is_hadoop_ipc, Server};
use crate::handler::Handler;

/// How long a new connection may stay silent before it is handed on as not Hadoop IPC.
pub const SNIFF_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts on `listener` until the future is dropped (which ends the Hadoop IPC connections it
/// serves; connections handed on belong to their receiver). A failed accept is logged and retried;
/// a connection that closes before saying anything is dropped.
pub async fn serve_shared<H: Handler>(listener: TcpListener, server: Server<H>, others: mpsc::Sender<TcpStream>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    // Replies are written in several pieces (a gRPC response's headers, body and
                    // trailers); with Nagle's algorithm each piece after the first waits for the
                    // peer's delayed ACK, ~40 ms a call.
                    if let Err(error) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %error, "cannot set TCP_NODELAY");
                    }
                    let (server, others) = (server.clone(), others.clone());
                    connections.spawn(async move {
                        let is_hadoop = match tokio::time::timeout(SNIFF_TIMEOUT, peek_is_hadoop_ipc(&stream)).await {
                            Ok(Ok(is_hadoop)) => is_hadoop,
                            Ok(Err(error)) => {
                                tracing::debug!(%peer, %error, "connection failed before its first bytes");
                                return;
                            }
                            Err(_) => false,
                        };
                        if !is_hadoop {
                            // The receiver is gone only while the daemon shuts down.
                            let _ = others.send(stream).await;
                        } else if let Err(error) = server.serve_connection(stream, &[]).await {
                            tracing::debug!(%peer, %error, "hadoop ipc connection ended");
                        }
                    });
                }
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::common::{IpcConnectionContextProto, RequestHeaderProto, UserInformationProto};
    use crate::frame::{call_frame, call_id, decode_response, request_header, AuthProtocol, FrameWriter, Preamble};
    use crate::handler::{Call, RpcError};
    use crate::sasl::AuthPolicy;
    use crate::ServerConfig;

    struct Echo;

    impl Handler for Echo {
        async fn call(&self, call: Call) -> Result<Vec<u8>, RpcError> {
            Ok([call.method.as_bytes(), b":", &call.request].concat())
        }
    }

    const PROTOCOL: &str = "org.apache.hadoop.yarn.api.ApplicationClientProtocolPB";

    async fn read_frame(stream: &mut TcpStream) -> Vec<u8> {
        let mut length = [0; 4];
        stream.read_exact(&mut length).await.unwrap();
        let mut body = vec![0; u32::from_be_bytes(length) as usize];
        stream.read_exact(&mut body).await.unwrap();
        body
    }

    #[tokio::test]
    async fn hrpc_is_served_here_and_everything_else_is_handed_on_unread() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (others, mut handed_on) = mpsc::channel(4);
        let server = Server::new(ServerConfig::new(AuthPolicy::Simple), Echo);
        let serving = tokio::spawn(serve_shared(listener, server, others));

        let mut grpc = TcpStream::connect(address).await.unwrap();
        grpc.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
        let mut received = tokio::time::timeout(Duration::from_secs(5), handed_on.recv()).await.unwrap().unwrap();
        let mut preface = [0; 24];
        received.read_exact(&mut preface).await.unwrap();
        assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        assert!(received.nodelay().unwrap(), "a connection handed on has TCP_NODELAY set");

        let mut hadoop = TcpStream::connect(address).await.unwrap();
        let context = IpcConnectionContextProto {
            user_info: Some(UserInformationProto { effective_user: Some("alice".into()), real_user: None }),
            protocol: Some(PROTOCOL.into()),
        };
        let method = RequestHeaderProto {
            method_name: "getClusterMetrics".into(),
            declaring_class_protocol_name: PROTOCOL.into(),
            client_protocol_version: 1,
        };
        let mut bytes = Preamble { service_class: 0, auth: AuthProtocol::None }.encode().to_vec();
        bytes.extend(
            FrameWriter::new()
                .message(&request_header(call_id::CONNECTION_CONTEXT, b"0123456789abcdef", -1))
                .message(&context)
                .finish(),
        );
        bytes.extend(call_frame(&request_header(7, b"0123456789abcdef", 0), &method, b"ask"));
        hadoop.write_all(&bytes).await.unwrap();
        let response = decode_response(&read_frame(&mut hadoop).await).unwrap();
        assert_eq!(response.call_id(), 7);
        assert_eq!(response.message.as_deref(), Some(&b"getClusterMetrics:ask"[..]));
        assert!(handed_on.try_recv().is_err(), "the Hadoop connection was not handed on");
        serving.abort();
    }
}
