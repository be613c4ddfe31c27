//! TLS for `wss://` feeds: rustls (ring provider, Mozilla roots from `webpki-roots`) driven
//! non-blockingly over the same mio stream as plain WebSockets.
//!
//! [`TlsStream`] is a `Read + Write` over a non-blocking socket: `read` returns plaintext that
//! rustls already decrypted, else pulls ciphertext from the socket until it has some or the
//! socket says `WouldBlock` (which reaches tungstenite unchanged, so the handshake and framing
//! are driven by readiness exactly as for plain TCP). Pending TLS output (handshake records,
//! alerts, encrypted frames) is written whenever the stream is touched.

use std::io::{self, Read, Write};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// The Mozilla root set (`webpki-roots`), the trust anchors for real venues.
pub fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A client config trusting `roots`, TLS 1.2/1.3 with the ring provider.
pub fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS config: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(cfg))
}

/// The webpki roots plus every certificate of the PEM file `extra` (a private CA, or the
/// self-signed certificate of a loopback test server). Cold path.
pub fn client_config_with_pem(
    extra: Option<&std::path::Path>,
) -> Result<Arc<ClientConfig>, String> {
    let mut roots = webpki_roots();
    if let Some(path) = extra {
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        for der in parse_pem_certs(&pem).map_err(|e| format!("{}: {e}", path.display()))? {
            roots
                .add(der)
                .map_err(|e| format!("{}: bad certificate: {e}", path.display()))?;
        }
    }
    client_config(roots)
}

/// Every `CERTIFICATE` block of a PEM text, DER-decoded.
pub fn parse_pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("bad PEM: {e}"))
        .and_then(|v| {
            if v.is_empty() {
                Err("no CERTIFICATE block in PEM".to_string())
            } else {
                Ok(v)
            }
        })
}

/// A rustls client session over a non-blocking socket `S`.
#[derive(Debug)]
pub struct TlsStream<S> {
    conn: ClientConnection,
    sock: S,
}

impl<S: Read + Write> TlsStream<S> {
    /// Starts a session to `host` (SNI and certificate name) over `sock`.
    pub fn new(config: Arc<ClientConfig>, host: &str, sock: S) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| format!("TLS server name {host:?}: {e}"))?;
        let conn = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        Ok(Self { conn, sock })
    }

    /// The socket under the session.
    pub fn get_ref(&self) -> &S {
        &self.sock
    }

    /// The socket under the session.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.sock
    }

    /// Whether the TLS handshake is still in progress.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Writes pending TLS records until none is left or the socket would block.
    fn write_pending(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.sock)?;
        }
        Ok(())
    }
}

fn would_block(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::WouldBlock
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            match self.write_pending() {
                Ok(()) => {}
                Err(e) if would_block(&e) => {}
                Err(e) => return Err(e),
            }
            // No plaintext yet: pull ciphertext (WouldBlock goes up to the caller).
            let n = self.conn.read_tls(&mut self.sock)?;
            let state = self.conn.process_new_packets().map_err(|e| {
                // Send the alert rustls queued, best effort.
                let _ = self.write_pending();
                io::Error::new(io::ErrorKind::InvalidData, e)
            })?;
            if n == 0 && state.plaintext_bytes_to_read() == 0 {
                // TCP EOF: the reader reports a clean close_notify (0) or UnexpectedEof.
                return self.conn.reader().read(buf);
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(buf)?;
        match self.write_pending() {
            Ok(()) => {}
            Err(e) if would_block(&e) => {}
            Err(e) => return Err(e),
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.conn.writer().flush()?;
        self.write_pending()?;
        self.sock.flush()
    }
}

/// The trust of every venue connection (market data, orders, REST fallback, spec and account
/// queries): the Mozilla roots plus the certificates of `venue.ca_file` (a testnet proxy's or a
/// loopback simulator's CA). Cold path: built once at start-up.
#[derive(Clone, Debug, Default)]
pub struct VenueTrust {
    extra: Vec<CertificateDer<'static>>,
}

impl VenueTrust {
    /// The Mozilla roots plus every certificate of the PEM file `ca_file` (none: roots only).
    pub fn load(ca_file: Option<&std::path::Path>) -> Result<Self, String> {
        let Some(path) = ca_file else {
            return Ok(Self::default());
        };
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let extra = parse_pem_certs(&pem).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Self { extra })
    }

    /// The mio connections' rustls config: Mozilla roots plus the extra CA.
    pub fn rustls(&self) -> Result<Arc<ClientConfig>, String> {
        let mut roots = webpki_roots();
        for der in &self.extra {
            roots
                .add(der.clone())
                .map_err(|e| format!("CA file: bad certificate: {e}"))?;
        }
        client_config(roots)
    }

    /// The blocking clients' (ureq) TLS settings: the Mozilla roots, or, with an extra CA, that
    /// CA alone (ureq takes either its bundled roots or a given set, not both).
    pub fn ureq(&self) -> ureq::tls::TlsConfig {
        let b = ureq::tls::TlsConfig::builder();
        if self.extra.is_empty() {
            return b.build();
        }
        let certs: Vec<ureq::tls::Certificate<'static>> = self
            .extra
            .iter()
            .map(|d| ureq::tls::Certificate::from_der(d.as_ref()).to_owned())
            .collect();
        b.root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build()
    }
}

/// A blocking client's error, with a TLS failure said as such and naming `host`
/// (`TLS failure talking to <host>: <reason>`). Cold path.
pub fn describe_ureq_error(host: &str, e: &ureq::Error) -> String {
    let tls = match e {
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|i| i.downcast_ref::<rustls::Error>())
            .map(|t| t.to_string()),
        ureq::Error::Tls(m) => Some(m.to_string()),
        _ => None,
    };
    match tls {
        Some(reason) => format!("TLS failure talking to {host}: {reason}"),
        None => e.to_string(),
    }
}
