//! Stage clocks, per-thread stage histograms, interval-log dumps and their reports.
