//! The 6-case velocity/acceleration decision matrix (MATH.md §6).

use crate::types::Case;

/// What a case asks the position to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Go (or stay) long.
    Buy,
    /// Go (or stay) short.
    Sell,
    /// Close a long, if any; no entry.
    ExitLong,
    /// Close a short, if any; no entry.
    ExitShort,
    /// Do nothing.
    Hold,
}

/// The action of every case; defaults are the mathematically consistent ones of MATH.md §6.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseActions(pub [Action; 8]);

impl Default for CaseActions {
    fn default() -> Self {
        CaseActions([
            Action::Buy,
            Action::ExitLong,
            Action::ExitShort,
            Action::Sell,
            Action::Buy,
            Action::Sell,
            Action::Hold,
            Action::Hold,
        ])
    }
}

impl CaseActions {
    /// The action for `case`.
    #[inline]
    pub fn of(&self, case: Case) -> Action {
        self.0[case.index()]
    }
}

/// Classifies `(v, a)`: `v ≈ 0` when `|v| < v_band` (1/s), `a ≈ 0` when `|a| < a_band` (1/s²).
#[inline]
pub fn classify(v: f64, a: f64, v_band: f64, a_band: f64) -> Case {
    let v_zero = v.is_nan() || v.abs() < v_band;
    let a_zero = a.is_nan() || a.abs() < a_band;
    match (v_zero, a_zero) {
        (true, true) => Case::Neutral,
        (true, false) if a > 0.0 => Case::Bottoming,
        (true, false) => Case::Topping,
        (false, true) => Case::Steady,
        (false, false) => match (v > 0.0, a > 0.0) {
            (true, true) => Case::AcceleratingUp,
            (true, false) => Case::DeceleratingUp,
            (false, true) => Case::DeceleratingDown,
            (false, false) => Case::AcceleratingDown,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quadrant_and_band_maps_to_its_case() {
        let (vb, ab) = (1e-5, 1e-6);
        assert_eq!(classify(2e-5, 2e-6, vb, ab), Case::AcceleratingUp);
        assert_eq!(classify(2e-5, -2e-6, vb, ab), Case::DeceleratingUp);
        assert_eq!(classify(-2e-5, 2e-6, vb, ab), Case::DeceleratingDown);
        assert_eq!(classify(-2e-5, -2e-6, vb, ab), Case::AcceleratingDown);
        assert_eq!(classify(5e-6, 2e-6, vb, ab), Case::Bottoming);
        assert_eq!(classify(-5e-6, -2e-6, vb, ab), Case::Topping);
        assert_eq!(classify(2e-5, 5e-7, vb, ab), Case::Steady);
        assert_eq!(classify(5e-6, -5e-7, vb, ab), Case::Neutral);
    }

    #[test]
    fn nan_inputs_are_neutral_never_a_trade() {
        assert_eq!(classify(f64::NAN, f64::NAN, 1e-5, 1e-6), Case::Neutral);
    }

    #[test]
    fn default_actions_follow_the_consistent_matrix() {
        let a = CaseActions::default();
        assert_eq!(a.of(Case::AcceleratingUp), Action::Buy);
        assert_eq!(a.of(Case::DeceleratingUp), Action::ExitLong);
        // The original labelled case 3 "SELL"; a slowing fall only exits shorts.
        assert_eq!(a.of(Case::DeceleratingDown), Action::ExitShort);
        assert_eq!(a.of(Case::AcceleratingDown), Action::Sell);
        assert_eq!(a.of(Case::Bottoming), Action::Buy);
        assert_eq!(a.of(Case::Topping), Action::Sell);
        assert_eq!(a.of(Case::Neutral), Action::Hold);
        for (i, c) in Case::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }
}
