//! Order lanes over loopback against a raw HTTP peer that never answers requests to `/hang`:
//! while an entry's reply hangs, an exit and other entries complete; with every entry
//! connection hung, entries are refused as back-pressure (counted) while exits still go out,
//! even past the exit queue's reserved capacity; the send/poll path allocates nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use calculus_trader::exec::{Lane, LaneConfig, OrderLanes, TransportError, TransportEvent};
use calculus_trader::telemetry::Clock;

mod common;
use common::alloc::counted;
common::alloc::install!();

const HANG: &[u8] = b"GET /hang HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
const OK: &[u8] = b"GET /ok HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

/// A keep-alive HTTP/1.1 peer on loopback: answers `200 ok` to every request head except
/// `GET /hang`, after which it holds the connection open without answering. Returns its URL.
fn peer() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(s) = s else { return };
            std::thread::spawn(move || serve(s));
        }
    });
    url
}

fn serve(s: TcpStream) {
    let mut w = s.try_clone().unwrap();
    let mut r = BufReader::new(s);
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let hang = line.starts_with("GET /hang ");
        loop {
            let mut h = String::new();
            if r.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
        }
        if hang {
            // Hold the connection: read until the client gives up and closes it.
            let mut rest = String::new();
            while r.read_line(&mut rest).unwrap_or(0) > 0 {}
            return;
        }
        let _ = w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
}

fn lanes(url: &str, entries: usize, queue: usize) -> OrderLanes {
    OrderLanes::new(
        url,
        LaneConfig::new(entries, queue),
        Duration::from_secs(30),
        Clock::new(),
        None,
    )
    .unwrap()
}

/// Polls until every tag in `want` has a response (or 10 s pass); returns tag → status.
fn wait_for(l: &mut OrderLanes, want: &[u64]) -> HashMap<u64, u16> {
    let mut got = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while want.iter().any(|t| !got.contains_key(t)) && Instant::now() < deadline {
        l.poll(Some(Duration::from_millis(50)), |ev| {
            if let TransportEvent::Response { tag, status, .. } = ev {
                got.insert(tag, status);
            }
        });
    }
    got
}

#[test]
fn exit_and_other_entries_complete_while_an_entry_reply_hangs() {
    let url = peer();
    let mut l = lanes(&url, 2, 4);
    l.send(Lane::Entry, 1, HANG).unwrap();
    l.send(Lane::Entry, 2, OK).unwrap();
    l.send(Lane::Exit, 3, OK).unwrap();
    l.send(Lane::Query, 4, OK).unwrap();
    let t0 = Instant::now();
    let got = wait_for(&mut l, &[2, 3, 4]);
    assert_eq!(got.get(&2), Some(&200), "{got:?}");
    assert_eq!(got.get(&3), Some(&200), "{got:?}");
    assert_eq!(got.get(&4), Some(&200), "{got:?}");
    assert!(!got.contains_key(&1), "the hung reply never came");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    // The hung entry holds one entry connection; the other takes the next entry.
    assert_eq!(l.lane_in_flight(Lane::Entry), 1);
    l.send(Lane::Entry, 5, OK).unwrap();
    assert_eq!(wait_for(&mut l, &[5]).get(&5), Some(&200));
    assert_eq!(l.lane_stats(Lane::Entry).refused, 0);
}

