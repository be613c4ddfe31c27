//! The network path from loopback: a bench-local WebSocket server writes pre-encoded frames of
//! real recorded messages (Binance USD-M `@trade`, Bybit v5 `publicTrade`) and the client is the
//! production network stage, [`FeedStage`] (mio loop + WebSocket + venue parser + de-duplication
//! + validation + liveness), polled on this thread exactly as the runtime polls it.
//!
//! 1. Throughput: the server writes `FEED_BENCH_FRAMES` frames (default 2,000,000) per venue as
//!    fast as the socket takes them. Reported from the first tick to the end-of-replay close as
//!    frames (messages) per second of the client thread's on-CPU time (user + kernel, from
//!    `/proc/thread-self/schedstat`: the capacity of one client core, the target of
//!    1,000,000 msgs/s) and per wall second (lower when the shared cores are busy; the time the
//!    thread waited for a CPU is printed). PASS/FAIL is printed, never asserted.
//! 2. Latency: the server paces frames at `FEED_BENCH_RATE` msgs/s (default 100,000) for
//!    `FEED_BENCH_PACED` frames (default 200,000) per venue; per tick, socket-in (`Tick::recv_ns`,
//!    the monotonic stamp of the read that completed the frame) → tick delivered (`on_tick`
//!    runs), on the pipeline's own clock ([`Clock`]), into an HdrHistogram; p50/p99/p99.9 of all
//!    ticks, and of the first tick of each read alone (the path itself, without the wait behind
//!    earlier frames of the same read, which grows when the client is descheduled).
//!
//! The client waits as the runtime's network thread does ([`FeedWait`], `FEED_BENCH_WAIT` =
//! `spin` (default, the fused hot thread), `spin_yield` or `park`).
//!
//! In paced mode the sender also stamps each write on the same clock, so the bench reports the
//! sender's write → tick delivered as well (this includes the kernel's loopback delivery and
//! everything the client does before its read returns).
//!
//! Frames are cycled; each pass shifts every trade id (by the symbol's id span; Bybit: the last
//! group of each trade UUID by one) and every timestamp (by the recording's time span) in
//! place, fixed-width, so every pass delivers new, in-order trades through de-duplication and
//! validation (as a live stream would).
//!
//! Results also go to `target/feed_bench.json` (one JSON object) for the budgets table.
//!
//! `cargo bench --bench feed`

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use calculus_trader::config::WaitKind;
use calculus_trader::feed::protocol::Venue;
use calculus_trader::feed::settings::FeedConfig;
use calculus_trader::feed::stage::{FeedPlan, FeedStage};
use calculus_trader::feed::ws::WsStatus;
use calculus_trader::feed::SymbolTable;
use calculus_trader::runtime::wait::FeedWait;
use calculus_trader::telemetry::{Clock, Counter, Stage, StageHistograms};
use hdrhistogram::Histogram;

/// The throughput target, messages per second on one client core.
const TARGET_MSGS_PER_SEC: f64 = 1_000_000.0;
/// Close code that ends the feed's link (as the embedded exchange's end of replay).
const END_CODE: u16 = 4000;
/// Whole bench wall-clock guard per run.
const RUN_LIMIT: Duration = Duration::from_secs(60);

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------- the frames ----------

/// A fixed-width ASCII decimal in the script buffer, shifted by `delta` per pass.
#[derive(Clone, Copy)]
struct Patch {
    at: usize,
    len: usize,
    delta: u64,
    /// Lower-case hex digits, wrapping (the tail of a Bybit trade UUID) instead of decimal.
    hex: bool,
}

/// One pass of pre-encoded server→client WebSocket text frames (unmasked), concatenated.
struct Script {
    venue: Venue,
    buf: Vec<u8>,
    /// End offset of each frame in `buf`.
    ends: Vec<usize>,
    patches: Vec<Patch>,
    trades: usize,
    /// Trades (ticks) carried by each frame.
    ticks_per_frame: Vec<usize>,
}

impl Script {
    fn frames(&self) -> usize {
        self.ends.len()
    }

