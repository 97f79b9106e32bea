//! The managed origin: a small HTTP/1.1 server inside ladder, on a loopback ephemeral
//! port, serving the run's product catalogue as JSON at `/products/{id}` with an
//! `ETag` and `Cache-Control: public, max-age=N`, answering `If-None-Match` with 304
//! and no body. `?size=1k|100k|1m` picks the body size (the product and as many
//! related products as fill it); `?max_age=N` overrides the max-age for one URL (the
//! edge's STALE rows need entries that expire quickly). It counts the requests it
//! served, which is how the edge's hits are shown not to reach it.
//!
//! Written on std's sockets (a thread per connection, keep-alive) rather than taken
//! from a server crate: the load is a single client, and the HTTPS variant is the same
//! code over a rustls stream, with a self-signed certificate made at start (rcgen).

use crate::error::{Error, Result};
use crate::record::http::BodySize;
use crate::rungs::db::{DataSet, Product};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The largest request head the origin reads.
const MAX_HEAD: usize = 16 << 10;
/// Bodies kept ready at most (their bytes), past which the memo starts over.
const MEMO_BYTES: usize = 64 << 20;
/// The largest `max_age` a URL may ask for: a day.
const MAX_AGE_LIMIT: u64 = 86_400;
/// How often a connection's thread looks at the stop flag while idle.
const POLL: Duration = Duration::from_millis(100);

/// A body and its validator.
struct Body {
    json: Vec<u8>,
    etag: String,
}

/// The bodies made so far, and their bytes.
type Memo = (HashMap<(i64, BodySize), Arc<Body>>, usize);

/// What the connection threads share.
struct Shared {
    products: Vec<Product>,
    max_age_s: u64,
    served: AtomicU64,
    stop: AtomicBool,
    live: AtomicUsize,
    memo: Mutex<Memo>,
    tls: Option<Arc<rustls::ServerConfig>>,
}

/// A running origin; stopped on drop.
pub struct Origin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    /// The same port on ::1, where this host has IPv6 loopback: `localhost` may
    /// resolve to either family first.
    accept6: Option<(SocketAddr, JoinHandle<()>)>,
    certificate: Option<CertificateDer<'static>>,
}

impl Origin {
    /// Starts the origin over the products of `data`, sending `max_age_s`; with `tls`,
    /// HTTPS with a fresh self-signed certificate for `localhost` and 127.0.0.1.
    pub fn start(data: &DataSet, max_age_s: u64, tls: bool) -> Result<Origin> {
        let internal = |e: std::io::Error| Error::Internal(format!("managed origin: {e}"));
        let (tls_config, certificate) = if tls {
            let (config, cert) = server_tls()?;
            (Some(Arc::new(config)), Some(cert))
        } else {
            (None, None)
        };
        let listener = TcpListener::bind(("127.0.0.1", 0)).map_err(internal)?;
        let addr = listener.local_addr().map_err(internal)?;
        let shared = Arc::new(Shared {
            products: data.products().collect(),
            max_age_s,
            served: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            memo: Mutex::new((HashMap::new(), 0)),
            tls: tls_config,
        });
        let spawn_accept = |listener: TcpListener| {
            let s = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("ladder-origin".into())
                .spawn(move || accept_loop(listener, s))
                .map_err(internal)
        };
        let v6 = TcpListener::bind(("::1", addr.port()))
            .ok()
            .and_then(|l| Some((l.local_addr().ok()?, l)));
        let accept6 = match v6 {
            Some((a, l)) => Some((a, spawn_accept(l)?)),
            None => None,
        };
        let accept = spawn_accept(listener)?;
        Ok(Origin {
            addr,
            shared,
            accept: Some(accept),
            accept6,
            certificate,
        })
    }

    /// Whether it also listens on ::1 (where this host has IPv6 loopback).
    pub fn on_ipv6_loopback(&self) -> bool {
        self.accept6.is_some()
    }

