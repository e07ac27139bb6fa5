//! libpq's TLS parameters in a `postgres://` URL, with libpq's meanings, so a URL copied from a
//! managed database's console (Amazon RDS, Cloud SQL, …) works as it does with `psql`:
//!
//! | `sslmode` | TLS | verified |
//! |---|---|---|
//! | `disable` | never | — |
//! | `prefer` (the default) | when the server offers it, else plain | nothing |
//! | `require` | always | nothing; the chain when `sslrootcert` names a file (libpq's rule) |
//! | `verify-ca` | always | the chain |
//! | `verify-full` | always | the chain and the host name |
//!
//! `sslrootcert` is a PEM file, or `system` (which makes `verify-full` the default and refuses
//! weaker modes, as libpq 16 does). Without it, Herald trusts its root policy (the system's
//! authorities, else the built-in ones), where libpq would read `~/.postgresql/root.crt`.
//! `sslcert` and `sslkey` name a client certificate and its key (both or neither).
//! tokio-postgres knows only `disable`, `prefer` and `require`, and none of the file parameters,
//! so they are taken out of the URL here and the verification is done by rustls.

use crate::tls::url_params::{last, take};
use crate::tls::{ClientTls, Identity, Trust, Verify};
use std::path::PathBuf;

/// The parameters handled here rather than by tokio-postgres.
const HANDLED: [&str; 4] = ["sslmode", "sslrootcert", "sslcert", "sslkey"];

/// libpq's `sslmode` values Herald supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS if offered, unverified.
    Prefer,
    /// TLS, unverified (or the chain, with a root file).
    Require,
    /// TLS, chain verified.
    VerifyCa,
    /// TLS, chain and host name verified.
    VerifyFull,
}

/// Why the TLS parameters of a URL cannot be used (the URL itself is never shown: it may hold a
/// password).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PgTlsError {
    /// An `sslmode` libpq has no meaning for, or that Herald does not support (`allow`).
    #[error("sslmode={0:?} is not one of disable, prefer, require, verify-ca, verify-full")]
    Mode(String),
    /// `sslrootcert=system` with a mode that would not verify (libpq refuses it too).
    #[error("sslrootcert=system needs sslmode=verify-full (or no sslmode)")]
    SystemNeedsVerifyFull,
    /// One of `sslcert` and `sslkey` without the other.
    #[error("sslcert and sslkey go together: give both or neither")]
    HalfIdentity,
}

/// How to reach a Postgres server: the URL for tokio-postgres, and TLS if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL without Herald's parameters, with an `sslmode` tokio-postgres reads.
    pub url: String,
    /// The mode asked for.
    pub mode: SslMode,
    /// TLS, unless the mode is `disable`.
    pub tls: Option<ClientTls>,
}

/// Reads the TLS parameters of `url`.
pub fn target(url: &str) -> Result<PgTarget, PgTlsError> {
    let (rest, taken) = take(url, &HANDLED);
    let root = last(&taken, "sslrootcert").filter(|v| !v.is_empty());
    let system = root == Some("system");
    let mode = match last(&taken, "sslmode") {
        None | Some("") if system => SslMode::VerifyFull,
        None | Some("") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some("prefer") => SslMode::Prefer,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some(other) => return Err(PgTlsError::Mode(other.to_owned())),
    };
    if system && mode != SslMode::VerifyFull {
        return Err(PgTlsError::SystemNeedsVerifyFull);
    }
    let file = |name| last(&taken, name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let identity = match (file("sslcert"), file("sslkey")) {
        (Some(cert), Some(key)) => Some(Identity { cert, key }),
        (None, None) => None,
        _ => return Err(PgTlsError::HalfIdentity),
    };
    let trust = match root {
        Some(path) if !system => Trust::File(PathBuf::from(path)),
        _ => Trust::Default,
    };
    let verify = match mode {
        SslMode::Disable | SslMode::Prefer => Verify::Nothing,
        // libpq: "if a root CA file exists, sslmode=require behaves like verify-ca".
        SslMode::Require if matches!(trust, Trust::File(_)) => Verify::Chain,
        SslMode::Require => Verify::Nothing,
        SslMode::VerifyCa => Verify::Chain,
        SslMode::VerifyFull => Verify::ChainAndName,
    };
    let driver_mode = match mode {
        SslMode::Disable => "disable",
        SslMode::Prefer => "prefer",
        _ => "require",
    };
    let joiner = if rest.contains('?') { '&' } else { '?' };
    Ok(PgTarget {
        url: format!("{rest}{joiner}sslmode={driver_mode}"),
        mode,
        tls: (mode != SslMode::Disable).then_some(ClientTls { verify, trust, identity }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(url: &str) -> Option<Verify> {
        target(url).expect("usable").tls.map(|t| t.verify)
    }

    #[test]
    fn modes_verify_what_libpq_verifies() {
        assert_eq!(verify("postgres://h/db?sslmode=disable"), None);
        assert_eq!(verify("postgres://h/db"), Some(Verify::Nothing), "prefer by default");
        assert_eq!(verify("postgres://h/db?sslmode=require"), Some(Verify::Nothing));
        assert_eq!(verify("postgres://h/db?sslmode=require&sslrootcert=/ca.pem"), Some(Verify::Chain));
        assert_eq!(verify("postgres://h/db?sslmode=verify-ca"), Some(Verify::Chain));
        assert_eq!(verify("postgres://h/db?sslmode=verify-full"), Some(Verify::ChainAndName));
        assert_eq!(verify("postgres://h/db?sslrootcert=system"), Some(Verify::ChainAndName));
    }

    #[test]
    fn the_driver_gets_a_mode_it_knows_and_none_of_the_files() {
        let t = target("postgres://u:p@h/db?sslmode=verify-full&sslrootcert=%2Fca.pem&application_name=x").expect("ok");
        assert_eq!(t.url, "postgres://u:p@h/db?application_name=x&sslmode=require");
        assert_eq!(t.tls.expect("tls").trust, Trust::File("/ca.pem".into()));
        assert_eq!(target("postgres://h/db").expect("ok").url, "postgres://h/db?sslmode=prefer");
    }

    #[test]
    fn what_libpq_refuses_is_refused() {
        assert_eq!(target("postgres://h/db?sslmode=allow"), Err(PgTlsError::Mode("allow".into())));
        assert_eq!(
            target("postgres://h/db?sslmode=require&sslrootcert=system"),
            Err(PgTlsError::SystemNeedsVerifyFull)
        );
        assert_eq!(target("postgres://h/db?sslcert=/c.pem"), Err(PgTlsError::HalfIdentity));
    }
}
