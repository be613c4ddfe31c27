//! Shared pieces of the venues' order-entry WebSocket APIs (Bybit `/v5/trade`, Binance
//! `/ws-fapi/v1`): the signed REST request split into method, path, params and headers (the
//! WebSocket frame is rendered from the same bytes the REST builder wrote), the top-level field
//! scanner that finds a reply's id and payload without allocating, and the reply kinds.

/// A REST request as the order builders write it: `METHOD target HTTP/1.1`, headers, body.
#[derive(Clone, Copy, Debug)]
pub struct RestParts<'a> {
    /// `POST`, `GET`, `DELETE`, `PUT`.
    pub method: &'a [u8],
    /// Path without the query.
    pub path: &'a [u8],
    /// Query string without `?` (may be empty).
    pub query: &'a [u8],
    /// The header block (lines after the request line).
    pub headers: &'a [u8],
    /// The body.
    pub body: &'a [u8],
}

impl<'a> RestParts<'a> {
    /// Splits `req`; `None` when it is not a complete request head.
    pub fn split(req: &'a [u8]) -> Option<Self> {
        let head_end = find(req, b"\r\n\r\n")?;
        let line_end = find(req, b"\r\n")?;
        let line = &req[..line_end];
        let sp = line.iter().position(|&b| b == b' ')?;
        let rest = &line[sp + 1..];
        let target = &rest[..rest.iter().position(|&b| b == b' ')?];
        let (path, query) = match target.iter().position(|&b| b == b'?') {
            Some(q) => (&target[..q], &target[q + 1..]),
            None => (target, &target[target.len()..]),
        };
        Some(Self {
            method: &line[..sp],
            path,
            query,
            headers: &req[line_end + 2..head_end + 2],
            body: &req[head_end + 4..],
        })
    }

    /// The value of header `name` (ASCII case-insensitive), trimmed.
    pub fn header(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.headers.split(|&b| b == b'\n').find_map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            let c = l.iter().position(|&b| b == b':')?;
            l[..c]
                .eq_ignore_ascii_case(name)
                .then(|| l[c + 1..].trim_ascii())
        })
    }
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// The raw value of top-level field `key` of the JSON object `json` (an object, array, string
/// with its quotes, number, `true`/`false`/`null`), found by scanning: strings and escapes are
/// skipped, nesting is counted. No allocation.
pub fn field<'a>(json: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    fields(json).find(|(k, _)| *k == key).map(|(_, v)| v)
}

/// The top-level fields of the JSON object `json` in order: (key as written, raw value as
/// [`field`] gives it); the scan stops at the end of the object or at malformed input. No
/// allocation.
pub fn fields(json: &[u8]) -> Fields<'_> {
    Fields {
        json,
        i: json
            .iter()
            .position(|&b| b == b'{')
            .map_or(json.len(), |i| i + 1),
    }
}

/// Iterator of [`fields`].
#[derive(Clone, Debug)]
pub struct Fields<'a> {
    json: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let json = self.json;
        let mut i = skip_ws(json, self.i);
        self.i = json.len();
        if i >= json.len() || json[i] == b'}' {
            return None;
        }
        let (k, after) = string_at(json, i)?;
        i = skip_ws(json, after);
        if json.get(i) != Some(&b':') {
            return None;
        }
        i = skip_ws(json, i + 1);
        let end = value_end(json, i)?;
        let value = &json[i..end];
        let next = skip_ws(json, end);
        match json.get(next) {
            Some(b',') => self.i = next + 1,
            Some(b'}') => self.i = next,
            _ => {}
        }
        Some((k, value))
    }
}

/// The contents of a JSON string value (without quotes; escapes left as written).
pub fn unquote(v: &[u8]) -> &[u8] {
    v.strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(v)
}

/// A JSON integer value (quoted or not).
pub fn int(v: &[u8]) -> Option<i64> {
    std::str::from_utf8(unquote(v)).ok()?.parse().ok()
}

fn skip_ws(j: &[u8], mut i: usize) -> usize {
    while i < j.len() && j[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The string starting at `j[i] == '"'`: its contents and the index after the closing quote.
fn string_at(j: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if j.get(i) != Some(&b'"') {
        return None;
    }
    let mut k = i + 1;
    while k < j.len() {
        match j[k] {
            b'\\' => k += 2,
            b'"' => return Some((&j[i + 1..k], k + 1)),
            _ => k += 1,
        }
    }
    None
}

/// The index after the value starting at `j[i]`.
fn value_end(j: &[u8], i: usize) -> Option<usize> {
    match *j.get(i)? {
        b'"' => string_at(j, i).map(|(_, e)| e),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut k = i;
            while k < j.len() {
                match j[k] {
                    b'"' => {
                        k = string_at(j, k)?.1;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(k + 1);
                        }
                    }
                    _ => {}
                }
                k += 1;
            }
            None
        }
        _ => Some(
            i + j[i..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(j.len() - i),
        ),
    }
}

/// What one order-entry WebSocket frame from the venue is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsReply {
    /// The reply to order request `id`, with the HTTP-like status its REST twin would carry;
    /// the REST-shaped body is in the caller's buffer.
    Order {
        /// The request id (the transport's tag).
        id: u64,
        /// 200, or the venue's error status.
        status: u16,
    },
    /// The session's authentication reply: accepted, or refused with the venue's code.
    Auth {
        /// The venue's code (0 = accepted).
        code: i64,
    },
    /// Heartbeat answer or anything else that proves the link alive.
    Other,
}

/// Appends the decimal digits of `v`.
pub(crate) fn push_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_found_at_the_top_level_only() {
        let j = br#"{"a":{"id":"inner","x":[1,{"b":"}"}]},"id":"42","s":"q\"}","n":-17 ,"t":true}"#;
        assert_eq!(field(j, b"id"), Some(&br#""42""#[..]));
        assert_eq!(
            field(j, b"a"),
            Some(&br#"{"id":"inner","x":[1,{"b":"}"}]}"#[..])
        );
        assert_eq!(field(j, b"s"), Some(&br#""q\"}""#[..]));
        assert_eq!(int(field(j, b"n").unwrap()), Some(-17));
        assert_eq!(field(j, b"t"), Some(&b"true"[..]));
        assert_eq!(field(j, b"missing"), None);
        assert_eq!(int(field(j, b"id").unwrap()), Some(42));
        let keys: Vec<&[u8]> = fields(j).map(|(k, _)| k).collect();
        assert_eq!(keys, [&b"a"[..], b"id", b"s", b"n", b"t"]);
        assert_eq!(fields(b"{}").count(), 0);
        assert_eq!(
            fields(br#"{"a":1,"b""#).count(),
            1,
            "stops at malformed input"
        );
    }

    #[test]
    fn a_rest_request_splits_into_its_parts() {
        let r =
            b"POST /fapi/v1/order?x=1 HTTP/1.1\r\nHost: h\r\nX-MBX-APIKEY: k\r\n\r\nsymbol=BTCUSDT";
        let p = RestParts::split(r).unwrap();
        assert_eq!(p.method, b"POST");
        assert_eq!(p.path, b"/fapi/v1/order");
        assert_eq!(p.query, b"x=1");
        assert_eq!(p.body, b"symbol=BTCUSDT");
        assert_eq!(p.header(b"x-mbx-apikey"), Some(&b"k"[..]));
        assert_eq!(p.header(b"Host"), Some(&b"h"[..]));
    }
}
