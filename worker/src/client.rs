//! The HTTP client deliveries go out through: no redirects, a per-attempt timeout, and a resolver
//! that drops every address the SSRF policy refuses, so the address connected to is the one that
//! was checked (no DNS-rebinding gap).

use herald::config::ConfigHandle;
use herald::ssrf;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;
use std::sync::Arc;

/// Resolves names, keeping only addresses deliveries may reach (read live from config).
struct PolicyResolver {
    config: ConfigHandle,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let config = self.config.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
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
                let detail = format!("refused by the SSRF policy: {host} resolves only to {}", reasons.join(", "));
                return Err(Box::new(std::io::Error::other(detail)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

/// The delivery client.
pub fn build(config: &ConfigHandle) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION"), " (webhook delivery)"))
        .dns_resolver(Arc::new(PolicyResolver { config: config.clone() }))
        .pool_idle_timeout(std::time::Duration::from_secs(30))
        .build()
}

/// Why a URL whose host is an IP address literal is refused (the resolver never sees those).
pub fn literal_refusal(url: &reqwest::Url, config: &ConfigHandle) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    let allowed = config.with(|c| c.delivery.allowed_cidrs.clone());
    ssrf::refusal(ip, &allowed).map(|reason| format!("refused by the SSRF policy: {ip} is a {reason}"))
}
