//! `calculus-trader check` against the embedded exchange, both venues: every row OK on the
//! shipped configs (exit 0, one table); each venue refusal the embedded exchange plays (wrong
//! key, bad signature, clock skew, trading off, withdrawals on, low leverage cap, a spec
//! change, an empty wallet, a loose key file) turns its row FAIL or WARN with the venue's code
//! and message; the key and secret never appear in the output.

mod common;

use std::path::{Path, PathBuf};

use calculus_trader::config::DEFAULT_TOML;
use calculus_trader::exchange::rest_orders::{RestOptions, SimCredentials};
use calculus_trader::exchange::AccountOptions;
use calculus_trader::exec::keys::{ApiKeys, Secret};
use calculus_trader::runtime::check::{self, CheckOptions, CheckReport, Verdict};
use calculus_trader::types::Instrument;
use calculus_trader::venue::Venue;
use rust_decimal::Decimal;

use common::exchange::{key_env, listed_on, serve, Options};
use common::files::{bin, root, temp_dir};

const VENUES: [Venue; 2] = [Venue::Binance, Venue::Bybit];

/// The shipped configs' symbols.
const EIGHT: [&str; 8] = [
    "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "AVAXUSDT", "ADAUSDT", "LINKUSDT", "LTCUSDT",
];

/// The rows every run has before the host rows, in order.
const VENUE_ROWS: [&str; 8] = [
    "config",
    "keys",
    "venue clock",
    "keys accepted",
    "permissions",
    "balance",
    "specs",
    "leverage",
];

/// The shipped config of `venue` (`config/default.toml`, `config/bybit.toml`).
fn shipped(venue: Venue) -> PathBuf {
    root().join(match venue {
        Venue::Binance => "config/default.toml",
        Venue::Bybit => "config/bybit.toml",
    })
}

/// `text` written to a fresh `check.toml`.
fn write_config(tag: &str, text: &str) -> PathBuf {
    let p = temp_dir(tag).join("check.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The check of `venue`'s shipped config with the embedded exchange playing `account`.
fn embedded(venue: Venue, account: AccountOptions, keys: Option<ApiKeys>) -> CheckReport {
    let opts = CheckOptions {
        embedded: RestOptions {
            account,
            ..RestOptions::default()
        },
        keys,
        ..CheckOptions::default()
    };
    check::run(Some(&shipped(venue)), &opts)
}

fn verdict(r: &CheckReport, row: &str) -> Verdict {
    r.row(row)
        .unwrap_or_else(|| panic!("no row {row}:\n{}", r.render()))
        .verdict
}

fn detail<'a>(r: &'a CheckReport, row: &str) -> &'a str {
    &r.row(row).unwrap().detail
}

fn keys(venue: Venue, key: &str, secret: &str) -> ApiKeys {
    ApiKeys {
        venue,
        api_key: Secret::new(key.into()),
        secret: Secret::new(secret.into()),
        origin: "the test".into(),
    }
}

#[test]
fn shipped_configs_are_a_go_on_both_venues() {
    for venue in VENUES {
        let r = embedded(venue, AccountOptions::default(), None);
        let text = r.render();
        let names: Vec<&str> = r.rows.iter().map(|r| r.check.as_str()).collect();
        assert_eq!(&names[..8], VENUE_ROWS, "{text}");
        assert!(names[8..].iter().all(|n| n.starts_with("host ")), "{text}");
        for row in VENUE_ROWS {
            assert_eq!(verdict(&r, row), Verdict::Ok, "{venue:?} {row}:\n{text}");
        }
        assert!(r.go() && text.contains("GO: "), "{text}");
        assert!(detail(&r, "specs").contains("8 symbol(s) trading, specs as bundled"));
        // The default sizing: 10 000 × 0.01 / 0.005 = 20 000 notional at leverage 5.
        assert!(
            detail(&r, "balance").contains("available 10000 USDT")
                && detail(&r, "balance").contains("4000.00 USDT margin"),
            "{text}"
        );
        let lowest = match venue {
            Venue::Binance => "lowest: BTCUSDT 125x",
            Venue::Bybit => "x (lowest: ",
        };
        assert!(detail(&r, "leverage").contains(lowest), "{text}");
    }
}

#[test]
fn refused_keys_show_the_venues_code_and_message_and_never_the_secret() {
    for venue in VENUES {
        let (key, secret) = (
            "check-wrong-key-0123456789",
            "check-wrong-secret-9876543210",
        );
        let r = embedded(
            venue,
            AccountOptions::default(),
            Some(keys(venue, key, secret)),
        );
        let text = r.render();
        assert_eq!(verdict(&r, "keys accepted"), Verdict::Fail, "{text}");
        let want = match venue {
            Venue::Binance => "-2015 (HTTP 401): Invalid API-key, IP, or permissions for action.",
            Venue::Bybit => "10003 (HTTP 200): API key is invalid.",
        };
        assert!(detail(&r, "keys accepted").contains(want), "{text}");
        for row in ["permissions", "balance", "leverage"] {
            assert_eq!(verdict(&r, row), Verdict::Fail, "{row}: {text}");
        }
        assert_eq!(verdict(&r, "specs"), Verdict::Ok, "public: {text}");
        assert!(!r.go() && text.contains("NO-GO"));
        assert!(!text.contains(key) && !text.contains(secret), "{text}");
    }
}

