//! HMAC-SHA256 (RFC 2104 over FIPS 180-4 SHA-256) with the keyed midstates kept.
//!
//! The key's states after the `K ⊕ ipad` and `K ⊕ opad` blocks are computed once
//! ([`HmacKey::new`]); a message of `n` bytes then costs `⌈(n + 9) / 64⌉` inner compressions and
//! one outer compression (the inner digest and its padding fill exactly one block), on copies of
//! those states and a stack buffer. No allocation, no FFI.
//!
//! Compression: the x86-64 SHA extensions (`sha256rnds2`/`msg1`/`msg2`, Intel's published
//! sequence) in one function with the round constants in aligned vectors, when the CPU has them
//! (std's cached feature flag); else `sha2`'s `compress256`. With `sha2` 0.11's compression
//! instead, the 264-byte Bybit TP/SL payload took 280-290 ns against 260 ns (benches/exec.rs,
//! fat LTO, idle VM); without LTO its SHA-NI backend was ~1.6x slower per block (it loads the
//! block through out-of-line closures and the constants with `pinsrd`).

/// Words as big-endian bytes into the front of `out`.
#[inline]
fn put_be(out: &mut [u8], words: &[u32; 8]) {
    for (i, w) in words.iter().enumerate() {
        let b = w.to_be_bytes();
        out[4 * i] = b[0];
        out[4 * i + 1] = b[1];
        out[4 * i + 2] = b[2];
        out[4 * i + 3] = b[3];
    }
}

/// SHA-256 compression of `blocks` (a whole number of 64-byte blocks) into `state`.
#[inline]
fn compress256(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % BLOCK, 0);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sha") && std::arch::is_x86_feature_detected!("sse4.1") {
        // SAFETY: the CPU has the SHA extensions and SSE4.1 (checked just above; SSSE3 and SSE2
        // come with SSE4.1).
        unsafe { shani::compress(state, blocks) };
        return;
    }
    for b in blocks.chunks_exact(BLOCK) {
        sha2::block_api::compress256(state, &[b.try_into().expect("64-byte chunk")]);
    }
}

/// Bytes per SHA-256 block.
const BLOCK: usize = 64;

/// SHA-256 initial hash value (FIPS 180-4 §5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The keyed states of one secret: SHA-256 after `K ⊕ ipad` and after `K ⊕ opad`, where `K` is
/// the secret zero-padded to 64 bytes (hashed first when longer than 64).
#[derive(Clone)]
pub(crate) struct HmacKey {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl HmacKey {
    /// Absorbs the padded key into both states (two compressions, three for a long key).
    pub(crate) fn new(secret: &[u8]) -> Self {
        let mut k = [0u8; BLOCK];
        if secret.len() > BLOCK {
            let mut h = Sha256State::new(IV, 0);
            h.update(secret);
            put_be(&mut k, &h.finish());
        } else {
            k[..secret.len()].copy_from_slice(secret);
        }
        let mut inner = IV;
        let mut outer = IV;
        compress256(&mut inner, &k.map(|b| b ^ 0x36));
        compress256(&mut outer, &k.map(|b| b ^ 0x5c));
        Self { inner, outer }
    }

    /// A fresh context: the key block already absorbed.
    #[inline]
    pub(crate) fn context(&self) -> HmacContext {
        HmacContext {
            inner: Sha256State::new(self.inner, BLOCK as u64),
            outer: self.outer,
        }
    }

    /// `HMAC_SHA256(secret, message)`.
    #[inline]
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 32] {
        let mut ctx = self.context();
        ctx.update(message);
        ctx.finish()
    }

