//! The certificate authorities Herald trusts unless a connection names its own: the system's
//! (`SSL_CERT_FILE`, `SSL_CERT_DIR`, /etc/ssl/certs, …) when it has any, else the Mozilla roots
//! built in, so an image or chroot without a CA bundle still verifies public servers. Used for
//! deliveries, the database and the broker alike.

use rustls::pki_types::CertificateDer;

/// The trusted authorities' certificates and where they came from.
pub struct Trusted {
    /// The certificates.
    pub certificates: Vec<CertificateDer<'static>>,
    /// True when they are the system's, false when the built-in ones.
    pub from_system: bool,
}

impl Trusted {
    /// As a rustls root store.
    pub fn store(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        store.add_parsable_certificates(self.certificates.iter().cloned());
        store
    }
}

/// Loads them: file work (hundreds of files where `SSL_CERT_DIR` is set), so call it off the
/// async threads.
pub fn trusted() -> Trusted {
    let system = rustls_native_certs::load_native_certs().certs;
    if !system.is_empty() {
        return Trusted { certificates: system, from_system: true };
    }
    Trusted { certificates: webpki_root_certs::TLS_SERVER_ROOT_CERTS.to_vec(), from_system: false }
}
