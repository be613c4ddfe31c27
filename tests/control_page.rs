//! The dashboard in headless Chromium against a live control server: the token is taken from
//! the URL and hidden, status updates arrive over the event stream, and the buttons and forms
//! queue the right commands (or show the server's refusal). Skipped with a loud message where
//! no Chromium is installed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use calculus_trader::control::{self, ControlHandle, ServerConfig};
use calculus_trader::ring::{channel, Consumer};
use calculus_trader::types::control::{Command, StatusView, SymbolView};
use calculus_trader::types::SymbolId;
use common::browser::Browser;

const WAIT: Duration = Duration::from_secs(20);

fn status(ticks: u64) -> StatusView {
    let mut s = StatusView {
        state: "running".into(),
        equity: format!("{}", 10_000 + ticks),
        ..Default::default()
    };
    for (sym, pos) in [("BTCUSDT", "0.5"), ("ETHUSDT", "0")] {
        s.symbols.push(SymbolView {
            symbol: sym.into(),
            active: true,
            position: pos.into(),
            ..Default::default()
        });
    }
    s.counters.insert("ticks".into(), ticks);
    s
}

/// The next command on the ring within [`WAIT`].
fn next(rx: &mut Consumer<Command>) -> Command {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if let Some(c) = rx.pop() {
            return c;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no command within {WAIT:?}");
}

#[test]
fn dashboard_streams_status_and_its_buttons_send_commands() {
    let dir = common::files::temp_dir("control-page-browser");
    let Some(mut b) = Browser::launch(&dir.join("profile"), 390, 844) else {
        eprintln!("!!!! SKIPPED: no Chromium in PATH (apt-get install chromium): dashboard not tested in a browser !!!!");
        return;
    };
    let cfg = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        read_only_listen: None,
        token_file: dir.join("control.token"),
        token_env: "CT_TEST_CONTROL_TOKEN_NEVER_SET".into(),
    };
    let (tx, mut rx) = channel::<Command>(64).unwrap();
    let handle = Arc::new(ControlHandle::new(tx));
    handle.publish(status(1));
    let server = control::spawn(&cfg, handle.clone()).unwrap();
    let token = std::fs::read_to_string(&cfg.token_file).unwrap();
    b.navigate(&format!("{}#token={}", server.url(), token.trim()));

    // The token left the address bar for the tab's storage; the stream delivers ticks.
    assert_eq!(b.eval("location.hash"), "");
    assert_eq!(b.eval("sessionStorage.getItem('ct-token')"), token.trim());
    b.wait_for(
        "document.getElementById('conn').textContent === 'stream'",
        WAIT,
    );
    b.wait_for(
        "document.getElementById('tick-count').textContent === '1'",
        WAIT,
    );
    handle.publish(status(2));
    b.wait_for(
        "document.getElementById('tick-count').textContent === '2'",
        WAIT,
    );
    b.wait_for(
        "document.getElementById('state').textContent === 'running'",
        WAIT,
    );

    b.eval("document.getElementById('pause').click()");
    assert_eq!(next(&mut rx), Command::Pause);
    b.wait_for(
        "document.getElementById('message').textContent === 'ok: pause'",
        WAIT,
    );

    // Emergency stop asks first: declined sends nothing, accepted sends the command.
    b.eval("window.confirm = () => false; document.getElementById('emergency-stop').click()");
    b.eval("window.confirm = () => true; document.getElementById('emergency-stop').click()");
    assert_eq!(next(&mut rx), Command::EmergencyStop);

    // One open position (BTCUSDT), one Close button.
    b.wait_for(
        "document.querySelectorAll('#positions button.close-position').length === 1",
        WAIT,
    );
    b.eval("document.querySelector('#positions button.close-position').click()");
    assert_eq!(next(&mut rx), Command::ClosePosition(SymbolId(0)));

    // A refused setting shows the server's reason and sends nothing.
    b.eval("document.querySelector('#settings-form [name=sl_pct]').value = '75'; document.getElementById('settings-form').requestSubmit()");
    b.wait_for(
        "document.getElementById('settings-error').textContent.includes('sl_pct = 75 is outside')",
        WAIT,
    );
    b.eval("document.getElementById('symbol-input').value = 'ethusdt'; document.getElementById('symbol-add').click()");
    assert_eq!(next(&mut rx), Command::AddSymbol(SymbolId(1)));

    // Without the token the page says so and nothing reaches the engine.
    b.eval("sessionStorage.removeItem('ct-token')");
    b.navigate(&server.url());
    b.eval("document.getElementById('resume').click()");
    b.wait_for(
        "document.getElementById('message').textContent.includes('enter the token')",
        WAIT,
    );
    b.screenshot(&dir.join("dashboard-phone.png"));
    assert_eq!(rx.pop(), None);
}
