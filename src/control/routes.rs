//! The control API's routes. Read-only: `GET /`, `/api/status`, `/api/settings`, `/api/stream`
//! (server-sent events, one status per second), `/metrics`. Control (POST, bearer token):
//! bot start/pause/resume/stop, emergency stop, circuit breaker, settings, symbols, closes.
//! Errors are `{"error": "..."}` with a status code; every control call is logged to stderr
//! with its time, source and action (never the token).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, MethodRouter};
use axum::{Json, Router};
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::auth::Token;
use super::{metrics, ControlHandle};
use crate::types::control::{Command, SettingsPatch};

/// The dashboard page.
const PAGE: &str = include_str!("page.html");

/// Largest request body accepted, bytes.
const MAX_BODY: usize = 16 * 1024;

/// Longest circuit breaker, minutes (one day).
pub const MAX_BREAKER_MINUTES: u32 = 1440;

/// Seconds between two events of `/api/stream`.
const STREAM_PERIOD: Duration = Duration::from_secs(1);

/// What every handler shares.
#[derive(Clone, Debug)]
pub(super) struct AppState {
    pub(super) handle: Arc<ControlHandle>,
    pub(super) token: Arc<Token>,
    /// `listen` is not loopback: the read-only API routes want the token too.
    pub(super) read_needs_token: bool,
}

/// A loopback `Host` header (`localhost`, `127.x.y.z`, `[::1]`, any port): on a loopback
/// listener anything else is a DNS-rebinding page reaching in through the operator's browser.
fn loopback_host(host: &[u8]) -> bool {
    let Ok(host) = std::str::from_utf8(host) else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// 421 unless the `Host` header names a loopback host (loopback listeners only).
async fn require_loopback_host(req: Request, next: Next) -> Response {
    let host = req.headers().get(header::HOST).map(HeaderValue::as_bytes);
    if host.is_some_and(loopback_host) {
        return next.run(req).await;
    }
    let e =
        "Host header is not a loopback name: use http://127.0.0.1:PORT/ or http://localhost:PORT/";
    ApiError(StatusCode::MISDIRECTED_REQUEST, e.into()).into_response()
}

/// An error answer: status code and `{"error": message}`.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

type Answer = Result<Json<serde_json::Value>, ApiError>;

/// Dashboard, read-only endpoints and the token-protected control endpoints (`listen`).
pub(super) fn full(state: AppState) -> Router {
    let mut api = read_api();
    if state.read_needs_token {
        api = api.route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    }
    let app = Router::new()
        .route("/", get(page))
        .merge(api)
        .merge(control_api(state.clone()))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY));
    let app = if state.read_needs_token {
        app
    } else {
        app.layer(middleware::from_fn(require_loopback_host))
    };
    app.with_state(state)
}

/// Dashboard and read-only endpoints only (`read_only_listen`): no POST route at all.
pub(super) fn read_only(state: AppState) -> Router {
    Router::new()
        .route("/", get(page))
        .merge(read_api())
        .fallback(not_found)
        .with_state(state)
}

fn read_api() -> Router<AppState> {
    Router::new()
        .route("/api/status", get(status))
        .route("/api/settings", get(settings))
        .route("/api/stream", get(stream))
        .route("/metrics", get(prometheus))
}

fn control_api(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/bot/start", command("start", Command::Start))
        .route("/api/bot/pause", command("pause", Command::Pause))
        .route("/api/bot/resume", command("resume", Command::Resume))
        .route("/api/bot/stop", command("stop", Command::Stop))
        .route(
            "/api/emergency-stop",
            command("emergency-stop", Command::EmergencyStop),
        )
        .route(
            "/api/positions/close-all",
            command("close-all", Command::CloseAll),
        )
        .route("/api/circuit-breaker", post(circuit_breaker))
        .route("/api/settings", post(change_settings))
        .route("/api/symbols/add", post(add_symbol))
        .route("/api/symbols/remove", post(remove_symbol))
        .route("/api/positions/close", post(close_position))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

/// 401 with `WWW-Authenticate: Bearer` unless the request carries the token.
async fn require_token(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if st.token.accepts(given) {
        return next.run(req).await;
    }
    let what = format!("{} {}", req.method(), req.uri().path());
    log(from, &what, "refused: missing or wrong bearer token");
    ApiError(
        StatusCode::UNAUTHORIZED,
        "missing or wrong bearer token".into(),
    )
    .into_response()
}

/// One control line on stderr: time, source, action, outcome.
fn log(from: SocketAddr, action: &str, outcome: &str) {
    let t = crate::telemetry::utc_timestamp(SystemTime::now());
    eprintln!("control {t} from {from}: {action}: {outcome}");
}

/// Queues `cmd` and logs it; 503 when the engine does not take commands.
fn send(st: &AppState, from: SocketAddr, action: &str, cmd: Command) -> Answer {
    match st.handle.send(cmd) {
        Ok(()) => {
            log(from, action, "queued");
            Ok(Json(serde_json::json!({ "ok": true, "queued": action })))
        }
        Err(e) => {
            log(from, action, &format!("failed: {e}"));
            Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e))
        }
    }
}

/// A POST route that queues a fixed command (the body is ignored).
fn command(action: &'static str, cmd: Command) -> MethodRouter<AppState> {
    post(
        move |State(st): State<AppState>, ConnectInfo(from): ConnectInfo<SocketAddr>| async move {
            send(&st, from, action, cmd)
        },
    )
}

