//! YARN's normalization of a resource ask: raise to the minimum, round up to a multiple of it, and
//! reject (rather than cap) anything above the maximum.

use weft_proto::Resource;

/// An ask the cluster can never satisfy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AllocationError {
    #[error(
        "Invalid resource request! Cannot allocate containers as requested resource is greater than maximum allowed allocation. Requested resource type=[{kind}], Requested resource={}, maximum allowed allocation={}",
        asked.yarn_notation(), maximum.yarn_notation()
    )]
    AboveMaximum { kind: &'static str, asked: Resource, maximum: Resource },
    #[error("Invalid resource request! Requested resource {} has a negative value", asked.yarn_notation())]
    Negative { asked: Resource },
}

/// `min(roundUp(max(ask, minimum), minimum), maximum)` per resource, except that an ask above the
/// maximum is an error.
pub fn normalize(asked: Resource, minimum: Resource, maximum: Resource) -> Result<Resource, AllocationError> {
    if asked.memory_mb < 0 || asked.vcores < 0 {
        return Err(AllocationError::Negative { asked });
    }
    if asked.memory_mb > maximum.memory_mb {
        return Err(AllocationError::AboveMaximum { kind: "memory-mb", asked, maximum });
    }
    if asked.vcores > maximum.vcores {
        return Err(AllocationError::AboveMaximum { kind: "vcores", asked, maximum });
    }
    let memory_mb = round_up(asked.memory_mb.max(minimum.memory_mb), minimum.memory_mb).min(maximum.memory_mb);
    let vcores = (asked.vcores.max(minimum.vcores)).min(maximum.vcores);
    Ok(Resource { memory_mb, vcores })
}

fn round_up(value: i64, step: i64) -> i64 {
    if step <= 0 {
        return value;
    }
    (value + step - 1) / step * step
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(asked: (i64, i32), expected: (i64, i32)) {
        let got = normalize(Resource::new(asked.0, asked.1), Resource::new(1024, 1), Resource::new(8192, 32)).unwrap();
        assert_eq!(got, Resource::new(expected.0, expected.1), "ask {asked:?}");
    }

    #[test]
    fn rounds_up_to_the_minimum_step() {
        check((1408, 1), (2048, 1));
        check((1, 0), (1024, 1));
        check((1024, 4), (1024, 4));
        check((8000, 32), (8192, 32));
        check((2432, 2), (3072, 2));
    }

    #[test]
    fn above_maximum_is_an_error_in_yarns_words() {
        let err = normalize(Resource::new(12288, 1), Resource::new(1024, 1), Resource::new(8192, 32)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("Requested resource type=[memory-mb], Requested resource=<memory:12288, vCores:1>"),
            "{text}"
        );
        assert!(text.contains("maximum allowed allocation=<memory:8192, vCores:32>"), "{text}");
        assert!(normalize(Resource::new(1024, 33), Resource::new(1024, 1), Resource::new(8192, 32)).is_err());
        assert!(normalize(Resource::new(-1, 1), Resource::new(1024, 1), Resource::new(8192, 32)).is_err());
    }
}
