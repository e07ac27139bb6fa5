//! The HTTP client deliveries go out through: no redirects, a per-attempt timeout, and a resolver
//! that drops every address the SSRF policy refuses, so the address connected to is the one that
//! was checked (no DNS-rebinding gap). Names are resolved by hickory, in Rust, from
//! /etc/resolv.conf and /etc/hosts: no glibc NSS modules, so a static binary resolves the same.
//!
//! With an egress proxy (`delivery.proxy`) what is checked depends on who resolves the receiver's
//! name. Through `socks5://` Herald resolves it, checks the addresses, and asks the proxy for an
//! address it checked: the same guarantee as a direct connection. Through `http(s)://` and
//! `socks5h://` the proxy resolves it, so Herald resolves it first and refuses a name with no
//! address it may reach (unless `delivery.proxy_checks_destinations` says the proxy does that
//! itself); the proxy may still see another answer, which only a policy in the proxy closes.
//! The proxy's own name is exempt: the operator chose it, and it is often on a private network.

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
#[derive(Clone)]
struct PolicyResolver {
    config: ConfigHandle,
    dns: Arc<TokioResolver>,
    log: Logger,
    /// The egress proxy's host name, resolved without the policy.
    proxy_host: Option<String>,
}

/// Why a name gives no address to connect to.
enum Unusable {
    /// Every address it has is refused by the SSRF policy.
    Refused,
    /// It did not resolve.
    Unresolved(String),
}

impl PolicyResolver {
    /// The addresses of `host` that deliveries may reach.
    async fn usable(&self, host: &str) -> Result<Vec<SocketAddr>, Unusable> {
        let found = self.dns.lookup_ip(host).await.map_err(|e| Unusable::Unresolved(e.to_string()))?;
        let found: Vec<SocketAddr> = found.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
        if self.proxy_host.as_deref() == Some(host) {
            return Ok(found);
        }
        let allowed = self.config.with(|c| c.delivery.allowed_cidrs.clone());
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
            info!(self.log, "delivery refused by the SSRF policy"; "host" => host, "addresses" => reasons.join(", "));
            return Err(Unusable::Refused);
        }
        Ok(usable)
    }
}

/// What an attempt refused by the SSRF policy records: the tenant and its customers read attempts,
/// so it says nothing of what names resolve to inside the operator's network (the log does).
pub const REFUSED: &str = "refused by policy: the endpoint's address is not one deliveries may reach";

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            match resolver.usable(name.as_str()).await {
                Ok(usable) => Ok(Box::new(usable.into_iter()) as Addrs),
                Err(Unusable::Refused) => {
                    Err(Box::new(std::io::Error::other(REFUSED)) as Box<dyn std::error::Error + Send + Sync>)
                }
                Err(Unusable::Unresolved(e)) => {
                    Err(Box::new(std::io::Error::other(e)) as Box<dyn std::error::Error + Send + Sync>)
                }
            }
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

/// TLS for HTTPS deliveries: Herald's root policy (the system's certificate authorities, else
/// the Mozilla roots built in; see `herald::tls::roots`).
fn tls(log: &Logger) -> anyhow::Result<rustls::ClientConfig> {
    let trusted = herald::tls::roots::trusted();
    if !trusted.from_system {
        warn!(log, "no system certificate authorities found; HTTPS deliveries trust the built-in Mozilla roots");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("setting up TLS")?
        .with_root_certificates(trusted.store())
        .with_no_client_auth())
}

/// The delivery client, with what it needs to check a receiver before a proxy connects to it.
#[derive(Clone)]
pub struct Egress {
    /// The HTTP client.
    pub client: reqwest::Client,
    /// Set when a proxy resolves receivers' names: Herald resolves and checks them first.
    precheck: Option<PolicyResolver>,
    config: ConfigHandle,
    log: Logger,
}

impl Egress {
    /// Why a delivery to `url` is not made, if it is not: an address literal the SSRF policy
    /// refuses, or, when a proxy resolves names, a name with no address deliveries may reach.
    pub async fn refusal(&self, url: &reqwest::Url) -> Option<String> {
        if let Some(reason) = literal_refusal(url, &self.config, &self.log) {
            return Some(reason.to_owned());
        }
        let resolver = self.precheck.as_ref()?;
        let url::Host::Domain(name) = url.host()? else { return None };
        if self.config.with(|c| c.delivery.proxy_checks_destinations) {
            return None;
        }
        match resolver.usable(name).await {
            Ok(_) => None,
            Err(Unusable::Refused) => Some(REFUSED.to_owned()),
            Err(Unusable::Unresolved(e)) => Some(format!("the endpoint's host did not resolve: {e}")),
        }
    }
}

/// The delivery client, through `delivery.proxy` when one is set.
pub fn build(config: &ConfigHandle, log: &Logger) -> anyhow::Result<Egress> {
    let delivery = config.with(|c| c.delivery.clone());
    let proxy = match delivery.proxy.as_str() {
        "" => None,
        text => Some(url::Url::parse(text).context("delivery.proxy is not a URL")?),
    };
    let resolver = PolicyResolver {
        config: config.clone(),
        dns: Arc::new(dns(log)?),
        log: log.clone(),
        proxy_host: proxy.as_ref().and_then(|p| p.host_str()).map(str::to_ascii_lowercase),
    };
    let builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls(log)?)
        .redirect(reqwest::redirect::Policy::none())
        // Never through a proxy named in the environment (HTTP_PROXY, ALL_PROXY): only the one
        // configured, whose place in the SSRF policy is known.
        .no_proxy()
        .user_agent(concat!("Herald/", env!("CARGO_PKG_VERSION"), " (webhook delivery)"))
        .dns_resolver(Arc::new(resolver.clone()))
        .pool_idle_timeout(std::time::Duration::from_secs(30));
    let (builder, precheck) = match &proxy {
        None => (builder, None),
        Some(url) => {
            // reqwest takes the credentials from the URL: basic auth for HTTP proxies, the
            // username/password method for SOCKS5.
            let through = reqwest::Proxy::all(url.as_str())
                .context("delivery.proxy")?
                .no_proxy(reqwest::NoProxy::from_string(&delivery.no_proxy.join(",")));
            let remote_names = url.scheme() != "socks5";
            info!(log, "deliveries go through an egress proxy"; "scheme" => url.scheme(),
                "host" => url.host_str().unwrap_or_default(), "bypassed" => delivery.no_proxy.join(","));
            (builder.proxy(through), remote_names.then_some(resolver))
        }
    };
    let client = builder.build().context("building the HTTP client")?;
    Ok(Egress { client, precheck, config: config.clone(), log: log.clone() })
}

/// Whether a URL whose host is an IP address literal is refused (the resolver never sees those);
/// the reason is logged for the operator.
fn literal_refusal(url: &reqwest::Url, config: &ConfigHandle, log: &Logger) -> Option<&'static str> {
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
