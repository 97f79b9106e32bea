//! Stampede: `clients` threads request one hot product page in a closed loop while its
//! cache entry expires; how many requests reach the database, and the p99 of the
//! window, with no protection, with a lock (`SET NX PX`, the winner recomputes, the
//! others wait and retry), and with probabilistic early refresh (XFetch: Vattani,
//! Chierichetti, Lowenstein, "Optimal probabilistic cache stampede prevention", VLDB
//! 2015: a reader recomputes early with a probability that grows as expiry nears).

use super::redis_err;
use crate::error::{Error, Result};
use crate::labs::product_page::{PageDb, PageQuery};
use crate::record::cache_lab::{StampedeRow, Strategy};
use crate::target::redis::RedisUrl;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long the lock holds at most, ms: far above one recompute.
const LOCK_PX_MS: u64 = 10_000;
/// A waiting client's pause before it retries, ms.
const RETRY_MS: u64 = 2;
/// XFetch's beta (1: the paper's default).
const BETA: f64 = 1.0;
/// The hot product.
const HOT_ID: i64 = 1;

/// The experiment's shape.
#[derive(Debug, Clone, Copy)]
pub struct StampedePlan {
    /// Concurrent clients.
    pub clients: u32,
    /// The hot key's TTL.
    pub ttl: Duration,
    /// The measured window, from the moment the key is set (one expiry falls inside).
    pub window: Duration,
    /// Each client's pause between request starts (a client late for its slot starts
    /// at once, never in a burst).
    pub interval: Duration,
}

/// What one client saw.
struct ClientCount {
    requests: u64,
    origin: u64,
    misses: u64,
    hist: Histogram<u64>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One client's cache and database, and the keys of one strategy's run.
struct Client<'a> {
    cache: redis::Connection,
    db: PageQuery,
    key: &'a str,
    lock: &'a str,
    ttl_ms: u64,
    strategy: Strategy,
    delta_ms: &'a AtomicU64,
}

impl Client<'_> {
    /// Recomputes the page and stores it (XFetch: with the recompute time and expiry).
    fn refill(&mut self) -> Result<()> {
        let start = Instant::now();
        let page = self.db.page(HOT_ID)?;
        let delta = start.elapsed().as_millis() as u64;
        self.delta_ms.store(delta.max(1), Ordering::Relaxed);
        let value = format!("{}|{}|{page}", delta.max(1), now_ms() + self.ttl_ms);
        redis::cmd("SET")
            .arg(self.key)
            .arg(value)
            .arg("PX")
            .arg(self.ttl_ms)
            .query::<()>(&mut self.cache)
            .map_err(redis_err("SET"))
    }

    fn get(&mut self) -> Result<Option<String>> {
        redis::Commands::get(&mut self.cache, self.key).map_err(redis_err("GET"))
    }

    /// One request: (origin queries run, whether the key was missing).
    fn request(&mut self) -> Result<(u64, bool)> {
        match self.strategy {
            Strategy::None => match self.get()? {
                Some(_) => Ok((0, false)),
                None => self.refill().map(|()| (1, true)),
            },
            Strategy::Xfetch => match self.get()? {
                None => self.refill().map(|()| (1, true)),
                Some(v) => {
                    let mut parts = v.splitn(3, '|');
                    let delta: f64 = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
                    let expiry: f64 = parts.next().and_then(|d| d.parse().ok()).unwrap_or(0.0);
                    let u = rand::random::<f64>().max(f64::MIN_POSITIVE);
                    if now_ms() as f64 - delta * BETA * u.ln() >= expiry {
                        self.refill().map(|()| (1, false))
                    } else {
                        Ok((0, false))
                    }
                }
            },
            Strategy::Lock => {
                let mut missed = false;
                loop {
                    if self.get()?.is_some() {
                        return Ok((0, missed));
                    }
                    missed = true;
                    let won: Option<String> = redis::cmd("SET")
                        .arg(self.lock)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(LOCK_PX_MS)
                        .query(&mut self.cache)
                        .map_err(redis_err("SET NX"))?;
                    if won.is_some() {
                        // Filled while we asked for the lock: nothing to do.
                        let filled = self.get()?.is_some();
                        if !filled {
                            self.refill()?;
                        }
                        redis::Commands::del::<_, ()>(&mut self.cache, self.lock)
                            .map_err(redis_err("DEL"))?;
                        return Ok((u64::from(!filled), true));
                    }
                    std::thread::sleep(Duration::from_millis(RETRY_MS));
                }
            }
        }
    }
}

