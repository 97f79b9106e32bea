//! A PostgreSQL server to talk to, parsed once by the `postgres` crate's own `Config`
//! (which accepts exactly what it will use): one config per transport, and the server's
//! description for every message (never with a password). Every connect is bounded in
//! time, every session has a `statement_timeout`.

use crate::error::{Error, Result};
use crate::record::rung::Transport;
use crate::redact::redact_url;
use postgres::{Client, NoTls};
use std::time::Duration;

/// How long a PostgreSQL connect may take before the target counts as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `statement_timeout` of the run's sessions: the longest query (the aggregate on
/// the largest data set) takes seconds.
pub const STATEMENT_TIMEOUT: &str = "300s";

/// A PostgreSQL server to measure: one connection config per transport, and a
/// description for the notes (never with a password).
pub struct PgTarget {
    /// (transport, config) pairs: the first one loads the data and runs the aggregate.
    pub transports: Vec<(Transport, postgres::Config)>,
    /// What the server is: "managed PostgreSQL 15 (postmaster pid 123, ...)" or the
    /// user's URL, redacted.
    pub server: String,
}

/// One line from a PostgreSQL error (the server's message where there is one, its
/// detail lines joined), with `context`.
pub fn pg_err(context: &str, e: postgres::Error) -> Error {
    let text = match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                text = format!("{text}: {cause}");
                source = cause.source();
            }
            text
        }
    };
    let text = text.lines().collect::<Vec<_>>().join("; ");
    Error::Unusable(format!("PostgreSQL: {context}: {text}"))
}

/// Parses a PostgreSQL URL (bad input: exit 2, password redacted) and sets the connect
/// timeout where the URL has none.
pub fn pg_config(url: &str) -> Result<postgres::Config> {
    let mut config = url.parse::<postgres::Config>().map_err(|e| {
        Error::Input(format!(
            "{} is not a PostgreSQL URL: {}",
            redact_url(url),
            crate::redact::redact_text(&e.to_string())
        ))
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// TCP or unix socket, from where a config connects.
pub fn transport(config: &postgres::Config) -> Transport {
    match config.get_hosts().first() {
        Some(postgres::config::Host::Unix(_)) => Transport::UnixSocket,
        _ => Transport::Tcp,
    }
}

impl PgTarget {
    /// The user's server at `url`, over whatever transport the URL names.
    pub fn from_url(url: &str) -> Result<PgTarget> {
        let config = pg_config(url)?;
        Ok(PgTarget {
            transports: vec![(transport(&config), config)],
            server: redact_url(url),
        })
    }

    /// A session over transport `i` with the run's `statement_timeout`.
    pub fn connect(&self, i: usize) -> Result<Client> {
        let (name, config) = &self.transports[i];
        let context = format!("cannot connect over {name} to {}", self.server);
        let mut client = connect_within(config, &context)?;
        client
            .batch_execute(&format!("SET statement_timeout = '{STATEMENT_TIMEOUT}'"))
            .map_err(|e| pg_err(&context, e))?;
        Ok(client)
    }

    /// Checks, before measuring, that the server takes `wanted` more sessions (`flag`
    /// asked for them): its max_connections, less the slots reserved for superusers
    /// and the client sessions open now.
    pub fn check_room(&self, wanted: usize, flag: &str) -> Result<()> {
        let row = self
            .connect(0)?
            .query_one(
                "SELECT current_setting('max_connections')::int, \
                 current_setting('superuser_reserved_connections')::int, \
                 (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int",
                &[],
            )
            .map_err(|e| pg_err(&self.server, e))?;
        let (max, reserved, open): (i32, i32, i32) = (row.get(0), row.get(1), row.get(2));
        // This check's own session is counted in `open` and closes before the run.
        let room = (max - reserved - open + 1).max(0) as usize;
        if wanted > room {
            return Err(Error::Input(format!(
                "{flag}: PostgreSQL at {} takes {room} more sessions (max_connections {max}, \
                 {reserved} reserved, {} open) and the run needs {wanted}",
                self.server,
                open - 1
            )));
        }
        Ok(())
    }

    /// Connects once and checks that the run can work there: the server answers and
    /// the user may CREATE a schema in the database. An unreachable, unusable or
    /// read-only target fails here (exit 2), before anything is measured.
    pub fn probe(&self) -> Result<()> {
        let row = self
            .connect(0)?
            .query_one(
                "SELECT has_database_privilege(current_database(), 'CREATE'), \
                 current_user::text, current_database()::text",
                &[],
            )
            .map_err(|e| pg_err(&self.server, e))?;
        if !row.get::<_, bool>(0) {
            return Err(Error::Unusable(format!(
                "PostgreSQL at {}: user {} may not CREATE a schema in database {}; the run \
                 works in a schema of its own (GRANT CREATE ON DATABASE, or another database)",
                self.server,
                row.get::<_, String>(1),
                row.get::<_, String>(2)
            )));
        }
        Ok(())
    }
}

/// Connects with `config`, giving up after its connect timeout ([`CONNECT_TIMEOUT`]
/// unless the URL sets one) even where the server accepts and never answers (the
/// client's own timeout covers only the TCP connect).
/// A connect given up on leaves its thread blocked until we exit. No signal check
/// here: the cleanup guards connect after Ctrl-C too.
pub fn connect_within(config: &postgres::Config, context: &str) -> Result<Client> {
    let limit = config
        .get_connect_timeout()
        .copied()
        .unwrap_or(CONNECT_TIMEOUT);
    let (tx, rx) = std::sync::mpsc::channel();
    let config = config.clone();
    std::thread::spawn(move || {
        let _ = tx.send(config.connect(NoTls));
    });
    match rx.recv_timeout(limit) {
        Ok(result) => result.map_err(|e| pg_err(context, e)),
        Err(_) => Err(Error::Unusable(format!(
            "PostgreSQL: {context}: no answer within {} s",
            limit.as_secs_f64()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_input_errors_without_the_password() {
        let e = pg_config("postgres://u:hunter2@host:notaport/db").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
