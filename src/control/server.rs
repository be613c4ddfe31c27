//! The control server: axum on a current-thread tokio runtime in its own cold thread (never
//! pinned). `listen` serves the dashboard, the read-only endpoints and the token-protected
//! control endpoints; the optional `read_only_listen` serves only the read-only ones.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::auth::Token;
use super::routes::{self, AppState};
use super::ControlHandle;

/// Port of the default `listen` (127.0.0.1).
pub const DEFAULT_PORT: u16 = 8787;
/// Default token file, relative to the working directory.
pub const DEFAULT_TOKEN_FILE: &str = "state/control.token";
/// Default environment variable of the token.
pub const DEFAULT_TOKEN_ENV: &str = "CT_CONTROL_TOKEN";

/// Where and how the control server listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// Dashboard, read-only and control endpoints. Loopback unless a token is set explicitly.
    pub listen: SocketAddr,
    /// Read-only endpoints only (GET), e.g. for a Prometheus on another host.
    pub read_only_listen: Option<SocketAddr>,
    /// Token file: read when it exists (mode 0600), else generated (loopback `listen` only).
    pub token_file: PathBuf,
    /// Environment variable holding the token; wins over the file when set.
    pub token_env: String,
}

/// A running control server; stopped by [`Server::stop`] or when dropped.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    read_only_addr: Option<SocketAddr>,
    token_note: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The dashboard's URL (`http://ADDR/`; an unspecified address shows as 127.0.0.1). The
    /// token is never part of it: open `URL#token=<token>` or paste it into the page.
    pub fn url(&self) -> String {
        let mut a = self.addr;
        if a.ip().is_unspecified() {
            a.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("http://{a}/")
    }

    /// The bound address of `listen` (the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound address of `read_only_listen`.
    pub fn read_only_addr(&self) -> Option<SocketAddr> {
        self.read_only_addr
    }

    /// Where the token is (`token in state/control.token`, `token from $VAR`); never the token.
    pub fn token_note(&self) -> &str {
        &self.token_note
    }

    /// Stops serving (open streams are cut) and joins the server thread.
    pub fn stop(self) {}
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Loads the token, binds the listeners and starts the server thread. Refuses a non-loopback
/// `listen` unless the token was set explicitly (environment or an existing 0600 file).
pub fn spawn(cfg: &ServerConfig, handle: Arc<ControlHandle>) -> Result<Server, String> {
    let token = load_token(cfg)?;
    let bind = |a: SocketAddr| {
        let l = TcpListener::bind(a).map_err(|e| format!("control server cannot bind {a}: {e}"))?;
        l.set_nonblocking(true)
            .map_err(|e| format!("control server listener {a}: {e}"))?;
        let local = l.local_addr().map_err(|e| e.to_string())?;
        Ok::<_, String>((l, local))
    };
    let (main, addr) = bind(cfg.listen)?;
    let read_only = cfg.read_only_listen.map(bind).transpose()?;
    let read_only_addr = read_only.as_ref().map(|(_, a)| *a);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| format!("control server runtime: {e}"))?;
    let token_note = token.describe();
    let state = AppState {
        handle,
        token: Arc::new(token),
        read_needs_token: !cfg.listen.ip().is_loopback(),
    };
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("control-http".into())
        .spawn(move || serve(rt, state, main, read_only.map(|(l, _)| l), rx))
        .map_err(|e| format!("cannot start the control server thread: {e}"))?;
    Ok(Server {
        addr,
        read_only_addr,
        token_note,
        shutdown: Some(tx),
        thread: Some(thread),
    })
}

/// Any token on loopback (generated at first start); an explicit one elsewhere.
fn load_token(cfg: &ServerConfig) -> Result<Token, String> {
    if cfg.listen.ip().is_loopback() {
        return Token::load_or_create(&cfg.token_env, &cfg.token_file);
    }
    if let Some(t) = Token::from_env(&cfg.token_env)? {
        return Ok(t);
    }
    Token::read_file(&cfg.token_file).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            format!(
                "control.listen = {} is not a loopback address: refused without a token set explicitly \
                 (set ${} or create {} with mode 0600)",
                cfg.listen,
                cfg.token_env,
                cfg.token_file.display()
            )
        } else {
            e.to_string()
        }
    })
}

/// The server thread: both listeners served until `shutdown` fires; dropping the runtime then
/// closes every connection, open event streams included.
fn serve(
    rt: tokio::runtime::Runtime,
    state: AppState,
    main: TcpListener,
    read_only: Option<TcpListener>,
    shutdown: oneshot::Receiver<()>,
) {
    rt.block_on(async move {
        let spawn_one =
            |l: TcpListener, app: axum::Router| match tokio::net::TcpListener::from_std(l) {
                Ok(l) => {
                    let svc = app.into_make_service_with_connect_info::<SocketAddr>();
                    tokio::spawn(async move { axum::serve(l, svc).await });
                }
                Err(e) => eprintln!("control server: listener failed: {e}"),
            };
        spawn_one(main, routes::full(state.clone()));
        if let Some(l) = read_only {
            spawn_one(l, routes::read_only(state));
        }
        let _ = shutdown.await;
    });
}
