//! A message already encoded. The ResourceManager's ApplicationMaster server answers Allocate with
//! one (see `build.rs`): a reply of thousands of containers is written once, field by field, into
//! its buffer, instead of being built as thousands of `pb::Container`s of five allocations each,
//! encoded and dropped. Its bytes are those of a `pb::AllocateResponse`, so clients decode it as
//! that message: the wire does not change.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{self, DecodeContext, WireType};
use prost::DecodeError;

/// The protobuf encoding of a message, written to the wire as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Encoded(pub Vec<u8>);

impl prost::Message for Encoded {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }

    /// Reading one keeps each field's bytes (varints re-encoded in their shortest form; groups,
    /// which proto3 has not, are skipped), so a decoded `Encoded` encodes as what it read.
    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), DecodeError> {
        let out = &mut self.0;
        match wire_type {
            WireType::Varint => {
                let value = encoding::decode_varint(buf)?;
                encoding::encode_key(tag, wire_type, out);
                encoding::encode_varint(value, out);
            }
            WireType::SixtyFourBit => {
                let mut value = 0u64;
                encoding::fixed64::merge(wire_type, &mut value, buf, ctx)?;
                encoding::fixed64::encode(tag, &value, out);
            }
            WireType::ThirtyTwoBit => {
                let mut value = 0u32;
                encoding::fixed32::merge(wire_type, &mut value, buf, ctx)?;
                encoding::fixed32::encode(tag, &value, out);
            }
            WireType::LengthDelimited => {
                let mut value = Vec::new();
                encoding::bytes::merge(wire_type, &mut value, buf, ctx)?;
                encoding::bytes::encode(tag, &value, out);
            }
            WireType::StartGroup | WireType::EndGroup => encoding::skip_field(wire_type, tag, buf, ctx)?,
        }
        Ok(())
    }

    fn encoded_len(&self) -> usize {
        self.0.len()
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;
    use crate::pb;

    #[test]
    fn an_encoded_message_is_written_and_read_as_the_message() {
        let response = pb::AllocateResponse {
            response_id: 3,
            allocated: vec![pb::Container {
                container_id: "container_1700000000000_0001_01_000002".into(),
                node_id: "h:8041".into(),
                resource: Some(pb::Resource { memory_mb: 1024, vcores: 1 }),
                priority: -1,
                container_token: vec![1, 2, 3],
                ..Default::default()
            }],
            available: Some(pb::Resource::default()),
            num_cluster_nodes: 1,
            ..Default::default()
        };
        let encoded = Encoded(response.encode_to_vec());
        assert_eq!(pb::AllocateResponse::decode(encoded.encode_to_vec().as_slice()), Ok(response.clone()));
        assert_eq!(Encoded::decode(encoded.0.as_slice()), Ok(encoded));
        let fixed = [0x09, 1, 0, 0, 0, 0, 0, 0, 0, 0x15, 2, 0, 0, 0];
        assert_eq!(Encoded::decode(&fixed[..]).map(|e| e.0), Ok(fixed.to_vec()));
    }
}
