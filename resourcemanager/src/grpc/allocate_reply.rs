//! The allocate reply written as the bytes of a `pb::AllocateResponse`, field by field, into one
//! buffer. A fill's reply carries thousands of containers; as messages each was five allocations
//! (its id, node id, node address, HTTP address, token), encoded, then dropped. Here each
//! container's ids are printed into buffers kept from container to container and its token, put
//! together in the signer's buffers, is encoded into place. The bytes are what prost writes for the same reply (fields in number order,
//! proto3 defaults left out): the tests decode them as `pb::AllocateResponse` and encode that again.

use std::fmt::Write;

use prost::encoding::{self, WireType};
use weft_proto::pb;

use super::convert;
use crate::core::{AllocateReply, RmContainer};
use crate::tokens::{ContainerTokens, NmTokens};

/// Bytes a granted container takes in a reply, about: enough that the buffer seldom grows.
const CONTAINER_BYTES: usize = 400;
/// Bytes an NM token takes in a reply, about.
const NM_TOKEN_BYTES: usize = 200;

/// Writes `reply`, answering the call numbered `response_id`, with a container token for each
/// grant and an NM token for each newly tokened node.
pub(crate) fn encode(
    reply: AllocateReply,
    response_id: i64,
    mut container_tokens: ContainerTokens<'_>,
    mut nm_tokens: NmTokens<'_>,
) -> Vec<u8> {
    let capacity = reply.allocated.len() * CONTAINER_BYTES + reply.nm_token_grants.len() * NM_TOKEN_BYTES;
    let mut writer = Writer { out: Vec::with_capacity(capacity), ..Writer::default() };
    put_int(1, response_id, &mut writer.out);
    for c in &reply.allocated {
        writer.container(c, &mut container_tokens);
    }
    for c in reply.completed {
        encoding::message::encode(3, &convert::completed_status(c), &mut writer.out);
    }
    encoding::message::encode(4, &pb::Resource::from(reply.available), &mut writer.out);
    put_int(5, i64::from(reply.num_cluster_nodes), &mut writer.out);
    for &i in &reply.nm_token_grants {
        writer.nm_token(&reply.allocated[i], &mut nm_tokens);
    }
    writer.out
}

/// The reply being written and the buffers a container's ids are printed in.
#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    container_id: String,
    node: String,
}

impl Writer {
    /// Field 2, a `pb::Container`, written straight into the reply: its length first, summed from
    /// its fields', then the fields.
    fn container(&mut self, c: &RmContainer, tokens: &mut ContainerTokens<'_>) {
        self.print_node(c);
        self.container_id.clear();
        write!(self.container_id, "{}", c.id).expect("a String takes any text");
        let token = tokens.token(c, &self.node);
        let resource = pb::Resource::from(c.resource);
        let len = str_len(1, &self.container_id)
            + 2 * str_len(2, &self.node)
            + str_len(4, &c.node_http_address)
            + encoding::message::encoded_len(5, &resource)
            + int_len(6, i64::from(c.priority))
            + encoding::message::encoded_len(7, token);
        let out = &mut self.out;
        put_len(2, len, out);
        let start = out.len();
        put_str(1, &self.container_id, out);
        put_str(2, &self.node, out);
        put_str(3, &self.node, out);
        put_str(4, &c.node_http_address, out);
        encoding::message::encode(5, &resource, out);
        put_int(6, i64::from(c.priority), out);
        // A token is never empty (it has a kind), so field 7 is always written.
        encoding::message::encode(7, token, out);
        debug_assert_eq!(out.len() - start, len, "the container's length as summed");
    }

    /// Field 6, a `pb::NmToken` for the node of `c`.
    fn nm_token(&mut self, c: &RmContainer, tokens: &mut NmTokens<'_>) {
        self.print_node(c);
        let token = tokens.token(&c.node);
        let len = str_len(1, &self.node) + encoding::message::encoded_len(2, token);
        put_len(6, len, &mut self.out);
        put_str(1, &self.node, &mut self.out);
        encoding::message::encode(2, token, &mut self.out);
    }

    fn print_node(&mut self, c: &RmContainer) {
        self.node.clear();
        write!(self.node, "{}", c.node).expect("a String takes any text");
    }
}

/// The key and length of a length-delimited field of `len` bytes.
fn put_len(tag: u32, len: usize, out: &mut Vec<u8>) {
    encoding::encode_key(tag, WireType::LengthDelimited, out);
    encoding::encode_varint(len as u64, out);
}

/// What [`put_str`] writes, in bytes.
fn str_len(tag: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(value.len() as u64) + value.len()
    }
}

/// What [`put_int`] writes, in bytes.
fn int_len(tag: u32, value: i64) -> usize {
    if value == 0 {
        0
    } else {
        encoding::key_len(tag) + encoding::encoded_len_varint(value as u64)
    }
}

