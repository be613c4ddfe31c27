//! How the feed's event loop (`feed::conn::Connections`) hands frames on when a server sends
//! faster than one poll reads: over loopback, against a raw server that writes a burst of
//! frames right after the WebSocket upgrade (before the client's subscribe arrives), then the
//! end-of-replay close.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use calculus_trader::feed::conn::{ConnEvent, ConnSettings, Connections};
use calculus_trader::feed::protocol::{plan_links, Venue};
use calculus_trader::feed::ws::{WsTarget, MAX_FRAMES_PER_DRIVE};
use calculus_trader::feed::SymbolTable;
use calculus_trader::ring::{channel, Consumer};
use calculus_trader::telemetry::Clock;
use tungstenite::Message;

const END: u16 = 4000;
const LIMIT: Duration = Duration::from_secs(30);

/// Accepts one client, upgrades, writes `n` frames `{"n":i}` in one burst and the close code
/// [`END`], then reports the first text message the client sent.
fn burst_server(n: usize) -> (u16, mpsc::Receiver<String>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        let mut burst = Vec::new();
        for i in 0..n {
            let p = format!("{{\"n\":{i}}}");
            burst.extend_from_slice(&[0x81, p.len() as u8]);
            burst.extend_from_slice(p.as_bytes());
        }
        let code = END.to_be_bytes();
        burst.extend_from_slice(&[0x88, 2, code[0], code[1]]);
        std::io::Write::write_all(ws.get_mut(), &burst).unwrap();
        loop {
            match ws.read() {
                Ok(Message::Text(t)) => {
                    let _ = tx.send(t.as_str().to_string());
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    break
                }
                Err(_) => break,
            }
        }
    });
    (port, rx, h)
}

/// One Binance BTCUSDT trade link to the loopback server on `port` (long heartbeat and dead
/// timeouts, 10..100 ms backoff without jitter, `END` as the end-of-replay close code), and
/// the consumer of its log ring (kept alive by the caller).
fn binance_btc_link(port: u16) -> (Connections, Consumer<String>) {
    let symbols = SymbolTable::new(&["BTCUSDT"]).unwrap();
    let plans = plan_links(Venue::Binance, &symbols, &["trade".to_string()], 200);
    let (logs, log_rx) = channel::<String>(64).unwrap();
    let target = WsTarget::new(&format!("ws://127.0.0.1:{port}/stream"), None).unwrap();
    let conns = Connections::new(
        target,
        plans,
        ConnSettings {
            venue: Venue::Binance,
            heartbeat_ns: 20_000_000_000,
            dead_after_ns: 20_000_000_000,
            connect_timeout_ns: 10_000_000_000,
            backoff_base_ms: 10,
            backoff_cap_ms: 100,
            backoff_jitter: 0.0,
            end_close_code: Some(END),
        },
        Clock::new(),
        logs,
    )
    .unwrap();
    (conns, log_rx)
}

#[derive(Debug, PartialEq)]
enum Seen {
    Up,
    Frame(usize),
    Down { ended: bool },
}

