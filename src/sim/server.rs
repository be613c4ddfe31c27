//! Loopback WebSocket server speaking Binance USD-M's combined-stream protocol: a client
//! subscribes (`{"method":"SUBSCRIBE","params":["btcusdt@trade"],"id":1}` or `/stream?streams=`),
//! gets `{"result":null,"id":1}`, then the recorded frames of its streams, byte for byte, at the
//! recorded pace divided by `speed` (0 = as fast as the socket takes them), then a close frame.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tungstenite::handshake::server::{Request, Response};
use tungstenite::{Message, WebSocket};

use super::recording::Recording;

/// Counters of the replay, readable from any thread.
#[derive(Debug, Default)]
pub struct ReplayStats {
    /// Frames written to clients.
    pub frames_sent: AtomicU64,
    /// Frames that the subscribed streams hold in total (set when a client subscribes).
    pub frames_total: AtomicU64,
    /// Client connections accepted.
    pub connections: AtomicU64,
    /// Last replayed trade per symbol, updated just before each frame is sent (order matching).
    pub market: super::market::MarketState,
}

/// A running embedded exchange. Dropping it stops the server thread.
pub struct EmbeddedExchange {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    stats: Arc<ReplayStats>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Deserialize)]
struct Request_ {
    method: String,
    #[serde(default)]
    params: Vec<String>,
    id: Option<u64>,
}

impl EmbeddedExchange {
    /// Binds `bind` (use port 0 for an ephemeral port) and serves `recording` at `speed`.
    /// Serves one client session at a time; the replay position carries over to the next
    /// session (a reconnecting client resumes where the market is, as on a real venue).
    pub fn start(bind: SocketAddr, recording: Arc<Recording>, speed: f64) -> std::io::Result<Self> {
        if !bind.ip().is_loopback() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("the embedded exchange binds loopback addresses only, not {bind}"),
            ));
        }
        let listener = TcpListener::bind(bind)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let stats = Arc::new(ReplayStats::default());
        let (s2, st2) = (stop.clone(), stats.clone());
        let thread = std::thread::Builder::new()
            .name("sim-exchange".into())
            .spawn(move || serve(listener, recording, speed, s2, st2))?;
        Ok(Self {
            addr,
            stop,
            stats,
            thread: Some(thread),
        })
    }

    /// The combined-stream URL clients connect to.
    pub fn url(&self) -> String {
        format!("ws://{}/stream", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replay counters.
    pub fn stats(&self) -> Arc<ReplayStats> {
        self.stats.clone()
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for EmbeddedExchange {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn serve(
    listener: TcpListener,
    rec: Arc<Recording>,
    speed: f64,
    stop: Arc<AtomicBool>,
    stats: Arc<ReplayStats>,
) {
    let mut cursor = 0usize;
    let mut clock: Option<(Instant, u64)> = None;
    while !stop.load(Ordering::Relaxed) && cursor < rec.frames.len() {
        match listener.accept() {
            Ok((stream, _)) => {
                stats.connections.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = session(stream, &rec, speed, &stop, &stats, &mut cursor, &mut clock)
                {
                    eprintln!("embedded exchange: session ended: {e}");
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(2))
            }
            Err(e) => {
                eprintln!("embedded exchange: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

#[allow(clippy::result_large_err)] // tungstenite's callback signature, not ours
fn session(
    stream: TcpStream,
    rec: &Recording,
    speed: f64,
    stop: &AtomicBool,
    stats: &ReplayStats,
    cursor: &mut usize,
    clock: &mut Option<(Instant, u64)>,
) -> Result<(), String> {
    stream.set_nonblocking(false).map_err(|e| e.to_string())?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut subscribed = vec![false; rec.streams.len()];
    let mut path_streams = String::new();
    let mut ws = tungstenite::accept_hdr(stream, |req: &Request, resp: Response| {
        if let Some(q) = req.uri().query() {
            if let Some(list) = q.split('&').find_map(|kv| kv.strip_prefix("streams=")) {
                path_streams = list.to_string();
            }
        }
        Ok(resp)
    })
    .map_err(|e| format!("handshake: {e}"))?;
    let mut any = false;
    for s in path_streams.split('/').filter(|s| !s.is_empty()) {
        any |= subscribe(rec, &mut subscribed, s);
    }
    // Wait for a SUBSCRIBE unless the URL already named streams.
    while !any {
        match ws.read() {
            Ok(Message::Text(t)) => match serde_json::from_str::<Request_>(t.as_str()) {
                Ok(r) if r.method == "SUBSCRIBE" => {
                    for p in &r.params {
                        any |= subscribe(rec, &mut subscribed, p);
                    }
                    let id = r.id.map_or("null".to_string(), |i| i.to_string());
                    send(&mut ws, format!("{{\"result\":null,\"id\":{id}}}"))?;
                }
                _ => send(
                    &mut ws,
                    "{\"error\":{\"code\":2,\"msg\":\"Invalid request\"},\"id\":null}".to_string(),
                )?,
            },
            Ok(Message::Close(_)) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("waiting for SUBSCRIBE: {e}")),
        }
    }
    stats
        .frames_total
        .store(rec.count_in(&subscribed) as u64, Ordering::Relaxed);
    let (start, ts0) = *clock.get_or_insert_with(|| (Instant::now(), rec.frames[*cursor].recv_ns));
    let mut unflushed = 0usize;
    while *cursor < rec.frames.len() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let f = &rec.frames[*cursor];
        if !subscribed[f.stream as usize] {
            *cursor += 1;
            continue;
        }
        if speed > 0.0 {
            let due =
                Duration::from_secs_f64((f.recv_ns.saturating_sub(ts0)) as f64 * 1e-9 / speed);
            let elapsed = start.elapsed();
            if due > elapsed {
                if unflushed > 0 {
                    ws.flush().map_err(|e| format!("flush: {e}"))?;
                    unflushed = 0;
                }
                // Sleep (never spin: this thread shares a core with the hot thread on small hosts).
                std::thread::sleep(due - elapsed);
            }
        }
        stats.market.on_frame(&f.text);
        match ws.write(Message::text(f.text.as_str())) {
            Ok(()) => {}
            Err(e) => return Err(format!("write: {e}")),
        }
        unflushed += 1;
        if unflushed >= 64 {
            ws.flush().map_err(|e| format!("flush: {e}"))?;
            unflushed = 0;
        }
        *cursor += 1;
        stats.frames_sent.fetch_add(1, Ordering::Relaxed);
    }
    ws.flush().map_err(|e| format!("flush: {e}"))?;
    // End of the recording (or stop): close cleanly and wait briefly for the client's close.
    let _ = ws.close(None);
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        match ws.read() {
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(())
}

fn subscribe(rec: &Recording, subscribed: &mut [bool], stream: &str) -> bool {
    match rec.stream_index(&stream.to_ascii_lowercase()) {
        Some(i) => {
            subscribed[i as usize] = true;
            true
        }
        None => false,
    }
}

fn send(ws: &mut WebSocket<TcpStream>, text: String) -> Result<(), String> {
    ws.send(Message::text(text))
        .map_err(|e| format!("send: {e}"))
}