#[test]
fn a_wrong_secret_is_a_signature_error() {
    // The key is right (the embedded exchange's), the secret is not: the venue's signature code.
    let cred = SimCredentials {
        api_key: "a".repeat(64),
        secret: "b".repeat(64),
    };
    for venue in VENUES {
        let server = serve(
            &Default::default(),
            listed_on(venue, &["BTCUSDT", "ETHUSDT"]),
            "0.0004",
            "0",
            Options {
                creds: Some(cred.clone()),
                ..Options::default()
            },
        );
        let cfg = loopback_config(venue, &server.url(), "sig");
        let opts = CheckOptions {
            keys: Some(keys(venue, &cred.api_key, "not-the-secret")),
            ..CheckOptions::default()
        };
        let r = check::run(Some(&cfg), &opts);
        let want = match venue {
            Venue::Binance => "-1022 (HTTP 400): Signature for this request is not valid.",
            Venue::Bybit => "10004 (HTTP 200): Error sign",
        };
        assert!(detail(&r, "keys accepted").contains(want), "{}", r.render());
        assert!(!r.render().contains(&cred.api_key));
    }
}

#[test]
fn clock_skew_beyond_the_recv_window_fails_and_beyond_half_warns() {
    for venue in VENUES {
        for (offset, want) in [
            (7_000, Verdict::Fail),
            (-3_000, Verdict::Warn),
            (0, Verdict::Ok),
        ] {
            let r = embedded(
                venue,
                AccountOptions {
                    clock_offset_ms: offset,
                    ..AccountOptions::default()
                },
                None,
            );
            let text = r.render();
            assert_eq!(verdict(&r, "venue clock"), want, "{offset}: {text}");
            let measured: i64 = detail(&r, "venue clock")
                .split("clock offset ")
                .nth(1)
                .and_then(|t| t.split(' ').next())
                .and_then(|t| t.parse().ok())
                .unwrap();
            // Loopback: the midpoint estimate is within a few ms of the exchange's offset.
            assert!((measured - offset).abs() <= 50, "{offset}: {text}");
            // Signed reads are stamped with the venue's time, so they still pass.
            assert_eq!(verdict(&r, "keys accepted"), Verdict::Ok, "{text}");
        }
    }
}

#[test]
fn trading_off_fails_withdrawals_on_warns_and_a_low_leverage_cap_fails() {
    for venue in VENUES {
        let off = embedded(
            venue,
            AccountOptions {
                can_trade: false,
                ..AccountOptions::default()
            },
            None,
        );
        assert_eq!(
            verdict(&off, "permissions"),
            Verdict::Fail,
            "{}",
            off.render()
        );
        let shown = match venue {
            Venue::Binance => "canTrade=false",
            Venue::Bybit => "readOnly=1, ContractTrade=[]",
        };
        assert!(
            detail(&off, "permissions").contains(shown),
            "{}",
            off.render()
        );
        assert!(!off.go());

        let withdraw = embedded(
            venue,
            AccountOptions {
                can_withdraw: true,
                ..AccountOptions::default()
            },
            None,
        );
        assert_eq!(verdict(&withdraw, "permissions"), Verdict::Warn);
        let shown = match venue {
            Venue::Binance => "canWithdraw=true",
            Venue::Bybit => "\"Withdraw\"",
        };
        assert!(detail(&withdraw, "permissions").contains(shown));
        assert!(withdraw.go(), "a warning is still a go");

        let capped = embedded(
            venue,
            AccountOptions {
                leverage_cap: Some(3),
                ..AccountOptions::default()
            },
            None,
        );
        assert_eq!(verdict(&capped, "leverage"), Verdict::Fail);
        assert!(
            detail(&capped, "leverage").contains("BTCUSDT allows 3x"),
            "{}",
            capped.render()
        );
        assert!(!capped.go());
    }
}

#[test]
fn bybit_instruments_are_read_across_pages() {
    let r = embedded(
        Venue::Bybit,
        AccountOptions {
            instruments_page: 3,
            ..AccountOptions::default()
        },
        None,
    );
    // 8 symbols on pages of 3: three pages, every symbol found.
    assert_eq!(verdict(&r, "specs"), Verdict::Ok, "{}", r.render());
    assert!(detail(&r, "specs").contains("(8 listed"), "{}", r.render());
}