/// A JSON body of type `T`; 400 naming the problem (unknown keys included).
fn body<T: DeserializeOwned>(from: SocketAddr, action: &str, b: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(b).map_err(|e| {
        log(from, action, &format!("refused: bad body: {e}"));
        ApiError(StatusCode::BAD_REQUEST, format!("bad request body: {e}"))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerBody {
    minutes: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SymbolBody {
    symbol: String,
}

/// `{"minutes": m}`, 1 ≤ m ≤ [`MAX_BREAKER_MINUTES`]: no entries until now + m·60 000 ms.
async fn circuit_breaker(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    b: Bytes,
) -> Answer {
    let action = "circuit-breaker";
    let m = body::<BreakerBody>(from, action, &b)?.minutes;
    if !(1..=MAX_BREAKER_MINUTES).contains(&m) {
        let e = format!("minutes = {m} is outside [1, {MAX_BREAKER_MINUTES}]");
        log(from, action, &format!("refused: {e}"));
        return Err(ApiError(StatusCode::BAD_REQUEST, e));
    }
    let now_ms = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let until_ms = now_ms + u64::from(m) * 60_000;
    send(
        &st,
        from,
        &format!("{action} {m} min"),
        Command::CircuitBreaker { until_ms },
    )
}

/// A [`SettingsPatch`] as JSON, validated (400 with the message).
async fn change_settings(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    b: Bytes,
) -> Answer {
    let p = body::<SettingsPatch>(from, "settings", &b)?;
    let given = serde_json::to_value(p).unwrap_or_default();
    let given: serde_json::Map<_, _> = given
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let action = format!("settings {}", serde_json::Value::Object(given));
    if let Err(e) = p.validate() {
        log(from, &action, &format!("refused: {e}"));
        return Err(ApiError(StatusCode::BAD_REQUEST, e));
    }
    send(&st, from, &action, Command::Settings(p))
}

/// The symbol of a `{"symbol": ..}` body and its id; 404 when not in the symbol table.
fn symbol_command(
    st: &AppState,
    from: SocketAddr,
    action: &str,
    b: &Bytes,
    make: fn(crate::types::SymbolId) -> Command,
) -> Answer {
    let name = body::<SymbolBody>(from, action, b)?.symbol;
    let action = format!("{action} {name}");
    let Some(id) = st.handle.symbol_id(&name) else {
        let e = format!("unknown symbol {name:?}: not in the engine's symbol table");
        log(from, &action, &format!("refused: {e}"));
        return Err(ApiError(StatusCode::NOT_FOUND, e));
    };
    send(st, from, &action, make(id))
}

/// Adds (`add`) or removes a symbol through the handle: market data (un)subscribed and the
/// engine told, in the handle's order; 404 when not in the symbol table.
fn symbol_change(st: &AppState, from: SocketAddr, b: &Bytes, add: bool) -> Answer {
    let action = if add { "add-symbol" } else { "remove-symbol" };
    let name = body::<SymbolBody>(from, action, b)?.symbol;
    let action = format!("{action} {name}");
    if st.handle.symbol_id(&name).is_none() {
        let e = format!("unknown symbol {name:?}: not in the engine's symbol table");
        log(from, &action, &format!("refused: {e}"));
        return Err(ApiError(StatusCode::NOT_FOUND, e));
    }
    let done = if add {
        st.handle.add_symbol(&name)
    } else {
        st.handle.remove_symbol(&name)
    };
    match done {
        Ok(_) => {
            log(from, &action, "queued");
            Ok(Json(serde_json::json!({ "ok": true, "queued": action })))
        }
        Err(e) => {
            log(from, &action, &format!("failed: {e}"));
            Err(ApiError(StatusCode::SERVICE_UNAVAILABLE, e))
        }
    }
}

async fn add_symbol(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    b: Bytes,
) -> Answer {
    symbol_change(&st, from, &b, true)
}

async fn remove_symbol(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    b: Bytes,
) -> Answer {
    symbol_change(&st, from, &b, false)
}

async fn close_position(
    State(st): State<AppState>,
    ConnectInfo(from): ConnectInfo<SocketAddr>,
    b: Bytes,
) -> Answer {
    symbol_command(&st, from, "close", &b, Command::ClosePosition)
}

async fn page() -> Response {
    let headers = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    ];
    (headers, PAGE).into_response()
}

async fn status(State(st): State<AppState>) -> Response {
    Json(st.handle.status()).into_response()
}

async fn settings(State(st): State<AppState>) -> Response {
    Json(st.handle.status().settings).into_response()
}

async fn prometheus(State(st): State<AppState>) -> Response {
    let text = metrics::render(&st.handle.status());
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response()
}

/// The status as one unnamed event per [`STREAM_PERIOD`] (the first at once).
async fn stream(State(st): State<AppState>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let mut every = tokio::time::interval(STREAM_PERIOD);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let events = futures_util::stream::unfold((st.handle, every), |(h, mut every)| async move {
        every.tick().await;
        let ev = Event::default()
            .json_data(h.status())
            .unwrap_or_else(|e| Event::default().event("error").data(e.to_string()));
        Some((Ok(ev), (h, every)))
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}

async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such endpoint".into())
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn loopback_hosts_only() {
        for ok in [
            "localhost",
            "LOCALHOST:8787",
            "127.0.0.1:1",
            "127.1.2.3",
            "[::1]:8787",
            "[::1]",
        ] {
            assert!(loopback_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "evil.example:8787",
            "10.0.0.1:8787",
            "localhost.evil.example",
            "[::2]:1",
            "",
        ] {
            assert!(!loopback_host(bad.as_bytes()), "{bad}");
        }
    }
}
