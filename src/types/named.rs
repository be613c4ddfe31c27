//! `named_enum!`: a field-less enum whose variants each carry a stable name, declared from one
//! `Variant => "name"` line per variant, so that `COUNT`, `ALL`, `index`, `name` and
//! `from_name` cannot disagree. Used by the counted vocabularies (stages, counters, reject
//! reasons, cases, layers).

/// Declares the enum and `COUNT`, `ALL` (declaration order), `index` (the discriminant: the
/// slot in per-variant arrays, `ALL[v.index()] == v`), `name` and `from_name`.
macro_rules! named_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $ty:ident {
            $($(#[$vmeta:meta])* $variant:ident => $name:literal,)+
        }
    ) => {
        $(#[$meta])*
        $vis enum $ty {
            $($(#[$vmeta])* $variant,)+
        }

        impl $ty {
            /// Number of variants.
            pub const COUNT: usize = [$($name),+].len();

            /// Every variant, in index order.
            pub const ALL: [$ty; $ty::COUNT] = [$($ty::$variant),+];

            /// Index in [`Self::ALL`]: the slot in per-variant arrays.
            #[inline]
            pub const fn index(self) -> usize {
                self as usize
            }

            /// Stable name (configs, reports, logs).
            pub const fn name(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            /// The variant called `name` (as [`Self::name`] returns it), if any.
            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }
        }
    };
}

pub(crate) use named_enum;
