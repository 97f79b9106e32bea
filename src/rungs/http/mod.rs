//! The external-API rung: timed HTTP(S) GETs to a URL the user names, phase by phase
//! (DNS, connect, TLS, first byte, transfer), each on a fresh connection as a client
//! calling a third-party API would, and again on one kept connection. The row of the
//! ladder is the total on a fresh connection. No redirects are followed.

pub mod client;
pub mod phases;

use super::Rung;
use crate::error::{Error, Result};
use crate::record::http::{Phase, PhaseRun, PhaseTarget};
use crate::redact::redact_url;
use client::{Client, Trust};
use phases::phase_run;
use std::time::Duration;

/// Connect, read and write timeout per request.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most one request may take, whole (connect, TLS, request, every byte of the
/// answer): a server that drips its answer a byte at a time cannot hold us longer.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The most of a response that is read: an endless answer must not eat memory.
pub const MAX_RESPONSE: u64 = 16 << 20;

/// A parsed `http(s)://host[:port][/path]` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    /// Whether it is https.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// Port (80 or 443 by default).
    pub port: u16,
    /// Path and query, starting with '/'.
    pub path: String,
}

impl HttpUrl {
    /// The `Host:` header: the host, bracketed when it is an IPv6 address, with the
    /// port unless it is the scheme's default.
    pub fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default = if self.tls { 443 } else { 80 };
        if self.port == default {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// Parses an `http://` or `https://` URL; anything else is the user's error, in one
/// line.
pub fn parse_url(url: &str) -> Result<HttpUrl> {
    let shown = redact_url(url);
    let (tls, rest) = match (url.strip_prefix("http://"), url.strip_prefix("https://")) {
        (Some(rest), _) => (false, rest),
        (_, Some(rest)) => (true, rest),
        _ => {
            return Err(Error::Input(format!(
                "{shown} is not an http:// or https:// URL"
            )))
        }
    };
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
        _ => (authority, if tls { 443 } else { 80 }),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(Error::Input(format!("{shown} has no host")));
    }
    Ok(HttpUrl {
        tls,
        host: host.to_string(),
        port,
        path: path.to_string(),
    })
}

/// One GET of `url` on a new connection: whether it answers HTTP at all.
pub fn probe(url: &str, insecure: bool) -> Result<u16> {
    let parsed = parse_url(url)?;
    let trust = if insecure {
        Trust::Insecure
    } else {
        Trust::Roots
    };
    let path = parsed.path.clone();
    let mut client = Client::new(parsed, redact_url(url), trust)?;
    Ok(client.get(&path, &[], false)?.status)
}

/// Times `samples` GETs of the user's `url` phase by phase, a new connection each and
/// then on one kept connection; returns the ladder's row (the totals on new
/// connections) and both phase runs. `insecure` switches certificate checks off.
pub fn measure(
    url: &str,
    insecure: bool,
    samples: u64,
    mut on_progress: impl FnMut(f64),
) -> Result<(Rung, Vec<PhaseRun>)> {
    let parsed = parse_url(url)?;
    let shown = redact_url(url);
    let trust = if insecure {
        Trust::Insecure
    } else {
        Trust::Roots
    };
    let mut client = Client::new(parsed, shown.clone(), trust)?;
    let mut runs = Vec::new();
    let mut totals = None;
    for (i, reuse) in [false, true].into_iter().enumerate() {
        let (run, total) = phase_run(
            &mut client,
            &shown,
            PhaseTarget::User,
            insecure,
            reuse,
            samples,
            |f| on_progress((i as f64 + f) / 2.0),
        )?;
        if !reuse {
            totals = Some(total);
        }
        runs.push(run);
    }
    let fresh = &runs[0];
    let mut total = totals.ok_or_else(|| Error::Internal("no http samples".into()))?;
    let method = format!(
        "HTTP{} GET {shown}, new connection each{}",
        if fresh.tls { "S" } else { "" },
        if insecure {
            " (certificate NOT checked)"
        } else {
            ""
        }
    );
    debug_assert!(fresh.phase(Phase::Total).is_some());
    let rung = total.rung(
        crate::record::rung::RungId::Http,
        method,
        Some(format!("status {}", fresh.status)),
    )?;
    Ok((rung, runs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

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
        let u = parse_url("https://example.com/x").unwrap();
        assert_eq!(
            (u.tls, u.port, u.host_header()),
            (true, 443, "example.com".into())
        );
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
        let (r, runs) = measure(&format!("http://127.0.0.1:{port}/"), false, 1, |_| {}).unwrap();
        assert_eq!(r.samples, 1);
        assert_eq!(runs.len(), 2);
        assert_eq!(r.note.as_deref(), Some("status 200"));
        server.join().unwrap();
    }
}
