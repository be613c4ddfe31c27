//! simd-json with reused buffers, and a zero-copy walk over its tape.
//!
//! `fill_tape` turns a frame into a flat array of [`Node`]s (strings point into the frame);
//! the venue parsers read their fields straight off that array into `Tick`/`Quote`, with no
//! intermediate value tree and no allocation once the buffers have grown.

use simd_json::{Node, StaticNode};

use crate::types::ParseError;

/// Frames up to this size parse without growing any buffer (Binance depth frames reach ~26 KB).
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// simd-json's scratch buffers and tape, reused across frames.
pub struct TapeParser {
    buffers: simd_json::Buffers,
    /// Always `Some` between calls; empty, so no borrow outlives a call.
    tape: Option<simd_json::Tape<'static>>,
}

impl std::fmt::Debug for TapeParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapeParser").finish_non_exhaustive()
    }
}

impl Default for TapeParser {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME)
    }
}

impl TapeParser {
    /// Buffers pre-sized for frames up to `bytes`: larger frames still parse, growing the
    /// buffers once.
    pub fn new(bytes: usize) -> Self {
        let mut p = Self {
            buffers: simd_json::Buffers::new(bytes),
            tape: Some(simd_json::Tape(Vec::new())),
        };
        // Warm-up: the densest document of that size (`[0,0,…]`, a structural every byte) grows
        // every scratch buffer (structural indexes, stage-2 stack, tape) to its worst case now,
        // so no live frame up to `bytes` ever allocates.
        let mut worst = vec![b'0'; bytes.max(2)];
        worst[0] = b'[';
        let last = worst.len() - 1;
        for b in worst[1..last].iter_mut().skip(1).step_by(2) {
            *b = b',';
        }
        worst[last] = b']';
        // An even length would end in a trailing comma: pad it with a space instead.
        if worst[last - 1] == b',' {
            worst[last - 1] = b' ';
        }
        p.with_tape(&mut worst, |_| Ok(()))
            .expect("the warm-up document is valid JSON");
        p
    }

    /// Parses `frame` in place (simd-json rewrites it while unescaping) and runs `f` on the
    /// tape. Malformed JSON is [`ParseError::Json`].
    #[inline]
    pub fn with_tape<R>(
        &mut self,
        frame: &mut [u8],
        f: impl FnOnce(&[Node<'_>]) -> Result<R, ParseError>,
    ) -> Result<R, ParseError> {
        let mut tape = self
            .tape
            .take()
            .map_or_else(|| simd_json::Tape(Vec::new()), |t| t.reset());
        let r = match simd_json::fill_tape(frame, &mut self.buffers, &mut tape) {
            Ok(()) => f(&tape.0),
            Err(_) => Err(ParseError::Json),
        };
        self.tape = Some(tape.reset());
        r
    }

    /// Capacity of the tape, in nodes (for tests of the warm-up).
    pub fn tape_capacity(&self) -> usize {
        self.tape.as_ref().map_or(0, |t| t.0.capacity())
    }
}

/// Number of tape nodes taken by the value starting at `nodes[0]` (1 for scalars).
#[inline]
pub fn span(node: &Node<'_>) -> usize {
    match node {
        Node::Object { count, .. } | Node::Array { count, .. } => count + 1,
        _ => 1,
    }
}

/// Calls `f(key, value_index)` for each member of the object at `nodes[at]`; `value_index`
/// points into `nodes`. Errors with [`ParseError::Json`] if `nodes[at]` is not an object.
#[inline]
pub fn for_each_member<'i>(
    nodes: &[Node<'i>],
    at: usize,
    mut f: impl FnMut(&'i str, usize) -> Result<(), ParseError>,
) -> Result<(), ParseError> {
    let Some(&Node::Object { len, .. }) = nodes.get(at) else {
        return Err(ParseError::Json);
    };
    let mut i = at + 1;
    for _ in 0..len {
        let Some(&Node::String(k)) = nodes.get(i) else {
            return Err(ParseError::Json);
        };
        let v = i + 1;
        let Some(n) = nodes.get(v) else {
            return Err(ParseError::Json);
        };
        f(k, v)?;
        i = v + span(n);
    }
    Ok(())
}

/// Indexes of the elements of the array at `nodes[at]`, or `None` if it is not an array.
#[inline]
pub fn array_elements<'a>(
    nodes: &'a [Node<'_>],
    at: usize,
) -> Option<impl Iterator<Item = usize> + 'a> {
    let &Node::Array { len, .. } = nodes.get(at)? else {
        return None;
    };
    let mut i = at + 1;
    Some((0..len).map_while(move |_| {
        let here = i;
        i += span(nodes.get(here)?);
        Some(here)
    }))
}