/// Runs `strategy` once; `key_prefix` is fresh for each run.
pub fn measure(
    plan: &StampedePlan,
    strategy: Strategy,
    db: &PageDb,
    redis_url: &RedisUrl,
    key_prefix: &str,
) -> Result<StampedeRow> {
    let key = format!("{key_prefix}hot");
    let lock = format!("{key_prefix}lock");
    let ttl_ms = plan.ttl.as_millis() as u64;
    let delta_ms = AtomicU64::new(1);
    let n = plan.clients as usize;
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(Client {
            cache: crate::rungs::redis::connect(redis_url)?,
            db: db.connect()?,
            key: &key,
            lock: &lock,
            ttl_ms,
            strategy,
            delta_ms: &delta_ms,
        });
    }
    // The key is filled once before the clients start; it expires `ttl` later.
    clients[0].refill()?;
    let barrier = Barrier::new(n);
    let counts: Mutex<Vec<ClientCount>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let end = Instant::now() + plan.window;
    std::thread::scope(|s| {
        for (i, mut c) in clients.into_iter().enumerate() {
            let (barrier, counts, first_error) = (&barrier, &counts, &first_error);
            let offset = plan.interval.mul_f64(i as f64 / n as f64);
            s.spawn(move || {
                barrier.wait();
                // Clients spread evenly over one interval.
                let mut next = Instant::now() + offset;
                let mut mine = ClientCount {
                    requests: 0,
                    origin: 0,
                    misses: 0,
                    hist: crate::rungs::latency_histogram(),
                };
                loop {
                    let now = Instant::now();
                    if next > now {
                        std::thread::sleep(next - now);
                    }
                    let start = Instant::now();
                    if start >= end {
                        break;
                    }
                    next = (next + plan.interval).max(start);
                    match c.request() {
                        Ok((origin, missed)) => {
                            mine.origin += origin;
                            mine.misses += u64::from(missed);
                        }
                        Err(e) => {
                            first_error.lock().expect("no poisoning").get_or_insert(e);
                            break;
                        }
                    }
                    mine.hist
                        .saturating_record((start.elapsed().as_nanos() as u64).max(1));
                    mine.requests += 1;
                }
                counts.lock().expect("no poisoning").push(mine);
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("no poisoning") {
        return Err(e);
    }
    let counts = counts.into_inner().expect("no poisoning");
    let all = super::merged(counts.iter().map(|c| &c.hist));
    let mut rc = crate::rungs::redis::connect(redis_url)?;
    let _: redis::RedisResult<()> = redis::Commands::del(&mut rc, &[&key, &lock]);
    Ok(StampedeRow {
        strategy,
        requests: counts.iter().map(|c| c.requests).sum(),
        origin_queries: counts.iter().map(|c| c.origin).sum(),
        clients_at_origin: counts.iter().filter(|c| c.origin > 0).count() as u32,
        misses: counts.iter().map(|c| c.misses).sum(),
        p99_ns: all.value_at_quantile(0.99) as f64,
        max_ns: all.max() as f64,
    })
}

/// Mean of `n` recomputes of the hot page, ns.
pub fn origin_mean_ns(db: &PageDb, n: u32) -> Result<f64> {
    let mut q = db.connect()?;
    let start = Instant::now();
    for _ in 0..n {
        q.page(HOT_ID)?;
    }
    Ok(start.elapsed().as_nanos() as f64 / f64::from(n.max(1)))
}