    /// The loopback port (the same on 127.0.0.1 and ::1).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Requests served so far.
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::SeqCst)
    }

    /// The certificate of the HTTPS variant (to trust it by pinning).
    pub fn certificate(&self) -> Option<&CertificateDer<'static>> {
        self.certificate.as_ref()
    }

    /// Whether this origin speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.certificate.is_some()
    }

    /// The URL of product `id` at `size`, through host name `host`.
    pub fn url(&self, host: &str, id: i64, size: BodySize) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!(
            "{scheme}://{host}:{}{}",
            self.port(),
            product_path(id, size)
        )
    }

    /// Whether it still serves (not stopped).
    pub fn is_running(&self) -> bool {
        self.accept.is_some()
    }

    /// Stops accepting, closes every connection and waits (up to 2 s) for them.
    pub fn stop(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accepts.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        let _ = accept.join();
        if let Some((addr6, accept6)) = self.accept6.take() {
            let _ = TcpStream::connect_timeout(&addr6, Duration::from_millis(200));
            let _ = accept6.join();
        }
        let start = Instant::now();
        while self.shared.live.load(Ordering::SeqCst) > 0 && start.elapsed() < 2 * POLL * 10 {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `/products/{id}?size=...`.
pub fn product_path(id: i64, size: BodySize) -> String {
    format!("/products/{id}?size={}", size.name())
}

/// A self-signed certificate for localhost and 127.0.0.1, and a server config for it.
fn server_tls() -> Result<(rustls::ServerConfig, CertificateDer<'static>)> {
    let tls_err = |e: &dyn std::fmt::Display| Error::Internal(format!("origin TLS: {e}"));
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| tls_err(&e))?;
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| tls_err(&e))?
    .with_no_client_auth()
    .with_single_cert(vec![cert.clone()], private)
    .map_err(|e| tls_err(&e))?;
    Ok((config, cert))
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else { continue };
        shared.live.fetch_add(1, Ordering::SeqCst);
        let s = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("ladder-origin-conn".into())
            .spawn(move || {
                let _ = connection(stream, &s);
                s.live.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.live.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

fn connection(stream: TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(POLL))?;
    match &shared.tls {
        Some(config) => {
            let conn =
                rustls::ServerConnection::new(Arc::clone(config)).map_err(std::io::Error::other)?;
            serve(rustls::StreamOwned::new(conn, stream), shared)
        }
        None => serve(stream, shared),
    }
}

/// Serves requests on one connection until the client closes it, asks to, or the
/// origin stops.
fn serve(mut s: impl Read + Write, shared: &Shared) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if buf.len() > MAX_HEAD || shared.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            match s.read(&mut chunk) {
                Ok(0) => return Ok(()),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(e) => return Err(e),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        shared.served.fetch_add(1, Ordering::SeqCst);
        let (response, body, keep) = answer(&head, shared);
        s.write_all(response.as_bytes())?;
        if let Some(body) = body {
            s.write_all(&body.json)?;
        }
        s.flush()?;
        if !keep {
            return Ok(());
        }
    }
}

/// The response head, the body to send (if any) and whether to keep the connection.
fn answer(head: &str, shared: &Shared) -> (String, Option<Arc<Body>>, bool) {
    let mut lines = head.split("\r\n");
    let request = lines.next().unwrap_or("");
    let mut parts = request.split_whitespace();
    let (method, target, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let connection = header("connection")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let keep = if version == "HTTP/1.1" {
        connection != "close"
    } else {
        connection == "keep-alive"
    };
    let conn_header = if keep { "keep-alive" } else { "close" };
    let plain = |status: &str| {
        (
            format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: {conn_header}\r\n\r\n"),
            None,
            keep,
        )
    };
    if method != "GET" && method != "HEAD" {
        return plain("405 Method Not Allowed");
    }
    let Some((id, size, max_age)) = route(target, shared) else {
        return plain("404 Not Found");
    };
    let body = shared.body(id, size);
    let cache = format!(
        "Cache-Control: public, max-age={max_age}\r\nETag: {}\r\n",
        body.etag
    );
    let matches = header("if-none-match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == body.etag || t.trim() == "*")
    });
    if matches {
        return (
            format!("HTTP/1.1 304 Not Modified\r\n{cache}Connection: {conn_header}\r\n\r\n"),
            None,
            keep,
        );
    }
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{cache}\
         Connection: {conn_header}\r\n\r\n",
        body.json.len()
    );
    (response, (method == "GET").then_some(body), keep)
}

/// The product id, body size and max-age of a request target, if it names a product.
fn route(target: &str, shared: &Shared) -> Option<(i64, BodySize, u64)> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let id: i64 = path.strip_prefix("/products/")?.parse().ok()?;
    if id < 1 || id as usize > shared.products.len() {
        return None;
    }
    let mut size = BodySize::K1;
    let mut max_age = shared.max_age_s;
    for pair in query.split('&') {
        match pair.split_once('=') {
            Some(("size", v)) => size = BodySize::parse(v)?,
            Some(("max_age", v)) => max_age = v.parse().ok().filter(|&a| a <= MAX_AGE_LIMIT)?,
            _ => {}
        }
    }
    Some((id, size, max_age))
}

impl Shared {
    /// The body of product `id` at `size`, made once and kept (within a bound).
    fn body(&self, id: i64, size: BodySize) -> Arc<Body> {
        let mut memo = self.memo.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = memo.0.get(&(id, size)) {
            return Arc::clone(b);
        }
        let json = catalogue_json(&self.products, id, size.target_bytes());
        let etag = format!("\"{:016x}\"", fnv1a(&json));
        let body = Arc::new(Body { json, etag });
        if memo.1 + body.json.len() > MEMO_BYTES {
            *memo = (HashMap::new(), 0);
        }
        memo.1 += body.json.len();
        memo.0.insert((id, size), Arc::clone(&body));
        body
    }
}

fn product_json(out: &mut String, p: &Product) {
    let _ = write!(
        out,
        "{{\"id\":{},\"name\":\"{}\",\"category\":{},\"price_cents\":{}}}",
        p.id, p.name, p.category, p.price_cents
    );
}

/// Product `id` (1-based) and as many related products (a fixed walk through the
/// catalogue) as make the JSON at least `target` bytes.
pub fn catalogue_json(products: &[Product], id: i64, target: usize) -> Vec<u8> {
    let n = products.len();
    let at = |i: usize| &products[i % n];
    let mut out = String::with_capacity(target + 128);
    let p = at(id as usize - 1);
    let _ = write!(
        out,
        "{{\"id\":{},\"name\":\"{}\",\"category\":{},\"price_cents\":{},\"related\":[",
        p.id, p.name, p.category, p.price_cents
    );
    let mut k = 0usize;
    while out.len() + 2 < target {
        if k > 0 {
            out.push(',');
        }
        product_json(&mut out, at(id as usize + k * 7919));
        k += 1;
    }
    out.push_str("]}");
    out.into_bytes()
}

/// 64-bit FNV-1a: the ETag is a hash of the body's bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_reach_their_size_and_are_json() {
        let data = DataSet::new(2_000, 1);
        let products: Vec<Product> = data.products().collect();
        for size in BodySize::ALL {
            let json = catalogue_json(&products, 3, size.target_bytes());
            assert!(json.len() >= size.target_bytes(), "{size:?}");
            assert!(json.len() < size.target_bytes() + 200, "{size:?}");
            let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
            assert_eq!(v["id"], 3);
            assert!(!v["related"].as_array().unwrap().is_empty());
        }
    }
}
