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

/// Reserved for a Content-Length written before the body is known, then the head's end;
/// [`patch_length`] fills it in.
pub(crate) const LENGTH_PLACEHOLDER: &[u8] = b"000\r\n\r\n";

/// Writes the length of the body (`r[body_at..]`) as decimal text over the three placeholder
/// digits at `len_at` ([`LENGTH_PLACEHOLDER`], with the body right after it), moving the body
/// when the length has another number of digits; returns where the body starts then.
#[inline]
pub(crate) fn patch_length(r: &mut Vec<u8>, len_at: usize, body_at: usize) -> usize {
    let mut text = itoa::Buffer::new();
    let digits = text.format(r.len() - body_at).as_bytes();
    let n = digits.len();
    if n != 3 {
        let end = r.len();
        if n > 3 {
            r.resize(end + n - 3, 0);
            r.copy_within(len_at + 3..end, len_at + n);
        } else {
            r.copy_within(len_at + 3..end, len_at + n);
            r.truncate(end + n - 3);
        }
    }
    r[len_at..len_at + n].copy_from_slice(digits);
    len_at + n + 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_is_patched_in_for_every_number_of_digits() {
        for len in [0usize, 7, 99, 100, 999, 1000, 12345] {
            let mut r = b"Content-Length: ".to_vec();
            let len_at = r.len();
            r.extend_from_slice(LENGTH_PLACEHOLDER);
            let body: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            r.extend_from_slice(&body);
            let at = patch_length(&mut r, len_at, len_at + LENGTH_PLACEHOLDER.len());
            let want = format!(
                "Content-Length: {len}\r\n\r\n{}",
                String::from_utf8(body).unwrap()
            );
            assert_eq!(String::from_utf8(r.clone()).unwrap(), want);
            assert_eq!(r.len() - at, len);
        }
    }

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
