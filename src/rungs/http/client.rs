//! A small HTTP/1.1 client that times a request phase by phase, as curl's `-w` does:
//! name resolution, TCP connect, TLS handshake, time to first byte, transfer. It counts
//! the bytes that crossed the socket (TLS records included), keeps a connection for the
//! next request when asked to, and speaks HTTPS through rustls: the Mozilla roots
//! (webpki-roots), one pinned certificate (the run's own origin), or, only when the
//! user says `--http-insecure`, no checks at all.

use crate::error::{Error, Result};
use crate::rungs::http::{HttpUrl, DEADLINE, MAX_RESPONSE, TIMEOUT};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Which certificates an HTTPS connection accepts.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The Mozilla root store (webpki-roots).
    Roots,
    /// Exactly this self-signed certificate (the run's own origin).
    Pinned(CertificateDer<'static>),
    /// Anything: no certificate checks (`--http-insecure`).
    Insecure,
}

/// A byte-counting wrapper around the socket, which also holds the request's
/// deadline ([`DEADLINE`]).
struct Counting {
    sock: TcpStream,
    read: u64,
    written: u64,
    deadline: Instant,
}

impl Counting {
    /// Fails once the deadline has passed; near it, shortens the socket's timeouts to
    /// what is left (far from it they stay [`TIMEOUT`]: no system call per read).
    fn before_io(&mut self) -> std::io::Result<()> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(past_deadline());
        }
        if left < TIMEOUT {
            self.sock.set_read_timeout(Some(left))?;
            self.sock.set_write_timeout(Some(left))?;
        }
        Ok(())
    }

    /// A socket timeout that ran into the deadline says so.
    fn explain(&self, e: std::io::Error) -> std::io::Error {
        let timeout = matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        if timeout && Instant::now() >= self.deadline {
            past_deadline()
        } else {
            e
        }
    }
}

/// The error of a request past its [`DEADLINE`].
fn past_deadline() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no whole answer within {} s", DEADLINE.as_secs()),
    )
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.before_io()?;
        let n = self.sock.read(buf).map_err(|e| self.explain(e))?;
        self.read += n as u64;
        Ok(n)
    }
}

impl Write for Counting {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.before_io()?;
        let n = self.sock.write(buf).map_err(|e| self.explain(e))?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.sock.flush()
    }
}

/// An open connection.
enum Conn {
    Plain(Counting),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Counting>>),
}

impl Conn {
    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Plain(c) => c,
            Conn::Tls(t) => t.as_mut(),
        }
    }
    /// Gives the next request until `deadline`, with the socket's timeouts back at
    /// [`TIMEOUT`].
    fn set_deadline(&mut self, deadline: Instant) -> std::io::Result<()> {
        let c = match self {
            Conn::Plain(c) => c,
            Conn::Tls(t) => &mut t.sock,
        };
        c.deadline = deadline;
        c.sock.set_read_timeout(Some(TIMEOUT))?;
        c.sock.set_write_timeout(Some(TIMEOUT))
    }

    fn counts(&self) -> (u64, u64) {
        let c = match self {
            Conn::Plain(c) => c,
            Conn::Tls(t) => &t.sock,
        };
        (c.written, c.read)
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The phases of one request; the connection's own (DNS, connect, TLS) are absent when
/// an open connection was reused, TLS also for plain http.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timing {
    /// Name resolution.
    pub dns: Option<Duration>,
    /// TCP handshake.
    pub connect: Option<Duration>,
    /// TLS handshake.
    pub tls: Option<Duration>,
    /// Request written to first response byte read.
    pub ttfb: Duration,
    /// First response byte to last.
    pub transfer: Duration,
    /// The whole request.
    pub total: Duration,
}

/// One answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Bytes written to the socket for this request.
    pub sent: u64,
    /// Bytes read from the socket for this request.
    pub received: u64,
    /// Its phases.
    pub timing: Timing,
}

impl Response {
    /// The value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A client of one host and port.
pub struct Client {
    url: HttpUrl,
    shown: String,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: Option<Conn>,
}

impl Client {
    /// A client of `url`'s host (`shown` is the redacted URL, for messages).
    pub fn new(url: HttpUrl, shown: String, trust: Trust) -> Result<Client> {
        let tls = url.tls.then(|| tls_config(trust)).transpose()?;
        Ok(Client {
            url,
            shown,
            tls,
            conn: None,
        })
    }

    /// The URL's own path.
    pub fn path(&self) -> &str {
        &self.url.path
    }

    /// Drops the open connection, if any.
    pub fn close(&mut self) {
        self.conn = None;
    }

    fn unusable(&self, e: impl std::fmt::Display) -> Error {
        Error::Unusable(format!("cannot GET {}: {e}", self.shown))
    }

