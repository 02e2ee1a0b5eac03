//! Asking a TURN server for an allocation before media needs it, so that wrong credentials or
//! an unreachable server are a clear error rather than an ICE timeout (webrtc-rs only logs
//! them). The allocation is released at once.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc::sansio::Protocol;
use rtc::shared::{TransportContext, TransportMessage, TransportProtocol};
use rtc::turn::client::{Client, ClientConfig, Event};

/// How long a TURN server has to answer (its client retransmits meanwhile).
const ANSWER_WITHIN: Duration = Duration::from_secs(3);

/// Why a TURN server gives no relay.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TurnError {
    #[error("{0}: the TURN server refused the credentials ({1})")]
    Refused(String, String),
    #[error("{0}: no answer from the TURN server within {ANSWER_WITHIN:?}")]
    Unreachable(String),
    #[error("{0}: {1}")]
    Bad(String, String),
}

/// The TURN (UDP) URLs among `urls` as (host:port, user, password, the URL without its
/// credentials), read as the peer reads them.
fn turn_servers(urls: &[String]) -> Vec<(String, String, String, String)> {
    urls.iter()
        .map(|url| super::parse_ice_server(url))
        .filter_map(|server| {
            let url = server.urls.first()?;
            let host = url.strip_prefix("turn:")?;
            let host = host.split('?').next().unwrap_or(host);
            let host = match host.rsplit_once(':') {
                Some((_, port)) if port.parse::<u16>().is_ok() => host.to_owned(),
                _ => format!("{host}:3478"),
            };
            let shown = format!("turn:{host}");
            Some((host, server.username, server.credential, shown))
        })
        .collect()
}

/// Allocates (and releases) a relay on every TURN server in `urls`, from `bind`.
pub(crate) async fn check_turn_servers(
    urls: &[String],
    bind: std::net::IpAddr,
) -> Result<(), TurnError> {
    for (host, user, pass, shown) in turn_servers(urls) {
        allocate_once(&host, &user, &pass, bind)
            .await
            .map_err(|e| match e {
                Probe::Refused(why) => TurnError::Refused(shown.clone(), why),
                Probe::Timeout => TurnError::Unreachable(shown.clone()),
                Probe::Other(why) => TurnError::Bad(shown.clone(), why),
            })?;
    }
    Ok(())
}

enum Probe {
    Refused(String),
    Timeout,
    Other(String),
}

async fn allocate_once(
    host: &str,
    user: &str,
    pass: &str,
    bind: std::net::IpAddr,
) -> Result<(), Probe> {
    let other = |e: &dyn std::fmt::Display| Probe::Other(e.to_string());
    let server: SocketAddr = tokio::net::lookup_host(host)
        .await
        .map_err(|e| other(&e))?
        .find(|a| a.is_ipv4() == bind.is_ipv4())
        .ok_or_else(|| Probe::Other(format!("{host} has no address of the media's family")))?;
    let socket = tokio::net::UdpSocket::bind(SocketAddr::new(bind, 0))
        .await
        .map_err(|e| other(&e))?;
    let local = socket.local_addr().map_err(|e| other(&e))?;
    let crypto = rtc::crypto::default_provider().map_err(|e| other(&e))?;
    let mut client = Client::new(
        ClientConfig {
            stun_serv_addr: server.to_string(),
            turn_serv_addr: server.to_string(),
            local_addr: local,
            transport_protocol: TransportProtocol::UDP,
            username: user.into(),
            password: pass.into(),
            ..Default::default()
        },
        crypto,
    )
    .map_err(|e| other(&e))?;
    let tid = client.allocate(Instant::now()).map_err(|e| other(&e))?;
    let deadline = Instant::now() + ANSWER_WITHIN;
    let mut buf = vec![0u8; 2048];
    loop {
        while let Some(out) = client.poll_write() {
            let _ = socket.send_to(&out.message, out.transport.peer_addr).await;
        }
        while let Some(event) = client.poll_event() {
            match event {
                Event::AllocateResponse(t, _) if t == tid => {
                    // Release it: nothing is relayed through it.
                    let _ = client.close();
                    while let Some(out) = client.poll_write() {
                        let _ = socket.send_to(&out.message, out.transport.peer_addr).await;
                    }
                    return Ok(());
                }
                Event::AllocateError(t, e) if t == tid => {
                    return Err(Probe::Refused(e.to_string()));
                }
                Event::TransactionTimeout(_) => return Err(Probe::Timeout),
                _ => {}
            }
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Probe::Timeout);
        }
        let wake = client.poll_timeout().unwrap_or(deadline).min(deadline);
        tokio::select! {
            r = socket.recv_from(&mut buf) => {
                let (n, from) = r.map_err(|e| other(&e))?;
                let msg = TransportMessage {
                    now: Instant::now(),
                    transport: TransportContext {
                        local_addr: local,
                        peer_addr: from,
                        transport_protocol: TransportProtocol::UDP,
                        ecn: None,
                    },
                    message: BytesMut::from(&buf[..n]),
                };
                client.handle_read(msg).map_err(|e| other(&e))?;
            }
            _ = tokio::time::sleep_until(wake.into()) => {
                client.handle_timeout(Instant::now()).map_err(|e| other(&e))?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turn_urls_give_host_port_and_credentials() {
        let urls = [
            "stun:127.0.0.1:3478".to_owned(),
            "turn:alice:secret@10.0.0.1:3479".to_owned(),
            "turn:turn.example.org".to_owned(),
        ];
        let got = turn_servers(&urls);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "10.0.0.1:3479");
        assert_eq!((got[0].1.as_str(), got[0].2.as_str()), ("alice", "secret"));
        assert_eq!(got[0].3, "turn:10.0.0.1:3479");
        assert_eq!(got[1].0, "turn.example.org:3478");
    }
}