    /// Shifts every id and timestamp to the next pass.
    fn next_pass(&mut self) {
        for p in &self.patches {
            let digits = &mut self.buf[p.at..p.at + p.len];
            let text = std::str::from_utf8(digits).unwrap();
            if p.hex {
                let v = u64::from_str_radix(text, 16).unwrap();
                let n = v.wrapping_add(p.delta) & ((1u64 << (4 * p.len)) - 1);
                let s = format!("{n:0width$x}", width = p.len);
                digits.copy_from_slice(s.as_bytes());
                continue;
            }
            let mut n = text.parse::<u64>().unwrap() + p.delta;
            for d in digits.iter_mut().rev() {
                *d = b'0' + (n % 10) as u8;
                n /= 10;
            }
            assert_eq!(n, 0, "field outgrew its width after many passes");
        }
    }
}

fn ws_text_frame(out: &mut Vec<u8>, payload: &[u8]) {
    out.push(0x81);
    match payload.len() {
        n if n < 126 => out.push(n as u8),
        n if n < 65_536 => {
            out.push(126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
}

/// Offsets (within `frame`) and values of every `"key":<digits>` in `frame`.
fn numbers(frame: &[u8], key: &str) -> Vec<(usize, usize, u64)> {
    let pat = format!("\"{key}\":");
    let pat = pat.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + pat.len() <= frame.len() {
        if &frame[i..i + pat.len()] == pat {
            let s = i + pat.len();
            let e = s + frame[s..].iter().take_while(|b| b.is_ascii_digit()).count();
            if e > s {
                let v = std::str::from_utf8(&frame[s..e]).unwrap().parse().unwrap();
                out.push((s, e - s, v));
            }
            i = e.max(i + 1);
        } else {
            i += 1;
        }
    }
    out
}

fn string_field<'a>(frame: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":\"");
    let s = frame.find(&pat).expect("field") + pat.len();
    let e = s + frame[s..].find('"').unwrap();
    &frame[s..e]
}

fn gz_lines(path: &str) -> Vec<String> {
    let f = std::fs::File::open(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    BufReader::new(flate2::read::GzDecoder::new(f))
        .lines()
        .map(Result::unwrap)
        .collect()
}

/// Builds the script from real frames: `time_keys` are shifted by the recording's time span,
/// `id_key` (if any) by the symbol's id span, and (`uuid_ids`) the last group of each `"i"`
/// UUID by one, each pass.
fn script(
    venue: Venue,
    frames: Vec<String>,
    time_keys: &[&str],
    id_key: Option<&str>,
    uuid_ids: bool,
) -> Script {
    let (mut t_min, mut t_max) = (u64::MAX, 0);
    let mut ids: HashMap<String, (u64, u64)> = HashMap::new();
    let mut trades = 0;
    for f in &frames {
        for k in time_keys {
            for (_, _, v) in numbers(f.as_bytes(), k) {
                t_min = t_min.min(v);
                t_max = t_max.max(v);
            }
        }
        if let Some(k) = id_key {
            let r = ids
                .entry(string_field(f, "s").to_string())
                .or_insert((u64::MAX, 0));
            for (_, _, v) in numbers(f.as_bytes(), k) {
                r.0 = r.0.min(v);
                r.1 = r.1.max(v);
            }
        }
        trades += numbers(f.as_bytes(), "T").len();
    }
    let dt = t_max - t_min + 1;
    let mut s = Script {
        venue,
        buf: Vec::new(),
        ends: Vec::new(),
        patches: Vec::new(),
        trades,
        ticks_per_frame: Vec::new(),
    };
    for f in &frames {
        let before = s.buf.len();
        ws_text_frame(&mut s.buf, f.as_bytes());
        let base = before + (s.buf.len() - before - f.len());
        for k in time_keys {
            for (at, len, _) in numbers(f.as_bytes(), k) {
                s.patches.push(Patch {
                    at: base + at,
                    len,
                    delta: dt,
                    hex: false,
                });
            }
        }
        if let Some(k) = id_key {
            let (lo, hi) = ids[string_field(f, "s")];
            for (at, len, _) in numbers(f.as_bytes(), k) {
                s.patches.push(Patch {
                    at: base + at,
                    len,
                    delta: hi - lo + 1,
                    hex: false,
                });
            }
        }
        if uuid_ids {
            // `"i":"xxxxxxxx-xxxx-xxxx-xxxx-XXXXXXXXXXXX"`: the last group (12 hex digits).
            let mut from = 0;
            while let Some(k) = f[from..].find("\"i\":\"") {
                let s0 = from + k + 5;
                let e = s0 + f[s0..].find('"').unwrap();
                assert_eq!(e - s0, 36, "Bybit trade ids are UUIDs: {}", &f[s0..e]);
                s.patches.push(Patch {
                    at: base + e - 12,
                    len: 12,
                    delta: 1,
                    hex: true,
                });
                from = e;
            }
        }
        s.ends.push(s.buf.len());
        s.ticks_per_frame.push(numbers(f.as_bytes(), "T").len());
    }
    s
}

/// Every real `@trade` frame of the BTCUSDT and ETHUSDT recordings, merged in receive order.
fn binance_script() -> Script {
    let mut frames: Vec<(u64, String)> = Vec::new();
    for path in [
        "data/replay/binance_usdm_BTCUSDT_2024-08-08_2354-2400.gz",
        "data/replay/binance_usdm_ETHUSDT_2024-08-08_2354-2400.gz",
    ] {
        for line in gz_lines(path) {
            let (ns, frame) = line.split_once(' ').unwrap();
            if frame.contains("@trade\"") {
                frames.push((ns.parse().unwrap(), frame.to_string()));
            }
        }
    }
    frames.sort_by_key(|f| f.0);
    script(
        Venue::Binance,
        frames.into_iter().map(|f| f.1).collect(),
        &["E", "T"],
        Some("t"),
        false,
    )
}

/// Every real `publicTrade` frame of the Bybit recording (ids are UUIDs: time orders them).
fn bybit_script() -> Script {
    let frames: Vec<String> =
        gz_lines("data/replay/bybit_v5_linear_public_BTCUSDT_ETHUSDT_2026-08-09.jsonl.gz")
            .into_iter()
            .filter(|l| l.starts_with("{\"topic\":\"publicTrade."))
            .collect();
    script(Venue::Bybit, frames, &["ts", "T"], None, true)
}

// ---------- the server ----------

/// How the server sends.
#[derive(Clone, Copy)]
enum Pace {
    /// As fast as the socket takes them (one `write_all` per pass).
    Blast,
    /// Each frame written when due at this many frames per second.
    Rate(f64),
}

/// Accepts one client, upgrades it, sends `total` frames of `script` (cycled), closes with
/// [`END_CODE`], then drains the client until it closes.
/// In paced mode each frame's write time (the sender's clock, before its `write`) goes to
/// `stamps[frame number]`.
fn serve(
    mut script: Script,
    total: usize,
    pace: Pace,
    stamps: Arc<Vec<AtomicU64>>,
) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_nodelay(true).unwrap();
        let mut ws = tungstenite::accept(tcp).expect("upgrade");
        let tcp = ws.get_mut();
        let clock = Clock::new();
        let mut sent = 0;
        let t0 = clock.now_ns();
        'outer: loop {
            let n = script.frames().min(total - sent);
            match pace {
                Pace::Blast => {
                    let end = script.ends[n - 1];
                    if tcp.write_all(&script.buf[..end]).is_err() {
                        return;
                    }
                    sent += n;
                }
                Pace::Rate(r) => {
                    let mut i = 0;
                    let mut from = 0;
                    while i < n {
                        let due = ((sent + i) as f64 * 1e9 / r) as u64;
                        // The sender stands for another machine: wait without hogging the
                        // shared cores more than needed.
                        while clock.now_ns() - t0 < due {
                            std::thread::yield_now();
                        }
                        // Everything due by now goes in one write (catches up after a stall).
                        let now = clock.now_ns() - t0;
                        let mut j = i + 1;
                        while j < n && (((sent + j) as f64) * 1e9 / r) as u64 <= now {
                            j += 1;
                        }
                        let to = script.ends[j - 1];
                        let w = clock.now_ns();
                        for k in sent + i..sent + j {
                            if let Some(s) = stamps.get(k) {
                                s.store(w, Ordering::Relaxed);
                            }
                        }
                        if tcp.write_all(&script.buf[from..to]).is_err() {
                            return;
                        }
                        from = to;
                        i = j;
                    }
                    sent += n;
                }
            }
            if sent >= total {
                break 'outer;
            }
            script.next_pass();
        }
        let code = END_CODE.to_be_bytes();
        let _ = tcp.write_all(&[0x88, 2, code[0], code[1]]);
        let _ = tcp.set_read_timeout(Some(Duration::from_secs(5)));
        let mut sink = [0u8; 4096];
        while matches!(tcp.read(&mut sink), Ok(n) if n > 0) {}
    });
    (addr, h)
}

