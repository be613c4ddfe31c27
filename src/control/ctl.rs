//! `calculus-trader ctl <action>`: the control API from the command line (blocking, loopback
//! only), for operators without a browser.

use std::path::PathBuf;
use std::time::Duration;

use super::auth::Token;
use super::server::{DEFAULT_PORT, DEFAULT_TOKEN_ENV, DEFAULT_TOKEN_FILE};

/// `calculus-trader ctl` arguments.
#[derive(clap::Args, Debug)]
pub struct CtlArgs {
    /// What to do.
    #[arg(value_parser = ["pause", "resume", "start", "stop", "emergency-stop", "close-all", "status"])]
    pub action: String,
    /// The running process's control API (default: http://127.0.0.1:8787).
    #[arg(long)]
    pub url: Option<String>,
    /// Bearer token file, used when $CT_CONTROL_TOKEN is not set (default: state/control.token).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

/// Runs `ctl` and prints the answer.
pub fn cli(args: &CtlArgs) -> Result<(), String> {
    let url = args
        .url
        .clone()
        .unwrap_or_else(|| format!("http://127.0.0.1:{DEFAULT_PORT}"));
    let file = args
        .token_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_TOKEN_FILE));
    println!("{}", run(&args.action, &url, DEFAULT_TOKEN_ENV, &file)?);
    Ok(())
}

/// The actions `ctl` knows, each with its HTTP method and path.
pub const ACTIONS: [(&str, &str, &str); 7] = [
    ("pause", "POST", "/api/bot/pause"),
    ("resume", "POST", "/api/bot/resume"),
    ("start", "POST", "/api/bot/start"),
    ("stop", "POST", "/api/bot/stop"),
    ("emergency-stop", "POST", "/api/emergency-stop"),
    ("close-all", "POST", "/api/positions/close-all"),
    ("status", "GET", "/api/status"),
];

/// Seconds the server has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `action` against the server at `base_url` (`http://127.0.0.1:PORT`); the answer's JSON,
/// pretty-printed. The token comes from `$token_env`, else `token_file` (needed for every action
/// but `status`). An HTTP error status is an `Err` carrying the server's message.
pub fn run(
    action: &str,
    base_url: &str,
    token_env: &str,
    token_file: &std::path::Path,
) -> Result<String, String> {
    let (_, method, path) = ACTIONS
        .iter()
        .find(|(a, _, _)| *a == action)
        .ok_or_else(|| format!("unknown ctl action {action:?}"))?;
    let base = loopback_base(base_url)?;
    let token = match Token::from_env(token_env)? {
        Some(t) => Some(t),
        None => match Token::read_file(token_file) {
            Ok(t) => Some(t),
            Err(e) if *method == "GET" && e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                    "no control token: set ${token_env} or pass --token-file ({} does not exist)",
                    token_file.display()
                ))
            }
            Err(e) => return Err(e.to_string()),
        },
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{base}{path}");
    let auth = token.map(|t| format!("Bearer {}", t.secret()));
    let sent = if *method == "GET" {
        let mut r = agent.get(&url);
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        r.call()
    } else {
        let mut r = agent.post(&url);
        if let Some(a) = &auth {
            r = r.header("Authorization", a);
        }
        r.send_empty()
    };
    let mut resp = sent.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
    let pretty = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or(text);
    if status == 200 {
        Ok(pretty)
    } else {
        Err(format!("{method} {url}: HTTP {status}: {pretty}"))
    }
}

/// `base_url` without a trailing `/`; only `http://` to a loopback host (the token travels in
/// clear text).
fn loopback_base(base_url: &str) -> Result<String, String> {
    let u = url::Url::parse(base_url).map_err(|e| format!("--url {base_url:?}: {e}"))?;
    let loopback = match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if u.scheme() != "http" || !loopback {
        return Err(format!(
            "--url {base_url:?}: ctl talks to the local API only (http:// to a loopback host)"
        ));
    }
    Ok(base_url.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_urls() {
        assert!(loopback_base("http://127.0.0.1:8787/").is_ok());
        assert!(loopback_base("http://localhost:1").is_ok());
        assert!(loopback_base("http://[::1]:8787").is_ok());
        assert!(loopback_base("http://10.0.0.1:8787").is_err());
        assert!(loopback_base("https://127.0.0.1:8787").is_err());
        assert!(loopback_base("nonsense").is_err());
    }

    #[test]
    fn unknown_action_is_refused_before_any_request() {
        let e = run(
            "explode",
            "http://127.0.0.1:1",
            "X",
            std::path::Path::new("x"),
        )
        .unwrap_err();
        assert!(e.contains("unknown ctl action"));
    }
}