#[test]
fn saturated_entry_lane_refuses_entries_but_exits_go_out() {
    let url = peer();
    let mut l = lanes(&url, 2, 1);
    l.send(Lane::Entry, 1, HANG).unwrap();
    l.send(Lane::Entry, 2, HANG).unwrap();
    // Let both hung requests reach the peer.
    let until = Instant::now() + Duration::from_millis(200);
    while Instant::now() < until {
        l.poll(Some(Duration::from_millis(20)), |_| {});
    }
    // One reserved entry slot: the third entry waits, the next ones are refused.
    l.send(Lane::Entry, 9, OK).unwrap();
    assert!(!l.has_room(Lane::Entry) && l.has_room(Lane::Exit));
    for tag in 10..13 {
        assert!(matches!(
            l.send(Lane::Entry, tag, OK),
            Err(TransportError::QueueFull)
        ));
    }
    assert_eq!(l.lane_stats(Lane::Entry).refused, 3);
    // Five exits on two exit connections with one reserved queue slot: none refused.
    let exits: Vec<u64> = (20..25).collect();
    for &t in &exits {
        l.send(Lane::Exit, t, OK).unwrap();
    }
    let got = wait_for(&mut l, &exits);
    for t in &exits {
        assert_eq!(got.get(t), Some(&200), "exit {t}: {got:?}");
    }
    let s = l.lane_stats(Lane::Exit);
    assert_eq!((s.sent, s.refused), (5, 0));
    assert!(s.queued >= 3 && s.grown >= 2, "{s:?}");
    assert_eq!(l.lane_in_flight(Lane::Entry), 3);
    assert_eq!(l.lane_in_flight(Lane::Exit), 0);
}

#[test]
fn lane_send_and_poll_allocate_nothing_after_warm_up() {
    let url = peer();
    let mut l = lanes(&url, 2, 4);
    let mut tag = 0u64;
    let mut round = |l: &mut OrderLanes| -> u32 {
        let mut done = 0u32;
        for lane in [Lane::Entry, Lane::Exit, Lane::Exit, Lane::Exit, Lane::Query] {
            tag += 1;
            l.send(lane, tag, OK).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while done < 5 && Instant::now() < deadline {
            l.poll(Some(Duration::from_millis(50)), |ev| {
                if let TransportEvent::Response { status: 200, .. } = ev {
                    done += 1;
                }
            });
        }
        done
    };
    for _ in 0..20 {
        assert_eq!(round(&mut l), 5);
    }
    let (done, allocs) = counted(|| (0..50).map(|_| round(&mut l)).sum::<u32>());
    assert_eq!(done, 250);
    assert_eq!(allocs, 0, "allocations on the lane send/poll path");
    assert_eq!(l.lane_stats(Lane::Exit).grown, 0);
}

#[test]
fn an_exit_held_behind_its_entry_goes_out_once_the_entry_is_answered_or_failed() {
    let url = peer();
    let mut l = OrderLanes::new(
        &url,
        LaneConfig::new(2, 4),
        Duration::from_millis(600),
        Clock::new(),
        None,
    )
    .unwrap();
    l.send(Lane::Entry, 1, HANG).unwrap();
    l.send_after(Lane::Exit, 2, OK, Some(1)).unwrap();
    l.send(Lane::Exit, 3, OK).unwrap();
    let mut failed = Vec::new();
    let mut got = HashMap::new();
    let t0 = Instant::now();
    while !got.contains_key(&3) && t0.elapsed() < Duration::from_secs(10) {
        l.poll(Some(Duration::from_millis(20)), |ev| match ev {
            TransportEvent::Response { tag, status, .. } => {
                got.insert(tag, status);
            }
            TransportEvent::Failed { tag, .. } => failed.push(tag),
        });
    }
    assert_eq!(got.get(&3), Some(&200), "the other exit is not held");
    assert!(!got.contains_key(&2), "held until the entry's reply");
    while !got.contains_key(&2) && t0.elapsed() < Duration::from_secs(10) {
        l.poll(Some(Duration::from_millis(20)), |ev| match ev {
            TransportEvent::Response { tag, status, .. } => {
                got.insert(tag, status);
            }
            TransportEvent::Failed { tag, .. } => failed.push(tag),
        });
    }
    assert_eq!(failed, vec![1], "the hung entry timed out");
    assert_eq!(got.get(&2), Some(&200), "then the held exit went out");
    assert!(t0.elapsed() >= Duration::from_millis(600));
}