// ---------- the client: the production network stage ----------

struct Run {
    frames: u64,
    ticks: u64,
    /// First tick → end-of-replay close seen, wall seconds.
    secs: f64,
    /// On-CPU seconds of the client thread over the same window (user + kernel).
    cpu_secs: f64,
    /// Seconds the client thread sat runnable but waiting for a CPU (other processes).
    queued_secs: f64,
    /// Distinct socket reads that delivered ticks.
    reads: u64,
    /// socket-in → tick delivered, every tick, ns.
    latency: Histogram<u64>,
    /// Same, only the first tick of each read: no wait behind earlier frames of the read.
    first_of_read: Histogram<u64>,
    /// Paced only: the sender's write → tick delivered, every tick, ns.
    from_write: Histogram<u64>,
    /// Same, first tick of each read only.
    from_write_first: Histogram<u64>,
    /// Frame complete → tick built (the stage's own `parse` histogram), ns.
    parse: Histogram<u64>,
    counters: Vec<(&'static str, u64)>,
}

/// (on-CPU ns, run-queue wait ns) of the calling thread, from `/proc/thread-self/schedstat`.
fn sched_ns() -> Option<(u64, u64)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

fn run(script: Script, total: usize, pace: Pace, wait_kind: WaitKind) -> Run {
    let venue = script.venue;
    let tpf = script.ticks_per_frame.clone();
    let stamps: Arc<Vec<AtomicU64>> = Arc::new(match pace {
        Pace::Blast => Vec::new(),
        Pace::Rate(_) => (0..total).map(|_| AtomicU64::new(0)).collect(),
    });
    let (addr, server) = serve(script, total, pace, stamps.clone());
    let symbols = SymbolTable::new(&["BTCUSDT", "ETHUSDT"]).unwrap();
    let clock = Clock::new();
    let topics = match venue {
        Venue::Binance => vec!["trade".to_string()],
        Venue::Bybit => vec!["publicTrade".to_string()],
    };
    let mut feed = FeedStage::start(
        FeedPlan {
            venue,
            ws_url: format!("ws://{addr}{}", venue.embedded_ws_path()),
            rest_url: format!("http://{addr}"),
            feed: FeedConfig {
                topics,
                rest_fallback: false,
                ..FeedConfig::default()
            },
            tls: None,
            rest_tls: Default::default(),
            end_close_code: Some(END_CODE),
            record_feed_delay: false,
            validation: Default::default(),
        },
        symbols,
        clock.clone(),
    )
    .expect("feed starts");
    let mut hists = StageHistograms::new();
    let new_hist = || Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
    let (mut latency, mut first_of_read) = (new_hist(), new_hist());
    let (mut from_write, mut from_write_first) = (new_hist(), new_hist());
    // Frame of the next tick (ticks arrive in frame order when nothing is rejected).
    let (mut frame, mut used) = (0usize, 0usize);
    let mut first = 0u64;
    let mut sched0 = None;
    let mut last_recv = u64::MAX;
    let mut reads = 0;
    let mut wait = FeedWait::new(wait_kind, 256, Duration::from_millis(1));
    let t0 = Instant::now();
    loop {
        let (n, status) = feed
            .poll(wait.timeout(), &mut hists, |t, _| {
                let now = clock.now_ns();
                if first == 0 {
                    first = now;
                    sched0 = sched_ns();
                }
                let ns = now.saturating_sub(t.recv_ns).max(1);
                latency.saturating_record(ns);
                let written = stamps.get(frame).map(|s| s.load(Ordering::Relaxed));
                let w_ns = written.map(|w| now.saturating_sub(w).max(1));
                if let Some(w) = w_ns {
                    from_write.saturating_record(w);
                }
                used += 1;
                if used >= tpf[frame % tpf.len()] {
                    frame += 1;
                    used = 0;
                }
                if t.recv_ns != last_recv {
                    last_recv = t.recv_ns;
                    reads += 1;
                    first_of_read.saturating_record(ns);
                    if let Some(w) = w_ns {
                        from_write_first.saturating_record(w);
                    }
                }
            })
            .expect("feed poll");
        wait.after_poll(n > 0);
        if status == WsStatus::Closed {
            break;
        }
        if t0.elapsed() > RUN_LIMIT {
            eprintln!(
                "feed bench: run did not finish within {RUN_LIMIT:?}; reporting what arrived"
            );
            break;
        }
    }
    let end = clock.now_ns();
    let (cpu_secs, queued_secs) = match (sched0, sched_ns()) {
        (Some(a), Some(b)) => ((b.0 - a.0) as f64 / 1e9, (b.1 - a.1) as f64 / 1e9),
        _ => (f64::NAN, f64::NAN),
    };
    let c = feed.counters();
    feed.stop_cold();
    drop(feed);
    let _ = server.join();
    Run {
        frames: c.get(Counter::Frames),
        ticks: c.get(Counter::Ticks),
        secs: end.saturating_sub(first) as f64 / 1e9,
        cpu_secs,
        queued_secs,
        reads,
        latency,
        first_of_read,
        from_write,
        from_write_first,
        parse: hists.get(Stage::Parse).clone(),
        counters: c.nonzero().collect(),
    }
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument selects nothing here.
    let frames = env_u64("FEED_BENCH_FRAMES", 2_000_000) as usize;
    let paced = env_u64("FEED_BENCH_PACED", 200_000) as usize;
    let rate = env_u64("FEED_BENCH_RATE", 100_000) as f64;
    let wait_name = std::env::var("FEED_BENCH_WAIT").unwrap_or_else(|_| "spin".into());
    let wait = match wait_name.as_str() {
        "spin" => WaitKind::Spin,
        "spin_yield" => WaitKind::SpinYield,
        "park" => WaitKind::Park,
        other => panic!("FEED_BENCH_WAIT={other:?}: expected spin, spin_yield or park"),
    };
    println!(
        "feed bench: client = FeedStage::poll on this thread, wait policy {wait_name} (FEED_BENCH_WAIT), {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    );
    let _ = Clock::new(); // calibrate the TSC before anything is timed
    let mut json = serde_json::Map::new();
    json.insert("bench".into(), "feed".into());
    json.insert("target_msgs_per_sec".into(), TARGET_MSGS_PER_SEC.into());
    json.insert("paced_rate_msgs_per_sec".into(), rate.into());
    json.insert("wait".into(), wait_name.clone().into());
    for (name, make) in [
        ("binance", binance_script as fn() -> Script),
        ("bybit", bybit_script as fn() -> Script),
    ] {
        let s = make();
        println!(
            "feed/{name}: {} real trade frames ({} trades, {:.0} B/frame) per pass",
            s.frames(),
            s.trades,
            s.buf.len() as f64 / s.frames() as f64
        );
        let tput = run(s, frames, Pace::Blast, wait);
        let wall = tput.frames as f64 / tput.secs.max(1e-9);
        let cpu = tput.frames as f64 / tput.cpu_secs.max(1e-9);
        let verdict = |r: f64| {
            if r >= TARGET_MSGS_PER_SEC {
                "PASS"
            } else {
                "FAIL"
            }
        };
        println!(
            "feed/{name} throughput: {} frames ({} ticks) in {:.3} s wall, client thread {:.3} s on CPU ({:.3} s waiting for one)",
            tput.frames, tput.ticks, tput.secs, tput.cpu_secs, tput.queued_secs
        );
        println!(
            "feed/{name} throughput: {:.0} msgs/s per client core (on-CPU) {}; {:.0} msgs/s wall {}; {:.0} ticks/s wall (target >= {:.0} msgs/s)",
            cpu,
            verdict(cpu),
            wall,
            verdict(wall),
            tput.ticks as f64 / tput.secs.max(1e-9),
            TARGET_MSGS_PER_SEC,
        );
        println!("  counters: {:?}", tput.counters);
        let paced_script = make();
        let lat_expected_ticks: usize = (0..paced)
            .map(|i| paced_script.ticks_per_frame[i % paced_script.frames()])
            .sum();
        let lat = run(paced_script, paced, Pace::Rate(rate), wait);
        let (h, f) = (&lat.latency, &lat.first_of_read);
        println!(
            "feed/{name} latency at {rate:.0} msgs/s ({} frames, {} ticks, {:.2} ticks per socket read): socket-in -> tick delivered p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.1} us",
            lat.frames,
            lat.ticks,
            lat.ticks as f64 / lat.reads.max(1) as f64,
            us(h.value_at_quantile(0.50)),
            us(h.value_at_quantile(0.99)),
            us(h.value_at_quantile(0.999)),
            us(h.max()),
        );
        println!(
            "feed/{name} latency, first tick of each read only: p50 {:.2} us, p99 {:.2} us; parse (frame -> tick) p50 {} ns, p99 {} ns; client on CPU {:.2} us per frame{}, waited {:.3} s for a CPU",
            us(f.value_at_quantile(0.50)),
            us(f.value_at_quantile(0.99)),
            lat.parse.value_at_quantile(0.50),
            lat.parse.value_at_quantile(0.99),
            lat.cpu_secs * 1e6 / lat.frames.max(1) as f64,
            if matches!(wait, WaitKind::Park) {
                ""
            } else {
                " (with the idle polling of a spinning wait)"
            },
            lat.queued_secs,
        );
        let (w, wf) = (&lat.from_write, &lat.from_write_first);
        println!(
            "feed/{name} latency, sender's write -> tick delivered: p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us; first tick of each read: p50 {:.2} us, p99 {:.2} us",
            us(w.value_at_quantile(0.50)),
            us(w.value_at_quantile(0.99)),
            us(w.value_at_quantile(0.999)),
            us(wf.value_at_quantile(0.50)),
            us(wf.value_at_quantile(0.99)),
        );
        if lat.ticks as usize != lat_expected_ticks {
            println!("  (ticks were rejected or dropped: write -> tick pairs frames and ticks by position and is approximate)");
        }
        println!("  counters: {:?}", lat.counters);
        let mut v = serde_json::Map::new();
        v.insert("frames".into(), tput.frames.into());
        v.insert("ticks".into(), tput.ticks.into());
        v.insert("secs".into(), tput.secs.into());
        v.insert("cpu_secs".into(), tput.cpu_secs.into());
        v.insert("msgs_per_sec".into(), cpu.round().into());
        v.insert("msgs_per_sec_wall".into(), wall.round().into());
        v.insert("pass".into(), (cpu >= TARGET_MSGS_PER_SEC).into());
        v.insert("paced_frames".into(), lat.frames.into());
        v.insert("paced_ticks".into(), lat.ticks.into());
        v.insert("paced_reads".into(), lat.reads.into());
        v.insert("p50_ns".into(), h.value_at_quantile(0.50).into());
        v.insert("p99_ns".into(), h.value_at_quantile(0.99).into());
        v.insert("p999_ns".into(), h.value_at_quantile(0.999).into());
        v.insert("max_ns".into(), h.max().into());
        v.insert(
            "first_of_read_p50_ns".into(),
            f.value_at_quantile(0.50).into(),
        );
        v.insert(
            "first_of_read_p99_ns".into(),
            f.value_at_quantile(0.99).into(),
        );
        v.insert(
            "write_to_tick_p50_ns".into(),
            w.value_at_quantile(0.50).into(),
        );
        v.insert(
            "write_to_tick_p99_ns".into(),
            w.value_at_quantile(0.99).into(),
        );
        v.insert(
            "write_to_tick_first_of_read_p50_ns".into(),
            wf.value_at_quantile(0.50).into(),
        );
        v.insert(
            "write_to_tick_first_of_read_p99_ns".into(),
            wf.value_at_quantile(0.99).into(),
        );
        v.insert(
            "parse_p50_ns".into(),
            lat.parse.value_at_quantile(0.50).into(),
        );
        v.insert(
            "parse_p99_ns".into(),
            lat.parse.value_at_quantile(0.99).into(),
        );
        json.insert(name.into(), v.into());
    }
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("feed_bench.json");
    let text = serde_json::Value::Object(json).to_string();
    match std::fs::write(&path, format!("{text}\n")) {
        Ok(()) => println!("feed bench: wrote {}", path.display()),
        Err(e) => eprintln!("feed bench: cannot write {}: {e}", path.display()),
    }
}
