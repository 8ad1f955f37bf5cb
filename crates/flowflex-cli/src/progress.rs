//! One progress bar per uploading file, fed by the SDK's progress callback.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use flowflex::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bars of one send.
pub(crate) struct Bars {
    multi: MultiProgress,
    style: ProgressStyle,
    bars: Mutex<HashMap<String, ProgressBar>>,
}

impl std::fmt::Debug for Bars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bars").finish_non_exhaustive()
    }
}

impl Bars {
    /// Bars drawn on `target`.
    pub(crate) fn new(target: ProgressDrawTarget) -> Bars {
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        Bars {
            multi: MultiProgress::with_draw_target(target),
            style,
            bars: Mutex::new(HashMap::new()),
        }
    }

    /// Shows `p`: the first report of a file adds its bar. A retry starts
    /// the count again, and the bar follows.
    pub(crate) fn update(&self, p: &Progress) {
        self.show(&p.path, &p.filename, p.sent, p.total);
    }

    fn show(&self, path: &str, filename: &str, sent: u64, total: u64) {
        let mut bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
        let bar = bars.entry(path.to_owned()).or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::new(total));
            bar.set_style(self.style.clone());
            bar.set_prefix(format!("{path} ({filename})"));
            bar
        });
        bar.set_position(sent);
        if sent >= total {
            bar.finish_with_message("uploaded");
        }
    }

    /// Leaves unfinished bars (a failed send) where they stopped.
    pub(crate) fn abandon(&self) {
        let bars = self.bars.lock().unwrap_or_else(PoisonError::into_inner);
        for bar in bars.values().filter(|b| !b.is_finished()) {
            bar.abandon_with_message("failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_file_finished_when_complete() {
        let bars = Bars::new(ProgressDrawTarget::hidden());
        bars.show("invoice", "invoice.pdf", 10, 100);
        bars.show("gallery[0]", "a.jpg", 5, 50);
        bars.show("invoice", "invoice.pdf", 100, 100);
        let map = bars.bars.lock().unwrap();
        assert_eq!(map.len(), 2);
        assert!(map["invoice"].is_finished());
        assert_eq!(map["invoice"].position(), 100);
        assert!(!map["gallery[0]"].is_finished());
        drop(map);
        bars.abandon();
        assert!(bars.bars.lock().unwrap()["gallery[0]"].is_finished());
    }
}
