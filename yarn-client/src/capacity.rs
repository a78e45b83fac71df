//! Asks held against the cluster's maximum allocation before anything is submitted: every container
//! size a client will ask for, each refused part named with what it is, its size, the maximum and the
//! scheduler key that sets it, all in one message (YARN's `InvalidResourceRequestException` says the
//! same facts one at a time, after submission).

use weft_proto::Resource;

use crate::Error;

const MEMORY_KEY: &str = "yarn.scheduler.maximum-allocation-mb";
const VCORES_KEY: &str = "yarn.scheduler.maximum-allocation-vcores";

/// A container size a client will ask for, and what a refusal calls its memory and its vcores (a flag,
/// a Spark key, a description).
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    pub memory: &'a str,
    pub vcores: &'a str,
    pub resource: Resource,
}

/// Refuses asks above `maximum` with a usage error naming every part that is too big; nothing is
/// submitted then.
pub fn check_capacity(asks: &[Ask<'_>], maximum: Resource) -> Result<(), Error> {
    let mut problems = Vec::new();
    for ask in asks {
        let mut check = |what: &str, asked: i64, maximum: i64, unit: &str, key: &str| {
            if asked > maximum {
                problems.push(format!(
                    "{what} {asked}{unit} is above the cluster's maximum allocation of {maximum}{unit} ({key})"
                ));
            }
        };
        check(ask.memory, ask.resource.memory_mb, maximum.memory_mb, " MB", MEMORY_KEY);
        check(ask.vcores, ask.resource.vcores.into(), maximum.vcores.into(), " vcores", VCORES_KEY);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Usage(format!("{}; nothing was submitted", problems.join("; "))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_above_the_maximum_is_named_at_once() {
        let asks = [
            Ask { memory: "--a-memory", vcores: "--a-vcores", resource: Resource::new(9000, 1) },
            Ask { memory: "--b-memory", vcores: "--b-vcores", resource: Resource::new(512, 9) },
        ];
        let err = check_capacity(&asks, Resource::new(8192, 4)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--a-memory 9000 MB is above the cluster's maximum allocation of 8192 MB \
             (yarn.scheduler.maximum-allocation-mb); --b-vcores 9 vcores is above the cluster's maximum \
             allocation of 4 vcores (yarn.scheduler.maximum-allocation-vcores); nothing was submitted"
        );
        assert_eq!(err.exit_code(), 64);
        assert!(check_capacity(&asks, Resource::new(9000, 9)).is_ok());
    }
}
