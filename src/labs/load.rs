//! A fixed-rate (open-loop) load generator for any request/response service, after
//! wrk2 and memtier_benchmark's `--rate-limiting`: `connections` threads, each with its
//! own connection, share a target rate R. Request k of connection i has an intended
//! start time `(k * connections + i) / R` seconds after the start, fixed in advance:
//! a slow answer does not move the schedule, so the requests that would have been sent
//! meanwhile are sent late, and their latency is measured from their intended start.
//! That is the coordinated-omission correction; the service time alone (from the
//! actual send) is kept beside it.
//!
//! The first `warmup` of the run is left out of the percentiles but kept in the
//! per-second series (from a cold cache, that is the hit ratio's warm-up curve). The
//! generator also measures itself: the rate it achieved and its own CPU time, so a run
//! whose client set the pace says so.
//!
//! What a request is stays with the caller: anything that implements [`Request`] (a
//! closure too), built once per connection by a factory, so the same driver loads a
//! Redis GET, a memcached GET or a cache-aside product page.

use crate::error::{Error, Result};
use crate::record::load::{
    ClientLimit, LoadRun, LoadTarget, PageCache, Percentiles, Second, ServerCpu,
};
use crate::rungs::latency_histogram;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a request's answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From a cache.
    Cache,
    /// From the database (a query ran).
    Database,
    /// Neither: a plain service request (a GET on Redis).
    Plain,
}

/// One request of a load run, on one connection.
pub trait Request: Send {
    /// Sends one request and waits for its answer.
    fn call(&mut self) -> Result<Served>;
}

impl<F: FnMut() -> Result<Served> + Send> Request for F {
    fn call(&mut self) -> Result<Served> {
        self()
    }
}

/// The shape of a load run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadPlan {
    /// Target requests per second, all connections together.
    pub rate: f64,
    /// Connections, one thread each.
    pub connections: usize,
    /// The measured window, after the warm-up.
    pub duration: Duration,
    /// Left out of the percentiles.
    pub warmup: Duration,
}

impl LoadPlan {
    /// The intended start of request `k` of connection `conn`, from the run's start.
    pub fn intended(&self, conn: usize, k: u64) -> Duration {
        let slot = k as f64 * self.connections as f64 + conn as f64;
        Duration::from_secs_f64(slot / self.rate)
    }

    /// The whole run, warm-up included.
    pub fn total(&self) -> Duration {
        self.warmup + self.duration
    }
}

/// `ladder run`'s GET load, full or quick: 2 s at 2,000 req/s on 2 connections after
/// 0.5 s of warm-up — a few seconds beside the single round trips.
const IN_RUN: LoadPlan = LoadPlan {
    rate: 2000.0,
    connections: 2,
    duration: Duration::from_secs(2),
    warmup: Duration::from_millis(500),
};

/// The defaults of `ladder load` for one run length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadDefaults {
    /// The measured window, seconds.
    pub duration_s: f64,
    /// The warm-up, seconds.
    pub warmup_s: f64,
    /// Orders of the product page's data set.
    pub rows: u64,
    /// The short GET load of `ladder run` on each cache server it measured.
    pub in_run: LoadPlan,
}

impl LoadDefaults {
    /// A full run: 10 s after 2 s of warm-up, 100,000 orders.
    pub const DEFAULT: LoadDefaults = LoadDefaults {
        duration_s: 10.0,
        warmup_s: 2.0,
        rows: 100_000,
        in_run: IN_RUN,
    };
    /// For smoke tests: 3 s after 1 s, 20,000 orders.
    pub const QUICK: LoadDefaults = LoadDefaults {
        duration_s: 3.0,
        warmup_s: 1.0,
        rows: 20_000,
        in_run: IN_RUN,
    };
}

/// Latencies from the intended start (corrected) and from the actual send
/// (uncorrected) of one answered request.
pub fn latencies(intended: Duration, sent: Duration, done: Duration) -> (Duration, Duration) {
    (done.saturating_sub(intended), done.saturating_sub(sent))
}

