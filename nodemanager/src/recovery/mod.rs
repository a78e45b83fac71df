//! NodeManager work-preserving restart (YARN's NM recovery, `yarn.nodemanager.recovery.enabled`):
//! every container is recorded in the recovery directory when it is accepted and again when it
//! starts, is being killed and completes (`store`, one JSON file per container, written
//! atomically); a restarted NodeManager reads the records before it registers and takes each
//! container back (`adopt`): still running, exited while no NodeManager watched it (its exit code
//! from the file the launch wrapper wrote), or complete and not yet acknowledged.
//!
//! `record` (what a record holds) and `decide` (what a container is now, from its record and what
//! `/proc` and its cgroup say) are pure; `store` and `adopt` are the adapters.

mod adopt;
mod decide;
mod record;
mod store;

pub(crate) use adopt::{exit_code_of, start_time_ticks, take_back, Watch};
pub(crate) use record::{ContainerRecord, Place};
pub(crate) use store::Store;
