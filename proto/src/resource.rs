//! A resource vector: memory in MiB and virtual cores, the two kinds YARN schedules by default.

use serde::Serialize;

use crate::pb;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Resource {
    pub memory_mb: i64,
    pub vcores: i32,
}

impl Resource {
    pub const ZERO: Resource = Resource { memory_mb: 0, vcores: 0 };

    pub fn new(memory_mb: i64, vcores: i32) -> Self {
        Resource { memory_mb, vcores }
    }

    /// True when `other` fits inside `self` in every dimension.
    pub fn fits(&self, other: &Resource) -> bool {
        other.memory_mb <= self.memory_mb && other.vcores <= self.vcores
    }

    pub fn saturating_sub(self, other: Resource) -> Resource {
        Resource { memory_mb: (self.memory_mb - other.memory_mb).max(0), vcores: (self.vcores - other.vcores).max(0) }
    }

    /// YARN's `<memory:2048, vCores:1>` notation, used in diagnostics.
    pub fn yarn_notation(&self) -> String {
        format!("<memory:{}, vCores:{}>", self.memory_mb, self.vcores)
    }
}

impl std::ops::Add for Resource {
    type Output = Resource;
    fn add(self, rhs: Resource) -> Resource {
        Resource { memory_mb: self.memory_mb + rhs.memory_mb, vcores: self.vcores + rhs.vcores }
    }
}

impl std::ops::AddAssign for Resource {
    fn add_assign(&mut self, rhs: Resource) {
        *self = *self + rhs;
    }
}

impl std::ops::Sub for Resource {
    type Output = Resource;
    fn sub(self, rhs: Resource) -> Resource {
        Resource { memory_mb: self.memory_mb - rhs.memory_mb, vcores: self.vcores - rhs.vcores }
    }
}

impl std::ops::SubAssign for Resource {
    fn sub_assign(&mut self, rhs: Resource) {
        *self = *self - rhs;
    }
}

impl std::ops::Mul<i64> for Resource {
    type Output = Resource;
    fn mul(self, n: i64) -> Resource {
        Resource { memory_mb: self.memory_mb * n, vcores: self.vcores * n as i32 }
    }
}

impl From<pb::Resource> for Resource {
    fn from(pb::Resource { memory_mb, vcores }: pb::Resource) -> Self {
        Resource { memory_mb, vcores }
    }
}

impl From<Resource> for pb::Resource {
    fn from(Resource { memory_mb, vcores }: Resource) -> Self {
        pb::Resource { memory_mb, vcores }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_checks_every_dimension() {
        let node = Resource::new(2048, 2);
        assert!(node.fits(&Resource::new(2048, 2)));
        assert!(!node.fits(&Resource::new(2049, 1)));
        assert!(!node.fits(&Resource::new(1024, 3)));
        assert_eq!(Resource::new(1024, 1).yarn_notation(), "<memory:1024, vCores:1>");
    }
}
