//! Fake tunnels and the delivery routing both providers' webhooks share: an https URL a
//! provider would call is rewritten onto a registered loopback base, as ngrok forwards in
//! production, and nothing is ever sent outside this machine.

use std::net::IpAddr;

use serde::Serialize;

use crate::state::App;

/// A registered fake tunnel: `public_base` (https) forwards to `local_base` (loopback http).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    /// The public URL prefix, as the provider would call it.
    pub public_base: String,
    /// Where the sandbox really delivers.
    pub local_base: String,
}

impl Tunnel {
    pub(crate) fn new(public_base: &str, local_base: &str) -> Self {
        Self {
            public_base: public_base.trim_end_matches('/').to_owned(),
            local_base: local_base.trim_end_matches('/').to_owned(),
        }
    }

    /// The forwarded URL, when `url` starts with this tunnel's public base at a boundary.
    fn forward(&self, url: &str) -> Option<String> {
        let rest = url.strip_prefix(&self.public_base)?;
        (rest.is_empty() || rest.starts_with(['/', '?', '#']))
            .then(|| format!("{}{}", self.local_base, rest))
    }
}

/// Applies the tunnels (longest public base wins); refuses https without a tunnel and
/// anything outside loopback. Returns the URL to really send to.
pub(crate) fn route(app: &App, url: &str) -> Result<String, String> {
    let forwarded = {
        let tunnels = app.tunnels();
        tunnels
            .iter()
            .filter_map(|t| t.forward(url).map(|f| (t.public_base.len(), f)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, f)| f)
    };
    let target = match forwarded {
        Some(f) => f,
        None if url.starts_with("https://") => {
            return Err("no tunnel registered for this https URL".into());
        }
        None => url.to_owned(),
    };
    let parsed = url::Url::parse(&target).map_err(|e| format!("bad delivery URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    if !loopback {
        // The sandbox only ever talks to this machine.
        return Err("refusing to deliver outside loopback".into());
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_forwards_only_at_a_path_boundary() {
        let t = Tunnel::new("https://abc.ngrok.app/", "http://127.0.0.1:9000");
        assert_eq!(
            t.forward("https://abc.ngrok.app/hooks?x=1").as_deref(),
            Some("http://127.0.0.1:9000/hooks?x=1")
        );
        assert_eq!(t.forward("https://abc.ngrok.app.evil.example/hooks"), None);
    }
}