/// The default config on `venue` sending orders to the loopback exchange at `url` (keys from
/// the environment or the test).
fn loopback_config(venue: Venue, url: &str, tag: &str) -> PathBuf {
    let mut text =
        DEFAULT_TOML.replace("rest_url = \"embedded\"", &format!("rest_url = \"{url}\""));
    if venue == Venue::Bybit {
        text = text.replace("name = \"binance\" ", "name = \"bybit\"  ");
    }
    assert!(text.contains(url) && text.contains(venue.name()));
    write_config(tag, &text)
}

#[test]
fn a_changed_spec_warns_and_an_empty_wallet_fails() {
    for venue in VENUES {
        let mut listed = listed_on(venue, &EIGHT);
        let b = listed[0].1;
        let bundled_tick = b.tick_size;
        listed[0].1 = Instrument::new(
            bundled_tick * Decimal::TEN,
            b.qty_step,
            b.min_qty,
            b.max_market_qty,
            b.min_notional,
        )
        .unwrap()
        .with_limits(b.max_qty, b.max_leverage);
        let cred = SimCredentials::generate().unwrap();
        let server = serve(
            &Default::default(),
            listed,
            "0.0004",
            "0",
            Options {
                balance: Decimal::ZERO,
                creds: Some(cred.clone()),
                ..Options::default()
            },
        );
        let cfg = loopback_config(venue, &server.url(), "spec");
        let opts = CheckOptions {
            keys: Some(keys(venue, &cred.api_key, &cred.secret)),
            ..CheckOptions::default()
        };
        let r = check::run(Some(&cfg), &opts);
        let text = r.render();
        assert_eq!(verdict(&r, "specs"), Verdict::Warn, "{text}");
        let diff = format!(
            "BTCUSDT tickSize {}→{}",
            bundled_tick.normalize(),
            (bundled_tick * Decimal::TEN).normalize()
        );
        assert!(detail(&r, "specs").contains(&diff), "{text}");
        assert_eq!(verdict(&r, "balance"), Verdict::Fail, "{text}");
        assert!(detail(&r, "balance").contains("available 0 USDT"), "{text}");
        assert!(!text.contains(&cred.api_key) && !text.contains(&cred.secret));
    }
}

#[test]
fn a_key_file_others_can_read_fails() {
    let dir = temp_dir("check-keyfile");
    let file = dir.join("keys.toml");
    std::fs::write(
        &file,
        "[binance]\napi_key = \"file-key-123\"\napi_secret = \"file-secret-456\"\n",
    )
    .unwrap();
    set_mode(&file, 0o644);
    let text = DEFAULT_TOML.replace(
        "key_file = \"\"",
        &format!("key_file = {:?}", file.display().to_string()),
    );
    let cfg = write_config("check-keyfile", &text);
    let r = check::run(Some(&cfg), &CheckOptions::default());
    assert_eq!(verdict(&r, "keys"), Verdict::Fail, "{}", r.render());
    assert!(detail(&r, "keys").contains("mode 0644"), "{}", r.render());
    assert!(!r.render().contains("file-secret-456") && !r.render().contains("file-key-123"));
}

fn set_mode(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn an_invalid_config_is_one_fail_row() {
    let cfg = write_config(
        "check-bad",
        &DEFAULT_TOML.replace("max_leverage = 5.0", "max_leverage = -1.0"),
    );
    let r = check::run(Some(&cfg), &CheckOptions::default());
    assert_eq!(r.rows.len(), 1, "{}", r.render());
    assert_eq!(verdict(&r, "config"), Verdict::Fail);
    assert!(
        detail(&r, "config").contains("max_leverage"),
        "{}",
        r.render()
    );
}

#[test]
fn the_binary_prints_one_table_and_exits_by_the_verdict() {
    // A fresh clone's default: every venue row OK, exit 0.
    let out = bin().args(["check"]).current_dir(root()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.matches("CHECK ").count(), 1, "one table: {stdout}");
    for row in VENUE_ROWS {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{row} ")))
            .unwrap();
        assert!(line.contains(" OK "), "{line}");
    }
    // Keys from the environment, refused by a loopback exchange with other keys: exit 1, the
    // venue's code and message, and neither the key nor the secret anywhere.
    let server = serve(
        &Default::default(),
        listed_on(Venue::Binance, &EIGHT),
        "0.0004",
        "0",
        Options::default(),
    );
    let cfg = loopback_config(Venue::Binance, &server.url(), "check-bin");
    let (k, s) = key_env(Venue::Binance);
    let (key, secret) = ("env-key-abcdef0123456789", "env-secret-fedcba9876543210");
    let out = bin()
        .args(["check", "--config"])
        .arg(&cfg)
        .env(k, key)
        .env(s, secret)
        .env_remove("BYBIT_API_KEY")
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    let keys_line = all.lines().find(|l| l.starts_with("keys ")).unwrap();
    assert!(
        keys_line.contains(" OK ") && keys_line.contains("present, from environment"),
        "{all}"
    );
    assert!(all.contains("-2015"), "{all}");
    assert!(
        all.contains("NO-GO") && all.contains("error: no-go"),
        "{all}"
    );
    assert!(!all.contains(key) && !all.contains(secret), "{all}");
}
