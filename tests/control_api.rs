//! The control API over real loopback HTTP: the token on every control route, commands arriving
//! on the engine's ring, request validation, the event stream, the read-only listener, the
//! token file's rules, `/metrics` through Prometheus's own Python parser, and the page.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::control::{self, ControlHandle, Server, ServerConfig};
use calculus_trader::ring::{channel, Consumer};
use calculus_trader::types::control::{
    Command, FeedView, LimitView, Settings, SettingsPatch, StageView, StatusView, SymbolView,
};
use calculus_trader::types::SymbolId;

/// Environment variable that no test sets: tokens come from files here.
const NO_ENV: &str = "CT_TEST_CONTROL_TOKEN_NEVER_SET";

struct Rig {
    server: Server,
    rx: Consumer<Command>,
    handle: Arc<ControlHandle>,
    token: String,
    token_file: PathBuf,
    base: String,
}

fn config(dir: &Path) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        read_only_listen: None,
        token_file: dir.join("state/control.token"),
        token_env: NO_ENV.into(),
    }
}

fn start_with(cfg: &ServerConfig) -> Rig {
    let (tx, rx) = channel::<Command>(64).unwrap();
    let handle = Arc::new(ControlHandle::new(tx));
    handle.publish(sample_status());
    let server = control::spawn(cfg, handle.clone()).unwrap();
    let token = std::fs::read_to_string(&cfg.token_file)
        .unwrap()
        .trim()
        .to_string();
    let base = format!("http://{}", server.local_addr());
    Rig {
        server,
        rx,
        handle,
        token,
        token_file: cfg.token_file.clone(),
        base,
    }
}

fn start(tag: &str) -> Rig {
    start_with(&config(&common::files::temp_dir(tag)))
}

fn sample_status() -> StatusView {
    let mut s = StatusView {
        mode: "embedded".into(),
        venue: "binance".into(),
        state: "running".into(),
        balance: "10000".into(),
        equity: "10012.5".into(),
        drawdown: "0.01".into(),
        settings: Settings {
            tp_pct: 0.8,
            sl_pct: 0.5,
            max_positions: 5,
            position_notional: 1000.0,
            leverage_cap: 5.0,
            risk_per_trade: 0.01,
        },
        ..Default::default()
    };
    for sym in ["BTCUSDT", "ETHUSDT"] {
        s.symbols.push(SymbolView {
            symbol: sym.into(),
            active: true,
            price: 60_000.0,
            position: "0.5".into(),
            unrealized_pnl: "12.5".into(),
            layers: vec![("ou".into(), true)],
            ..Default::default()
        });
        s.feeds.push(FeedView {
            symbol: sym.into(),
            state: "live".into(),
        });
    }
    s.limits.push(LimitView {
        name: "daily_loss".into(),
        limit: "500".into(),
        used: "12.5".into(),
    });
    s.counters.insert("orders_sent".into(), 4);
    s.counters.insert("blocked_ou".into(), 2);
    s.stages.push(StageView {
        stage: "compute".into(),
        count: 1000,
        p50_ns: 800,
        p99_ns: 2_500,
        p999_ns: 9_000,
    });
    s
}

/// One answer: status, `WWW-Authenticate`, `Content-Type`, body.
struct Answer {
    status: u16,
    www_auth: Option<String>,
    content_type: String,
    body: String,
}

fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let auth = token.map(|t| format!("Bearer {t}"));
    let sent = if method == "GET" {
        let mut r = agent.get(url);
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        r.call()
    } else {
        let mut r = agent.post(url).header("Content-Type", "application/json");
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        match body {
            Some(b) => r.send(b),
            None => r.send_empty(),
        }
    };
    let mut resp = sent.unwrap();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let www_auth = header("www-authenticate");
    let content_type = header("content-type").unwrap_or_default();
    Answer {
        status: resp.status().as_u16(),
        www_auth,
        content_type,
        body: resp.body_mut().read_to_string().unwrap(),
    }
}

fn error_of(a: &Answer) -> String {
    let v: serde_json::Value = serde_json::from_str(&a.body).expect(&a.body);
    v["error"].as_str().expect(&a.body).to_string()
}

fn drain(rx: &mut Consumer<Command>) -> Vec<Command> {
    std::iter::from_fn(|| rx.pop()).collect()
}

