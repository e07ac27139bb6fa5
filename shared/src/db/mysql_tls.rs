//! MySQL's TLS parameters in a `mysql://` URL, with the MySQL client's meanings (MariaDB's
//! server speaks the same TLS):
//!
//! | `ssl-mode` | TLS | verified |
//! |---|---|---|
//! | `DISABLED` | never | — |
//! | `PREFERRED` (the default) | when the server offers it, else plain | nothing |
//! | `REQUIRED` | always | nothing |
//! | `VERIFY_CA` | refused: see below | |
//! | `VERIFY_IDENTITY` (the default when `ssl-ca` is given) | always | the chain and the host name |
//!
//! `VERIFY_CA` cannot be honoured: the driver's check that skips the host name looks for the
//! text "NotValidForName" in rustls's error, which the rustls in use words differently, so the
//! name is always checked. Rather than verify less than asked or fail at the first connection,
//! the mode is refused at start-up; `VERIFY_IDENTITY` with the host name the certificate names
//! is the way. For the same reason a CA file without a mode means `VERIFY_IDENTITY` (the MySQL
//! client would take `VERIFY_CA`).
//!
//! `ssl-ca` is a PEM file of the authorities to trust (else Herald's root policy: the system's,
//! else the built-in ones); `ssl-cert` and `ssl-key` a client certificate and its key (an RSA key
//! in PKCS#1 PEM: the only kind the driver reads). The
//! driver (mysql_async) would refuse these names, so they are taken out of the URL here and turned
//! into its TLS options.

use crate::tls::url_params::{last, take};
use crate::tls::{ClientTls, Identity, Trust, Verify};
use mysql_async::{ClientIdentity, SslOpts};
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;

const HANDLED: [&str; 4] = ["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"];
/// The driver's own TLS parameters: refused, so that one URL cannot say two things.
const DRIVER_TLS: [&str; 4] = ["require_ssl", "verify_ca", "verify_identity", "built_in_roots"];

/// The `ssl-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disabled,
    /// TLS if offered, unverified.
    Preferred,
    /// TLS, unverified.
    Required,
    /// TLS, chain and host name verified.
    VerifyIdentity,
}

/// Why the TLS parameters of a URL cannot be used (the URL is never shown).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MysqlTlsError {
    /// A mode the MySQL client does not have.
    #[error("ssl-mode={0:?} is not one of DISABLED, PREFERRED, REQUIRED, VERIFY_CA, VERIFY_IDENTITY")]
    Mode(String),
    /// One of `ssl-cert` and `ssl-key` without the other.
    #[error("ssl-cert and ssl-key go together: give both or neither")]
    HalfIdentity,
    /// One of the driver's own TLS parameters.
    #[error("{0} is the driver's own TLS parameter: use ssl-mode (and ssl-ca, ssl-cert, ssl-key)")]
    DriverParameter(String),
    /// A client key the driver cannot read.
    #[error(
        "ssl-key: the MySQL driver reads only RSA keys in PKCS#1 PEM (BEGIN RSA PRIVATE KEY); convert with `openssl rsa -traditional`"
    )]
    KeyFormat,
    /// `VERIFY_CA`, which the driver cannot do (see the module's documentation).
    #[error(
        "ssl-mode=VERIFY_CA is not supported (the MySQL driver cannot skip the host name check); use VERIFY_IDENTITY and connect by the name in the server's certificate"
    )]
    VerifyCa,
}

/// How to reach a MySQL server: the URL for the driver, and TLS if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlTarget {
    /// The URL without the TLS parameters.
    pub url: String,
    /// The mode asked for.
    pub mode: SslMode,
    /// TLS, unless the mode is `DISABLED`.
    pub tls: Option<ClientTls>,
}

