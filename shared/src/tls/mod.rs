//! TLS for the connections Herald opens: to receivers, to the database and to the broker. One
//! root policy for all of them ([`roots::trusted`]); what each connection verifies is said by
//! its URL, in the database's or broker's own terms (libpq's `sslmode`, MySQL's `ssl-mode`,
//! RabbitMQ's `cacertfile`), and comes down to a [`Verify`].

pub mod roots;
pub mod url_params;
pub mod verify;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What a client checks of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the connection is encrypted, but anyone in the middle can read it.
    Nothing,
    /// That a trusted authority issued it (any name).
    Chain,
    /// That a trusted authority issued it for the host connected to.
    ChainAndName,
}

/// The authorities a client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// The system's, else the built-in Mozilla roots ([`roots::trusted`]).
    Default,
    /// Only those in this PEM file.
    File(PathBuf),
}

/// A client certificate and its key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The certificate chain.
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
}

/// How to set up TLS for one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// What is verified.
    pub verify: Verify,
    /// Who is trusted (unused when nothing is verified).
    pub trust: Trust,
    /// The certificate presented, if the server asks for one.
    pub identity: Option<Identity>,
}

/// Why TLS could not be set up from what was named.
#[derive(Debug, thiserror::Error)]
pub enum ClientTlsError {
    /// A file that cannot be read.
    #[error("cannot read {0:?}")]
    Unreadable(PathBuf, #[source] std::io::Error),
    /// A certificate file that holds no usable PEM certificate.
    #[error("{0:?} holds no PEM certificate")]
    NoCertificate(PathBuf),
    /// A key file that holds no usable PEM private key.
    #[error("{0:?} holds no PEM private key")]
    NoKey(PathBuf),
    /// rustls refused the set-up (a key that does not match its certificate, …).
    #[error("TLS set-up")]
    Rustls(#[source] rustls::Error),
}

/// The certificates in a PEM file.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientTlsError> {
    let bytes = std::fs::read(path).map_err(|e| ClientTlsError::Unreadable(path.to_owned(), e))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&bytes).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(ClientTlsError::NoCertificate(path.to_owned()));
    }
    Ok(certs)
}

/// The private key in a PEM file.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, ClientTlsError> {
    let bytes = std::fs::read(path).map_err(|e| ClientTlsError::Unreadable(path.to_owned(), e))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| ClientTlsError::NoKey(path.to_owned()))
}

impl ClientTls {
    /// Reads the files it names, so that a mistake is found at start-up, not on first connect.
    pub fn check(&self) -> Result<(), ClientTlsError> {
        if let Trust::File(path) = &self.trust {
            certificates(path)?;
        }
        if let Some(identity) = &self.identity {
            certificates(&identity.cert)?;
            private_key(&identity.key)?;
        }
        Ok(())
    }

    /// The root store it trusts: reads files (and, by default, the system's store), so call it
    /// off the async threads.
    pub fn root_store(&self) -> Result<rustls::RootCertStore, ClientTlsError> {
        Ok(match &self.trust {
            Trust::Default => roots::trusted().store(),
            Trust::File(path) => {
                let mut store = rustls::RootCertStore::empty();
                store.add_parsable_certificates(certificates(path)?);
                store
            }
        })
    }

    /// The rustls configuration: reads files, so call it off the async threads.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ClientTlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(ClientTlsError::Rustls)?;
        let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match self.verify {
            Verify::Nothing => Arc::new(verify::AnyCertificate::new(provider)),
            Verify::Chain => Arc::new(verify::ChainOnly::new(self.root_store()?, provider)?),
            Verify::ChainAndName => {
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(self.root_store()?), provider)
                    .build()
                    .map_err(|e| ClientTlsError::Rustls(rustls::Error::General(e.to_string())))?
            }
        };
        let builder = builder.dangerous().with_custom_certificate_verifier(verifier);
        match &self.identity {
            None => Ok(builder.with_no_client_auth()),
            Some(identity) => builder
                .with_client_auth_cert(certificates(&identity.cert)?, private_key(&identity.key)?)
                .map_err(ClientTlsError::Rustls),
        }
    }
}
