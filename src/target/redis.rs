//! A Redis server to talk to, parsed once: the URL's client, its transport and its
//! redacted form, so no later step parses or redacts it again.

use crate::error::{Error, Result};
use crate::record::rung::Transport;
use crate::redact::{redact_text, redact_url};
use redis::{ConnectionAddr, RedisError};
use std::time::Duration;

/// The expiry of every key a run writes (seconds): a killed run's keys go by
/// themselves within this time, or at once with `ladder clean`.
pub const KEY_TTL_S: u64 = 3600;

/// A parsed Redis URL (`redis://`, `rediss://`, `redis+unix://`, `unix://`).
#[derive(Clone)]
pub struct RedisUrl {
    url: String,
    shown: String,
    client: redis::Client,
}

impl std::fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl RedisUrl {
    /// Parses `url` without connecting: a bad URL is one redacted line (exit 2).
    pub fn parse(url: &str) -> Result<RedisUrl> {
        let shown = redact_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| Error::Input(format!("bad Redis URL {shown}: {}", one_line(&e))))?;
        Ok(RedisUrl {
            url: url.to_string(),
            shown,
            client,
        })
    }

    /// The URL with its password replaced, for every message and the record.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The URL as given: the identity of the server in the run's ledger. Never shown.
    pub fn secret_url(&self) -> &str {
        &self.url
    }

    /// TCP or a unix socket, from the parsed address.
    pub fn transport(&self) -> Transport {
        match self.client.get_connection_info().addr() {
            ConnectionAddr::Unix(_) => Transport::UnixSocket,
            _ => Transport::Tcp,
        }
    }

    /// Connects within [`CONNECT_TIMEOUT`], with 10 s read and write timeouts, writing
    /// nothing on the server (`ladder clean` and the heartbeat use this; a run
    /// registers first, see `rungs::redis::connect`). Errors are one redacted line.
    pub fn connect_unregistered(&self) -> Result<redis::Connection> {
        let conn = self
            .client
            .get_connection_with_timeout(CONNECT_TIMEOUT)
            .map_err(|e| {
                Error::Unusable(format!(
                    "cannot use Redis at {}: {}",
                    self.shown,
                    one_line(&e)
                ))
            })?;
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .and_then(|_| conn.set_write_timeout(Some(Duration::from_secs(10))))
            .map_err(|e| self.error(e))?;
        Ok(conn)
    }

    /// A Redis error on this server as one redacted line (exit 1: the server is
    /// unusable).
    pub fn error(&self, e: RedisError) -> Error {
        Error::Unusable(format!("Redis at {}: {}", self.shown, one_line(&e)))
    }
}

/// How long a connect to a key-value server may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// The first line of a Redis error, redacted.
pub fn one_line(e: &RedisError) -> String {
    redact_text(e.to_string().lines().next().unwrap_or("error"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_is_parsed_once_into_its_transport_and_shown_form() {
        let tcp = RedisUrl::parse("redis://:hunter2@127.0.0.1:1/0").unwrap();
        assert_eq!(tcp.transport(), Transport::Tcp);
        assert!(!tcp.shown().contains("hunter2"), "{}", tcp.shown());
        let unix = RedisUrl::parse("redis+unix:///tmp/r.sock?pass=hunter2").unwrap();
        assert_eq!(unix.transport(), Transport::UnixSocket);
        assert!(!format!("{unix:?}").contains("hunter2"));
        let e = RedisUrl::parse("http://u:hunter2@nowhere:6379").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
