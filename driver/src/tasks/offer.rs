//! Offers: free cores of executors not excluded, one task each, in the task sets' order — a waiting
//! task at the best locality the delay-scheduling wait allows, else a speculative copy of a slow
//! one. Each round ends with exclusion's check for task sets that can run nowhere.

use super::{Launch, Locality, Running, Slot, TaskScheduler};

impl TaskScheduler {
    /// One task per free core, as long as there is work the locality and exclusion rules allow.
    pub(crate) fn offer(&mut self, now_ms: u64) -> Vec<Launch> {
        self.health.apply_timeout(now_ms);
        let mut launches = Vec::new();
        loop {
            let mut launched_any = false;
            let executors: Vec<(String, String)> = self
                .executors
                .iter()
                .filter(|(id, e)| e.free > 0 && !self.health.excludes(id, &e.host))
                .map(|(id, e)| (id.clone(), e.host.clone()))
                .collect();
            for (executor, host) in executors {
                for i in self.order() {
                    if let Some(launch) = self.launch_one(i, &executor, &host, now_ms) {
                        if let Some(e) = self.executors.get_mut(&executor) {
                            e.free -= 1;
                        }
                        launches.push(launch);
                        launched_any = true;
                        break;
                    }
                }
            }
            if !launched_any {
                break;
            }
        }
        self.check_unschedulable(!launches.is_empty(), now_ms);
        launches
    }

    fn allowed(&mut self, i: usize, now_ms: u64) -> Locality {
        let wait = self.conf.locality_wait_ms;
        let set = &mut self.sets[i];
        let levels = [Locality::ProcessLocal, Locality::NodeLocal, Locality::Any];
        let any_prefs = set.slots.iter().any(|s| s.waiting() && !s.prefs.executors.is_empty());
        if !any_prefs {
            return Locality::Any;
        }
        while set.level < levels.len() - 1 && now_ms.saturating_sub(set.last_launch_ms) >= wait {
            set.level += 1;
            set.last_launch_ms += wait;
        }
        levels[set.level]
    }

    /// Whether a speculative copy of `slot` may run on `executor`: not beside its running attempt,
    /// unless the one executor of local mode stands in for the whole cluster.
    fn copy_allowed(&self, slot: &Slot, executor: &str) -> bool {
        let shares = self.conf.speculation.as_ref().is_some_and(|s| s.copies_share_executor);
        slot.speculatable
            && !slot.done
            && slot.running.len() == 1
            && (shares || !slot.running.iter().any(|t| self.running.get(t).is_some_and(|r| r.executor == executor)))
    }

    fn launch_one(&mut self, i: usize, executor: &str, host: &str, now_ms: u64) -> Option<Launch> {
        let allowed = self.allowed(i, now_ms);
        let set = &self.sets[i];
        if set.excluded.executor_excluded(executor) || set.excluded.node_excluded(host) {
            return None;
        }
        let exclusion = self.conf.exclusion.as_ref();
        let excluded =
            |index: usize| exclusion.is_some_and(|c| set.excluded.excluded_for_task(c, executor, host, index));
        let pick = |want: Locality, speculative: bool| -> Option<usize> {
            set.slots.iter().enumerate().find_map(|(index, s)| {
                let eligible = if speculative { self.copy_allowed(s, executor) } else { s.waiting() };
                let fits = match want {
                    Locality::ProcessLocal => s.prefs.executors.iter().any(|e| e == executor),
                    Locality::NodeLocal => s.prefs.hosts.iter().any(|h| h == host),
                    Locality::NoPref => s.prefs.executors.is_empty() && s.prefs.hosts.is_empty(),
                    Locality::Any => true,
                };
                (eligible && fits && !excluded(index)).then_some(index)
            })
        };
        let levels = [Locality::ProcessLocal, Locality::NodeLocal, Locality::NoPref, Locality::Any];
        let within = |l: &Locality| *l <= allowed || *l == Locality::NoPref;
        let (index, locality, speculative) = [false, true].into_iter().find_map(|speculative| {
            levels.into_iter().filter(within).find_map(|l| pick(l, speculative).map(|index| (index, l, speculative)))
        })?;
        Some(self.record_launch(i, index, locality, speculative, executor, host, now_ms))
    }

    #[allow(clippy::too_many_arguments)]
    fn record_launch(
        &mut self,
        i: usize,
        index: usize,
        locality: Locality,
        speculative: bool,
        executor: &str,
        host: &str,
        now_ms: u64,
    ) -> Launch {
        let task_id = self.next_task_id;
        self.next_task_id += 1;
        let set = &mut self.sets[i];
        let slot = &mut set.slots[index];
        let attempt = slot.attempts;
        slot.attempts += 1;
        slot.running.push(task_id);
        slot.speculatable = false;
        set.running += 1;
        if locality != Locality::NoPref && locality != Locality::Any {
            set.level = 0;
        }
        set.last_launch_ms = now_ms;
        let (stage, stage_attempt) = (set.stage, set.attempt);
        let running = Running {
            stage,
            stage_attempt,
            index,
            attempt,
            executor: executor.to_owned(),
            host: host.to_owned(),
            started_ms: now_ms,
            speculative,
        };
        self.running.insert(task_id, running);
        Launch { task_id, stage, stage_attempt, index, attempt, executor: executor.to_owned(), locality, speculative }
    }
}
