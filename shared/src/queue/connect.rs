//! Opening a broker connection. `amqp://` is plain. `amqps://` is TLS that verifies the broker's
//! certificate and host name against the authorities in `cacertfile` (RabbitMQ's URI parameter:
//! a PEM file), else against Herald's root policy (the system's, else the built-in ones), and
//! presents the client certificate `certfile` with its key `keyfile` when they are given. Those
//! parameters are taken out of the URL before lapin reads it.

use crate::tls::url_params::{last, take};
use crate::tls::{ClientTls, ClientTlsError, Identity, Trust, Verify};
use lapin::tcp::{OwnedIdentity, OwnedTLSConfig};
use lapin::{Connection, ConnectionProperties};
use std::path::PathBuf;

const HANDLED: [&str; 3] = ["cacertfile", "certfile", "keyfile"];

/// How to reach the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpTarget {
    /// The URL without Herald's parameters.
    pub url: String,
    /// TLS, for `amqps://`.
    pub tls: Option<ClientTls>,
}

/// Why a broker URL's TLS parameters cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AmqpTlsError {
    /// One of `certfile` and `keyfile` without the other.
    #[error("certfile and keyfile go together: give both or neither")]
    HalfIdentity,
    /// TLS files named on a plain `amqp://` URL, where they would be silently ignored.
    #[error("cacertfile, certfile and keyfile need an amqps:// URL")]
    NotTls,
}

/// Reads the TLS parameters of `url`.
pub fn target(url: &str) -> Result<AmqpTarget, AmqpTlsError> {
    let (rest, taken) = take(url, &HANDLED);
    let file = |name| last(&taken, name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let identity = match (file("certfile"), file("keyfile")) {
        (Some(cert), Some(key)) => Some(Identity { cert, key }),
        (None, None) => None,
        _ => return Err(AmqpTlsError::HalfIdentity),
    };
    if !url.starts_with("amqps://") {
        return if taken.is_empty() { Ok(AmqpTarget { url: rest, tls: None }) } else { Err(AmqpTlsError::NotTls) };
    }
    let trust = file("cacertfile").map_or(Trust::Default, Trust::File);
    Ok(AmqpTarget { url: rest, tls: Some(ClientTls { verify: Verify::ChainAndName, trust, identity }) })
}

/// PEM text of DER certificates (what lapin takes as its trusted chain).
fn pem(certs: &[rustls::pki_types::CertificateDer<'_>]) -> String {
    use base64::Engine;
    let mut out = String::new();
    for cert in certs {
        let encoded = base64::engine::general_purpose::STANDARD.encode(cert.as_ref());
        out.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in encoded.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END CERTIFICATE-----\n");
    }
    out
}

/// lapin's TLS configuration for `tls`: file work, so run it off the async threads.
fn lapin_tls(tls: &ClientTls) -> Result<OwnedTLSConfig, ClientTlsError> {
    tls.check()?;
    let trusted = match &tls.trust {
        Trust::File(path) => crate::tls::certificates(path)?,
        Trust::Default => crate::tls::roots::trusted().certificates,
    };
    let identity = match &tls.identity {
        None => None,
        Some(id) => {
            let read = |path: &PathBuf| std::fs::read(path).map_err(|e| ClientTlsError::Unreadable(path.clone(), e));
            Some(OwnedIdentity::PKCS8 { pem: read(&id.cert)?, key: read(&id.key)? })
        }
    };
    Ok(OwnedTLSConfig { identity, cert_chain: Some(pem(&trusted)) })
}

/// The largest frame Herald asks the broker for, unless the URL names a `frame_max` itself.
/// lapin keeps 32 frames of the size agreed for reading and as many for writing on every
/// connection: at RabbitMQ's default of 128 KiB that is 8 MiB a connection, for dispatch jobs of
/// a few dozen bytes (a larger body is simply sent in more frames).
const FRAME_MAX: u32 = 8192;

/// `url` asking for [`FRAME_MAX`] when it names no `frame_max`.
fn with_frame_max(url: &str) -> String {
    if !take(url, &["frame_max"]).1.is_empty() {
        return url.to_owned();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}frame_max={FRAME_MAX}")
}

/// Connects to the broker at `url`.
pub async fn connect(url: &str) -> Result<Connection, lapin::Error> {
    let invalid = |e: String| lapin::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidInput, e));
    let mut target = target(url).map_err(|e| invalid(format!("queue.url: {e}")))?;
    target.url = with_frame_max(&target.url);
    let Some(tls) = target.tls else {
        return Connection::connect(&target.url, ConnectionProperties::default()).await;
    };
    let config = tokio::task::spawn_blocking(move || lapin_tls(&tls))
        .await
        .map_err(|e| invalid(format!("TLS set-up did not finish: {e}")))?
        .map_err(|e| invalid(format!("queue.url TLS: {}", crate::error::chain(&e))))?;
    lapin::ConnectionBuilder::new()?
        .with_uri_str(target.url)
        .with_properties(ConnectionProperties::default())
        .with_tls_config(config)
        .connect()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_frames_are_asked_for_unless_the_url_says() {
        assert_eq!(with_frame_max("amqp://h/%2f"), "amqp://h/%2f?frame_max=8192");
        assert_eq!(with_frame_max("amqp://h/%2f?heartbeat=10"), "amqp://h/%2f?heartbeat=10&frame_max=8192");
        assert_eq!(with_frame_max("amqp://h/%2f?frame_max=65536"), "amqp://h/%2f?frame_max=65536");
    }
}
