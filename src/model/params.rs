//! Config sections of the models: `params!` declares one with each key's doc, type, default
//! and rule side by side; [`check`] validates keys against rules (`window`, `unit_open`, …).

/// Declares a `Copy` config struct whose fields carry their defaults (`pub key: T = default,`):
/// `Default` is built from them, and serde refuses unknown keys and defaults missing ones.
/// With a section (`pub struct P in "layers.flow" { … }`) it also writes `validate`, which
/// checks each field that names a rule (`pub key: f64 = default => rule,`, a rule of this
/// module) in field order and names the failing key `<section>.<key>`.
macro_rules! params {
    (
        $(#[$meta:meta])*
        pub struct $ty:ident in $section:literal {
            $($(#[$fmeta:meta])* pub $field:ident: $fty:ty = $default:expr $(=> $rule:ident)?,)+
        }
    ) => {
        $crate::model::params::params! {
            $(#[$meta])*
            pub struct $ty {
                $($(#[$fmeta])* pub $field: $fty = $default,)+
            }
        }

        impl $ty {
            #[doc = concat!("Checks every key (`", $section, ".<key>`).")]
            pub fn validate(&self) -> Result<(), String> {
                $crate::model::params::check(&[$($(
                    $crate::model::params::$rule(
                        concat!($section, ".", stringify!($field)),
                        self.$field,
                    ),
                )?)+])
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $ty:ident {
            $($(#[$fmeta:meta])* pub $field:ident: $fty:ty = $default:expr,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, ::serde::Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $ty {
            $($(#[$fmeta])* pub $field: $fty,)+
        }

        impl Default for $ty {
            fn default() -> Self {
                Self {
                    $($field: $default,)+
                }
            }
        }
    };
}

pub(crate) use params;

/// One rule of a config key: `(key, value, holds, what the value must be)`.
pub(crate) type Rule = (&'static str, f64, bool, &'static str);

/// The first rule that does not hold, as `"<key>: must be <what>, got <value>"`.
pub(crate) fn check(rules: &[Rule]) -> Result<(), String> {
    match rules.iter().find(|r| !r.2) {
        Some((key, v, _, what)) => Err(format!("{key}: must be {what}, got {v}")),
        None => Ok(()),
    }
}

/// Buckets of the windowed layers (flow, regime, cross): each window is split into 32.
pub const WINDOW_BUCKETS: usize = 32;

/// Width of one of the [`WINDOW_BUCKETS`] buckets of a `window_s`-second window, ms (≥ 1).
#[inline]
pub(crate) fn bucket_ms(window_s: f64) -> u64 {
    // `⌈w⌉` as an integer without a `ceil` call (per tick, three windows): truncate, then add
    // one when the truncation lost a fraction; the same value as `w.ceil() as u64` for every
    // `w` (negative, NaN and huge ones included, by the saturating casts).
    let w = window_s * 1000.0 / WINDOW_BUCKETS as f64;
    let t = w as u64;
    let c = if (t as f64) < w {
        t.saturating_add(1)
    } else {
        t
    };
    c.max(1)
}

/// A layer window, seconds: finite and at least 1 ms per bucket (0.032 s).
pub(crate) fn window(key: &'static str, v: f64) -> Rule {
    (key, v, v.is_finite() && v >= 0.032, "≥ 0.032 s")
}

/// A sampling or bar period, seconds: finite and at least 1 ms.
pub(crate) fn period(key: &'static str, v: f64) -> Rule {
    (key, v, v.is_finite() && v >= 0.001, "≥ 0.001 s")
}

/// A value in `[0, 1]`.
pub(crate) fn unit_closed(key: &'static str, v: f64) -> Rule {
    (key, v, (0.0..=1.0).contains(&v), "in [0, 1]")
}

/// A value in `(0, 1)`.
pub(crate) fn unit_open(key: &'static str, v: f64) -> Rule {
    (key, v, v > 0.0 && v < 1.0, "in (0, 1)")
}

/// A finite value `≥ 0`.
pub(crate) fn non_negative(key: &'static str, v: f64) -> Rule {
    (key, v, v.is_finite() && v >= 0.0, "≥ 0")
}

/// A value `> 0`, `+inf` included (no limit).
pub(crate) fn positive_or_inf(key: &'static str, v: f64) -> Rule {
    (key, v, v > 0.0, "> 0")
}

/// A finite value `> 0`.
pub(crate) fn positive(key: &'static str, v: f64) -> Rule {
    (key, v, v.is_finite() && v > 0.0, "> 0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_broken_rule_names_its_key() {
        assert_eq!(check(&[("a", 1.0, true, "> 0")]), Ok(()));
        assert_eq!(
            check(&[
                ("a", 1.0, true, "> 0"),
                ("b", -2.5, false, "≥ 0"),
                ("c", 0.0, false, "x")
            ]),
            Err("b: must be ≥ 0, got -2.5".to_string())
        );
    }

    #[test]
    fn buckets_are_at_least_one_ms() {
        assert_eq!(bucket_ms(30.0), 938);
        assert_eq!(bucket_ms(0.001), 1);
    }

    /// The integer ceiling equals `ceil` cast to `u64` on exact, fractional, tiny, huge,
    /// negative and non-finite windows.
    #[test]
    fn bucket_ms_is_the_ceiling_of_the_width() {
        let by_ceil = |s: f64| ((s * 1000.0 / WINDOW_BUCKETS as f64).ceil() as u64).max(1);
        for s in [
            0.032,
            0.0321,
            1.0,
            10.0,
            30.0,
            64.0,
            0.1,
            3.2,
            1e-9,
            1e12,
            1e17,
            1e30,
            -1.0,
            0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ] {
            assert_eq!(bucket_ms(s), by_ceil(s), "window {s}");
        }
        for k in 1..10_000u32 {
            let s = f64::from(k) * 0.0137;
            assert_eq!(bucket_ms(s), by_ceil(s), "window {s}");
        }
    }

    #[test]
    fn rules_refuse_nan_and_their_bounds() {
        for r in [
            window("k", f64::NAN),
            window("k", 0.031),
            period("k", f64::INFINITY),
            unit_closed("k", 1.01),
            unit_open("k", 0.0),
            unit_open("k", 1.0),
            non_negative("k", -1e-9),
            positive("k", 0.0),
            positive("k", f64::INFINITY),
            positive_or_inf("k", f64::NAN),
        ] {
            assert!(!r.2, "{r:?}");
        }
        for r in [
            window("k", 0.032),
            period("k", 0.001),
            unit_closed("k", 0.0),
            unit_closed("k", 1.0),
            unit_open("k", 0.5),
            non_negative("k", 0.0),
            positive("k", 1e-12),
            positive_or_inf("k", f64::INFINITY),
        ] {
            assert!(r.2, "{r:?}");
        }
    }
}
