//! The cache-lab charts: hit ratio against cache size, one line per eviction policy
//! (and memcached), at the run's sweep skew (linear axes: a ratio and a percentage);
//! hit ratio against the scaled TTL, measured and modelled; and the outage's timeline
//! (p50 and p99 per bucket above, hit ratio and fallback share below, the time the
//! cache was down shaded).

use super::{both, house_style, legend, plot_err, Chart, FONT, PALETTE};
use crate::error::Result;
use crate::record::cache_lab::{
    CacheLabSection, EvictionSection, OutageSection, Policy, TtlSection, Workload,
};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

struct HitRatioChart<'a>(&'a EvictionSection);

impl HitRatioChart<'_> {
    /// (policy, points (size %, hit ratio)) at the sweep skew, sizes ascending.
    fn series(&self) -> Vec<(Policy, Vec<(f64, f64)>)> {
        let e = self.0;
        Policy::ALL
            .iter()
            .map(|&p| {
                let mut pts: Vec<(f64, f64)> = e
                    .rows
                    .iter()
                    .filter(|r| r.policy == p && r.workload == (Workload::Zipf { s: e.sweep_skew }))
                    // memcached's -m is whole MiB: placed at the bytes it really had.
                    .map(|r| {
                        let f = if p == Policy::Memcached {
                            r.limit_bytes as f64 / e.working_set_bytes.max(1) as f64
                        } else {
                            r.cache_fraction
                        };
                        (f * 100.0, r.hit_ratio())
                    })
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                (p, pts)
            })
            .filter(|(_, pts)| !pts.is_empty())
            .collect()
    }
}

impl Chart for HitRatioChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let series = self.series();
        let x1 = series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q.0))
            .fold(1.0, f64::max);
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Hit ratio against cache size (Zipf s={}, {} keys)",
                    self.0.sweep_skew, self.0.keys
                ),
                (FONT, 30),
            )
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x1 * 1.05, 0.0..1.0)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .x_desc("cache size (% of the working set's bytes)")
            .y_desc("hit ratio (client)")
            .x_label_formatter(&|x| format!("{x:.0}%"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .map_err(&e)?;
        for (i, (policy, pts)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))
                .map_err(&e)?
                .label(policy.label())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
            chart
                .draw_series(pts.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(&e)?;
        }
        if let Some(b) = self.0.break_even_hit_ratio {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, b), (x1 * 1.05, b)],
                    8,
                    5,
                    super::GREY.stroke_width(2),
                ))
                .map_err(&e)?
                .label(format!("break-even hit ratio {b:.2}"))
                .legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], super::GREY.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}

struct TtlChart<'a>(&'a TtlSection);

impl Chart for TtlChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let t = self.0;
        let x0 = t.rows.iter().map(|r| r.lecture_s).min().unwrap_or(1) as f64;
        let x1 = t.rows.iter().map(|r| r.lecture_s).max().unwrap_or(1) as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "Hit ratio against TTL (scaled 1/{:.0}; Zipf s={}, {} keys, {} req/s)",
                    1.0 / t.scale,
                    t.skew,
                    t.keys,
                    t.rate_per_s
                ),
                (FONT, 28),
            )
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (x0 * 0.8..x1 * 1.25)
                    .log_scale()
                    .with_key_points(t.rows.iter().map(|r| r.lecture_s as f64).collect()),
                0.0..1.0,
            )
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .x_desc("the lecture's TTL (run scaled down)")
            .y_desc("hit ratio")
            .x_label_formatter(&|x| format!("{x:.0} s"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .map_err(&e)?;
        let measured: Vec<(f64, f64)> = t
            .rows
            .iter()
            .map(|r| (r.lecture_s as f64, r.hit_ratio()))
            .collect();
        let model: Vec<(f64, f64)> = t
            .rows
            .iter()
            .map(|r| (r.lecture_s as f64, r.model_hit_ratio))
            .collect();
        let color = PALETTE[0];
        chart
            .draw_series(LineSeries::new(measured.clone(), color.stroke_width(2)))
            .map_err(&e)?
            .label("measured")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3)));
        chart
            .draw_series(measured.iter().map(|&p| Circle::new(p, 5, color.filled())))
            .map_err(&e)?;
        chart
            .draw_series(DashedLineSeries::new(
                model,
                8,
                5,
                super::GREY.stroke_width(2),
            ))
            .map_err(&e)?
            .label("renewal model")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 24, y)], super::GREY.stroke_width(3)));
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}

