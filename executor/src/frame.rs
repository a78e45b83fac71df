//! The task frame: `WEFTTASK`, the sender's build id, an xxh3-64 checksum, then the bincode task.
//! An executor checks the build id and the checksum before it decodes a byte of the task; only then
//! does it hold the [`Verified`] proof that resolves the task's code references.

use crate::code::{build_id, BuildId, Verified};
use crate::error::TaskError;
use crate::plan::TaskDescription;

const MAGIC: &[u8; 8] = b"WEFTTASK";
const HEADER: usize = 8 + 16 + 8;

/// Frames a task made by this process.
pub fn encode_task(task: &TaskDescription) -> Vec<u8> {
    let payload = bincode::serialize(task).expect("a task description always serializes");
    let mut frame = Vec::with_capacity(HEADER + payload.len());
    frame.extend_from_slice(MAGIC);
    frame.extend_from_slice(&build_id().0.to_le_bytes());
    frame.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    frame
}

/// The build id a frame claims, if it is a task frame at all.
pub fn frame_build_id(frame: &[u8]) -> Option<BuildId> {
    if frame.len() < HEADER || &frame[..8] != MAGIC {
        return None;
    }
    Some(BuildId(u128::from_le_bytes(frame[8..24].try_into().ok()?)))
}

/// Checks and decodes a task frame.
pub(crate) fn decode_task(frame: &[u8]) -> Result<(Verified, TaskDescription), TaskError> {
    let refused = |message: String| TaskError::Refused { message };
    let build = frame_build_id(frame).ok_or_else(|| refused("not a task frame (bad magic or too short)".into()))?;
    let proof = Verified::check(&build).map_err(|e| refused(e.to_string()))?;
    let sum = u64::from_le_bytes(frame[24..32].try_into().expect("8 bytes"));
    let payload = &frame[HEADER..];
    if xxhash_rust::xxh3::xxh3_64(payload) != sum {
        return Err(refused("task frame checksum mismatch: the frame was damaged in transit".into()));
    }
    let task = bincode::deserialize(payload).map_err(|e| refused(format!("cannot decode the task: {e}")))?;
    Ok((proof, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::FnRef;
    use crate::plan::{Node, NodeCtor, ResultCtor, Sink};

    fn task() -> TaskDescription {
        fn node(_: &crate::TaskCtx, _: &[u8], _: crate::Inputs) -> Result<crate::Batches, TaskError> {
            Ok(Box::new(std::iter::empty()))
        }
        fn result(_: &crate::TaskCtx, _: &[u8], _: crate::Batches) -> Result<Vec<u8>, TaskError> {
            Ok(Vec::new())
        }
        TaskDescription {
            task_id: 7,
            attempt: 1,
            job_id: 0,
            stage_id: 2,
            stage_attempt: 0,
            partition: 3,
            root: Node { ctor: FnRef::new(NodeCtor(node)), env: vec![1, 2], inputs: Vec::new() },
            sink: Sink::Result { ctor: FnRef::new(ResultCtor(result)), env: Vec::new() },
        }
    }

    #[test]
    fn a_frame_round_trips() {
        let (_, back) = decode_task(&encode_task(&task())).unwrap();
        assert_eq!((back.task_id, back.partition, back.root.env), (7, 3, vec![1, 2]));
    }

    #[test]
    fn another_build_is_refused_before_decoding() {
        let mut frame = encode_task(&task());
        frame[8] ^= 0xff;
        frame.truncate(HEADER); // nothing decodable follows: the build check must come first
        let err = decode_task(&frame).unwrap_err().to_string();
        assert!(err.starts_with("build id mismatch"), "{err}");
    }

    #[test]
    fn damage_and_garbage_are_refused() {
        let mut frame = encode_task(&task());
        let last = frame.len() - 1;
        frame[last] ^= 1;
        assert!(decode_task(&frame).unwrap_err().to_string().contains("checksum"));
        assert!(decode_task(b"hello").unwrap_err().to_string().contains("not a task frame"));
    }
}
