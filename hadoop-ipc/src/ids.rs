//! Weft's ids (`weft_proto::ids`) as YARN's id records and back. A container's record id carries the
//! ResourceManager's restart epoch in its high bits, as YARN's `ContainerId` does.

use weft_proto::{ApplicationAttemptId, ApplicationId, ContainerId};

use crate::yarn::{ApplicationAttemptIdProto, ApplicationIdProto, ContainerIdProto};

/// Bits of a container record id below the epoch.
const EPOCH_SHIFT: u32 = 40;
const SEQUENCE_MASK: i64 = (1 << EPOCH_SHIFT) - 1;

pub fn application_id_proto(id: ApplicationId) -> ApplicationIdProto {
    ApplicationIdProto { id: Some(id.sequence as i32), cluster_timestamp: Some(id.cluster_timestamp as i64) }
}

pub fn attempt_id_proto(id: ApplicationAttemptId) -> ApplicationAttemptIdProto {
    ApplicationAttemptIdProto {
        application_id: Some(application_id_proto(id.application)),
        attempt_id: Some(id.attempt as i32),
    }
}

pub fn container_id_proto(id: ContainerId) -> ContainerIdProto {
    ContainerIdProto {
        app_id: Some(application_id_proto(id.attempt.application)),
        app_attempt_id: Some(attempt_id_proto(id.attempt)),
        id: Some(((id.epoch as i64) << EPOCH_SHIFT) | (id.id as i64 & SEQUENCE_MASK)),
    }
}

/// The Weft id of a YARN record; `None` when a part is missing or out of range.
pub fn application_id(proto: &ApplicationIdProto) -> Option<ApplicationId> {
    let sequence = u32::try_from(proto.id?).ok()?;
    let cluster_timestamp = u64::try_from(proto.cluster_timestamp?).ok()?;
    Some(ApplicationId::new(cluster_timestamp, sequence))
}

pub fn attempt_id(proto: &ApplicationAttemptIdProto) -> Option<ApplicationAttemptId> {
    let application = application_id(proto.application_id.as_ref()?)?;
    Some(application.attempt(u32::try_from(proto.attempt_id?).ok()?))
}

pub fn container_id(proto: &ContainerIdProto) -> Option<ContainerId> {
    let attempt = attempt_id(proto.app_attempt_id.as_ref()?)?;
    let raw = proto.id?;
    if raw < 0 {
        return None;
    }
    Some(ContainerId { attempt, epoch: (raw >> EPOCH_SHIFT) as u32, id: (raw & SEQUENCE_MASK) as u64 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_with_the_epoch_in_the_high_bits() {
        let plain: ContainerId = "container_1700000000000_0003_02_000017".parse().unwrap();
        let proto = container_id_proto(plain);
        assert_eq!(proto.id, Some(17));
        assert_eq!(proto.app_id.as_ref().unwrap().id, Some(3));
        assert_eq!(container_id(&proto), Some(plain));
        let restarted: ContainerId = "container_e02_1700000000000_0003_02_000017".parse().unwrap();
        let proto = container_id_proto(restarted);
        assert_eq!(proto.id, Some((2 << 40) | 17));
        assert_eq!(container_id(&proto), Some(restarted));
        assert_eq!(container_id(&ContainerIdProto { id: Some(-1), ..proto }), None);
    }
}