    /// Opens a connection, timing its phases into `t`.
    fn connect(&mut self, t: &mut Timing) -> Result<Conn> {
        let start = Instant::now();
        let addrs: Vec<_> = (self.url.host.as_str(), self.url.port)
            .to_socket_addrs()
            .map_err(|e| self.unusable(e))?
            .collect();
        if addrs.is_empty() {
            return Err(Error::Unusable(format!("cannot resolve {}", self.shown)));
        }
        let resolved = Instant::now();
        t.dns = Some(resolved - start);
        // Each address in the resolver's order until one answers, as curl does: a name
        // whose first address is ::1 still reaches a server on 127.0.0.1 (the refused
        // attempt is part of the connect phase, as it is for any client).
        let mut last = None;
        let sock = addrs
            .iter()
            .find_map(|a| {
                TcpStream::connect_timeout(a, TIMEOUT)
                    .map_err(|e| last = Some(e))
                    .ok()
            })
            .ok_or_else(|| self.unusable(last.map_or_else(String::new, |e| e.to_string())))?;
        let connected = Instant::now();
        t.connect = Some(connected - resolved);
        sock.set_read_timeout(Some(TIMEOUT))
            .and_then(|_| sock.set_write_timeout(Some(TIMEOUT)))
            .and_then(|_| sock.set_nodelay(true))
            .map_err(|e| self.unusable(e))?;
        let mut counting = Counting {
            sock,
            read: 0,
            written: 0,
            deadline: start + DEADLINE,
        };
        let Some(config) = &self.tls else {
            return Ok(Conn::Plain(counting));
        };
        let name = ServerName::try_from(self.url.host.clone())
            .map_err(|e| Error::Input(format!("{}: {e}", self.shown)))?;
        let mut tls = rustls::ClientConnection::new(Arc::clone(config), name)
            .map_err(|e| self.unusable(e))?;
        while tls.is_handshaking() {
            tls.complete_io(&mut counting)
                .map_err(|e| self.unusable(format!("TLS handshake: {e}")))?;
        }
        t.tls = Some(connected.elapsed());
        Ok(Conn::Tls(Box::new(rustls::StreamOwned::new(tls, counting))))
    }

    /// GETs `path` with `headers` added; with `reuse`, on the open connection when
    /// there is one (and it stays open for the next request).
    pub fn get(&mut self, path: &str, headers: &[(&str, &str)], reuse: bool) -> Result<Response> {
        let start = Instant::now();
        let mut t = Timing::default();
        match self.conn.take() {
            Some(conn) if reuse => match self.exchange(conn, path, headers, reuse, start, t) {
                // The server closed the kept connection (idle keep-alive ends): one new
                // connection, timed as such (its phases show in the timing).
                Err(Error::Unusable(_)) => {}
                done => return done,
            },
            _ => {}
        }
        let conn = self.connect(&mut t)?;
        self.exchange(conn, path, headers, reuse, start, t)
    }

