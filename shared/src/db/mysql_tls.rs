//! MySQL's TLS parameters in a `mysql://` URL, with the MySQL client's meanings (MariaDB's
//! server speaks the same TLS):
//!
//! | `ssl-mode` | TLS | verified |
//! |---|---|---|
//! | `DISABLED` | never | — |
//! | `PREFERRED` (the default) | when the server offers it, else plain | nothing |
//! | `REQUIRED` | always | nothing |
//! | `VERIFY_CA` (the default when `ssl-ca` is given) | always | the chain |
//! | `VERIFY_IDENTITY` | always | the chain and the host name |
//!
//! `ssl-ca` is a PEM file of the authorities to trust (else Herald's root policy: the system's,
//! else the built-in ones); `ssl-cert` and `ssl-key` a client certificate and its key. The
//! driver (mysql_async) would refuse these names, so they are taken out of the URL here and turned
//! into its TLS options.

use crate::tls::url_params::{last, take};
use crate::tls::{ClientTls, Identity, Trust, Verify};
use mysql_async::{ClientIdentity, SslOpts};
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;

const HANDLED: [&str; 4] = ["ssl-mode", "ssl-ca", "ssl-cert", "ssl-key"];

/// The `ssl-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disabled,
    /// TLS if offered, unverified.
    Preferred,
    /// TLS, unverified.
    Required,
    /// TLS, chain verified.
    VerifyCa,
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
    let (rest, taken) = take(url, &HANDLED);
    let file = |name| last(&taken, name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let ca = file("ssl-ca");
    let mode = match last(&taken, "ssl-mode").map(str::to_ascii_uppercase).as_deref() {
        None | Some("") if ca.is_some() => SslMode::VerifyCa,
        None | Some("") => SslMode::Preferred,
        Some("DISABLED") => SslMode::Disabled,
        Some("PREFERRED") => SslMode::Preferred,
        Some("REQUIRED") => SslMode::Required,
        Some("VERIFY_CA") => SslMode::VerifyCa,
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
        SslMode::VerifyCa => Verify::Chain,
        SslMode::VerifyIdentity => Verify::ChainAndName,
    };
    let trust = ca.map_or(Trust::Default, Trust::File);
    Ok(MysqlTarget {
        url: rest,
        mode,
        tls: (mode != SslMode::Disabled).then_some(ClientTls { verify, trust, identity }),
    })
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
        assert_eq!(mode("mysql://h/db?ssl-ca=/ca.pem"), SslMode::VerifyCa, "a CA file means verify");
        assert_eq!(mode("mysql://h/db?ssl-mode=REQUIRED&ssl-ca=/ca.pem"), SslMode::Required);
        assert!(target("mysql://h/db?ssl-mode=DISABLED").expect("ok").tls.is_none());
        assert_eq!(target("mysql://h/db?ssl-mode=on"), Err(MysqlTlsError::Mode("on".into())));
        assert_eq!(target("mysql://h/db?ssl-key=/k.pem"), Err(MysqlTlsError::HalfIdentity));
        assert_eq!(target("mysql://u@h/db?ssl-mode=REQUIRED&pool_min=1").expect("ok").url, "mysql://u@h/db?pool_min=1");
    }
}