/// What a load run measured.
pub struct LoadOutcome {
    /// Corrected latencies of the measured window, ns.
    pub corrected: Histogram<u64>,
    /// Uncorrected latencies of the measured window, ns.
    pub uncorrected: Histogram<u64>,
    /// Requests sent in the measured window and answered.
    pub answered: u64,
    /// Answered in the window from the cache / by a query.
    pub hits: u64,
    /// Answered in the window by a database query.
    pub db_queries: u64,
    /// Failed requests, whole run.
    pub errors: u64,
    /// The first failure.
    pub first_error: Option<String>,
    /// Requests of the schedule never sent: the generator was still behind when the
    /// run ended.
    pub unsent: u64,
    /// Per second of the run.
    pub per_second: Vec<Second>,
    /// CPU-seconds the generator process spent in the measured window.
    pub client_cpu_s: Option<f64>,
    /// CPU-seconds each watched server spent in the measured window.
    pub server_cpu_s: Vec<Option<f64>>,
    /// The measured window as it ran, seconds.
    pub window_s: f64,
}

impl LoadOutcome {
    /// Requests per second answered in the measured window.
    pub fn rate_achieved(&self) -> f64 {
        self.answered as f64 / self.window_s.max(1e-9)
    }

    /// Share of cache-or-database answers that came from the cache; `None` where no
    /// request had that choice.
    pub fn hit_ratio(&self) -> Option<f64> {
        let both = self.hits + self.db_queries;
        (both > 0).then(|| self.hits as f64 / both as f64)
    }

    /// Signs that the client set the pace: the rate missed, or its CPU near what its
    /// threads could use.
    pub fn client_limits(&self, plan: &LoadPlan, client_cpus: usize) -> Vec<ClientLimit> {
        let mut v = Vec::new();
        if self.rate_achieved() < 0.95 * plan.rate {
            v.push(ClientLimit::RateMissed);
        }
        let budget = plan.connections.min(client_cpus.max(1)) as f64;
        if let Some(cpu) = self.client_cpu_s {
            if cpu / self.window_s.max(1e-9) >= 0.9 * budget {
                v.push(ClientLimit::ClientCpu);
            }
        }
        v
    }
}

impl LoadOutcome {
    /// The record of this run against `target`; `servers` names the watched pids'
    /// servers, in order.
    pub fn record(
        self,
        target: LoadTarget,
        plan: &LoadPlan,
        client_cpus: usize,
        servers: &[&str],
    ) -> LoadRun {
        let answered = self.answered.max(1) as f64;
        let window = self.window_s.max(1e-9);
        let server_cpu: Vec<ServerCpu> = servers
            .iter()
            .zip(&self.server_cpu_s)
            .filter_map(|(name, cpu)| {
                cpu.map(|c| ServerCpu {
                    server: name.to_string(),
                    cpu_s_per_s: c / window,
                    cpu_s_per_request: c / answered,
                })
            })
            .collect();
        let product_page = matches!(target, LoadTarget::ProductPage { .. });
        let cached = matches!(
            target,
            LoadTarget::ProductPage { cache, .. } if cache != PageCache::None
        );
        LoadRun {
            target,
            rate_target: plan.rate,
            rate_achieved: self.rate_achieved(),
            connections: plan.connections as u32,
            duration_s: plan.duration.as_secs_f64(),
            warmup_s: plan.warmup.as_secs_f64(),
            requests: self.answered,
            errors: self.errors,
            first_error: self.first_error.clone(),
            unsent: self.unsent,
            percentiles_ns: percentiles(&self.corrected),
            uncorrected_percentiles_ns: percentiles(&self.uncorrected),
            hit_ratio: if cached { self.hit_ratio() } else { None },
            db_queries_per_s: product_page.then(|| self.db_queries as f64 / window),
            server_cpu_s_per_request: (!server_cpu.is_empty())
                .then(|| server_cpu.iter().map(|s| s.cpu_s_per_request).sum()),
            server_cpu,
            client_cpu_s_per_s: self.client_cpu_s.map(|c| c / window),
            client_cpus: client_cpus as u32,
            client_limits: self.client_limits(plan, client_cpus),
            per_second: self.per_second,
        }
    }
}

/// The percentiles of a histogram (zeros where it is empty).
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let q = |q: f64| h.value_at_quantile(q) as f64;
    Percentiles {
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64,
    }
}

