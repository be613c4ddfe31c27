//! The one reader of blocking (cold-path) HTTP replies: spec and ticker fetches, the account
//! client and the go/no-go check.

/// Largest reply body read, bytes (an 800-symbol instruments page is ~1 MB).
const MAX_BODY: u64 = 64 << 20;

/// `(HTTP status, body)` of a sent request. Errors start with `what`; a TLS failure says TLS
/// and names the host of `url`.
pub(crate) fn reply(
    sent: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    url: &str,
    what: &str,
) -> Result<(u16, Vec<u8>), String> {
    let mut resp = sent.map_err(|e| {
        let host = url::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| url.to_owned());
        format!(
            "{what}: {}",
            crate::feed::tls::describe_ureq_error(&host, &e)
        )
    })?;
    let status = resp.status().as_u16();
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| format!("{what}: reading the reply: {e}"))?;
    Ok((status, body))
}