    /// Sends the request on `conn` and reads the answer.
    fn exchange(
        &mut self,
        mut conn: Conn,
        path: &str,
        headers: &[(&str, &str)],
        reuse: bool,
        start: Instant,
        mut t: Timing,
    ) -> Result<Response> {
        let before = conn.counts();
        conn.set_deadline(start + DEADLINE)
            .map_err(|e| self.unusable(e))?;
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: latency-ladder/{}\r\nAccept: */*\r\n",
            self.url.host_header(),
            env!("CARGO_PKG_VERSION")
        );
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str(if reuse {
            "Connection: keep-alive\r\n\r\n"
        } else {
            "Connection: close\r\n\r\n"
        });
        let sent_at = Instant::now();
        let s = conn.stream();
        s.write_all(req.as_bytes())
            .and_then(|_| s.flush())
            .map_err(|e| self.unusable(e))?;
        let (status, headers, body, first, keep) =
            read_response(s).map_err(|e| self.unusable(e))?;
        let end = Instant::now();
        t.ttfb = first - sent_at;
        t.transfer = end - first;
        t.total = end - start;
        let after = conn.counts();
        if reuse && keep {
            self.conn = Some(conn);
        }
        Ok(Response {
            status,
            headers,
            body,
            sent: after.0 - before.0,
            received: after.1 - before.1,
            timing: t,
        })
    }
}

type Parsed = (u16, Vec<(String, String)>, Vec<u8>, Instant, bool);

/// Reads one response: status, headers, body (Content-Length, chunked, or to the
/// end), the instant its first byte arrived, and whether the connection stays usable.
fn read_response(s: &mut dyn ReadWrite) -> std::io::Result<Parsed> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut buf = Vec::with_capacity(64 << 10);
    let mut chunk = vec![0u8; 64 << 10];
    let mut first = None;
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 << 10 {
            return Err(bad("response head too long"));
        }
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(bad("connection closed before a response"));
        }
        first.get_or_insert_with(Instant::now);
        buf.extend_from_slice(&chunk[..n]);
    };
    let first = first.unwrap_or_else(Instant::now);
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    if !status_line.starts_with("HTTP/") {
        return Err(bad("the answer is not HTTP"));
    }
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    let mut keep = !get("connection").is_some_and(|v| v.eq_ignore_ascii_case("close"))
        && status_line.starts_with("HTTP/1.1");
    let mut rest = buf.split_off(head_end);
    let no_body = status == 304 || status == 204 || (100..200).contains(&status);
    let body = if no_body {
        Vec::new()
    } else if let Some(len) = get("content-length") {
        let len: u64 = len.parse().map_err(|_| bad("bad Content-Length"))?;
        if len > MAX_RESPONSE {
            return Err(bad("body larger than 16 MiB"));
        }
        while (rest.len() as u64) < len {
            let n = s.read(&mut chunk)?;
            if n == 0 {
                return Err(bad("connection closed inside the body"));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        rest.truncate(len as usize);
        rest
    } else if get("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        read_chunked(s, rest, &mut chunk)?
    } else {
        keep = false;
        let mut limited = s.take(MAX_RESPONSE);
        limited.read_to_end(&mut rest)?;
        rest
    };
    Ok((status, headers, body, first, keep))
}

/// Decodes a chunked body, `rest` being what was read past the head.
fn read_chunked(
    s: &mut dyn ReadWrite,
    mut rest: Vec<u8>,
    chunk: &mut [u8],
) -> std::io::Result<Vec<u8>> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let mut body = Vec::new();
    let mut pos = 0;
    let mut fill = |rest: &mut Vec<u8>, need: usize| -> std::io::Result<()> {
        while rest.len() < need {
            let n = s.read(chunk)?;
            if n == 0 {
                return Err(bad("connection closed inside a chunk"));
            }
            rest.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    loop {
        let line_end = loop {
            if let Some(i) = rest[pos..].windows(2).position(|w| w == b"\r\n") {
                break pos + i;
            }
            let need = rest.len() + 1;
            fill(&mut rest, need)?;
        };
        let size_text = String::from_utf8_lossy(&rest[pos..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad("bad chunk size"))?;
        pos = line_end + 2;
        if size == 0 {
            return Ok(body);
        }
        if size > MAX_RESPONSE as usize - body.len() {
            return Err(bad("body larger than 16 MiB"));
        }
        fill(&mut rest, pos + size + 2)?;
        body.extend_from_slice(&rest[pos..pos + size]);
        pos += size + 2;
    }
}

/// The TLS client configuration for `trust`.
fn tls_config(trust: Trust) -> Result<Arc<rustls::ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Internal(format!("TLS: {e}")))?;
    let config = match trust {
        Trust::Roots => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Pinned(cert) => {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(cert)
                .map_err(|e| Error::Internal(format!("TLS: cannot trust the origin: {e}")))?;
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoChecks(provider)))
            .with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// `--http-insecure`: accepts any certificate (signatures are still checked to be
/// well formed, so the handshake itself is real).
#[derive(Debug)]
struct NoChecks(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoChecks {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes to read as a server's answer; what is written goes nowhere.
    struct Canned(std::io::Cursor<Vec<u8>>);

    impl Read for Canned {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.0.read(buf)
        }
    }

    impl Write for Canned {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn parse(bytes: &[u8]) -> std::io::Result<Parsed> {
        read_response(&mut Canned(std::io::Cursor::new(bytes.to_vec())))
    }

    #[test]
    fn a_chunk_size_of_2_to_the_64_minus_1_is_refused_at_any_point_of_the_body() {
        for body in ["", "3\r\nabc\r\n"] {
            let answer = format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{body}ffffffffffffffff\r\n"
            );
            let e = parse(answer.as_bytes()).unwrap_err();
            assert!(e.to_string().contains("larger than 16 MiB"), "{e}");
        }
        let whole =
            parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
                .unwrap();
        assert_eq!(whole.2, b"abc");
    }

    const HEADS: [&str; 3] = [
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nhello",
    ];

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn a_truncated_or_mangled_answer_is_an_error_or_an_answer_never_a_panic(
            which in 0usize..3,
            cut in 0usize..80,
            flip in proptest::option::of((0usize..80, proptest::num::u8::ANY)),
        ) {
            let mut bytes = HEADS[which].as_bytes().to_vec();
            if let Some((at, b)) = flip {
                if at < bytes.len() {
                    bytes[at] = b;
                }
            }
            bytes.truncate(cut.min(bytes.len()));
            if let Ok((_, _, body, _, _)) = parse(&bytes) {
                proptest::prop_assert!(body.len() <= MAX_RESPONSE as usize);
            }
        }
    }
}
