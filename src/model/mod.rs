//! Per-symbol estimators, all causal, incremental (O(1) per tick) and allocation-free.

pub(crate) mod barrier;
pub mod derivatives;
pub(crate) mod forecast;
pub mod indicators;
pub mod kalman;
pub mod layers;
pub mod logistic;
pub(crate) mod params;
pub(crate) mod snr;
pub mod window;

pub use derivatives::{DerivParams, Derivatives, Estimate};
pub use kalman::{Kalman, KalmanEstimate, KalmanParams};
