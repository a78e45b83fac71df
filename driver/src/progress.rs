//! Spark's console progress bar: `[Stage 1:=====>        (4 + 2) / 16]`, up to three stages side by
//! side, each given an equal share of the width. Pure formatting and the rules for when to draw;
//! the driver's loop calls it every 200 ms and writes to stderr.

/// One stage's counts as the bar shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StageProgress {
    pub(crate) stage: u32,
    pub(crate) completed: usize,
    pub(crate) active: usize,
    pub(crate) total: usize,
    /// How long the stage has been running.
    pub(crate) running_ms: u64,
}

/// Spark draws a stage after it has run this long…
pub(crate) const FIRST_DELAY_MS: u64 = 500;
/// …redraws on change or at least this often…
pub(crate) const REDRAW_MS: u64 = 60_000;
/// …and polls this often.
pub(crate) const UPDATE_PERIOD_MS: u64 = 200;

/// The bar for the stages that qualify (running ≥ 500 ms, more than one task); `None` when none do.
pub(crate) fn render(stages: &[StageProgress], width: usize) -> Option<String> {
    let shown: Vec<&StageProgress> =
        stages.iter().filter(|s| s.running_ms >= FIRST_DELAY_MS && s.total > 1).take(3).collect();
    if shown.is_empty() {
        return None;
    }
    let each = width / shown.len();
    let mut out = String::new();
    for s in shown {
        let header = format!("[Stage {}:", s.stage);
        let tailer = format!("({} + {}) / {}]", s.completed, s.active, s.total);
        let w = each.saturating_sub(header.len() + tailer.len());
        let mut bar = String::with_capacity(w);
        if w > 0 {
            let percent = w * s.completed / s.total;
            for i in 0..w {
                bar.push(if i < percent {
                    '='
                } else if i == percent {
                    '>'
                } else {
                    ' '
                });
            }
        }
        out.push_str(&header);
        out.push_str(&bar);
        out.push_str(&tailer);
    }
    Some(out)
}

/// The terminal width: `$COLUMNS`, else 80.
pub(crate) fn width(columns: Option<&str>) -> usize {
    columns.and_then(|c| c.trim().parse().ok()).filter(|&w: &usize| w > 0).unwrap_or(80)
}

/// What the bar on screen last showed, so it is redrawn only on change (or once a minute).
#[derive(Debug, Default)]
pub(crate) struct Bar {
    last: String,
    last_drawn_ms: u64,
}

impl Bar {
    /// The bytes to write for this tick (`\r` + bar), or the spaces that clear it once nothing is shown.
    pub(crate) fn tick(&mut self, stages: &[StageProgress], width: usize, now_ms: u64) -> Option<String> {
        match render(stages, width) {
            Some(bar) => {
                if bar != self.last || now_ms.saturating_sub(self.last_drawn_ms) >= REDRAW_MS {
                    self.last_drawn_ms = now_ms;
                    self.last = bar.clone();
                    Some(format!("\r{bar}"))
                } else {
                    None
                }
            }
            None => self.clear(width),
        }
    }

    /// Clears the bar when a job ends.
    pub(crate) fn clear(&mut self, width: usize) -> Option<String> {
        if self.last.is_empty() {
            return None;
        }
        self.last.clear();
        Some(format!("\r{}\r", " ".repeat(width)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(stage: u32, completed: usize, active: usize, total: usize) -> StageProgress {
        StageProgress { stage, completed, active, total, running_ms: 1000 }
    }

    #[test]
    fn the_bar_has_sparks_shape() {
        let bar = render(&[stage(0, 4, 4, 16)], 80).unwrap();
        assert_eq!(bar.len(), 80);
        assert!(bar.starts_with("[Stage 0:==============>"), "{bar}");
        assert!(bar.ends_with(" (4 + 4) / 16]"), "{bar}");
        assert_eq!(bar.matches('=').count(), (80 - "[Stage 0:".len() - "(4 + 4) / 16]".len()) * 4 / 16);
    }

    #[test]
    fn young_or_single_task_stages_are_not_shown() {
        let mut young = stage(1, 0, 1, 4);
        young.running_ms = 100;
        assert_eq!(render(&[young, stage(2, 0, 1, 1)], 80), None);
    }

    #[test]
    fn up_to_three_stages_share_the_width() {
        let bar = render(&[stage(1, 1, 1, 4), stage(2, 0, 2, 4), stage(3, 0, 0, 4), stage(4, 0, 0, 4)], 90).unwrap();
        assert_eq!(bar.len(), 90);
        assert!(bar.contains("[Stage 3:") && !bar.contains("[Stage 4:"), "{bar}");
    }

    #[test]
    fn redraws_only_on_change_and_clears_at_the_end() {
        let mut b = Bar::default();
        assert!(b.tick(&[stage(0, 1, 1, 4)], 80, 0).unwrap().starts_with('\r'));
        assert_eq!(b.tick(&[stage(0, 1, 1, 4)], 80, 200), None);
        assert!(b.tick(&[stage(0, 1, 1, 4)], 80, 60_200).is_some(), "once a minute");
        assert!(b.tick(&[stage(0, 2, 1, 4)], 80, 60_400).is_some());
        assert_eq!(b.tick(&[], 80, 60_600).unwrap().trim(), "");
        assert_eq!(b.tick(&[], 80, 60_800), None);
        assert_eq!(width(Some("120")), 120);
        assert_eq!(width(Some("x")), 80);
    }
}