    /// `HMAC_SHA256(secret, buf[start..end])`, with the inner hash's padding (`0x80`, zeros, the
    /// bit length) written over `buf[end..end + PAD_ROOM]` so that every inner block compresses
    /// straight from `buf` in one call: the message is never copied. Panics when `buf` is
    /// shorter than `end + PAD_ROOM`.
    #[inline]
    pub(crate) fn sign_padded(&self, buf: &mut [u8], start: usize, end: usize) -> [u8; 32] {
        let n = end - start;
        let pad: &mut [u8; PAD_ROOM] = (&mut buf[end..end + PAD_ROOM])
            .try_into()
            .expect("PAD_ROOM bytes");
        *pad = [0; PAD_ROOM];
        pad[0] = 0x80;
        let padded = (n + 9).div_ceil(BLOCK) * BLOCK;
        let len_at = start + padded - 8;
        let len: &mut [u8; 8] = (&mut buf[len_at..len_at + 8]).try_into().expect("8 bytes");
        // The key block comes first: the inner message is 64 + n bytes.
        *len = (((BLOCK + n) as u64) * 8).to_be_bytes();
        let mut h = self.inner;
        compress256(&mut h, &buf[start..start + padded]);
        outer_tag(self.outer, &h)
    }
}

/// Room [`HmacKey::sign_padded`] needs after the message: `0x80`, at most 63 zeros, 8 length
/// bytes.
pub(crate) const PAD_ROOM: usize = 72;

