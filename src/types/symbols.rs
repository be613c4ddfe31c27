//! Symbols interned to small integers at start-up.

use crate::types::SymbolId;

/// Maps venue symbol names to [`SymbolId`]s, case-insensitively (`btcusdt` = `BTCUSDT`).
///
/// Names of up to [`PACKED_LEN`] bytes are packed, upper-cased, into a `u128` (bytes 0..15 the
/// name, byte 15 its length) and found through an open-addressing table of twice the symbol
/// count: one multiply, one or two probes, whatever the number of symbols. Longer names are
/// scanned. Lookups never allocate.
#[derive(Clone, Debug)]
pub struct SymbolTable {
    names: Vec<String>,
    /// `keys[id]`: packed name of symbol `id` (0 when longer than [`PACKED_LEN`]).
    keys: Vec<u128>,
    /// Power-of-two table of ids; `EMPTY` marks a free slot.
    slots: Vec<u16>,
    /// `64 − log2(slots.len())`: the hash's top bits index the table.
    shift: u32,
    /// Whether any name is longer than [`PACKED_LEN`].
    has_long: bool,
}

/// Longest name packed into the hash index; longer names are found by a scan.
pub const PACKED_LEN: usize = 15;

const EMPTY: u16 = u16::MAX;

/// The upper-cased name and its length in one `u128`, or `None` if longer than [`PACKED_LEN`].
#[inline]
fn pack(name: &[u8]) -> Option<u128> {
    if name.is_empty() || name.len() > PACKED_LEN {
        return None;
    }
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(name) {
        *d = s.to_ascii_uppercase();
    }
    b[15] = name.len() as u8;
    Some(u128::from_le_bytes(b))
}

#[inline]
fn slot_of(key: u128, shift: u32) -> usize {
    let h =
        ((key as u64) ^ ((key >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> shift) as usize
}

/// Error for an invalid symbol list.
#[derive(Debug, PartialEq, Eq)]
pub enum SymbolError {
    /// No symbols were configured.
    Empty,
    /// The same symbol appears twice.
    Duplicate(String),
    /// More symbols than a `SymbolId` can index.
    TooMany(usize),
    /// A name that is not plain ASCII letters and digits.
    Invalid(String),
}

impl std::fmt::Display for SymbolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SymbolError::Empty => write!(f, "no symbols configured"),
            SymbolError::Duplicate(s) => write!(f, "symbol {s} is listed twice"),
            SymbolError::TooMany(n) => write!(f, "{n} symbols is more than the 65535 supported"),
            SymbolError::Invalid(s) => {
                write!(
                    f,
                    "symbol {s:?} must be ASCII letters and digits (and `-` or `_` after the first)"
                )
            }
        }
    }
}

impl std::error::Error for SymbolError {}

/// A venue symbol name: ASCII letters and digits, and `-` or `_` after the first character
/// (dated contracts: Bybit `BTC-26DEC25`, `BTCUSDT-14AUG26`; Binance `BTCUSDT_251226`).
pub fn valid_name(n: &str) -> bool {
    let b = n.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
}

impl SymbolTable {
    /// Interns `names` in order (upper-cased); ids are their positions.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Result<Self, SymbolError> {
        if names.is_empty() {
            return Err(SymbolError::Empty);
        }
        if names.len() > u16::MAX as usize {
            return Err(SymbolError::TooMany(names.len()));
        }
        let mut out: Vec<String> = Vec::with_capacity(names.len());
        for n in names {
            let n = n.as_ref();
            if !valid_name(n) {
                return Err(SymbolError::Invalid(n.to_string()));
            }
            let up = n.to_ascii_uppercase();
            if out.contains(&up) {
                return Err(SymbolError::Duplicate(up));
            }
            out.push(up);
        }
        let n_slots = (out.len() * 2).next_power_of_two().max(2);
        let shift = 64 - n_slots.trailing_zeros();
        let mut slots = vec![EMPTY; n_slots];
        let mut keys = Vec::with_capacity(out.len());
        for (id, name) in out.iter().enumerate() {
            let key = pack(name.as_bytes()).unwrap_or(0);
            keys.push(key);
            if key != 0 {
                let mut i = slot_of(key, shift);
                while slots[i] != EMPTY {
                    i = (i + 1) & (n_slots - 1);
                }
                slots[i] = id as u16;
            }
        }
        let has_long = out.iter().any(|n| n.len() > PACKED_LEN);
        Ok(Self {
            names: out,
            keys,
            slots,
            shift,
            has_long,
        })
    }

    /// The id of `name`, if configured. Allocation-free.
    #[inline]
    pub fn lookup(&self, name: &str) -> Option<SymbolId> {
        self.lookup_bytes(name.as_bytes())
    }

    /// [`Self::lookup`] of the name's bytes.
    #[inline]
    pub fn lookup_bytes(&self, name: &[u8]) -> Option<SymbolId> {
        if let Some(key) = pack(name) {
            let mask = self.slots.len() - 1;
            let mut i = slot_of(key, self.shift);
            loop {
                let id = self.slots[i];
                if id == EMPTY {
                    return None;
                }
                if self.keys[id as usize] == key {
                    return Some(SymbolId(id));
                }
                i = (i + 1) & mask;
            }
        }
        if !self.has_long {
            return None;
        }
        self.names
            .iter()
            .position(|n| n.len() == name.len() && n.as_bytes().eq_ignore_ascii_case(name))
            .map(|i| SymbolId(i as u16))
    }

    /// The upper-case venue name of `id`.
    pub fn name(&self, id: SymbolId) -> &str {
        &self.names[id.index()]
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Always false: a table holds at least one symbol.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// All names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive_and_ids_follow_order() {
        let t = SymbolTable::new(&["BTCUSDT", "ethusdt"]).unwrap();
        assert_eq!(t.lookup("btcusdt"), Some(SymbolId(0)));
        assert_eq!(t.lookup("ETHUSDT"), Some(SymbolId(1)));
        assert_eq!(t.lookup("SOLUSDT"), None);
        assert_eq!(t.lookup("BTCUSD"), None);
        assert_eq!(t.name(SymbolId(1)), "ETHUSDT");
    }

    #[test]
    fn many_and_long_symbols_are_all_found() {
        let names: Vec<String> = (0..300)
            .map(|i| format!("S{i}USDT"))
            .chain(["VERYLONGSYMBOLNAME1USDT".to_string()])
            .collect();
        let t = SymbolTable::new(&names).unwrap();
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.lookup(n), Some(SymbolId(i as u16)), "{n}");
            assert_eq!(t.lookup(&n.to_ascii_lowercase()), Some(SymbolId(i as u16)));
        }
        for miss in [
            "S300USDT",
            "S1USD",
            "S1USDT\0",
            "",
            "VERYLONGSYMBOLNAME2USDT",
            "é",
        ] {
            assert_eq!(t.lookup(miss), None, "{miss}");
        }
    }

    #[test]
    fn duplicates_and_bad_names_are_rejected() {
        assert_eq!(
            SymbolTable::new(&["BTCUSDT", "btcusdt"]).unwrap_err(),
            SymbolError::Duplicate("BTCUSDT".into())
        );
        assert!(matches!(
            SymbolTable::new(&["BTC/USDT"]),
            Err(SymbolError::Invalid(_))
        ));
        assert_eq!(
            SymbolTable::new::<&str>(&[]).unwrap_err(),
            SymbolError::Empty
        );
    }
}
