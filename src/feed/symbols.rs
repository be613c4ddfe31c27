//! Symbols interned to small integers at start-up.

use super::tick::SymbolId;

/// Maps venue symbol names to [`SymbolId`]s, case-insensitively (`btcusdt` = `BTCUSDT`).
///
/// Lookups scan a short packed array: for the handful of symbols one process trades this beats
/// hashing and never allocates.
#[derive(Clone, Debug)]
pub struct SymbolTable {
    names: Vec<String>,
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
                write!(f, "symbol {s:?} must be ASCII letters and digits")
            }
        }
    }
}

impl std::error::Error for SymbolError {}

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
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(SymbolError::Invalid(n.to_string()));
            }
            let up = n.to_ascii_uppercase();
            if out.contains(&up) {
                return Err(SymbolError::Duplicate(up));
            }
            out.push(up);
        }
        Ok(Self { names: out })
    }

    /// The id of `name`, if configured. Allocation-free.
    #[inline]
    pub fn lookup(&self, name: &str) -> Option<SymbolId> {
        let b = name.as_bytes();
        self.names
            .iter()
            .position(|n| n.len() == b.len() && n.as_bytes().eq_ignore_ascii_case(b))
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