/// The HMAC tag from the inner digest: `SHA256(K ⊕ opad ‖ inner)` continued from the keyed
/// outer state (one compression: the digest and its padding fill one block).
#[inline]
fn outer_tag(outer: [u32; 8], inner: &[u32; 8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    put_be(&mut block, inner);
    block[32] = 0x80;
    // Outer message: the 64-byte key block and the 32-byte inner digest, in bits.
    block[62..].copy_from_slice(&(((BLOCK + 32) * 8) as u16).to_be_bytes());
    let mut h = outer;
    compress256(&mut h, &block);
    let mut out = [0u8; 32];
    put_be(&mut out, &h);
    out
}

/// An HMAC in progress: the inner hash so far and the key's outer state. `Clone` copies
/// ~140 bytes (a template's prefix absorbed once, cloned per order).
#[derive(Clone)]
pub(crate) struct HmacContext {
    inner: Sha256State,
    outer: [u32; 8],
}

impl HmacContext {
    /// Appends `data` to the message.
    #[inline]
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// The tag: `SHA256(K ⊕ opad ‖ SHA256(K ⊕ ipad ‖ message))`.
    #[inline]
    pub(crate) fn finish(self) -> [u8; 32] {
        outer_tag(self.outer, &self.inner.finish())
    }
}

/// A SHA-256 computation in progress: chaining value, the partial block and the byte count
/// absorbed (key block included; `len % 64` bytes wait in `buf`).
#[derive(Clone)]
struct Sha256State {
    h: [u32; 8],
    buf: [u8; BLOCK],
    len: u64,
}

impl Sha256State {
    #[inline]
    fn new(h: [u32; 8], len: u64) -> Self {
        Self {
            h,
            buf: [0; BLOCK],
            len,
        }
    }

    #[inline]
    fn update(&mut self, mut data: &[u8]) {
        let used = (self.len % BLOCK as u64) as usize;
        self.len += data.len() as u64;
        if used > 0 {
            let take = (BLOCK - used).min(data.len());
            self.buf[used..used + take].copy_from_slice(&data[..take]);
            data = &data[take..];
            if used + take < BLOCK {
                return;
            }
            compress256(&mut self.h, &self.buf);
        }
        let whole = data.len() - data.len() % BLOCK;
        if whole > 0 {
            compress256(&mut self.h, &data[..whole]);
        }
        self.buf[..data.len() - whole].copy_from_slice(&data[whole..]);
    }

    /// Pads (`0x80`, zeros, the bit length big-endian) and returns the chaining value.
    #[inline]
    fn finish(mut self) -> [u32; 8] {
        let bits = self.len.wrapping_mul(8).to_be_bytes();
        let used = (self.len % BLOCK as u64) as usize;
        self.buf[used..].fill(0);
        self.buf[used] = 0x80;
        if used < BLOCK - 8 {
            self.buf[BLOCK - 8..].copy_from_slice(&bits);
            compress256(&mut self.h, &self.buf);
        } else {
            compress256(&mut self.h, &self.buf);
            let mut last = [0u8; BLOCK];
            last[BLOCK - 8..].copy_from_slice(&bits);
            compress256(&mut self.h, &last);
        }
        self.h
    }
}

#[cfg(target_arch = "x86_64")]
mod shani {
    use std::arch::x86_64::*;

    /// FIPS 180-4 §4.2.2 round constants, four per vector.
    #[repr(align(16))]
    struct K32([u32; 64]);

    const K: K32 = K32([
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ]);

    /// SHA-256 compression with the SHA extensions. The state lives in the `ABEF`/`CDGH`
    /// layout `sha256rnds2` wants; each 4-round group adds its constants, does two
    /// `sha256rnds2`, and from round 16 on first extends the schedule
    /// (`W[t..t+4] = msg2(msg1(W[t-16..], W[t-12..]) + W[t-7..t-3], W[t-4..])`).
    ///
    /// # Safety
    /// The CPU must support SHA, SSE4.1 and SSSE3; `blocks.len()` is a multiple of 64.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(super) unsafe fn compress(state: &mut [u32; 8], blocks: &[u8]) {
        let bswap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        let sp = state.as_mut_ptr().cast::<__m128i>();
        // SAFETY: `state` is 32 bytes: two unaligned 16-byte loads.
        let (dcba, hgfe) = unsafe { (_mm_loadu_si128(sp), _mm_loadu_si128(sp.add(1))) };
        let cdab = _mm_shuffle_epi32(dcba, 0xB1);
        let efgh = _mm_shuffle_epi32(hgfe, 0x1B);
        let mut abef = _mm_alignr_epi8(cdab, efgh, 8);
        let mut cdgh = _mm_blend_epi16(efgh, cdab, 0xF0);
        let kp = K.0.as_ptr().cast::<__m128i>();
        for block in blocks.chunks_exact(64) {
            let (abef0, cdgh0) = (abef, cdgh);
            let bp = block.as_ptr().cast::<__m128i>();
            // SAFETY: a block is 64 bytes: four unaligned 16-byte loads.
            let (mut w0, mut w1, mut w2, mut w3) = unsafe {
                (
                    _mm_shuffle_epi8(_mm_loadu_si128(bp), bswap),
                    _mm_shuffle_epi8(_mm_loadu_si128(bp.add(1)), bswap),
                    _mm_shuffle_epi8(_mm_loadu_si128(bp.add(2)), bswap),
                    _mm_shuffle_epi8(_mm_loadu_si128(bp.add(3)), bswap),
                )
            };
            // Four rounds with schedule words `$w` and constants `K[4g..4g+4]`.
            macro_rules! rounds4 {
                ($g:expr, $w:expr) => {
                    // SAFETY: `K` is 16 aligned vectors and `$g < 16`.
                    let m = _mm_add_epi32($w, unsafe { _mm_load_si128(kp.add($g)) });
                    cdgh = _mm_sha256rnds2_epu32(cdgh, abef, m);
                    abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(m, 0x0E));
                };
            }
            // Extends the schedule by four words into `$w0` (the oldest), then four rounds.
            macro_rules! schedule_rounds4 {
                ($g:expr, $w0:ident, $w1:ident, $w2:ident, $w3:ident) => {
                    let t =
                        _mm_add_epi32(_mm_sha256msg1_epu32($w0, $w1), _mm_alignr_epi8($w3, $w2, 4));
                    $w0 = _mm_sha256msg2_epu32(t, $w3);
                    rounds4!($g, $w0);
                };
            }
            rounds4!(0, w0);
            rounds4!(1, w1);
            rounds4!(2, w2);
            rounds4!(3, w3);
            for g in [4, 8, 12] {
                schedule_rounds4!(g, w0, w1, w2, w3);
                schedule_rounds4!(g + 1, w1, w2, w3, w0);
                schedule_rounds4!(g + 2, w2, w3, w0, w1);
                schedule_rounds4!(g + 3, w3, w0, w1, w2);
            }
            abef = _mm_add_epi32(abef, abef0);
            cdgh = _mm_add_epi32(cdgh, cdgh0);
        }
        let feba = _mm_shuffle_epi32(abef, 0x1B);
        let dchg = _mm_shuffle_epi32(cdgh, 0xB1);
        // SAFETY: as the loads above.
        unsafe {
            _mm_storeu_si128(sp, _mm_blend_epi16(feba, dchg, 0xF0));
            _mm_storeu_si128(sp.add(1), _mm_alignr_epi8(dchg, feba, 8));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// RFC 4231 test cases 1, 2, 6 (131-byte key: hashed first) and 7.
    #[test]
    fn rfc4231_vectors() {
        let cases: [(&[u8], &[u8], &str); 4] = [
            (
                &[0x0b; 20],
                b"Hi There",
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                &[0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.",
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, msg, want) in cases {
            assert_eq!(hex(&HmacKey::new(key).sign(msg)), want);
        }
    }

    /// The SHA-NI compression equals `sha2`'s on many states and block runs (when the CPU has
    /// the extensions; else both sides are `sha2`'s).
    #[test]
    fn compression_equals_sha2s() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // Miri emulates each SHA-NI instruction: fewer random states there, every run length.
        let reps = if cfg!(miri) { 8 } else { 50 };
        for n in 0..6 {
            for _ in 0..reps {
                let mut a = [0u32; 8];
                a.iter_mut().for_each(|w| *w = next() as u32);
                let blocks: Vec<[u8; 64]> = (0..n)
                    .map(|_| std::array::from_fn(|_| next() as u8))
                    .collect();
                let mut b = a;
                compress256(&mut a, blocks.as_flattened());
                sha2::block_api::compress256(&mut b, &blocks);
                assert_eq!(a, b);
            }
        }
    }

    /// Message lengths below `max` to test: all of them, or under Miri (which runs these tests
    /// about 10⁴ times slower) those at and around each padding regime over one to five blocks:
    /// `n mod 64` of 0, 1, 31, 54 and 55 (the 8-byte length still fits the last block), 56 and 57
    /// (it needs another one), 63.
    fn lengths(max: usize) -> Vec<usize> {
        if !cfg!(miri) {
            return (0..max).collect();
        }
        let edges = [0, 1, 31, 54, 55, 56, 57, 63];
        (0..5)
            .flat_map(|b| edges.map(|e| 64 * b + e))
            .filter(|&n| n < max)
            .collect()
    }

    /// Signing in place (padding over the room after the message) equals signing a copy, at
    /// every length across the block boundaries and at several offsets; the message is intact.
    #[test]
    fn signing_in_place_equals_signing_a_copy() {
        let key = HmacKey::new(b"secret");
        let msg: Vec<u8> = (0..300u32).map(|i| (i * 13 + 5) as u8).collect();
        for n in lengths(msg.len()) {
            for start in [0, 1, 7, 20] {
                let mut buf = vec![0xa5u8; start + n + PAD_ROOM];
                buf[start..start + n].copy_from_slice(&msg[..n]);
                assert_eq!(
                    key.sign_padded(&mut buf, start, start + n),
                    key.sign(&msg[..n]),
                    "len {n} start {start}"
                );
                assert_eq!(&buf[start..start + n], &msg[..n]);
            }
        }
    }

    #[test]
    fn split_updates_equal_one_update_at_every_length_and_split() {
        let key = HmacKey::new(b"k");
        let msg: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for n in lengths(msg.len()) {
            let whole = key.sign(&msg[..n]);
            for cut in [0, 1, n / 3, n / 2, n.saturating_sub(1), n] {
                let mut ctx = key.context();
                ctx.update(&msg[..cut.min(n)]);
                ctx.update(&msg[cut.min(n)..n]);
                assert_eq!(ctx.finish(), whole, "len {n} cut {cut}");
            }
        }
    }
}
