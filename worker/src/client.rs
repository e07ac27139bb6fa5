//! The HTTP client deliveries go out through: no redirects, a per-attempt timeout, and a resolver
//! that drops every address the SSRF policy refuses, so the address connected to is the one that
//! was checked (no DNS-rebinding gap). Names are resolved by hickory, in Rust, from
//! /etc/resolv.conf and /etc/hosts: no glibc NSS modules, so a static binary resolves the same.

use anyhow::Context as _;
use herald::config::ConfigHandle;
use herald::ssrf;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::ResolverConfig;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use slog::{Logger, info, warn};
use std::net::SocketAddr;
use std::sync::Arc;

/// Resolves names, keeping only addresses deliveries may reach (read live from config).
struct PolicyResolver {
    config: ConfigHandle,
    dns: Arc<TokioResolver>,
    log: Logger,
}

/// What an attempt refused by the SSRF policy records: the tenant and its customers read attempts,
/// so it says nothing of what names resolve to inside the operator's network (the log does).
pub const REFUSED: &str = "refused by policy: the endpoint's address is not one deliveries may reach";

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (config, dns, log) = (self.config.clone(), self.dns.clone(), self.log.clone());
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                dns.lookup_ip(host.as_str()).await?.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            let allowed = config.with(|c| c.delivery.allowed_cidrs.clone());
            let mut reasons = Vec::new();
            let usable: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match ssrf::refusal(a.ip(), &allowed) {
                    None => true,
                    Some(reason) => {
                        reasons.push(format!("{} ({reason})", a.ip()));
                        false
                    }
                })
                .collect();
            if usable.is_empty() {
                info!(log, "delivery refused by the SSRF policy"; "host" => &host, "addresses" => reasons.join(", "));
                return Err(Box::new(std::io::Error::other(REFUSED)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

/// The system's resolver configuration, or, where there is none (an empty container, a chroot),
/// one with no name servers: names in /etc/hosts still resolve, IP addresses need no resolving.
fn dns(log: &Logger) -> anyhow::Result<TokioResolver> {
    let built = match TokioResolver::builder_tokio() {
        Ok(builder) => builder.build(),
        Err(e) => {
            warn!(log, "no usable /etc/resolv.conf; deliveries resolve names from /etc/hosts only"; "error" => e.to_string());
            let provider = hickory_resolver::net::runtime::TokioRuntimeProvider::default();
            TokioResolver::builder_with_config(ResolverConfig::from_parts(None, vec![], vec![]), provider).build()
        }
    };
    built.context("building the DNS resolver")
}

/// TLS for HTTPS deliveries: the system's certificate authorities (`SSL_CERT_FILE`,
/// /etc/ssl/certs, …) when it has any, else the Mozilla roots built in, so an image or chroot
/// without a CA bundle still verifies receivers.
fn tls(log: &Logger) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        warn!(log, "no system certificate authorities found; HTTPS deliveries trust the built-in Mozilla roots");
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The delivery client.
pub fn build(config: &ConfigHandle, log: &Logger) -> anyhow::Result<reqwest::Client> {
    let dns = Arc::new(dns(log)?);
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls(log)?)
        .redirect(reqwest::redirect::Policy::none())
        // Never through a proxy named in the environment (HTTP_PROXY, ALL_PROXY): the SSRF policy
        // would then check the proxy's address, not the receiver's.
        .no_proxy()
        .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION"), " (webhook delivery)"))
        .dns_resolver(Arc::new(PolicyResolver { config: config.clone(), dns, log: log.clone() }))
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build()
        .context("building the HTTP client")
}

/// Whether a URL whose host is an IP address literal is refused (the resolver never sees those);
/// the reason is logged for the operator.
pub fn literal_refusal(url: &reqwest::Url, config: &ConfigHandle, log: &Logger) -> Option<&'static str> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    let allowed = config.with(|c| c.delivery.allowed_cidrs.clone());
    let reason = ssrf::refusal(ip, &allowed)?;
    info!(log, "delivery refused by the SSRF policy"; "address" => ip.to_string(), "reason" => reason);
    Some(REFUSED)
}
