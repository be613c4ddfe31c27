//! The 6-case velocity/acceleration classes (MATH.md §6) that decisions and orders carry.

/// Where (velocity, acceleration) falls, after the dead bands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Case {
    /// 1: v > 0, a > 0 — accelerating uptrend.
    AcceleratingUp,
    /// 2: v > 0, a < 0 — decelerating uptrend.
    DeceleratingUp,
    /// 3: v < 0, a > 0 — decelerating downtrend (a slowing fall, not a sell).
    DeceleratingDown,
    /// 4: v < 0, a < 0 — accelerating downtrend.
    AcceleratingDown,
    /// 5: v ≈ 0, a > 0 — bottoming out.
    Bottoming,
    /// 6: v ≈ 0, a < 0 — topping out.
    Topping,
    /// v ≉ 0, a ≈ 0 — a steady trend: outside the six cases.
    Steady,
    /// v ≈ 0, a ≈ 0 — no information.
    #[default]
    Neutral,
}

impl Case {
    /// All cases, in the order of [`Case::number`] (Steady and Neutral last).
    pub const ALL: [Case; 8] = [
        Case::AcceleratingUp,
        Case::DeceleratingUp,
        Case::DeceleratingDown,
        Case::AcceleratingDown,
        Case::Bottoming,
        Case::Topping,
        Case::Steady,
        Case::Neutral,
    ];

    /// 1–6 for the matrix cases, 0 for Neutral and Steady.
    pub fn number(self) -> u8 {
        match self {
            Case::AcceleratingUp => 1,
            Case::DeceleratingUp => 2,
            Case::DeceleratingDown => 3,
            Case::AcceleratingDown => 4,
            Case::Bottoming => 5,
            Case::Topping => 6,
            Case::Steady | Case::Neutral => 0,
        }
    }

    /// Index into per-case arrays (position in [`Case::ALL`]).
    pub fn index(self) -> usize {
        match self {
            Case::Steady => 6,
            Case::Neutral => 7,
            c => c.number() as usize - 1,
        }
    }

    /// Config / report name.
    pub fn name(self) -> &'static str {
        match self {
            Case::AcceleratingUp => "accelerating_up",
            Case::DeceleratingUp => "decelerating_up",
            Case::DeceleratingDown => "decelerating_down",
            Case::AcceleratingDown => "accelerating_down",
            Case::Bottoming => "bottoming",
            Case::Topping => "topping",
            Case::Steady => "steady",
            Case::Neutral => "neutral",
        }
    }
}