/// A string field; proto3 leaves out the empty string.
fn put_str(tag: u32, value: &str, out: &mut Vec<u8>) {
    if !value.is_empty() {
        put_len(tag, value.len(), out);
        out.extend_from_slice(value.as_bytes());
    }
}

/// An int32 or int64 field (an int32 is written as its value widened to 64 bits); proto3 leaves
/// out 0.
fn put_int(tag: u32, value: i64, out: &mut Vec<u8>) {
    if value != 0 {
        encoding::encode_key(tag, WireType::Varint, out);
        encoding::encode_varint(value as u64, out);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use prost::Message;
    use weft_proto::{ApplicationId, ContainerId, NodeId, Resource};

    use super::*;
    use crate::core::{MemoryUsage, ReportedContainer};
    use crate::tokens::Keys;

    fn container(n: u64, host: &str, epoch: u32) -> RmContainer {
        let attempt = ApplicationId::new(1_700_000_000_000, 7).attempt(1);
        RmContainer {
            id: ContainerId { attempt, epoch, id: n },
            node: NodeId::new(host, 8041),
            node_http_address: Arc::from(format!("{host}:8042").as_str()),
            resource: Resource::new(1024 * n as i64, n as i32),
            priority: n as i32 - 2,
            state: weft_proto::states::ContainerState::NEW,
            exit_status: weft_proto::exit_status::INVALID,
            diagnostics: String::new(),
            created_ms: 1_700_000_001_000,
            finished_ms: 0,
            is_am: n == 1,
            usage: MemoryUsage::default(),
            reported_kill: None,
            given_back: false,
            released: None,
        }
    }

    /// Writes `reply`, checks that it reads back as a `pb::AllocateResponse` that encodes to the
    /// same bytes, and returns that response.
    fn check(reply: AllocateReply, response_id: i64) -> pb::AllocateResponse {
        let keys = Keys::generate(1_700_000_000_000, Duration::from_secs(600)).unwrap();
        let attempt = reply.allocated.first().map_or(ApplicationId::new(1, 1).attempt(1), |c| c.id.attempt);
        let expected: Vec<_> =
            reply.allocated.iter().map(|c| (c.id, keys.container_token(c, "alice", 1_700_000_000_000))).collect();
        let tokened: Vec<NodeId> = reply.nm_token_nodes().cloned().collect();
        let tokens = keys.container_tokens("alice", 1_700_000_000_000);
        let written = encode(reply, response_id, tokens, keys.nm_tokens(attempt, "alice"));
        let response = pb::AllocateResponse::decode(written.as_slice()).unwrap();
        assert_eq!(response.encode_to_vec(), written, "prost writes the reply it reads the same");
        for ((id, token), c) in expected.iter().zip(&response.allocated) {
            assert_eq!((&c.container_id, &c.container_token), (&id.to_string(), token));
            assert_eq!(keys.container_token_container(&c.container_token), Ok(*id));
        }
        let nm_nodes: Vec<String> = response.nm_tokens.iter().map(|t| t.node_id.clone()).collect();
        assert_eq!(nm_nodes, tokened.iter().map(NodeId::to_string).collect::<Vec<_>>());
        for (t, node) in response.nm_tokens.iter().zip(&tokened) {
            assert_eq!(t.token, keys.nm_token(attempt, node, "alice").encode_to_vec());
        }
        response
    }

    #[test]
    fn a_reply_is_written_as_prost_writes_the_message() {
        let allocated = vec![container(1, "a.example.com", 0), container(2, "b", 3), container(3, "a.example.com", 0)];
        let completed = vec![ReportedContainer::complete(allocated[0].id, -100, "lost")];
        let reply = AllocateReply {
            allocated,
            nm_token_grants: vec![1, 2],
            completed,
            available: Resource::new(4096, 4),
            num_cluster_nodes: 2,
        };
        let response = check(reply, 9);
        assert_eq!((response.response_id, response.num_cluster_nodes), (9, 2));
        let c = &response.allocated[1];
        assert_eq!(
            (c.node_id.as_str(), c.node_address.as_str(), c.node_http_address.as_str(), c.priority),
            ("b:8041", "b:8041", "b:8042", 0)
        );
        assert_eq!(c.container_id, "container_e03_1700000000000_0007_01_000002");
        assert_eq!(response.completed[0].diagnostics, "lost");
        assert_eq!(response.available, Some(pb::Resource { memory_mb: 4096, vcores: 4 }));
    }

    #[test]
    fn an_empty_reply_is_written_as_prost_writes_it() {
        let reply = AllocateReply {
            allocated: vec![],
            nm_token_grants: vec![],
            completed: vec![],
            available: Resource::ZERO,
            num_cluster_nodes: 0,
        };
        assert_eq!(
            check(reply, 0),
            pb::AllocateResponse { available: Some(pb::Resource::default()), ..Default::default() }
        );
    }
}
