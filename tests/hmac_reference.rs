//! Property: [`Signer`] (HMAC-SHA256 on kept ipad/opad midstates, SHA-NI compression) equals
//! ring's `hmac::sign` (the reference, itself checked against the documented vectors in
//! tests/signing_vectors.rs) for random keys (empty, short, exactly one block, longer than a
//! block: hashed first) and messages of every length around the block and padding edges, signed
//! whole or as parts; `verify_hex` accepts exactly ring's tag.

use calculus_trader::exec::Signer;
use proptest::prelude::*;

fn ring_hex(key: &[u8], msg: &[u8]) -> [u8; 64] {
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), msg);
    let mut out = [0u8; 64];
    for (pair, b) in out.chunks_exact_mut(2).zip(tag.as_ref()) {
        pair.copy_from_slice(format!("{b:02x}").as_bytes());
    }
    out
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..=64),
        proptest::collection::vec(any::<u8>(), 65..300),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn signer_equals_ring(key in key(), msg in proptest::collection::vec(any::<u8>(), 0..700)) {
        let want = ring_hex(&key, &msg);
        let s = Signer::new(&key);
        let mut got = [0u8; 64];
        s.sign_hex(&msg, &mut got);
        prop_assert_eq!(got, want);
        prop_assert!(s.verify_hex(&msg, &want));
        let mut wrong = want;
        wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
        prop_assert!(!s.verify_hex(&msg, &wrong));
    }

    #[test]
    fn parts_equal_ring_over_their_concatenation(
        key in key(),
        msg in proptest::collection::vec(any::<u8>(), 0..400),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let mut at: Vec<usize> = cuts.iter().map(|i| i.index(msg.len() + 1)).collect();
        at.sort_unstable();
        let mut parts: Vec<&[u8]> = Vec::new();
        let mut from = 0;
        for &to in &at {
            parts.push(&msg[from..to]);
            from = to;
        }
        parts.push(&msg[from..]);
        let mut got = [0u8; 64];
        Signer::new(&key).sign_parts_hex(&parts, &mut got);
        prop_assert_eq!(got, ring_hex(&key, &msg));
    }
}

/// Every message length from 0 to 300 bytes (each padding case: one or two final blocks).
#[test]
fn every_length_around_the_block_edges_equals_ring() {
    let key = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
    let msg: Vec<u8> = (0..300u32).map(|i| (i * 31 + 7) as u8).collect();
    let s = Signer::new(key);
    for n in 0..=msg.len() {
        let mut got = [0u8; 64];
        s.sign_hex(&msg[..n], &mut got);
        assert_eq!(got, ring_hex(key, &msg[..n]), "length {n}");
    }
}
