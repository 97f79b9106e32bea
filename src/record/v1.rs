//! Reading schema version 1, where a row was known only by its text: the typed
//! identities are derived from the old `rung` and `method` strings here, once, at load
//! time. Nothing else in the crate reads those strings.

use super::ladder::LadderKey;
use super::rung::{Engine, Family, Query, RedisOp, RungId, Spacing, StorageOp, Transport};
use serde_json::Value;

/// Upgrades a version-1 record in place to the current version: every measured row
/// gets its `id`, every skip its `family`, every ladder row its `key`. An error names
/// the first text that matches nothing version 1 wrote.
pub fn upgrade(record: &mut Value) -> Result<(), String> {
    for row in array(record, "rungs") {
        let id = rung_id(text(row, "rung"), text(row, "method"))?;
        row["id"] = serde_json::to_value(id).map_err(|e| e.to_string())?;
    }
    for skip in array(record, "skipped") {
        let family = family(text(skip, "rung"))?;
        skip["family"] = serde_json::to_value(family).map_err(|e| e.to_string())?;
    }
    for row in array(record, "ladder") {
        let key = ladder_key(text(row, "rung"))?;
        row["key"] = serde_json::to_value(key).map_err(|e| e.to_string())?;
    }
    record["schema_version"] = Value::from(super::SCHEMA_VERSION);
    Ok(())
}

/// The objects of array `field` (none where it is absent).
fn array<'a>(record: &'a mut Value, field: &str) -> impl Iterator<Item = &'a mut Value> {
    record
        .get_mut(field)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

fn text<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn family(rung: &str) -> Result<Family, String> {
    Ok(match rung {
        "memory" => Family::Memory,
        "ssd" | "page cache" => Family::Ssd,
        "redis" => Family::Redis,
        "database" | "postgres" | "sqlite" => Family::Db,
        "http" => Family::Http,
        _ => return Err(format!("unknown skipped rung {rung:?}")),
    })
}

fn ladder_key(rung: &str) -> Result<LadderKey, String> {
    LadderKey::ALL
        .into_iter()
        .find(|k| k.name() == rung)
        .ok_or_else(|| format!("unknown ladder row {rung:?}"))
}

fn transport(method: &str) -> Transport {
    if method.contains("over unix socket") {
        Transport::UnixSocket
    } else {
        Transport::Tcp
    }
}

/// The number right before `suffix` in `method` ("10 ms apart" -> 10).
fn number_before(method: &str, suffix: &str) -> Option<u64> {
    let head = &method[..method.find(suffix)?];
    head.rsplit(' ').next()?.parse().ok()
}

