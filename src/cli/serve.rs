//! `vcall serve`'s flags.

use std::net::SocketAddr;

use clap::Args;

use super::common::{
    ImpairArgs, KeyArgs, parse_bitrate, parse_dtls_certificate, parse_duration_or_zero,
};

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address for signaling and the HTTP API.
    #[arg(long, default_value = "127.0.0.1:7880")]
    pub(crate) listen: SocketAddr,
    #[command(flatten)]
    pub(crate) keys: KeyArgs,
    /// STUN or TURN server told to clients for their media (repeatable; WHIP/WHEP `Link`
    /// headers); `turn:user:pass@host:port` carries credentials. The server's own candidates
    /// are its addresses on the media port, or --public-ip.
    #[arg(long = "ice-server", value_name = "URL")]
    pub(crate) ice_servers: Vec<String>,
    /// `serving` when it listens and `serverStopped` at the end, as JSON lines (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
    /// Signaling connections open at once; more are refused with `tooManyConnections`.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) max_connections: usize,
    /// Signaling connections open at once from one IP address.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) max_connections_per_ip: usize,
    /// Serve HTTPS and WSS (signaling, session API, WHIP/WHEP) with this PEM certificate chain.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub(crate) tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub(crate) tls_key: Option<std::path::PathBuf>,
    /// The one UDP port every client's media shares (0: any free one).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 7882,
        conflicts_with = "udp_ports"
    )]
    pub(crate) udp_port: u16,
    /// Take the media port from this range instead, e.g. 40000-40999: the first free one.
    #[arg(long, value_name = "LO-HI", value_parser = parse_port_range)]
    pub(crate) udp_ports: Option<(u16, u16)>,
    /// The address media candidates advertise, for a server behind 1:1 NAT (e.g. a cloud VM's
    /// public IP while it listens on its private one).
    #[arg(long, value_name = "IP")]
    pub(crate) public_ip: Option<std::net::IpAddr>,
    /// DTLS certificate and PKCS#8 key (one PEM file) for media, instead of a new ECDSA one.
    #[arg(long, value_name = "PEM", value_parser = parse_dtls_certificate)]
    pub(crate) dtls_certificate: Option<crate::peer::DtlsCertificate>,
    /// The most a publisher is asked to send (REMB, k and M suffixes work), like a Janus room's
    /// `bitrate`; publishers are also held to what their slowest subscriber can take.
    #[arg(long, value_name = "BPS", value_parser = parse_bitrate)]
    pub(crate) max_subscriber_bitrate: Option<u32>,
    /// How long a stream whose publisher's connection was lost (not left) waits for the
    /// publisher to come back and go on in the same subscriptions and recordings; 0 ends it
    /// at once.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration_or_zero)]
    pub(crate) publisher_grace: std::time::Duration,
    #[command(flatten)]
    pub(crate) impair: ImpairArgs,
}

/// `LO-HI`, both ports, LO <= HI.
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let (lo, hi) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: a range is LO-HI, e.g. 40000-40999"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("{p:?} is not a port (1-65535)"))
    };
    let (lo, hi) = (port(lo)?, port(hi)?);
    if lo > hi {
        return Err(format!("{s:?}: the range runs from low to high"));
    }
    Ok((lo, hi))
}