/// What one connection's thread gathered.
struct Tally {
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
    answered: u64,
    hits: u64,
    db_queries: u64,
    errors: u64,
    first_error: Option<String>,
    unsent: u64,
    seconds: Vec<(Second, f64)>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            corrected: latency_histogram(),
            uncorrected: latency_histogram(),
            answered: 0,
            hits: 0,
            db_queries: 0,
            errors: 0,
            first_error: None,
            unsent: 0,
            seconds: Vec::new(),
        }
    }

    fn second(&mut self, t: Duration) -> &mut (Second, f64) {
        let i = t.as_secs() as usize;
        while self.seconds.len() <= i {
            let t_s = self.seconds.len() as u32;
            self.seconds.push((
                Second {
                    t_s,
                    requests: 0,
                    hits: 0,
                    db_queries: 0,
                    errors: 0,
                    mean_ns: 0.0,
                    max_ns: 0.0,
                },
                0.0,
            ));
        }
        &mut self.seconds[i]
    }

    fn merge(&mut self, o: Tally) {
        let _ = self.corrected.add(&o.corrected);
        let _ = self.uncorrected.add(&o.uncorrected);
        self.answered += o.answered;
        self.hits += o.hits;
        self.db_queries += o.db_queries;
        self.errors += o.errors;
        self.unsent += o.unsent;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        for (s, sum) in o.seconds {
            let (mine, my_sum) = self.second(Duration::from_secs(s.t_s as u64));
            mine.requests += s.requests;
            mine.hits += s.hits;
            mine.db_queries += s.db_queries;
            mine.errors += s.errors;
            mine.max_ns = mine.max_ns.max(s.max_ns);
            *my_sum += sum;
        }
    }
}

/// Sleeps until `start + at`, unless stopped.
fn wait_for(start: Instant, at: Duration) {
    let now = start.elapsed();
    if at > now {
        std::thread::sleep(at - now);
    }
}

/// Asks the kernel for exact sleeps on this thread (its default timer slack, 50 µs,
/// would be added to every wait for an intended start).
fn tight_timer() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl(PR_SET_TIMERSLACK) takes a plain integer and touches no memory.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Runs one connection's schedule until the run ends.
fn connection(
    plan: &LoadPlan,
    conn: usize,
    mut req: Box<dyn Request + '_>,
    start: Instant,
    stop: &AtomicBool,
) -> Tally {
    tight_timer();
    let mut t = Tally::new();
    let total = plan.total();
    for k in 0u64.. {
        let intended = plan.intended(conn, k);
        if intended >= total || stop.load(Ordering::Relaxed) {
            break;
        }
        wait_for(start, intended);
        let sent = start.elapsed();
        if sent >= total {
            // Behind schedule at the end: this request and the rest of the connection's
            // schedule are not sent, and counted as such.
            t.unsent = (k..)
                .take_while(|&j| plan.intended(conn, j) < total)
                .count() as u64;
            break;
        }
        let result = req.call();
        let done = start.elapsed();
        let (corrected, uncorrected) = latencies(intended, sent, done);
        let measured = intended >= plan.warmup;
        let (second, sum) = t.second(intended);
        match result {
            Ok(served) => {
                let ns = corrected.as_nanos() as f64;
                second.requests += 1;
                second.max_ns = second.max_ns.max(ns);
                *sum += ns;
                match served {
                    Served::Cache => second.hits += 1,
                    Served::Database => second.db_queries += 1,
                    Served::Plain => {}
                }
                if measured {
                    t.answered += 1;
                    t.hits += u64::from(served == Served::Cache);
                    t.db_queries += u64::from(served == Served::Database);
                    t.corrected
                        .saturating_record((corrected.as_nanos() as u64).max(1));
                    t.uncorrected
                        .saturating_record((uncorrected.as_nanos() as u64).max(1));
                }
            }
            Err(e) => {
                second.errors += 1;
                t.errors += 1;
                if t.first_error.is_none() {
                    t.first_error = Some(e.to_string());
                }
                if matches!(e, Error::Interrupted) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    t
}

/// CPU-seconds this process has used (user + system), where the OS says.
pub fn own_cpu_s() -> Option<f64> {
    // SAFETY: an all-zero rusage is a valid out-parameter; getrusage writes only it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is valid for writes for the whole call.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return None;
    }
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    Some(s(ru.ru_utime) + s(ru.ru_stime))
}

/// CPU-seconds (user + system) a process and its children have used: its own, what its
/// finished children were charged with, and its live children's own, from
/// `/proc/<pid>/stat` (PostgreSQL's postmaster and its backends). `None` where there is
/// no /proc or the process is gone.
pub fn process_tree_cpu_s(pid: u32) -> Option<f64> {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz <= 0 {
        return None;
    }
    // After the ")" ending the command name: state, ppid, ... utime is the 12th field.
    let fields = |pid: &str| -> Option<Vec<u64>> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 1..];
        Some(
            rest.split_whitespace()
                .skip(1)
                .map(|f| f.parse().unwrap_or(0))
                .collect(),
        )
    };
    let own = fields(&pid.to_string())?;
    let (utime, stime, cutime, cstime) = (own.get(10)?, own.get(11)?, own.get(12)?, own.get(13)?);
    let mut ticks = utime + stime + cutime + cstime;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(name) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if let Some(f) = fields(name) {
            if f.first() == Some(&u64::from(pid)) {
                ticks += f.get(10).unwrap_or(&0) + f.get(11).unwrap_or(&0);
            }
        }
    }
    Some(ticks as f64 / hz as f64)
}