/// Reads the TLS parameters of `url`.
pub fn target(url: &str) -> Result<MysqlTarget, MysqlTlsError> {
    if let (_, driver) = take(url, &DRIVER_TLS)
        && let Some((name, _)) = driver.first()
    {
        return Err(MysqlTlsError::DriverParameter(name.clone()));
    }
    let (rest, taken) = take(url, &HANDLED);
    let file = |name| last(&taken, name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let ca = file("ssl-ca");
    let mode = match last(&taken, "ssl-mode").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") if ca.is_some() => SslMode::VerifyIdentity,
        None | Some("") => SslMode::Preferred,
        Some("DISABLED") => SslMode::Disabled,
        Some("PREFERRED") => SslMode::Preferred,
        Some("REQUIRED") => SslMode::Required,
        Some("VERIFY_CA") => return Err(MysqlTlsError::VerifyCa),
        Some("VERIFY_IDENTITY") => SslMode::VerifyIdentity,
        Some(_) => return Err(MysqlTlsError::Mode(last(&taken, "ssl-mode").unwrap_or_default().to_owned())),
    };
    let identity = match (file("ssl-cert"), file("ssl-key")) {
        (Some(cert), Some(key)) => Some(Identity { cert, key }),
        (None, None) => None,
        _ => return Err(MysqlTlsError::HalfIdentity),
    };
    let verify = match mode {
        SslMode::Disabled | SslMode::Preferred | SslMode::Required => Verify::Nothing,
        SslMode::VerifyIdentity => Verify::ChainAndName,
    };
    let trust = ca.map_or(Trust::Default, Trust::File);
    Ok(MysqlTarget {
        url: rest,
        mode,
        tls: (mode != SslMode::Disabled).then_some(ClientTls { verify, trust, identity }),
    })
}

/// Checks the files `tls` names, including that a client key is one the driver reads (it takes
/// only RSA keys in PKCS#1 PEM; any other is "no key found" at the first connection).
pub fn check_files(tls: &ClientTls) -> Result<(), String> {
    tls.check().map_err(|e| crate::error::chain(&e))?;
    if let Some(identity) = &tls.identity {
        let text = std::fs::read_to_string(&identity.key).unwrap_or_default();
        if !text.contains("-----BEGIN RSA PRIVATE KEY-----") {
            return Err(MysqlTlsError::KeyFormat.to_string());
        }
    }
    Ok(())
}

/// The driver's TLS options for `tls`; `trusted` is Herald's root policy's certificates (read
/// only when they are needed: empty leaves the driver's built-in roots, unused then).
pub fn ssl_opts(tls: &ClientTls, trusted: &[CertificateDer<'static>]) -> SslOpts {
    let opts = match &tls.trust {
        Trust::File(path) => {
            SslOpts::default().with_root_certs(vec![path.clone().into()]).with_disable_built_in_roots(true)
        }
        Trust::Default if trusted.is_empty() => SslOpts::default(),
        Trust::Default => SslOpts::default()
            .with_root_certs(trusted.iter().map(|c| c.as_ref().to_vec().into()).collect())
            .with_disable_built_in_roots(true),
    };
    let opts = match tls.verify {
        Verify::Nothing => opts.with_danger_accept_invalid_certs(true),
        Verify::Chain => opts.with_danger_skip_domain_validation(true),
        Verify::ChainAndName => opts,
    };
    match &tls.identity {
        None => opts,
        Some(id) => opts.with_client_identity(Some(ClientIdentity::new(id.cert.clone().into(), id.key.clone().into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_read_as_the_mysql_client_reads_them() {
        let mode = |url: &str| target(url).expect("usable").mode;
        assert_eq!(mode("mysql://h/db"), SslMode::Preferred);
        assert_eq!(mode("mysql://h/db?ssl-mode=verify_identity"), SslMode::VerifyIdentity);
        assert_eq!(mode("mysql://h/db?ssl-ca=/ca.pem"), SslMode::VerifyIdentity, "a CA file means verify");
        assert_eq!(target("mysql://h/db?ssl-mode=VERIFY_CA"), Err(MysqlTlsError::VerifyCa));
        assert_eq!(mode("mysql://h/db?ssl-mode=REQUIRED&ssl-ca=/ca.pem"), SslMode::Required);
        assert!(target("mysql://h/db?ssl-mode=DISABLED").expect("ok").tls.is_none());
        assert_eq!(target("mysql://h/db?ssl-mode=on"), Err(MysqlTlsError::Mode("on".into())));
        assert_eq!(target("mysql://h/db?ssl-key=/k.pem"), Err(MysqlTlsError::HalfIdentity));
        assert_eq!(target("mysql://h/db?require_ssl=true"), Err(MysqlTlsError::DriverParameter("require_ssl".into())));
        assert_eq!(target("mysql://u@h/db?ssl-mode=REQUIRED&pool_min=1").expect("ok").url, "mysql://u@h/db?pool_min=1");
    }
}
