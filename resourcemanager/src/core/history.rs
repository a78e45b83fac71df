//! The cluster's recent past for the overview page's charts: memory and vcores in use against the
//! total, sampled every `SAMPLE_EVERY_MS` for the last `KEEP_MS`, and container kills counted by
//! reason per interval from the kill feed.

use std::collections::VecDeque;

use weft_proto::Resource;

use super::{KillReason, RmCore};

/// One sample every ten seconds, an hour of them.
pub(crate) const SAMPLE_EVERY_MS: u64 = 10_000;
pub const KEEP_MS: u64 = 3_600_000;

/// The cluster's use at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageSample {
    pub at_ms: u64,
    pub allocated: Resource,
    pub total: Resource,
}

/// Samples kept for the last hour.
#[derive(Debug, Default)]
pub(crate) struct UsageHistory {
    samples: VecDeque<UsageSample>,
}

impl UsageHistory {
    /// Records `sample` unless the last one is under `SAMPLE_EVERY_MS` old; drops what is past `KEEP_MS`.
    pub(crate) fn record(&mut self, sample: UsageSample) {
        if self.samples.back().is_some_and(|last| sample.at_ms < last.at_ms + SAMPLE_EVERY_MS) {
            return;
        }
        self.samples.push_back(sample);
        while self.samples.front().is_some_and(|first| first.at_ms + KEEP_MS < sample.at_ms) {
            self.samples.pop_front();
        }
    }
}

impl RmCore {
    pub(crate) fn sample_usage(&mut self, now_ms: u64) {
        let m = self.metrics();
        self.usage.record(UsageSample { at_ms: now_ms, allocated: m.allocated, total: m.total });
    }

    /// The last hour's samples, oldest first.
    pub fn usage_history(&self) -> Vec<UsageSample> {
        self.usage.samples.iter().copied().collect()
    }

    /// Kills of the hour before `now_ms` in intervals of `bucket_ms`: each interval's start and its
    /// count per reason, in `KillReason::ALL` order.
    pub fn kills_per_interval(&self, now_ms: u64, bucket_ms: u64) -> Vec<(u64, Vec<u64>)> {
        let buckets = KEEP_MS.div_ceil(bucket_ms);
        let end = now_ms - now_ms % bucket_ms + bucket_ms;
        let start = end.saturating_sub(buckets * bucket_ms);
        let mut counts: Vec<(u64, Vec<u64>)> =
            (0..buckets).map(|i| (start + i * bucket_ms, vec![0; KillReason::ALL.len()])).collect();
        for kill in self.kills.iter().filter(|k| k.at_ms >= start && k.at_ms < end) {
            let slot = ((kill.at_ms - start) / bucket_ms) as usize;
            if let Some(reason) = KillReason::ALL.iter().position(|r| *r == kill.reason) {
                counts[slot].1[reason] += 1;
            }
        }
        counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, mb: i64) -> UsageSample {
        UsageSample { at_ms, allocated: Resource::new(mb, 1), total: Resource::new(8192, 8) }
    }

    #[test]
    fn samples_are_ten_seconds_apart_and_an_hour_long() {
        let mut history = UsageHistory::default();
        for s in 0..=4000u64 {
            history.record(sample(s * 1000, s as i64));
        }
        let kept: Vec<u64> = history.samples.iter().map(|s| s.at_ms).collect();
        assert_eq!(kept.first(), Some(&400_000));
        assert_eq!(kept.last(), Some(&4_000_000));
        assert!(kept.windows(2).all(|w| w[1] - w[0] == SAMPLE_EVERY_MS));
    }
}
