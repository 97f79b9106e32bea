//! The external-API rung: timed HTTP GETs to a URL the user names, each on a fresh
//! connection (DNS, TCP handshake, request, full response), as a client calling a
//! third-party API would. Plain `http://` only; no redirects are followed.

use super::{Latencies, Rung};
use crate::error::{Error, Result};
use crate::redact::redact_url;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, read and write timeout per request.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of a response that is read (the rest is cut off with the connection): an
/// endless answer must not eat memory.
pub const MAX_RESPONSE: u64 = 16 << 20;

/// A parsed `http://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Host name or address.
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

/// Parses an `http://` URL; anything else is the user's error, in one line.
pub fn parse_url(url: &str) -> Result<HttpUrl> {
    let shown = redact_url(url);
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            Error::Input(format!(
                "{shown}: https is not supported; give an http:// URL"
            ))
        } else {
            Error::Input(format!("{shown} is not an http:// URL"))
        }
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h,
            p.parse::<u16>()
                .map_err(|_| Error::Input(format!("{shown}: bad port '{p}'")))?,
        ),
        _ => (authority, 80),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(Error::Input(format!("{shown} has no host")));
    }
    Ok(HttpUrl {
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// One GET on a fresh connection; returns the status code.
fn get_once(url: &HttpUrl, shown: &str) -> Result<u16> {
    let unusable = |e: std::io::Error| Error::Unusable(format!("cannot GET {shown}: {e}"));
    let addr = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(unusable)?
        .next()
        .ok_or_else(|| Error::Unusable(format!("cannot resolve {shown}")))?;
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unusable)?;
    s.set_read_timeout(Some(TIMEOUT)).map_err(unusable)?;
    s.set_write_timeout(Some(TIMEOUT)).map_err(unusable)?;
    s.set_nodelay(true).map_err(unusable)?;
    write!(
        s,
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: latency-ladder/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        url.path,
        url.host,
        env!("CARGO_PKG_VERSION")
    )
    .map_err(unusable)?;
    let mut response = Vec::new();
    (&mut s)
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .map_err(unusable)?;
    let head = String::from_utf8_lossy(&response[..response.len().min(64)]).into_owned();
    head.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| head.starts_with("HTTP/"))
        .ok_or_else(|| Error::Unusable(format!("{shown} did not answer with HTTP")))
}

/// Times `samples` GETs (after one untimed) and returns the rung.
pub fn measure(url: &str, samples: u64, mut on_progress: impl FnMut(f64)) -> Result<Rung> {
    let parsed = parse_url(url)?;
    let shown = redact_url(url);
    let status = get_once(&parsed, &shown)?;
    let mut l = Latencies::new();
    for i in 0..samples {
        crate::signal::check()?;
        l.time(|| get_once(&parsed, &shown))?;
        on_progress((i + 1) as f64 / samples as f64);
    }
    l.rung(
        crate::record::rung::RungId::Http,
        format!("HTTP GET {shown}, new connection each"),
        Some(format!("status {status}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_fail_in_one_line() {
        let u = parse_url("http://127.0.0.1:8080/api/v1?q=1").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("127.0.0.1", 8080, "/api/v1?q=1")
        );
        let u = parse_url("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = parse_url("http://[::1]:9000/").unwrap();
        assert_eq!((u.host.as_str(), u.port), ("::1", 9000));
        assert!(parse_url("https://example.com")
            .unwrap_err()
            .to_string()
            .contains("https"));
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("http://host:notaport/").is_err());
        let e = parse_url("http://user:secret@:80/")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn a_loopback_server_is_timed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            for stream in listener.incoming().take(4) {
                let mut s = stream.unwrap();
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = s.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
            }
        });
        let r = measure(&format!("http://127.0.0.1:{port}/"), 3, |_| {}).unwrap();
        assert_eq!(r.samples, 3);
        assert_eq!(r.note.as_deref(), Some("status 200"));
        server.join().unwrap();
    }
}
