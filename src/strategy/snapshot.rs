//! The per-tick view of the engine: every model output and the decision taken, as plain
//! `Copy` data (the analysis export writes one row of it per tick).

use crate::model::forecast;
use crate::model::layers::LayerReport;
use crate::model::KalmanEstimate;
use crate::types::{Case, SymbolId};

/// Why a tick produced no order (or `None` when it did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Gate {
    /// An intent was emitted.
    None,
    /// The symbol is still warming up (or was just reset).
    #[default]
    Warmup,
    /// The case asks for the position already held.
    NoChange,
    /// Entry blocked: the case's evidence (`SNR_v`, or scaled `SNR_a` for cases 5–6)
    /// `< snr_min`.
    Snr,
    /// Entry blocked: confidence below `confidence_min`.
    Confidence,
    /// Entry blocked by at least one confirmation layer.
    Layers,
    /// Blocked by the per-symbol cooldown.
    Cooldown,
    /// The floored quantity breaks a venue filter.
    Filter,
    /// Refused by the risk layer (exit levels, sizing or the risk gate; reason counted in
    /// `EngineStats::risk_blocked`).
    Risk,
    /// Entry blocked: the symbol's market data is not live (stale feed; see
    /// [`crate::feed::liveness`]).
    Stale,
    /// Entry refused by the learned filter (`P(win) < strategy.learned.threshold`).
    Learned,
}

impl Gate {
    /// Report spelling.
    pub fn name(self) -> &'static str {
        match self {
            Gate::None => "none",
            Gate::Warmup => "warmup",
            Gate::NoChange => "no_change",
            Gate::Snr => "snr",
            Gate::Confidence => "confidence",
            Gate::Layers => "layers",
            Gate::Cooldown => "cooldown",
            Gate::Filter => "filter",
            Gate::Risk => "risk",
            Gate::Stale => "stale",
            Gate::Learned => "learned",
        }
    }
}

/// Everything the engine computed on one tick. Rates are of log price (1/s, 1/s²); prices are
/// in the quote currency.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TickState {
    /// Symbol of the tick.
    pub symbol: SymbolId,
    /// Exchange time, Unix ms.
    pub ts_ms: u64,
    /// Trade price.
    pub price: f64,
    /// Exponentially smoothed log price `s_t` (MATH.md §1).
    pub smoothed: f64,
    /// Kalman output (log price, `v`, `a`, variances, innovation).
    pub kalman: KalmanEstimate,
    /// Finite-difference velocity, 1/s.
    pub fd_velocity: f64,
    /// Finite-difference acceleration, 1/s².
    pub fd_acceleration: f64,
    /// Velocity fed to the matrix (per `signal.source`), 1/s.
    pub velocity: f64,
    /// Acceleration fed to the matrix, 1/s².
    pub acceleration: f64,
    /// Dead band used for `v ≈ 0`, 1/s.
    pub v_band: f64,
    /// Dead band used for `a ≈ 0`, 1/s².
    pub a_band: f64,
    /// `SNR_v = |v| / sqrt(P_vv)`.
    pub snr: f64,
    /// `SNR_a = |a| / sqrt(P_aa)`.
    pub snr_a: f64,
    /// What an entry of this case is gated on, in standard errors of `v`
    /// ([`crate::strategy::SignalParams::evidence`]).
    pub evidence: f64,
    /// `min(1, evidence/2)`.
    pub confidence: f64,
    /// Log move over the horizon `v·h + ½·a·h²`, clamped (`model::forecast::log_move`);
    /// [`TickState::forecast`] and [`TickState::drift`] are computed from it when read.
    pub log_move: f64,
    /// Matrix case (counted only once warm).
    pub case: Case,
    /// Warm: the symbol may trade.
    pub warm: bool,
    /// Position direction the decision wants (−1, 0, +1) after the gates.
    pub target: i8,
    /// Direction of the emitted order: +1 buy, −1 sell, 0 none.
    pub signal: i8,
    /// Why no order was sent.
    pub gate: Gate,
    /// Confirmation layers' verdicts and values.
    pub layers: LayerReport,
    /// The scalper's strength on its last closed bar, signed by side
    /// ([`crate::strategy::ScalperSignal::signed_strength`]; 0 when off or not ready).
    pub scalper: f64,
}

impl TickState {
    /// Forecast price `p·exp(v·h + ½·a·h²)`.
    #[inline]
    pub fn forecast(&self) -> f64 {
        forecast::forecast_price(self.price, self.log_move)
    }

    /// Drift over the horizon `exp(v·h + ½·a·h²) − 1`, a fraction of the price.
    #[inline]
    pub fn drift(&self) -> f64 {
        forecast::drift(self.log_move)
    }

    /// True when every float in the state is finite (the engine's output contract).
    pub fn all_finite(&self) -> bool {
        let k = &self.kalman;
        let l = &self.layers;
        [
            self.price,
            self.smoothed,
            k.x,
            k.v,
            k.a,
            k.p_vv,
            k.p_aa,
            k.innovation,
            k.innovation_var,
            k.nis,
            k.level,
            k.r,
            k.q_jerk,
            k.mean_dt,
            self.fd_velocity,
            self.fd_acceleration,
            self.velocity,
            self.acceleration,
            self.v_band,
            self.a_band,
            self.snr,
            self.snr_a,
            self.evidence,
            self.confidence,
            self.forecast(),
            self.drift(),
            l.ou_z,
            l.imbalance,
            l.efficiency,
            l.sigma,
            l.p_tp,
            l.strength,
            self.scalper,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}