/// Runs `plan`: `make(i)` builds connection i's request (all are built before the
/// clock starts), each on its own thread; `watch` are server pids whose CPU is read at
/// the start and end of the measured window; `progress` hears the fraction done.
pub fn drive<'a>(
    plan: &LoadPlan,
    watch: &[u32],
    make: &dyn Fn(usize) -> Result<Box<dyn Request + 'a>>,
    progress: &dyn Fn(f64),
) -> Result<LoadOutcome> {
    if !(plan.rate.is_finite() && plan.rate > 0.0) || plan.connections == 0 {
        return Err(Error::Input(
            "a load run needs a positive rate and at least one connection".into(),
        ));
    }
    let requests = (0..plan.connections)
        .map(make)
        .collect::<Result<Vec<_>>>()?;
    let stop = AtomicBool::new(false);
    let tallies = Mutex::new(Vec::new());
    let cpu = |pids: &[u32]| -> Vec<Option<f64>> {
        pids.iter().map(|&p| process_tree_cpu_s(p)).collect()
    };
    let (mut client_cpu, mut server_cpu) = (None, Vec::new());
    let mut window = (Instant::now(), Instant::now());
    std::thread::scope(|scope| {
        let start = Instant::now();
        for (i, req) in requests.into_iter().enumerate() {
            let (stop, tallies) = (&stop, &tallies);
            scope.spawn(move || {
                let t = connection(plan, i, req, start, stop);
                tallies.lock().expect("no thread panics holding it").push(t);
            });
        }
        let total = plan.total().as_secs_f64();
        let mut marked = false;
        let mut before = (None, Vec::new());
        while start.elapsed() < plan.total() && !stop.load(Ordering::Relaxed) {
            if crate::signal::interrupted() {
                stop.store(true, Ordering::Relaxed);
            }
            if !marked && start.elapsed() >= plan.warmup {
                marked = true;
                window.0 = Instant::now();
                before = (own_cpu_s(), cpu(watch));
            }
            progress(start.elapsed().as_secs_f64() / total);
            std::thread::sleep(Duration::from_millis(20));
        }
        window.1 = Instant::now();
        let after = (own_cpu_s(), cpu(watch));
        if marked {
            client_cpu = before.0.zip(after.0).map(|(b, a)| a - b);
            server_cpu = before
                .1
                .iter()
                .zip(&after.1)
                .map(|(b, a)| b.zip(*a).map(|(b, a)| a - b))
                .collect();
        }
    });
    crate::signal::check()?;
    progress(1.0);
    let mut all = Tally::new();
    for t in tallies.into_inner().expect("threads joined") {
        all.merge(t);
    }
    let per_second = all
        .seconds
        .into_iter()
        .map(|(mut s, sum)| {
            if s.requests > 0 {
                s.mean_ns = sum / s.requests as f64;
            }
            s
        })
        .collect();
    Ok(LoadOutcome {
        corrected: all.corrected,
        uncorrected: all.uncorrected,
        answered: all.answered,
        hits: all.hits,
        db_queries: all.db_queries,
        errors: all.errors,
        first_error: all.first_error,
        unsent: all.unsent,
        per_second,
        client_cpu_s: client_cpu,
        server_cpu_s: server_cpu,
        window_s: (window.1 - window.0)
            .as_secs_f64()
            .min(plan.duration.as_secs_f64() + 1.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(rate: f64, connections: usize) -> LoadPlan {
        LoadPlan {
            rate,
            connections,
            duration: Duration::from_secs(1),
            warmup: Duration::ZERO,
        }
    }

    #[test]
    fn intended_starts_interleave_the_connections_at_the_target_rate() {
        let p = plan(1000.0, 4);
        // Request k of connection i is slot k * 4 + i, one slot per millisecond.
        assert_eq!(p.intended(0, 0), Duration::ZERO);
        assert_eq!(p.intended(1, 0), Duration::from_millis(1));
        assert_eq!(p.intended(3, 0), Duration::from_millis(3));
        assert_eq!(p.intended(0, 1), Duration::from_millis(4));
        assert_eq!(p.intended(2, 250), Duration::from_millis(1002));
        // Every slot of the first second is taken exactly once.
        let mut slots: Vec<Duration> = (0..4)
            .flat_map(|i| (0..250).map(move |k| (i, k)))
            .map(|(i, k)| p.intended(i, k))
            .collect();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), 1000);
        assert!(slots.iter().all(|s| *s < Duration::from_secs(1)));
    }

    #[test]
    fn a_stall_shows_in_later_corrected_latencies_but_not_in_uncorrected_ones() {
        // One connection at 1000 req/s, 100 µs per answer, but request 0 stalls for
        // 10 ms: requests 1..=9 are sent when it returns, late.
        let p = plan(1000.0, 1);
        let service = Duration::from_micros(100);
        let mut now = Duration::ZERO;
        let mut corrected = Vec::new();
        let mut uncorrected = Vec::new();
        for k in 0..20 {
            let intended = p.intended(0, k);
            let sent = now.max(intended);
            let took = if k == 0 {
                Duration::from_millis(10)
            } else {
                service
            };
            let done = sent + took;
            let (c, u) = latencies(intended, sent, done);
            corrected.push(c);
            uncorrected.push(u);
            now = done;
        }
        // The stalled request itself: both see it.
        assert_eq!(corrected[0], Duration::from_millis(10));
        assert_eq!(uncorrected[0], Duration::from_millis(10));
        // The ones queued behind it waited; only the corrected figure says so.
        for k in 1..10 {
            assert!(
                corrected[k] > Duration::from_millis(1),
                "{k}: {:?}",
                corrected[k]
            );
            assert_eq!(uncorrected[k], service, "{k}");
        }
        assert!(corrected[1] > corrected[9]);
        // Once the backlog is gone, both agree again.
        assert_eq!(corrected[15], service);
        assert_eq!(uncorrected[15], service);
    }

    #[test]
    fn a_missed_rate_and_a_busy_client_are_flagged() {
        let p = plan(1000.0, 2);
        let mut o = LoadOutcome {
            corrected: latency_histogram(),
            uncorrected: latency_histogram(),
            answered: 990,
            hits: 0,
            db_queries: 0,
            errors: 0,
            first_error: None,
            unsent: 0,
            per_second: Vec::new(),
            client_cpu_s: Some(0.2),
            server_cpu_s: Vec::new(),
            window_s: 1.0,
        };
        assert!(o.client_limits(&p, 2).is_empty());
        assert_eq!(o.hit_ratio(), None);
        o.answered = 500;
        o.client_cpu_s = Some(1.9);
        assert_eq!(
            o.client_limits(&p, 2),
            [ClientLimit::RateMissed, ClientLimit::ClientCpu]
        );
        // One CPU for two threads: 0.95 CPU-s/s is the whole budget.
        o.client_cpu_s = Some(0.95);
        assert!(o.client_limits(&p, 1).contains(&ClientLimit::ClientCpu));
        o.hits = 3;
        o.db_queries = 1;
        assert_eq!(o.hit_ratio(), Some(0.75));
    }

    #[test]
    fn the_driver_keeps_the_schedule_and_splits_the_series_by_second() {
        // 200 req/s for 0.5 s warm-up + 1 s: 300 requests, a no-op each.
        let p = LoadPlan {
            rate: 200.0,
            connections: 2,
            duration: Duration::from_secs(1),
            warmup: Duration::from_millis(500),
        };
        let make = |_| -> Result<Box<dyn Request>> { Ok(Box::new(|| Ok(Served::Cache))) };
        let o = drive(&p, &[], &make, &|_| {}).unwrap();
        // A late wake-up on a busy host may leave the end of the schedule unsent; every
        // one of the 300 slots is either sent or counted as unsent.
        let sent: u64 = o.per_second.iter().map(|s| s.requests).sum();
        assert_eq!(sent + o.unsent, 300, "{:?}", o.per_second);
        // The unsent ones are the last: the warm-up's 100 are all sent, the window's 200
        // are answered or unsent.
        assert_eq!(sent - o.answered, 100);
        assert_eq!(o.answered + o.unsent, 200);
        // Seconds are counted by intended start: 0..1 s and 1..1.5 s.
        assert!((1..=2).contains(&o.per_second.len()), "{:?}", o.per_second);
        assert_eq!(o.hit_ratio(), Some(1.0));
        assert_eq!(o.errors, 0);
        assert!(own_cpu_s().is_some());
        #[cfg(target_os = "linux")]
        assert!(process_tree_cpu_s(std::process::id()).is_some());
    }
}
