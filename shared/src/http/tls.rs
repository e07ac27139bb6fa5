//! HTTPS for herald-web: `serve.tls.cert` and `serve.tls.key`, each a file path or the PEM text
//! itself (e.g. from an env var or `HERALD_SERVE_TLS_KEY_FILE`). Certificates given as files are
//! watched and reloaded when they change (a renewal, a Kubernetes Secret update); new connections
//! get the new certificate, and a replacement that does not load is logged and ignored.

use arc_swap::ArcSwap;
use notify::{RecursiveMode, Watcher};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use slog::{Logger, info, warn};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why a certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A path that cannot be read (named: a certificate path is no secret).
    #[error("cannot read {0:?}")]
    Unreadable(String, #[source] std::io::Error),
    /// A value that is neither PEM nor a readable path (not named: it may be a mistyped key).
    #[error("not PEM text, and not a readable file path")]
    NotPemOrPath(#[source] std::io::Error),
    /// The certificate text does not parse.
    #[error("not a PEM certificate chain")]
    Chain(#[source] rustls::pki_types::pem::Error),
    /// The certificate text holds no certificate.
    #[error("no certificate in it")]
    NoCertificate,
    /// The key text does not parse.
    #[error("not a PEM private key")]
    Key(#[source] rustls::pki_types::pem::Error),
    /// The key is of a kind rustls cannot sign with.
    #[error("unusable key")]
    UnusableKey(#[source] rustls::Error),
    /// The key is not the certificate's.
    #[error("does not match the certificate")]
    Mismatch(#[source] rustls::Error),
    /// The protocol versions cannot be set up.
    #[error("TLS setup")]
    Setup(#[source] rustls::Error),
    /// The files cannot be watched for renewals.
    #[error("cannot watch {0}")]
    Watch(String, #[source] notify::Error),
    /// A config key's value is unusable.
    #[error("{0}")]
    Keyed(&'static str, #[source] Box<TlsError>),
}

/// Whether a config value is PEM text rather than a path.
fn is_pem(value: &str) -> bool {
    value.trim_start().starts_with("-----BEGIN")
}

/// The PEM text a value stands for. A value that is neither PEM nor a readable file is named in
/// the error only when `echo` allows: a private key pasted with a typo must not reach a log.
fn pem_text(value: &str, echo: bool) -> Result<String, TlsError> {
    if is_pem(value) {
        return Ok(value.to_owned());
    }
    std::fs::read_to_string(value).map_err(|e| match echo {
        true => TlsError::Unreadable(value.to_owned(), e),
        false => TlsError::NotPemOrPath(e),
    })
}

/// Loads the certificate chain and private key; errors say which key and why.
pub fn load(cert: &str, key: &str) -> Result<CertifiedKey, (&'static str, TlsError)> {
    let chain = pem_text(cert, true).map_err(|e| ("serve.tls.cert", e))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| ("serve.tls.cert", TlsError::Chain(e)))?;
    if chain.is_empty() {
        return Err(("serve.tls.cert", TlsError::NoCertificate));
    }
    let key_text = pem_text(key, false).map_err(|e| ("serve.tls.key", e))?;
    let private =
        PrivateKeyDer::from_pem_slice(key_text.as_bytes()).map_err(|e| ("serve.tls.key", TlsError::Key(e)))?;
    let signer = any_supported_type(&private).map_err(|e| ("serve.tls.key", TlsError::UnusableKey(e)))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| ("serve.tls.key", TlsError::Mismatch(e)))?;
    Ok(certified)
}

/// Hands every handshake the certificate in force.
#[derive(Debug)]
struct Current(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// The server's TLS config, plus the watcher that reloads file-based certificates (keep it).
pub fn server_config(
    cert: &str,
    key: &str,
    log: &Logger,
) -> Result<(rustls::ServerConfig, Option<notify::RecommendedWatcher>), TlsError> {
    let first = load(cert, key).map_err(|(k, e)| TlsError::Keyed(k, Box::new(e)))?;
    let current = Arc::new(Current(ArcSwap::from_pointee(first)));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Setup)?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
    let files: Vec<PathBuf> = [cert, key].iter().filter(|v| !is_pem(v)).map(PathBuf::from).collect();
    if files.is_empty() {
        return Ok((config, None));
    }
    let (cert, key, reload_log) = (cert.to_owned(), key.to_owned(), log.clone());
    let watched = files.clone();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // Any change beside the files counts: editors and Kubernetes replace them by renaming.
        if event.is_err() {
            return;
        }
        match load(&cert, &key) {
            Ok(fresh) => {
                let changed = current.0.load().cert != fresh.cert;
                if changed {
                    current.0.store(Arc::new(fresh));
                    info!(reload_log, "TLS certificate reloaded"; "cert" => &cert);
                }
            }
            Err((k, e)) => {
                warn!(reload_log, "TLS certificate not reloaded; keeping the one in use"; "key" => k,
                    "error" => crate::error::chain(&e))
            }
        }
    })
    .map_err(|e| TlsError::Watch("the certificate files".into(), e))?;
    let mut dirs: Vec<&Path> =
        watched.iter().map(|f| f.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."))).collect();
    dirs.dedup();
    for dir in dirs {
        watcher.watch(dir, RecursiveMode::NonRecursive).map_err(|e| TlsError::Watch(dir.display().to_string(), e))?;
    }
    info!(log, "serving HTTPS"; "watching" => format!("{files:?}"));
    Ok((config, Some(watcher)))
}
