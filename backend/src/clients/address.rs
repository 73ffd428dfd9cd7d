//! Who a request comes from: the connection's peer, or, when the peer is a trusted proxy, the
//! address that proxy says it forwarded for.
//!
//! Only proxies in `CRUDDUR_TRUSTED_PROXIES` are believed, and the forwarded chain is read from
//! the right: each trusted proxy appends the address it received from, so the rightmost address
//! that is not a trusted proxy is the first one no trusted party vouches for beyond. The
//! leftmost is whatever the client chose to write.
//!
//! Exactly one header is read, the one the proxies append to (`CRUDDUR_FORWARDED_HEADER`): nginx
//! and AWS's load balancers append to `X-Forwarded-For` and pass a client's own `Forwarded`
//! through untouched, so a client could name itself in whichever header the proxy leaves alone.
//!
//! `Forwarded` (RFC 7239) is parsed here by hand: no maintained crate reads its `for=` chain.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use ipnet::IpNet;

/// `CRUDDUR_FORWARDED_HEADER`: the one header the trusted proxies append the client to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`, AWS's load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239's `Forwarded`, its `for=` parameters.
    Forwarded,
}

impl ForwardedHeader {
    /// What `CRUDDUR_FORWARDED_HEADER` accepts, for the error that names it.
    pub const ACCEPTED: &str = "x-forwarded-for or forwarded";

    /// `x-forwarded-for` or `forwarded`, in any case.
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Some(ForwardedHeader::XForwardedFor),
            "forwarded" => Some(ForwardedHeader::Forwarded),
            _ => None,
        }
    }
}

/// `CRUDDUR_TRUSTED_PROXIES`: the networks whose forwarded header is believed, and which header
/// that is. No networks: none are, and the peer is the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// A comma- or space-separated list of CIDRs or single addresses, whose `X-Forwarded-For`
    /// is read until `reading` says otherwise.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split([',', ' '])
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is not a CIDR or an IP address"))
            })
            .collect::<Result<_, _>>()
            .map(|networks| TrustedProxies {
                networks,
                header: ForwardedHeader::default(),
            })
    }

    /// The same proxies, believed only in `header`.
    pub fn reading(self, header: ForwardedHeader) -> Self {
        TrustedProxies { header, ..self }
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.networks
            .iter()
            .any(|network| network.contains(&address))
    }

    /// The client's address for a request that arrived from `peer` with `headers`.
    pub fn client_address(&self, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer.ip());
        if !self.contains(peer) {
            return peer;
        }
        let chain = match self.header {
            ForwardedHeader::XForwardedFor => x_forwarded_for(headers),
            ForwardedHeader::Forwarded => forwarded_for(headers),
        };
        let mut client = peer;
        for hop in chain.iter().rev() {
            match hop {
                Some(address) if self.contains(*address) => client = *address,
                Some(address) => return *address,
                // An address that can't be read (`unknown`, an obfuscated name) ends the chain:
                // the last trusted hop is the best that is known.
                None => return client,
            }
        }
        client
    }

    /// The client's address for `request`; one served without its peer's address
    /// (`ConnectInfo`) counts as from the unspecified address.
    pub fn request_client(&self, request: &Request) -> IpAddr {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                |ConnectInfo(peer)| *peer,
            );
        self.client_address(peer, request.headers())
    }
}

/// The key requests from one client share for rate limiting: an IPv6 client usually holds a
/// whole /64, so its addresses count as one.
pub fn rate_limit_key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
        v4 => v4,
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address it is.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The addresses in every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// The `for=` addresses in every `Forwarded` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("forwarded")
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("").split(','))
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, node)| parse_node(node.trim().trim_matches('"')))
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(address) = node.parse::<IpAddr>() {
        return Some(canonical(address));
    }
    if let Ok(address) = node.parse::<SocketAddr>() {
        return Some(canonical(address.ip()));
    }
    node.strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
        .map(|v6| canonical(IpAddr::V6(v6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_static(value));
        }
        headers
    }

    fn peer(address: &str) -> SocketAddr {
        SocketAddr::new(address.parse().unwrap(), 40000)
    }

    fn ip(address: &str) -> IpAddr {
        address.parse().unwrap()
    }

    #[test]
    fn with_no_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let proxies = TrustedProxies::default();
        let forged = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.7"), &forged),
            ip("10.0.0.7")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_address_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.1").unwrap();
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.1.2.3")]);
        assert_eq!(
            proxies.client_address(peer("192.168.1.1"), &chain),
            ip("203.0.113.9"),
            "the spoofable first address is never taken"
        );
    }

    #[test]
    fn repeated_forwarded_for_headers_form_one_chain() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.4, 10.0.0.2"),
        ]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.1"), &chain),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_forward_for_anyone() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(
            proxies.client_address(peer("203.0.113.1"), &chain),
            ip("203.0.113.1")
        );
    }

    #[test]
    fn the_forwarded_header_is_read_with_quoted_ipv6_and_ports() {
        let proxies = TrustedProxies::parse("10.0.0.0/8")
            .unwrap()
            .reading(ForwardedHeader::Forwarded);
        let chain = headers(&[(
            "forwarded",
            "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https, For=10.0.0.3",
        )]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.1"), &chain),
            ip("2001:db8:cafe::17")
        );
    }

    #[test]
    fn only_the_configured_header_is_read_whatever_else_the_client_adds() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let both = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=198.51.100.77"),
        ]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.1"), &both),
            ip("203.0.113.9"),
            "X-Forwarded-For by default: a client's own Forwarded passes the proxy untouched"
        );
        let forwarded = proxies.reading(ForwardedHeader::Forwarded);
        assert_eq!(
            forwarded.client_address(peer("10.0.0.1"), &both),
            ip("198.51.100.77")
        );
        let only_xff = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            forwarded.client_address(peer("10.0.0.1"), &only_xff),
            ip("10.0.0.1"),
            "with no Forwarded the trusted proxy itself is the client"
        );
    }

    #[test]
    fn the_forwarded_header_setting_accepts_its_two_names_in_any_case() {
        assert_eq!(
            ForwardedHeader::parse(" X-Forwarded-For "),
            Some(ForwardedHeader::XForwardedFor)
        );
        assert_eq!(
            ForwardedHeader::parse("Forwarded"),
            Some(ForwardedHeader::Forwarded)
        );
        assert_eq!(ForwardedHeader::parse("x-real-ip"), None);
    }

    #[test]
    fn an_unreadable_hop_leaves_the_last_trusted_proxy_as_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = headers(&[("x-forwarded-for", "1.1.1.1, unknown, 10.0.0.9")]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.1"), &chain),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn a_chain_of_trusted_proxies_only_names_the_first_of_them() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = headers(&[("x-forwarded-for", "10.0.0.5, 10.0.0.6")]);
        assert_eq!(
            proxies.client_address(peer("10.0.0.1"), &chain),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn ipv4_mapped_peers_are_matched_as_ipv4() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let chain = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(
            proxies.client_address(peer("::ffff:127.0.0.1"), &chain),
            ip("198.51.100.4")
        );
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_64_bit_prefix() {
        assert_eq!(
            rate_limit_key(ip("2001:db8:1:2:aaaa::1")),
            rate_limit_key(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            rate_limit_key(ip("2001:db8:1:2::1")),
            rate_limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(rate_limit_key(ip("203.0.113.7")), ip("203.0.113.7"));
    }

    #[test]
    fn a_malformed_trusted_proxy_list_is_refused_with_the_entry() {
        let error = TrustedProxies::parse("10.0.0.0/8, nonsense").unwrap_err();
        assert!(error.contains("nonsense"), "{error}");
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