/// Every POST route with a body it accepts (symbols known to the sample status).
const POSTS: [(&str, Option<&str>); 12] = [
    ("/api/bot/start", None),
    ("/api/bot/pause", None),
    ("/api/bot/resume", None),
    ("/api/bot/stop", None),
    ("/api/emergency-stop", None),
    ("/api/circuit-breaker", Some(r#"{"minutes": 15}"#)),
    ("/api/settings", Some(r#"{"tp_pct": 1.2}"#)),
    ("/api/symbols/add", Some(r#"{"symbol": "ETHUSDT"}"#)),
    ("/api/symbols/remove", Some(r#"{"symbol": "btcusdt"}"#)),
    ("/api/positions/close", Some(r#"{"symbol": "ETHUSDT"}"#)),
    ("/api/positions/close-all", None),
    ("/api/bot/pause", Some("{}")),
];

#[test]
fn every_control_route_wants_the_token() {
    let mut r = start("control-401");
    for (path, body) in POSTS {
        let url = format!("{}{path}", r.base);
        let wrong = format!("{}x", r.token);
        for token in [None, Some(wrong.as_str()), Some("")] {
            let a = call("POST", &url, token, body);
            assert_eq!(a.status, 401, "{path} {token:?}: {}", a.body);
            assert_eq!(a.www_auth.as_deref(), Some("Bearer"), "{path}");
            assert!(error_of(&a).contains("token"), "{path}: {}", a.body);
            assert!(!a.body.contains(&r.token));
        }
    }
    assert_eq!(
        drain(&mut r.rx),
        vec![],
        "no refused call reaches the engine"
    );
    r.server.stop();
}

#[test]
fn control_calls_with_the_token_queue_their_command() {
    let mut r = start("control-200");
    let before = common::values::now_ms();
    for (path, body) in POSTS {
        let a = call("POST", &format!("{}{path}", r.base), Some(&r.token), body);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        assert!(a.content_type.starts_with("application/json"), "{path}");
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        assert_eq!(v["ok"], true, "{path}");
    }
    let after = common::values::now_ms();
    let got = drain(&mut r.rx);
    assert_eq!(got.len(), POSTS.len(), "{got:?}");
    let Command::CircuitBreaker { until_ms } = got[5] else {
        panic!("{:?}", got[5]);
    };
    assert!((before + 15 * 60_000..=after + 15 * 60_000).contains(&until_ms));
    let patch = SettingsPatch {
        tp_pct: Some(1.2),
        ..Default::default()
    };
    let want = [
        Command::Start,
        Command::Pause,
        Command::Resume,
        Command::Stop,
        Command::EmergencyStop,
        got[5],
        Command::Settings(patch),
        Command::AddSymbol(SymbolId(1)),
        Command::RemoveSymbol(SymbolId(0)),
        Command::ClosePosition(SymbolId(1)),
        Command::CloseAll,
        Command::Pause,
    ];
    assert_eq!(got, want);
    drop(r.handle);
}

#[test]
fn bad_requests_are_refused_with_their_reason() {
    let mut r = start("control-400");
    let post = |path: &str, body: &str| {
        call(
            "POST",
            &format!("{}{path}", r.base),
            Some(&r.token),
            Some(body),
        )
    };
    let cases = [
        (
            "/api/settings",
            r#"{"sl_pct": 75}"#,
            400,
            "sl_pct = 75 is outside",
        ),
        (
            "/api/settings",
            r#"{"leverage_cap": 0.5}"#,
            400,
            "leverage_cap",
        ),
        ("/api/settings", r#"{"tp": 1}"#, 400, "unknown field"),
        ("/api/settings", "{}", 400, "no setting given"),
        ("/api/settings", "not json", 400, "bad request body"),
        (
            "/api/circuit-breaker",
            r#"{"minutes": 0}"#,
            400,
            "outside [1, 1440]",
        ),
        (
            "/api/circuit-breaker",
            r#"{"minutes": 1441}"#,
            400,
            "outside [1, 1440]",
        ),
        (
            "/api/circuit-breaker",
            r#"{"minutes": -3}"#,
            400,
            "bad request body",
        ),
        (
            "/api/symbols/add",
            r#"{"symbol": "DOGEUSDT"}"#,
            404,
            "unknown symbol \"DOGEUSDT\"",
        ),
        (
            "/api/positions/close",
            r#"{"symbol": "XRPUSDT"}"#,
            404,
            "unknown symbol",
        ),
        (
            "/api/symbols/remove",
            r#"{"sym": "BTCUSDT"}"#,
            400,
            "unknown field",
        ),
    ];
    for (path, body, status, msg) in cases {
        let a = post(path, body);
        assert_eq!(a.status, status, "{path} {body}: {}", a.body);
        assert!(error_of(&a).contains(msg), "{path} {body}: {}", a.body);
    }
    let a = call("GET", &format!("{}/api/nothing", r.base), None, None);
    assert_eq!((a.status, error_of(&a).as_str()), (404, "no such endpoint"));
    assert_eq!(
        drain(&mut r.rx),
        vec![],
        "nothing invalid reaches the engine"
    );
}

#[test]
fn status_and_settings_are_the_published_view() {
    let r = start("control-status");
    let a = call("GET", &format!("{}/api/status", r.base), None, None);
    assert_eq!(a.status, 200, "{}", a.body);
    let got: StatusView = serde_json::from_str(&a.body).unwrap();
    assert_eq!(got, sample_status());
    assert!(!a.body.contains(&r.token));
    let a = call("GET", &format!("{}/api/settings", r.base), None, None);
    let s: Settings = serde_json::from_str(&a.body).unwrap();
    assert_eq!(s, sample_status().settings);
    let mut v = sample_status();
    v.state = "paused".into();
    r.handle.publish(v);
    let a = call("GET", &format!("{}/api/status", r.base), None, None);
    assert!(a.body.contains(r#""state":"paused""#), "{}", a.body);
}

/// Reads server-sent events from `/api/stream` until `want` of them arrived or `deadline`.
fn read_events(
    addr: SocketAddr,
    want: usize,
    deadline: Duration,
    mut each: impl FnMut(usize),
) -> Vec<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    write!(
        s,
        "GET /api/stream HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let mut lines = BufReader::new(s);
    let (mut events, mut line, start) = (Vec::new(), String::new(), Instant::now());
    while events.len() < want && start.elapsed() < deadline {
        line.clear();
        match lines.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(d) = line.trim_end().strip_prefix("data: ") {
                    events.push(d.to_string());
                    each(events.len());
                }
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    events
}

#[test]
fn stream_sends_the_status_every_second() {
    let r = start("control-sse");
    let handle = r.handle.clone();
    // After the first event the published view changes: a later event must carry it.
    let events = read_events(r.server.local_addr(), 4, Duration::from_secs(20), |n| {
        if n == 1 {
            let mut v = sample_status();
            v.uptime_s = 42.0;
            handle.publish(v);
        }
    });
    assert!(events.len() >= 2, "{} events within 20 s", events.len());
    let views: Vec<StatusView> = events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert_eq!(views[0], sample_status());
    assert!(
        views[1..].iter().any(|v| v.uptime_s == 42.0),
        "the update never arrived"
    );
}

#[test]
fn read_only_listener_serves_no_control_route() {
    let dir = common::files::temp_dir("control-ro");
    let cfg = ServerConfig {
        read_only_listen: Some("127.0.0.1:0".parse().unwrap()),
        ..config(&dir)
    };
    let mut r = start_with(&cfg);
    let ro = format!("http://{}", r.server.read_only_addr().unwrap());
    assert_ne!(ro, r.base);
    for (path, body) in POSTS {
        let a = call("POST", &format!("{ro}{path}"), Some(&r.token), body);
        assert!(
            matches!(a.status, 404 | 405),
            "{path}: {} {}",
            a.status,
            a.body
        );
    }
    assert_eq!(drain(&mut r.rx), vec![]);
    for path in ["/api/status", "/api/settings", "/metrics", "/"] {
        assert_eq!(
            call("GET", &format!("{ro}{path}"), None, None).status,
            200,
            "{path}"
        );
    }
}

#[test]
fn non_loopback_listen_needs_an_explicit_token() {
    let dir = common::files::temp_dir("control-bind");
    let cfg = ServerConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..config(&dir)
    };
    let (tx, _rx) = channel::<Command>(4).unwrap();
    let handle = Arc::new(ControlHandle::new(tx));
    let e = control::spawn(&cfg, handle.clone()).unwrap_err();
    assert!(
        e.contains("not a loopback address") && e.contains(NO_ENV),
        "{e}"
    );
    assert!(
        !cfg.token_file.exists(),
        "no token generated for a public bind"
    );
    // An explicit token (from the environment) lets it start; then reads need it too.
    let var = "CT_TEST_CONTROL_TOKEN_BIND";
    std::env::set_var(var, "explicit-token-0123456789");
    let cfg = ServerConfig {
        token_env: var.into(),
        ..cfg
    };
    let server = control::spawn(&cfg, handle).unwrap();
    let base = format!("http://127.0.0.1:{}", server.local_addr().port());
    let a = call("GET", &format!("{base}/api/status"), None, None);
    assert_eq!(a.status, 401, "{}", a.body);
    let a = call(
        "GET",
        &format!("{base}/api/status"),
        Some("explicit-token-0123456789"),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(server.token_note().contains(var) && !server.token_note().contains("0123"));
    assert_eq!(call("GET", &format!("{base}/"), None, None).status, 200);
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn token_file_is_created_0600_and_reused() {
    let dir = common::files::temp_dir("control-token");
    let cfg = config(&dir);
    let first = start_with(&cfg);
    assert_eq!(mode(&cfg.token_file), 0o600);
    assert_eq!(first.token.len(), 64);
    assert!(first.server.token_note().contains("generated"));
    first.server.stop();
    let second = start_with(&cfg);
    assert_eq!(second.token, first.token, "the token survives a restart");
    let a = call(
        "POST",
        &format!("{}/api/bot/pause", second.base),
        Some(&first.token),
        None,
    );
    assert_eq!(a.status, 200, "{}", a.body);
}

#[test]
fn group_readable_token_file_is_refused() {
    let dir = common::files::temp_dir("control-perm");
    let cfg = config(&dir);
    std::fs::create_dir_all(cfg.token_file.parent().unwrap()).unwrap();
    std::fs::write(&cfg.token_file, "a-token-of-enough-length\n").unwrap();
    std::fs::set_permissions(&cfg.token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (tx, _rx) = channel::<Command>(4).unwrap();
    let e = control::spawn(&cfg, Arc::new(ControlHandle::new(tx))).unwrap_err();
    assert!(e.contains("644") && e.contains("chmod 600"), "{e}");
    std::fs::set_permissions(&cfg.token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let r = start_with(&cfg);
    assert_eq!(r.token, "a-token-of-enough-length");
}

/// The families Prometheus's Python parser finds: `name type samples` per line.
fn python_parse(text: &str) -> Option<String> {
    let probe = std::process::Command::new("python3")
        .args(["-c", "import prometheus_client"])
        .output();
    if !probe.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let script =
        "import sys\nfrom prometheus_client.parser import text_string_to_metric_families as p\n\
                  for f in p(sys.stdin.read()):\n    print(f.name, f.type, len(f.samples))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "parser refused:\n{}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

#[test]
fn metrics_are_accepted_by_the_prometheus_parser() {
    let r = start("control-metrics");
    let mut v = sample_status();
    v.symbols[0].symbol = "WEIRD\"SYM\\BOL".into();
    r.handle.publish(v);
    let a = call("GET", &format!("{}/metrics", r.base), None, None);
    assert_eq!(a.status, 200);
    assert_eq!(a.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert!(
        a.body.contains("calculus_trader_orders_sent_total 4\n"),
        "{}",
        a.body
    );
    let Some(families) = python_parse(&a.body) else {
        eprintln!("!!!! SKIPPED: python3 module prometheus_client missing (.ci/run installs it): /metrics not parsed by Prometheus's parser !!!!");
        return;
    };
    for want in [
        "calculus_trader_orders_sent counter 1",
        "calculus_trader_blocked_ou counter 1",
        "calculus_trader_equity gauge 1",
        "calculus_trader_position gauge 2",
        "calculus_trader_unrealized_pnl gauge 2",
        "calculus_trader_feed_live gauge 2",
        "calculus_trader_limit_used gauge 1",
        "calculus_trader_state gauge 5",
        "calculus_trader_stage_latency_seconds summary 4",
    ] {
        assert!(
            families.lines().any(|l| l == want),
            "missing {want:?} in\n{families}"
        );
    }
}

/// The ids the page documents for browser tests.
const PAGE_IDS: [&str; 16] = [
    "state",
    "tick-count",
    "pause",
    "resume",
    "emergency-stop",
    "close-all",
    "equity-chart",
    "positions",
    "symbols",
    "stages",
    "settings-form",
    "settings-error",
    "symbol-input",
    "symbol-add",
    "symbol-list",
    "token-input",
];

#[test]
fn page_is_served_self_contained_with_its_ids() {
    let r = start("control-page");
    let a = call("GET", &format!("{}/", r.base), None, None);
    assert_eq!(a.status, 200);
    assert!(a.content_type.starts_with("text/html"));
    assert!(a.body.contains("name=\"viewport\""));
    for id in PAGE_IDS {
        assert!(
            a.body.contains(&format!("id=\"{id}\"")),
            "element #{id} missing"
        );
        assert!(
            a.body.contains(&format!("#{id}")),
            "#{id} not documented in the header comment"
        );
    }
    for external in ["http://", "https://", "//cdn"] {
        assert!(!a.body.contains(external), "page loads {external}");
    }
    let head = raw_get(
        r.server.local_addr(),
        "/",
        &r.server.local_addr().to_string(),
    );
    assert!(
        head.contains("content-security-policy"),
        "{}",
        &head[..head.len().min(600)]
    );
}

/// The whole answer to `GET path` with the given `Host` header.
fn raw_get(addr: SocketAddr, path: &str, host: &str) -> String {
    let mut raw = TcpStream::connect(addr).unwrap();
    write!(raw, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut answer = String::new();
    raw.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn loopback_listener_refuses_foreign_host_names() {
    let r = start("control-host");
    let addr = r.server.local_addr();
    let port = addr.port();
    for host in [format!("localhost:{port}"), format!("127.0.0.1:{port}")] {
        let a = raw_get(addr, "/api/status", &host);
        assert!(a.starts_with("HTTP/1.0 200"), "{host}: {a}");
    }
    // A DNS-rebinding page would reach 127.0.0.1 under its own name.
    for path in ["/", "/api/status", "/api/stream", "/metrics"] {
        let a = raw_get(addr, path, &format!("rebind.example:{port}"));
        assert!(a.starts_with("HTTP/1.0 421"), "{path}: {a}");
        assert!(a.contains("not a loopback name"), "{path}: {a}");
    }
}

#[test]
fn ctl_talks_to_the_running_server() {
    let mut r = start("control-ctl");
    let file = r.token_file.clone();
    let out = control::ctl::run("pause", &r.base, NO_ENV, &file).unwrap();
    assert!(out.contains("\"queued\": \"pause\""), "{out}");
    let out = control::ctl::run("status", &r.base, NO_ENV, &file).unwrap();
    assert!(out.contains("\"state\": \"running\""), "{out}");
    assert_eq!(drain(&mut r.rx), vec![Command::Pause]);
    let wrong = common::files::temp_dir("control-ctl-wrong").join("t");
    std::fs::write(&wrong, "wrong-token-0123456789").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let e = control::ctl::run("emergency-stop", &r.base, NO_ENV, &wrong).unwrap_err();
    assert!(e.contains("HTTP 401"), "{e}");
    let missing = wrong.with_file_name("absent");
    let e = control::ctl::run("resume", &r.base, NO_ENV, &missing).unwrap_err();
    assert!(e.contains("no control token"), "{e}");
    assert_eq!(drain(&mut r.rx), vec![]);
}

#[test]
fn ctl_subcommand_exits_non_zero_on_http_errors() {
    let mut r = start("control-ctl-bin");
    let ctl = |action: &str, file: &Path| {
        common::files::bin()
            .args(["ctl", action, "--url", &r.base, "--token-file"])
            .arg(file)
            .env_remove("CT_CONTROL_TOKEN")
            .output()
            .unwrap()
    };
    let out = ctl("close-all", &r.token_file);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("close-all"));
    let wrong = r.token_file.with_file_name("wrong.token");
    std::fs::write(&wrong, "wrong-token-0123456789").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ctl("pause", &wrong);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP 401"));
    assert_eq!(drain(&mut r.rx), vec![Command::CloseAll]);
}

#[test]
fn sigusr1_pauses_and_sigusr2_resumes() {
    let (tx, mut rx) = channel::<Command>(8).unwrap();
    let handle = Arc::new(ControlHandle::new(tx));
    let signals = control::spawn_signal_controls(handle).unwrap();
    let wait_one = |rx: &mut Consumer<Command>| {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Some(c) = rx.pop() {
                return c;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("no command within 10 s");
    };
    signal_hook::low_level::raise(signal_hook::consts::SIGUSR1).unwrap();
    assert_eq!(wait_one(&mut rx), Command::Pause);
    signal_hook::low_level::raise(signal_hook::consts::SIGUSR2).unwrap();
    assert_eq!(wait_one(&mut rx), Command::Resume);
    signals.stop();
}
