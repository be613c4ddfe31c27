use super::*;
use crate::model::logistic::sigmoid;
use crate::types::Case;

fn params(horizon_s: f64) -> LearnedParams {
    LearnedParams {
        enabled: true,
        threshold: 0.5,
        learning_rate: 0.1,
        l2: 0.0,
        horizon_s,
        warmup_labels: 0,
    }
}

fn tick(ts_ms: u64, price: f64, case: Case) -> TickState {
    let mut st = TickState {
        ts_ms,
        price,
        velocity: 1e-5,
        acceleration: 1e-7,
        evidence: 3.0,
        case,
        ..TickState::default()
    };
    st.kalman.p_vv = 1e-11;
    st.kalman.p_aa = 1e-14;
    st
}

/// Horizon 10 s, fee 0.1 % a side (round trip 0.2 %): a long at 100 labelled on the first tick
/// ≥ 10 s later at 100.3 (+0.3 % > 0.2 %: won); a short at 100 labelled at 99.9 (+0.1 %: lost);
/// a tick before the horizon labels nothing; a signal within `horizon / RING` of the last
/// queued one is not queued; a sample reached only after two horizons is dropped. The
/// weights equal a model trained by hand on the same (features, label) pairs.
#[test]
fn signals_are_labelled_at_the_horizon_against_the_round_trip_fee() {
    let ind = IndicatorValues::default();
    let mut f = LearnedFilter::new(params(10.0), 0.001, 1);
    let long = tick(1_000_000, 100.0, Case::AcceleratingUp);
    assert!(f.allows(0, &long, &ind, 1));
    // 100 ms later: within the 156 ms spacing, not queued.
    assert!(f.allows(0, &tick(1_000_100, 100.0, Case::AcceleratingUp), &ind, 1));
    f.on_tick(0, 1_005_000, 101.0);
    assert_eq!(f.snapshot().total_labels(), 0, "not due yet");
    f.on_tick(0, 1_010_000, 100.3);
    assert_eq!(f.snapshot().labels, [1, 0]);
    let short = tick(1_020_000, 100.0, Case::Topping);
    f.allows(0, &short, &ind, -1);
    f.on_tick(0, 1_029_999, 90.0);
    assert_eq!(f.snapshot().labels, [1, 0], "one ms short of the horizon");
    f.on_tick(0, 1_030_000, 99.9);
    assert_eq!(f.snapshot().labels, [2, 0]);

    let mut hand = Logistic::<N>::default();
    hand.update(&features(&long, &ind, 1), true, 0.1, 0.0);
    hand.update(&features(&short, &ind, -1), false, 0.1, 0.0);
    assert_eq!(f.snapshot().model, hand);

    // Late: queued at 1 040 000, first tick at 1 060 000 (two horizons): dropped, not learnt.
    f.allows(0, &tick(1_040_000, 100.0, Case::AcceleratingUp), &ind, 1);
    f.on_tick(0, 1_060_000, 200.0);
    assert_eq!(f.snapshot().labels, [2, 0]);
    assert_eq!(f.stats().dropped, 1);
    // Warm from the start (warm-up 0): both later checks and the two labels were counted.
    assert_eq!(f.snapshot().confusion[0].total(), 2);
}

/// A closed trade is learnt with the features of the entry that opened it, labelled by its
/// net PnL; an order that opens nothing leaves no trade to learn.
#[test]
fn closed_trades_are_learnt_with_their_entry_features() {
    let ind = IndicatorValues::default();
    let mut f = LearnedFilter::new(params(30.0), 0.0, 2);
    let entry = tick(5_000, 50.0, Case::Bottoming);
    f.allows(1, &entry, &ind, 1);
    f.on_book(1, None, true);
    f.allows(1, &tick(6_000, 51.0, Case::Topping), &ind, -1);
    f.on_book(1, Some(-0.4), false);
    assert_eq!(f.snapshot().labels, [0, 1]);
    let mut hand = Logistic::<N>::default();
    hand.update(&features(&entry, &ind, 1), false, 0.1, 0.0);
    assert_eq!(f.snapshot().model, hand);
    f.on_book(1, Some(1.0), false);
    assert_eq!(f.snapshot().labels, [0, 1], "no open trade: nothing learnt");
}

/// Warm-up passes everything; once warm, an entry with `p < threshold` is refused and counted.
#[test]
fn the_gate_refuses_below_the_threshold_once_warm() {
    let ind = IndicatorValues::default();
    let mut p = params(30.0);
    p.warmup_labels = 1;
    let mut f = LearnedFilter::new(p, 0.0, 1);
    let mut s = Snapshot::default();
    s.model.w[0] = -3.0;
    f.restore(&s);
    let st = tick(1_000, 10.0, Case::AcceleratingUp);
    assert!(f.allows(0, &st, &ind, 1), "cold: passes");
    s.labels[1] = 1;
    f.restore(&s);
    assert!(f.predict(&st, &ind, 1) < 0.5);
    assert!(!f.allows(0, &st, &ind, 1));
    assert_eq!((f.stats().checked, f.stats().refused), (1, 1));
    s.model.w[0] = 3.0;
    f.restore(&s);
    assert!(f.allows(0, &st, &ind, 1));
    assert_eq!((f.stats().checked, f.stats().refused), (2, 1));
}