/// The string at `nodes[i]`.
#[inline]
pub fn as_str<'i>(nodes: &[Node<'i>], i: usize) -> Option<&'i str> {
    match nodes.get(i) {
        Some(&Node::String(s)) => Some(s),
        _ => None,
    }
}

/// The non-negative integer at `nodes[i]`; also accepts an all-digit string (`"1786310817"`).
#[inline]
pub fn as_u64(nodes: &[Node<'_>], i: usize) -> Option<u64> {
    match nodes.get(i) {
        Some(&Node::Static(StaticNode::U64(v))) => Some(v),
        Some(&Node::Static(StaticNode::I64(v))) if v >= 0 => Some(v as u64),
        Some(&Node::String(s)) => digits_u64(s),
        _ => None,
    }
}

/// The integer at `nodes[i]` (signed).
#[inline]
pub fn as_i64(nodes: &[Node<'_>], i: usize) -> Option<i64> {
    match nodes.get(i) {
        Some(&Node::Static(StaticNode::I64(v))) => Some(v),
        Some(&Node::Static(StaticNode::U64(v))) => i64::try_from(v).ok(),
        _ => None,
    }
}

/// The boolean at `nodes[i]`.
#[inline]
pub fn as_bool(nodes: &[Node<'_>], i: usize) -> Option<bool> {
    match nodes.get(i) {
        Some(&Node::Static(StaticNode::Bool(b))) => Some(b),
        _ => None,
    }
}

/// `s` as a u64 if it is 1..=19 ASCII digits.
#[inline]
pub fn digits_u64(s: &str) -> Option<u64> {
    digits_u64_bytes(s.as_bytes())
}

/// [`digits_u64`] of bytes.
#[inline]
pub fn digits_u64_bytes(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 19 {
        return None;
    }
    let mut v = 0u64;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u64;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_members_and_arrays_of_a_nested_document() {
        let mut p = TapeParser::new(256);
        let mut doc = br#"{"a":[1,{"x":2},[3,4]],"b":"s","c":7,"d":true}"#.to_vec();
        let (keys, elems, c, b) = p
            .with_tape(&mut doc, |n| {
                let mut keys = Vec::new();
                let mut elems = 0;
                let (mut c, mut b) = (None, None);
                for_each_member(n, 0, |k, v| {
                    keys.push(k.to_string());
                    match k {
                        "a" => elems = array_elements(n, v).unwrap().count(),
                        "c" => c = as_u64(n, v),
                        "d" => b = as_bool(n, v),
                        _ => {}
                    }
                    Ok(())
                })?;
                Ok((keys, elems, c, b))
            })
            .unwrap();
        assert_eq!(keys, ["a", "b", "c", "d"]);
        assert_eq!(elems, 3);
        assert_eq!(c, Some(7));
        assert_eq!(b, Some(true));
    }

    #[test]
    fn warm_up_sizes_the_tape_for_the_worst_case() {
        for n in [2usize, 3, 10, 11, 4096] {
            let mut p = TapeParser::new(n);
            let mut ok = br#"{"result":null,"id":3}"#.to_vec();
            assert!(p.with_tape(&mut ok, |n| Ok(n.len())).unwrap() > 0);
        }
        assert!(TapeParser::new(1000).tape_capacity() >= 500);
    }

    #[test]
    fn malformed_json_is_a_json_error() {
        let mut p = TapeParser::new(64);
        for bad in [&b"{not json"[..], b"", b"[1,", b"{\"a\":}"] {
            let mut v = bad.to_vec();
            assert_eq!(p.with_tape(&mut v, |_| Ok(())), Err(ParseError::Json));
        }
    }

    #[test]
    fn simd_json_dispatches_to_avx2_where_the_cpu_has_it() {
        // Stage 1 with AVX2 + PCLMULQDQ: chosen at run time in the portable build (simd-json's
        // `runtime-detection`, Cargo.toml), compiled in by the tuned one (`cargo tuned`); a
        // build with neither would fall back to the scalar implementation unnoticed.
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("pclmulqdq") {
            assert_eq!(
                simd_json::Deserializer::algorithm(),
                simd_json::Implementation::AVX2
            );
        }
    }

    #[test]
    fn digit_strings_parse_and_others_do_not() {
        assert_eq!(digits_u64("1786310817"), Some(1786310817));
        assert_eq!(digits_u64(""), None);
        assert_eq!(digits_u64("12a"), None);
        assert_eq!(digits_u64("12345678901234567890"), None);
    }
}
