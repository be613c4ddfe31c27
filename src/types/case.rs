//! The 6-case velocity/acceleration classes (MATH.md §6) that decisions and orders carry.

super::named::named_enum! {
    /// Where (velocity, acceleration) falls, after the dead bands. Index order is the order
    /// of [`Case::number`], Steady and Neutral last.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub enum Case {
        /// 1: v > 0, a > 0 — accelerating uptrend.
        AcceleratingUp => "accelerating_up",
        /// 2: v > 0, a < 0 — decelerating uptrend.
        DeceleratingUp => "decelerating_up",
        /// 3: v < 0, a > 0 — decelerating downtrend (a slowing fall, not a sell).
        DeceleratingDown => "decelerating_down",
        /// 4: v < 0, a < 0 — accelerating downtrend.
        AcceleratingDown => "accelerating_down",
        /// 5: v ≈ 0, a > 0 — bottoming out.
        Bottoming => "bottoming",
        /// 6: v ≈ 0, a < 0 — topping out.
        Topping => "topping",
        /// v ≉ 0, a ≈ 0 — a steady trend: outside the six cases.
        Steady => "steady",
        /// v ≈ 0, a ≈ 0 — no information.
        #[default]
        Neutral => "neutral",
    }
}

impl Case {
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
}