struct OutageChart<'a>(&'a OutageSection);

impl Chart for OutageChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let o = self.0;
        let secs = |ms: u64| ms as f64 / 1000.0;
        // Each bucket's point at its middle.
        let mid = |start_ms: u64| (start_ms as f64 + o.bucket_ms as f64 / 2.0) / 1000.0;
        let x1 = secs(o.window_ms);
        let (top, bottom) = root.split_vertically(SIZE_TOP);
        let ms = |ns: Option<f64>| ns.map(|v| v / 1e6);
        let lat: Vec<(f64, f64, f64)> = o
            .buckets
            .iter()
            .filter_map(|b| Some((mid(b.start_ms), ms(b.p50_ns)?, ms(b.p99_ns)?)))
            .collect();
        let y1 = lat.iter().map(|l| l.2).fold(0.1, f64::max) * 1.15;
        let mut chart = ChartBuilder::on(&top)
            .caption(
                format!(
                    "Cache outage: Redis killed at {:.1} s, answering again at {:.1} s",
                    secs(o.down_at_ms),
                    secs(o.up_at_ms)
                ),
                (FONT, 28),
            )
            .margin(20)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x1, 0.0..y1)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .y_desc("request latency (ms)")
            .x_label_formatter(&|x| format!("{x:.1} s"))
            .y_label_formatter(&|y| format!("{y:.2}"))
            .draw()
            .map_err(&e)?;
        let shade = RGBColor(250, 225, 225).filled();
        chart
            .draw_series([Rectangle::new(
                [(secs(o.down_at_ms), 0.0), (secs(o.up_at_ms), y1)],
                shade,
            )])
            .map_err(&e)?;
        for (i, (label, pick)) in [
            (
                "p50 per bucket",
                (|l: &(f64, f64, f64)| l.1) as fn(&(f64, f64, f64)) -> f64,
            ),
            ("p99 per bucket", |l| l.2),
        ]
        .into_iter()
        .enumerate()
        {
            let color = PALETTE[i];
            chart
                .draw_series(LineSeries::new(
                    lat.iter().map(|l| (l.0, pick(l))),
                    color.stroke_width(2),
                ))
                .map_err(&e)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        let mut chart = ChartBuilder::on(&bottom)
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..x1, 0.0..1.05)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .x_desc("time from the start (s)")
            .y_desc("share of requests")
            .x_label_formatter(&|x| format!("{x:.1} s"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .draw()
            .map_err(&e)?;
        chart
            .draw_series([Rectangle::new(
                [(secs(o.down_at_ms), 0.0), (secs(o.up_at_ms), 1.05)],
                shade,
            )])
            .map_err(&e)?;
        let share = |f: fn(&crate::record::cache_lab::OutageBucket) -> u64| -> Vec<(f64, f64)> {
            o.buckets
                .iter()
                .filter(|b| b.requests > 0)
                .map(|b| (mid(b.start_ms), f(b) as f64 / b.requests as f64))
                .collect()
        };
        for (i, (label, pts)) in [
            ("hit ratio", share(|b| b.hits)),
            (
                "answered from the database (fallback)",
                share(|b| b.fallbacks),
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let color = PALETTE[i + 2];
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(&e)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}

/// The latency panel's height.
const SIZE_TOP: u32 = super::SIZE.1 * 11 / 20;

/// Draws the cache-lab charts the section has data for: `cache_lab_hit_ratio` (where
/// more than one cache size was measured),
/// `cache_lab_ttl`, `cache_lab_outage` (.png and .svg).
pub fn charts(c: &CacheLabSection, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if let Some(e) = c.eviction.as_ref().filter(|e| e.has_size_sweep()) {
        files.extend(both(dir, "cache_lab_hit_ratio", &HitRatioChart(e))?);
    }
    if let Some(t) = c.ttl.as_ref().filter(|t| !t.rows.is_empty()) {
        files.extend(both(dir, "cache_lab_ttl", &TtlChart(t))?);
    }
    if let Some(o) = c.outage.as_ref().filter(|o| !o.buckets.is_empty()) {
        files.extend(both(dir, "cache_lab_outage", &OutageChart(o))?);
    }
    Ok(files)
}
