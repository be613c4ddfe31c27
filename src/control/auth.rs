//! The control API's bearer token: from the environment, else from a token file (mode 0600,
//! refused when group or world can read it), else generated at first start (32 random bytes,
//! hex) into a new 0600 file. Compared in constant time; never logged.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Shortest token accepted from the environment or a file, characters.
pub const MIN_TOKEN_LEN: usize = 16;

/// Random bytes of a generated token (hex-encoded: twice as many characters).
const GENERATED_BYTES: usize = 32;

/// Where the token came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// The named environment variable.
    Env(String),
    /// An existing token file.
    File(PathBuf),
    /// Generated now into this new file.
    Generated(PathBuf),
}

/// The bearer token every control call must present.
pub struct Token {
    secret: Zeroizing<String>,
    source: TokenSource,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// A token with the given secret (tests, the `ctl` client).
    pub fn new(secret: String, source: TokenSource) -> Self {
        Self {
            secret: Zeroizing::new(secret),
            source,
        }
    }

    /// The token from `$env_var` if set and non-empty, else read from `file`, else generated
    /// into `file` (created with mode 0600, parent directories too).
    pub fn load_or_create(env_var: &str, file: &Path) -> Result<Self, String> {
        if let Some(t) = Self::from_env(env_var)? {
            return Ok(t);
        }
        match Self::read_file(file) {
            Ok(t) => Ok(t),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::generate(file),
            Err(e) => Err(e.to_string()),
        }
    }

    /// The token from `$env_var`, `None` when unset or empty.
    pub fn from_env(env_var: &str) -> Result<Option<Self>, String> {
        let Some(v) = std::env::var_os(env_var) else {
            return Ok(None);
        };
        let v = v
            .into_string()
            .map_err(|_| format!("${env_var} is not valid UTF-8"))?;
        let v = v.trim();
        if v.is_empty() {
            return Ok(None);
        }
        check_len(v, &format!("${env_var}"))?;
        Ok(Some(Self::new(v.into(), TokenSource::Env(env_var.into()))))
    }

    /// Reads an existing token file; refused when group or world may read it (the error names
    /// the file and the `chmod` that fixes it). `NotFound` when it does not exist.
    pub fn read_file(file: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(file)?;
        let mode = meta.permissions().mode() & 0o777;
        let err = |msg: String| std::io::Error::new(std::io::ErrorKind::PermissionDenied, msg);
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "control token file {} has mode {mode:03o}: group/world may read it; refused (chmod 600 it)",
                file.display()
            )));
        }
        let text = Zeroizing::new(std::fs::read_to_string(file).map_err(|e| {
            err(format!(
                "cannot read control token file {}: {e}",
                file.display()
            ))
        })?);
        let v = text.trim();
        check_len(v, &file.display().to_string()).map_err(err)?;
        Ok(Self::new(v.into(), TokenSource::File(file.into())))
    }

    /// 32 bytes from the system RNG, hex, written to a new 0600 `file`.
    fn generate(file: &Path) -> Result<Self, String> {
        let mut bytes = Zeroizing::new([0u8; GENERATED_BYTES]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes[..])
            .map_err(|_| "system random number generator failed".to_string())?;
        let mut hex = Zeroizing::new(String::with_capacity(2 * GENERATED_BYTES + 1));
        for b in bytes.iter() {
            hex.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            hex.push(char::from_digit(u32::from(b & 15), 16).unwrap_or('0'));
        }
        let cannot =
            |e: std::io::Error| format!("cannot create control token file {}: {e}", file.display());
        if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(cannot)?;
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(file)
            .map_err(cannot)?;
        f.write_all(hex.as_bytes())
            .and_then(|()| f.write_all(b"\n"))
            .and_then(|()| f.sync_all())
            .map_err(cannot)?;
        let secret = std::mem::take(&mut *hex);
        Ok(Self::new(secret, TokenSource::Generated(file.into())))
    }

    /// Where the token came from.
    pub fn source(&self) -> &TokenSource {
        &self.source
    }

    /// Set by the operator (environment or existing file), not generated now.
    pub fn is_explicit(&self) -> bool {
        !matches!(self.source, TokenSource::Generated(_))
    }

    /// The secret (the `ctl` client's `Authorization` header; never printed).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `header` is `Bearer <token>` with this token. The SHA-256 digests are compared in
    /// constant time, so neither the content nor the length of the token leaks through timing.
    pub fn accepts(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let sha = |b: &[u8]| ring::digest::digest(&ring::digest::SHA256, b);
        let (a, b) = (sha(given.trim_ascii()), sha(self.secret.as_bytes()));
        bool::from(subtle::ConstantTimeEq::ct_eq(a.as_ref(), b.as_ref()))
    }

    /// Where the operator finds the token (for the start-up line; never the token itself).
    pub fn describe(&self) -> String {
        match &self.source {
            TokenSource::Env(v) => format!("token from ${v}"),
            TokenSource::File(f) => format!("token in {}", f.display()),
            TokenSource::Generated(f) => format!("token generated into {}", f.display()),
        }
    }
}

fn check_len(v: &str, what: &str) -> Result<(), String> {
    if v.len() < MIN_TOKEN_LEN || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "control token from {what} must be at least {MIN_TOKEN_LEN} characters without spaces"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ct-auth-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("sub/control.token")
    }

    #[test]
    fn generated_token_is_0600_hex_and_reused() {
        let f = tmp("gen");
        let t = Token::load_or_create("CT_TEST_UNSET_TOKEN_VAR", &f).unwrap();
        assert!(!t.is_explicit());
        assert_eq!(t.secret().len(), 64);
        assert!(t.secret().bytes().all(|b| b.is_ascii_hexdigit()));
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = Token::load_or_create("CT_TEST_UNSET_TOKEN_VAR", &f).unwrap();
        assert!(again.is_explicit());
        assert_eq!(again.secret(), t.secret());
    }

    #[test]
    fn readable_token_file_is_refused() {
        let f = tmp("perm");
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, "0123456789abcdef0123").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = Token::load_or_create("CT_TEST_UNSET_TOKEN_VAR", &f).unwrap_err();
        assert!(e.contains("640") && e.contains("chmod 600"), "{e}");
    }

    #[test]
    fn bearer_check_wants_the_exact_token() {
        let t = Token::new("0123456789abcdef".into(), TokenSource::Env("X".into()));
        assert!(t.accepts(Some(b"Bearer 0123456789abcdef")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcdeF")));
        assert!(!t.accepts(Some(b"Bearer 0123456789abcde")));
        assert!(!t.accepts(Some(b"0123456789abcdef")));
        assert!(!t.accepts(None));
        assert!(!format!("{t:?}").contains("0123"));
    }
}
