//! How an import shows itself on the command line: a progress bar with records per second and
//! the time left when stderr is a terminal, plain log lines every few seconds when it is not
//! (a log file or CI has no use for a redrawn bar). Problems are printed as they are found,
//! every one of them, above the bar.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Problem, Progress};

/// A bar on the terminal.
pub struct Bar {
    bar: ProgressBar,
    records: Mutex<(Instant, u64)>,
}

impl Bar {
    pub fn new() -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        Bar { bar, records: Mutex::new((Instant::now(), 0)) }
    }
}

impl Default for Bar {
    fn default() -> Bar {
        Bar::new()
    }
}

impl Progress for Bar {
    fn phase(&self, name: &str, total_bytes: u64) {
        let style = ProgressStyle::with_template("{prefix:>18} [{bar:30}] {bytes}/{total_bytes} {msg} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        self.bar.set_style(style);
        self.bar.set_prefix(name.to_string());
        self.bar.set_length(total_bytes);
        self.bar.reset();
        *self.records.lock().expect("never poisoned") = (Instant::now(), 0);
    }

    fn advance(&self, bytes: u64, records: u64) {
        self.bar.set_position(bytes);
        let mut r = self.records.lock().expect("never poisoned");
        r.1 = records;
        let secs = r.0.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!("{:.0} records/s", records as f64 / secs));
    }

    fn problem(&self, problem: &Problem) {
        self.bar.println(problem.to_string());
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Log lines, at most one per phase every five seconds.
pub struct Lines {
    state: Mutex<LineState>,
}

struct LineState {
    phase: String,
    total: u64,
    started: Instant,
    last: Instant,
}

impl Lines {
    pub fn new() -> Lines {
        let now = Instant::now();
        Lines { state: Mutex::new(LineState { phase: String::new(), total: 0, started: now, last: now }) }
    }
}

impl Default for Lines {
    fn default() -> Lines {
        Lines::new()
    }
}

impl Progress for Lines {
    fn phase(&self, name: &str, total_bytes: u64) {
        let mut s = self.state.lock().expect("never poisoned");
        let now = Instant::now();
        *s = LineState { phase: name.to_string(), total: total_bytes, started: now, last: now };
        eprintln!("import: {name} ({total_bytes} bytes)");
    }

    fn advance(&self, bytes: u64, records: u64) {
        let mut s = self.state.lock().expect("never poisoned");
        if s.last.elapsed() < Duration::from_secs(5) {
            return;
        }
        s.last = Instant::now();
        let secs = s.started.elapsed().as_secs_f64().max(0.001);
        let left = if bytes > 0 { secs * (s.total.saturating_sub(bytes)) as f64 / bytes as f64 } else { 0.0 };
        let percent = if s.total > 0 { 100.0 * bytes as f64 / s.total as f64 } else { 100.0 };
        eprintln!(
            "import: {} {percent:.0}%: {records} records, {:.0} records/s, about {left:.0} s left",
            s.phase,
            records as f64 / secs
        );
    }

    fn problem(&self, problem: &Problem) {
        eprintln!("{problem}");
    }

    fn finish(&self) {}
}