#[test]
fn a_burst_after_the_upgrade_is_delivered_after_up_and_subscribe_in_bounded_slices() {
    let n = 5_000;
    let (port, subscribed, server) = burst_server(n);
    let (mut conns, _log_rx) = binance_btc_link(port);
    let mut seen = Vec::new();
    let mut most_frames_per_poll = 0;
    let t0 = Instant::now();
    while !conns.all_ended() {
        let mut frames = 0;
        conns
            .poll(Some(Duration::from_millis(5)), |ev| match ev {
                ConnEvent::Up { .. } => seen.push(Seen::Up),
                ConnEvent::Frame { data, .. } => {
                    frames += 1;
                    let text = std::str::from_utf8(data).unwrap();
                    let i = text
                        .trim_start_matches("{\"n\":")
                        .trim_end_matches('}')
                        .parse()
                        .unwrap();
                    seen.push(Seen::Frame(i));
                }
                ConnEvent::Down { ended, .. } => seen.push(Seen::Down { ended }),
            })
            .unwrap();
        most_frames_per_poll = most_frames_per_poll.max(frames);
        assert!(t0.elapsed() < LIMIT, "feed did not end: {seen:?}");
    }
    let s = conns.stats();
    assert_eq!(
        (s.connects, s.subscribes, s.disconnects, s.connect_failures),
        (1, 1, 0, 0),
        "one clean session: {s:?}"
    );
    // Up (and the subscription) come before the first frame, then every frame in order, then
    // the end of the replay.
    assert_eq!(seen.first(), Some(&Seen::Up));
    assert_eq!(seen.last(), Some(&Seen::Down { ended: true }));
    let frames: Vec<usize> = seen
        .iter()
        .filter_map(|e| match e {
            Seen::Frame(i) => Some(*i),
            _ => None,
        })
        .collect();
    assert_eq!(frames, (0..n).collect::<Vec<_>>());
    assert_eq!(seen.len(), n + 2);
    // One poll never hands on more than a drive's worth of frames per link.
    assert!(
        most_frames_per_poll <= MAX_FRAMES_PER_DRIVE as usize,
        "{most_frames_per_poll} frames in one poll"
    );
    let sub = subscribed
        .recv_timeout(Duration::from_secs(10))
        .expect("the client subscribed");
    assert_eq!(
        sub,
        r#"{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}"#
    );
    drop(conns);
    server.join().unwrap();
}

/// Accepts one client, upgrades, then after each pause of `idle` writes one frame `{"n":i}`
/// (`n` frames), then the close code [`END`].
fn idle_server(n: usize, idle: Duration) -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let h = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        let mut ws = tungstenite::accept(tcp).unwrap();
        for i in 0..n {
            std::thread::sleep(idle);
            ws.send(Message::text(format!("{{\"n\":{i}}}"))).unwrap();
        }
        let close = tungstenite::protocol::CloseFrame {
            code: END.into(),
            reason: "".into(),
        };
        let _ = ws.close(Some(close));
        let _ = ws.flush();
        // Drain until the client goes away.
        while ws.read().is_ok() {}
    });
    (port, h)
}

#[test]
fn a_spinning_loop_serves_a_socket_that_becomes_readable_after_idle_without_epoll_per_poll() {
    let n = 5;
    let (port, server) = idle_server(n, Duration::from_millis(50));
    let (mut conns, _log_rx) = binance_btc_link(port);
    let mut frames = Vec::new();
    let mut polls_open = 0u64;
    let mut at_open = None;
    let t0 = Instant::now();
    while !conns.all_ended() {
        // Spinning: never wait in the poll.
        conns
            .poll(None, |ev| {
                if let ConnEvent::Frame { data, .. } = ev {
                    frames.push(String::from_utf8(data.to_vec()).unwrap());
                }
            })
            .unwrap();
        if conns.link_open(0) {
            let s = conns.stats();
            at_open.get_or_insert((s.epoll_waits, s.socket_reads, Instant::now()));
            polls_open += 1;
        }
        assert!(t0.elapsed() < LIMIT, "feed did not end: {frames:?}");
    }
    // Every frame that arrived after an idle pause was read.
    let want: Vec<String> = (0..n).map(|i| format!("{{\"n\":{i}}}")).collect();
    assert_eq!(frames, want);
    let s = conns.stats();
    assert_eq!((s.connects, s.disconnects), (1, 0), "{s:?}");
    // Once open, readiness came from the reads, not from one epoll_wait per poll: epoll_wait
    // ran at most once per millisecond (the timer tick) while the loop polled far more often.
    let (epoll0, reads0, opened) = at_open.expect("the link opened");
    let open_ms = opened.elapsed().as_millis() as u64;
    let epolls = s.epoll_waits - epoll0;
    let reads = s.socket_reads - reads0;
    assert!(
        polls_open > 10 * epolls.max(1),
        "{polls_open} polls while open, {epolls} epoll_wait calls"
    );
    assert!(
        epolls <= open_ms + 2,
        "{epolls} epoll_wait calls in {open_ms} ms"
    );
    assert!(reads >= polls_open, "{reads} reads over {polls_open} polls");
    drop(conns);
    server.join().unwrap();
}
