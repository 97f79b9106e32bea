//! A memcached server to talk to, parsed once: the client's URL (`memcache://` or
//! `memcache+unix://`), its transport and its redacted form.

use super::redis::CONNECT_TIMEOUT;
use crate::error::{Error, Result};
use crate::record::rung::Transport;
use crate::redact::{redact_text, redact_url};
use std::time::Duration;

/// A parsed memcached address.
#[derive(Clone)]
pub struct MemcachedUrl {
    url: String,
    shown: String,
    parsed: memcache::Url,
}

impl std::fmt::Debug for MemcachedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// The first server of `MEMCACHED_SERVERS` (libmemcached's `host:port,...` list), when
/// set and not empty.
pub fn env_servers() -> Option<String> {
    let v = std::env::var("MEMCACHED_SERVERS").ok()?;
    v.split(',')
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

impl MemcachedUrl {
    /// A memcached address as the client's URL: `memcache://[user:pass@]host:port`,
    /// `memcache+unix:///path`, a bare `host:port`, or a bare `/path` to a socket. Bad
    /// input is one redacted line (exit 2).
    pub fn parse(addr: &str) -> Result<MemcachedUrl> {
        let a = addr.trim();
        let url = if a.starts_with('/') {
            format!("memcache+unix://{a}")
        } else if a.starts_with("memcache://") && a["memcache://".len()..].starts_with('/') {
            format!("memcache+unix://{}", &a["memcache://".len()..])
        } else if a.contains("://") {
            a.to_string()
        } else {
            format!("memcache://{a}")
        };
        let not_one = |why: String| {
            Error::Input(format!(
                "{} is not a memcached address (memcache://host:port, host:port or a socket \
                 path){why}",
                redact_url(addr)
            ))
        };
        let sep = if url.contains('?') { '&' } else { '?' };
        let parsed = memcache::Url::parse(&format!("{url}{sep}protocol=ascii"))
            .map_err(|e| not_one(format!(": {e}")))?;
        let unix = parsed.scheme() == "memcache+unix";
        if !matches!(
            parsed.scheme(),
            "memcache" | "memcache+tcp" | "memcache+unix"
        ) || (!unix && (parsed.host_str().unwrap_or("").is_empty() || parsed.port().is_none()))
            || (unix && parsed.path().len() < 2)
        {
            return Err(not_one(String::new()));
        }
        Ok(MemcachedUrl {
            shown: redact_url(&url),
            url,
            parsed,
        })
    }

    /// The URL with its password replaced, for every message and the record.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The client's URL as normalised (with the password). Never shown.
    pub fn secret_url(&self) -> &str {
        &self.url
    }

    /// TCP or a unix socket.
    pub fn transport(&self) -> Transport {
        if self.parsed.scheme() == "memcache+unix" {
            Transport::UnixSocket
        } else {
            Transport::Tcp
        }
    }

    /// Connects (one pooled connection, authenticated where the URL has credentials)
    /// within [`CONNECT_TIMEOUT`]; every error is one redacted line.
    ///
    /// The connection lives in an r2d2 pool of one, built without the pool's check-out
    /// test, which would add a `version` round trip to every command.
    pub fn connect(&self) -> Result<memcache::Client> {
        let pool = r2d2::Pool::builder()
            .max_size(1)
            .test_on_check_out(false)
            .connection_timeout(CONNECT_TIMEOUT)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build(memcache::ConnectionManager::new(self.parsed.clone()))
            .map_err(|e| Error::Unusable(format!("cannot use memcached at {}: {e}", self.shown)))?;
        let client = memcache::Client::with_pool(pool).map_err(|e| self.error(e))?;
        let timeout = Some(Duration::from_secs(10));
        client
            .set_read_timeout(timeout)
            .and_then(|()| client.set_write_timeout(timeout))
            .map_err(|e| self.error(e))?;
        // A server that takes the connection but refuses the credentials answers here.
        client.version().map_err(|e| self.error(e))?;
        Ok(client)
    }

    /// A memcached error on this server as one redacted line.
    pub fn error(&self, e: memcache::MemcacheError) -> Error {
        let text = e.to_string();
        Error::Unusable(format!(
            "memcached at {}: {}",
            self.shown,
            redact_text(text.lines().next().unwrap_or("error"))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_become_client_urls_and_bad_ones_are_input_errors() {
        let url = |a: &str| MemcachedUrl::parse(a).unwrap().secret_url().to_string();
        assert_eq!(url("127.0.0.1:11211"), "memcache://127.0.0.1:11211");
        assert_eq!(url("/run/mc.sock"), "memcache+unix:///run/mc.sock");
        assert_eq!(
            url("memcache:///run/mc.sock"),
            "memcache+unix:///run/mc.sock"
        );
        assert_eq!(
            MemcachedUrl::parse("/run/mc.sock").unwrap().transport(),
            Transport::UnixSocket
        );
        let with_password = MemcachedUrl::parse("memcache://u:hunter2@127.0.0.1:1").unwrap();
        assert_eq!(with_password.transport(), Transport::Tcp);
        assert!(!with_password.shown().contains("hunter2"));
        for bad in [
            "http://x:1",
            "memcache://host",
            "memcache://u:hunter2@:1",
            "",
        ] {
            let e = MemcachedUrl::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        }
    }
}
