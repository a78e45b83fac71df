//! Scheduling: who gets which node's resources. Pure logic; see README.md beside this file.
//!
//! The [`Scheduler`] trait is what the ResourceManager's core talks to; [`fifo::FifoScheduler`] is the
//! one implementation today (one queue, applications served in submission order). Capacity and fair
//! queues implement the same trait later.

pub mod fifo;
mod normalize;

pub use normalize::{normalize, AllocationError};

use weft_proto::{ApplicationAttemptId, NodeId, Resource};

/// What an attempt still wants of one size at one priority (absolute, as YARN's AMs send it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask {
    pub priority: i32,
    /// Already normalized.
    pub capability: Resource,
    pub num_containers: u32,
}

/// One container's worth of a node handed to an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub attempt: ApplicationAttemptId,
    pub node: NodeId,
    pub priority: i32,
    pub resource: Resource,
}

/// The ResourceManager's interface to a scheduling policy.
pub trait Scheduler: Send {
    /// A node joined (or re-joined) with this much to offer.
    fn add_node(&mut self, node: NodeId, total: Resource);
    /// A node left (lost, shut down); its resources are gone.
    fn remove_node(&mut self, node: &NodeId);
    /// Resources on a node came back (a container ended or was released).
    fn release(&mut self, node: &NodeId, resource: Resource);
    /// An attempt's asks, replacing earlier ones with the same priority and capability.
    fn update_asks(&mut self, attempt: ApplicationAttemptId, asks: &[Ask]);
    /// Hosts the attempt's containers must not be placed on from now on (YARN's blacklist, as an AM
    /// sends additions and removals), replacing nothing else.
    fn update_blacklist(&mut self, attempt: ApplicationAttemptId, additions: &[String], removals: &[String]);
    /// The attempt no longer asks for anything (it ended).
    fn remove_attempt(&mut self, attempt: ApplicationAttemptId);
    /// Hands out as much as fits right now, in the policy's order.
    fn allocate(&mut self) -> Vec<Grant>;
    /// Containers asked for and not granted yet, over all attempts.
    fn pending_containers(&self) -> u64;
    /// What is free, summed over nodes.
    fn available(&self) -> Resource;
}