fn trained() -> (LearnedFilter, Vec<(TickState, i8)>) {
    let ind = IndicatorValues::default();
    let mut f = LearnedFilter::new(params(1.0), 0.0004, 1);
    let mut samples = Vec::new();
    for k in 0..200u64 {
        let side = if k % 3 == 0 { -1 } else { 1 };
        let mut st = tick(
            1_000_000 + k * 2_000,
            100.0 + (k % 7) as f64,
            Case::ALL[k as usize % 6],
        );
        st.velocity = (k as f64 - 100.0) * 1e-7;
        f.allows(0, &st, &ind, side);
        f.on_tick(
            0,
            st.ts_ms + 1_000,
            st.price * (1.0 + ((k * 37) % 11) as f64 * 1e-4 - 5e-4),
        );
        samples.push((st, side));
    }
    (f, samples)
}

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("learned-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

use std::path::PathBuf;

/// Save → load gives the identical state and bit-identical predictions; what the monitor
/// reads from the published words is the same state.
#[test]
fn a_saved_state_reloads_and_predicts_identically() {
    let (mut f, samples) = trained();
    assert!(
        f.snapshot().total_labels() >= 190,
        "{:?}",
        f.snapshot().labels
    );
    let pb = Arc::new(Published::default());
    assert_eq!(pb.load(), None);
    f.publish_to(pb.clone());
    assert_eq!(pb.load().as_ref(), Some(f.snapshot()));
    let d = dir("roundtrip");
    let path = state::default_path(&d.join("x.journal"));
    assert!(path.ends_with("x.journal.learned.json"));
    assert_eq!(state::load(&path).unwrap(), None);
    state::save(&path, &pb.load().unwrap(), 1).unwrap();
    let back = state::load(&path).unwrap().unwrap();
    assert_eq!(&back, f.snapshot());
    let mut g = LearnedFilter::new(params(1.0), 0.0004, 1);
    g.restore(&back);
    let ind = IndicatorValues::default();
    for (st, side) in &samples {
        assert_eq!(
            f.predict(st, &ind, *side).to_bits(),
            g.predict(st, &ind, *side).to_bits()
        );
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn corrupt_state_files_are_errors_naming_the_file() {
    let d = dir("corrupt");
    let p = d.join("m.learned.json");
    for text in ["{not json", "{}", r#"{"version": 2}"#, ""] {
        std::fs::write(&p, text).unwrap();
        let e = state::load(&p).unwrap_err();
        assert!(
            e.contains("corrupt") && e.contains("m.learned.json"),
            "{text}: {e}"
        );
    }
    let (f, _) = trained();
    state::save(&p, f.snapshot(), 0).unwrap();
    let good = std::fs::read_to_string(&p).unwrap();
    for (from, to, why) in [
        ("\"snr_v_along_side\"", "\"snr_v\"", "features"),
        (
            "\"weights\": [\n    \"",
            "\"weights\": [\n    \"zz",
            "weights",
        ),
        (
            "\"adagrad\": [\n    \"",
            "\"adagrad\": [\n    \"7ff8",
            "adagrad",
        ),
    ] {
        assert!(good.contains(from), "{from}");
        std::fs::write(&p, good.replacen(from, to, 1)).unwrap();
        let e = state::load(&p).unwrap_err();
        assert!(e.contains("corrupt") && e.contains(why), "{why}: {e}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn precision_recall_and_f1_follow_their_definitions() {
    let mut c = Confusion::default();
    for (pred, act, n) in [
        (true, true, 6),
        (true, false, 2),
        (false, true, 3),
        (false, false, 9),
    ] {
        for _ in 0..n {
            c.add(pred, act);
        }
    }
    assert_eq!((c.tp, c.fp, c.fn_, c.tn), (6, 2, 3, 9));
    assert_eq!(c.precision(), 0.75);
    assert_eq!(c.recall(), 6.0 / 9.0);
    assert!((c.f1() - 2.0 * 0.75 * (6.0 / 9.0) / (0.75 + 6.0 / 9.0)).abs() < 1e-15);
    assert_eq!(c.base_rate(), 9.0 / 20.0);
}

/// Over pseudo-random weights and ticks: whenever the partial features settle a refusal, the
/// complete features give a refusal too, and the cached, partial-then-finished vector equals
/// [`features()`] bit for bit; some refusals are settled without the per-tick features.
#[test]
fn partial_features_settle_only_certain_refusals() {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let threshold = Threshold::new(0.5);
    let mut cache = FeatureCache::default();
    let (mut settled, mut checks) = (0, 0);
    for k in 0..20_000u64 {
        let mut model = Logistic::<N>::default();
        for w in &mut model.w {
            *w = rnd() * if k % 2 == 0 { 0.3 } else { 2.0 };
        }
        model.w[0] = rnd() * 3.0;
        let mut st = tick(k * 7, 100.0, Case::ALL[k as usize % Case::COUNT]);
        st.velocity = rnd() * 1e-5;
        st.acceleration = rnd() * 1e-7;
        st.evidence = rnd().abs() * 10.0;
        st.log_move = rnd() * 2e-3;
        st.kalman.nis = if k % 97 == 0 {
            f64::NAN
        } else {
            rnd().abs() * 5.0
        };
        st.layers.ou_z = rnd() * 3.0;
        st.layers.imbalance = rnd();
        st.layers.sigma = rnd().abs() * 1e-4;
        let ind = IndicatorValues::default();
        let side = if k % 3 == 0 { -1 } else { 1 };
        let c = cache.partial(&st, &ind, side);
        let full = features(&st, &ind, side);
        assert_eq!(c.finished().map(f64::to_bits), full.map(f64::to_bits));
        let z = model.score(&full);
        checks += 1;
        if surely_refused(&model.w, &c.x, threshold.below()) {
            settled += 1;
            assert!(!threshold.reached(z) && sigmoid(z) < 0.5, "k {k}: z {z}");
        }
    }
    assert!(
        settled > checks / 100 && settled < checks,
        "{settled} of {checks}"
    );
}
