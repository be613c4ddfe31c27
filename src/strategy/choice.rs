//! `[strategy] strategy`: which strategy decides entries, and how two combine.
//!
//! - `calculus` (default): the 6-case matrix on the Kalman derivatives, its gates and layers.
//! - `scalper`: the second system's indicator scalper ([`super::scalper`]).
//! - `both`: either may open a position on a flat symbol (the calculus matrix is asked first,
//!   the scalper when the matrix sends nothing); one position per symbol. An open position
//!   belongs to the strategy that opened it ([`Owner`]): only that strategy's decisions change
//!   it (matrix exits and flips for calculus, an opposite signal's flip for the scalper), the
//!   other strategy's entries wait until the symbol is flat again. The risk path is shared:
//!   sizing, the risk gate, the cooldown, venue filters, stop-loss / take-profit and the
//!   emergency close act on every position; the drift monitor (a calculus exit on the Kalman
//!   drift) only on calculus positions.
//!
//! With the scalper on, the engine keeps the indicator bars and the taker-flow window whatever
//! `[indicators] enabled` and `[layers.flow] enabled` say (its rules read them; the flow
//! layer's veto of matrix entries stays as configured).

use serde::Deserialize;

/// The strategy in use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StrategyKind {
    /// The 6-case matrix.
    #[default]
    Calculus,
    /// The indicator scalper.
    Scalper,
    /// Either opens; one position per symbol.
    Both,
}

impl StrategyKind {
    /// The matrix may decide.
    #[inline]
    pub fn calculus(self) -> bool {
        matches!(self, StrategyKind::Calculus | StrategyKind::Both)
    }

    /// The scalper may decide.
    #[inline]
    pub fn scalper(self) -> bool {
        matches!(self, StrategyKind::Scalper | StrategyKind::Both)
    }

    /// Config spelling.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Calculus => "calculus",
            StrategyKind::Scalper => "scalper",
            StrategyKind::Both => "both",
        }
    }
}

/// Which strategy opened a symbol's open position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Owner {
    /// The matrix (also positions restored from before this process).
    #[default]
    Calculus,
    /// The scalper.
    Scalper,
}
