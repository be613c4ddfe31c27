//! A test CA for `localhost` and a TLS-terminating proxy on loopback: a venue simulator
//! (the embedded exchange's WebSocket + REST port, or its order port) served over TLS, so a
//! run can go to `https://localhost:…` / `wss://localhost:…` exactly as to a real venue.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A self-signed certificate for `localhost` (its own CA) with its key.
pub struct TestCa {
    /// The certificate, PEM (what `venue.ca_file` points at).
    pub pem: String,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
}

impl TestCa {
    /// A fresh CA.
    pub fn new() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        Self {
            pem: ck.cert.pem(),
            cert: ck.cert.der().clone(),
            key: ck.signing_key.serialize_der(),
        }
    }

    /// Writes the PEM to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.pem).unwrap();
    }

    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = rustls::pki_types::PrivateKeyDer::Pkcs8(
            rustls::pki_types::PrivatePkcs8KeyDer::from(self.key.clone()),
        );
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![self.cert.clone()], key)
                .unwrap(),
        )
    }
}

/// A TLS front for a plain loopback server: every accepted connection is decrypted and
/// relayed to `backend` (one thread per connection). Stops with the value.
pub struct TlsProxy {
    /// The port to connect to (`https://localhost:port`).
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl TlsProxy {
    /// Serves `ca`'s certificate on a free loopback port, relaying to `backend`.
    pub fn start(ca: &TestCa, backend: SocketAddr) -> Self {
        let cfg = ca.server_config();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((tcp, _)) => {
                        let (cfg, flag) = (cfg.clone(), flag.clone());
                        std::thread::spawn(move || relay(tcp, backend, cfg, &flag));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Self { port, stop }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn idle(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Relays one client: TLS side ↔ plain backend, polling both with a 1 ms read timeout.
fn relay(tcp: TcpStream, backend: SocketAddr, cfg: Arc<rustls::ServerConfig>, stop: &AtomicBool) {
    let Ok(mut plain) = TcpStream::connect(backend) else {
        return;
    };
    let tick = Some(Duration::from_millis(1));
    tcp.set_nodelay(true).ok();
    plain.set_nodelay(true).ok();
    tcp.set_read_timeout(tick).unwrap();
    plain.set_read_timeout(tick).unwrap();
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(cfg).unwrap(), tcp);
    let mut buf = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if plain.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return, // a failed handshake (the client does not trust us) or a reset
        }
        match plain.read(&mut buf) {
            Ok(0) => {
                tls.conn.send_close_notify();
                let _ = tls.flush();
                return;
            }
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}
