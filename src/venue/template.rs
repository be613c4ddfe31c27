//! Per-symbol order templates: the constant part of an order request, rendered once per symbol
//! (and again when the symbols or keys change), looked up by venue symbol on the order path.
//!
//! Lookup: the last symbol used is compared first (one short byte compare), then a hash map
//! (SipHash of the name). No allocation after [`TemplateTable::render`].

use std::collections::HashMap;

/// Templates `T` by venue symbol.
#[derive(Debug)]
pub(crate) struct TemplateTable<T> {
    items: Vec<(Box<str>, T)>,
    index: HashMap<Box<str>, usize>,
    /// Index of the last template found (a symbol's orders tend to come in runs).
    last: usize,
}

impl<T> Default for TemplateTable<T> {
    fn default() -> Self {
        Self {
            items: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }
}

impl<T> TemplateTable<T> {
    /// Replaces every template with `render(name)` for each of `names` (cold: allocates).
    pub(crate) fn render<S: AsRef<str>>(&mut self, names: &[S], mut render: impl FnMut(&str) -> T) {
        self.items.clear();
        self.index.clear();
        self.last = 0;
        for name in names {
            let name = name.as_ref();
            if self.index.contains_key(name) {
                continue;
            }
            self.index.insert(name.into(), self.items.len());
            self.items.push((name.into(), render(name)));
        }
    }

    /// The template of `symbol`, if rendered. No allocation.
    #[inline]
    pub(crate) fn get(&mut self, symbol: &str) -> Option<&T> {
        if let Some((name, _)) = self.items.get(self.last) {
            if **name == *symbol {
                return Some(&self.items[self.last].1);
            }
        }
        let i = *self.index.get(symbol)?;
        self.last = i;
        Some(&self.items[i].1)
    }

    /// Number of symbols with a template.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_each_rendered_symbol_and_nothing_else() {
        let mut t = TemplateTable::default();
        t.render(&["BTCUSDT", "ETHUSDT", "BTCUSDT"], |n| n.len());
        assert_eq!(t.len(), 2);
        assert_eq!(t.get("ETHUSDT"), Some(&7));
        assert_eq!(t.get("ETHUSDT"), Some(&7));
        assert_eq!(t.get("BTCUSDT"), Some(&7));
        assert_eq!(t.get("BTCUSD"), None);
        assert_eq!(t.get("BTCUSDTT"), None);
        t.render(&["SOLUSDT"], |_| 1);
        assert_eq!(t.get("BTCUSDT"), None);
        assert_eq!(t.get("SOLUSDT"), Some(&1));
    }
}