fn rung_id(rung: &str, method: &str) -> Result<RungId, String> {
    let unknown = || format!("unknown {rung} method {method:?}");
    Ok(match rung {
        "page cache" => RungId::Storage {
            op: StorageOp::CachedRead,
        },
        "ssd" if method.contains("write") => RungId::Storage {
            op: StorageOp::SyncedWrite,
        },
        "ssd" => RungId::Storage {
            op: StorageOp::RandomRead,
        },
        "redis" => {
            let op = RedisOp::ALL
                .into_iter()
                .find(|op| method.starts_with(op.label()))
                .ok_or_else(unknown)?;
            let spacing = if let Some(batch) = number_before(method, " per batch") {
                Spacing::Pipelined { batch }
            } else if let Some(ms) = number_before(method, " ms apart") {
                Spacing::Gap { ms }
            } else {
                Spacing::BackToBack
            };
            RungId::Redis {
                op,
                transport: transport(method),
                spacing,
            }
        }
        "sqlite" | "postgres" => {
            let (engine, transport) = match rung {
                "sqlite" => (Engine::Sqlite, Transport::Embedded),
                _ => (Engine::Postgres, transport(method)),
            };
            // Most specific first: the cache rows and the first query mention a PK lookup.
            let query = [
                ("cache-aside hit", Query::CacheHit),
                ("cache-aside miss", Query::CacheMiss),
                ("no cache", Query::NoCache),
                ("write-through", Query::WriteThrough),
                ("first query", Query::FirstQuery),
                ("connect (", Query::Connect),
                ("open (", Query::Connect),
                ("range scan", Query::RangeScan),
                ("expensive query", Query::Aggregate),
                ("PK lookup", Query::PointLookup),
            ]
            .into_iter()
            .find(|(words, _)| method.contains(words))
            .map(|(_, q)| q)
            .ok_or_else(unknown)?;
            RungId::Sql {
                engine,
                query,
                transport,
            }
        }
        "http" => RungId::Http,
        _ => return Err(unknown()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_version_1_wrote_has_an_identity() {
        let redis = |op, transport, spacing| RungId::Redis {
            op,
            transport,
            spacing,
        };
        let sql = |engine, query, transport| RungId::Sql {
            engine,
            query,
            transport,
        };
        use Engine::*;
        use Query::*;
        use Transport::*;
        let cases = [
            (
                "ssd",
                "O_DIRECT 4K random read QD1",
                RungId::Storage {
                    op: StorageOp::RandomRead,
                },
            ),
            (
                "ssd",
                "4K random read QD1, page cache dropped (fallback)",
                RungId::Storage {
                    op: StorageOp::RandomRead,
                },
            ),
            (
                "ssd",
                "O_DIRECT 4K random write + fdatasync QD1",
                RungId::Storage {
                    op: StorageOp::SyncedWrite,
                },
            ),
            (
                "page cache",
                "buffered 4K random read QD1, warm page cache (RAM)",
                RungId::Storage {
                    op: StorageOp::CachedRead,
                },
            ),
            (
                "redis",
                "PING over TCP, back-to-back",
                redis(RedisOp::Ping, Tcp, Spacing::BackToBack),
            ),
            (
                "redis",
                "SET with TTL (EX 60) over unix socket, back-to-back",
                redis(RedisOp::SetEx, UnixSocket, Spacing::BackToBack),
            ),
            (
                "redis",
                "GET hit over unix socket, 10 ms apart",
                redis(RedisOp::GetHit, UnixSocket, Spacing::Gap { ms: 10 }),
            ),
            (
                "redis",
                "GET hit over TCP, pipelined 100 per batch (per command)",
                redis(RedisOp::GetHit, Tcp, Spacing::Pipelined { batch: 100 }),
            ),
            (
                "redis",
                "GET miss over TCP, back-to-back",
                redis(RedisOp::GetMiss, Tcp, Spacing::BackToBack),
            ),
            (
                "sqlite",
                "SQLite prepared PK lookup",
                sql(Sqlite, PointLookup, Embedded),
            ),
            (
                "sqlite",
                "SQLite open (new connection to the file)",
                sql(Sqlite, Connect, Embedded),
            ),
            (
                "sqlite",
                "SQLite aggregate JOIN over 1000000 orders (expensive query)",
                sql(Sqlite, Aggregate, Embedded),
            ),
            (
                "postgres",
                "PG first query on a new connection (prepare + PK lookup) over unix socket",
                sql(Postgres, FirstQuery, UnixSocket),
            ),
            (
                "postgres",
                "PG cache-aside miss (Redis GET miss + PK lookup + SET EX) over TCP",
                sql(Postgres, CacheMiss, Tcp),
            ),
            (
                "postgres",
                "PG no cache (PK lookup), beside the cache runs over TCP",
                sql(Postgres, NoCache, Tcp),
            ),
            (
                "postgres",
                "PG prepared indexed range scan (~100 rows) over TCP",
                sql(Postgres, RangeScan, Tcp),
            ),
            (
                "postgres",
                "PG connect (startup + auth) over TCP",
                sql(Postgres, Connect, Tcp),
            ),
            (
                "http",
                "HTTP GET http://127.0.0.1:1/, new connection each",
                RungId::Http,
            ),
        ];
        for (rung, method, id) in cases {
            assert_eq!(rung_id(rung, method), Ok(id), "{rung}: {method}");
            assert_eq!(id.name(), rung);
        }
        assert!(rung_id("redis", "FLUSHALL").is_err());
        assert!(rung_id("memcached", "get").is_err());
    }

    #[test]
    fn skips_and_ladder_rows_get_their_identity() {
        assert_eq!(family("database"), Ok(Family::Db));
        assert_eq!(family("postgres"), Ok(Family::Db));
        assert_eq!(
            ladder_key("Database (expensive query)"),
            Ok(LadderKey::DbExpensiveQuery)
        );
        assert_eq!(ladder_key("L2/L3 CPU cache (L3)"), Ok(LadderKey::L3));
        assert!(ladder_key("Memcached").is_err());
    }
}
