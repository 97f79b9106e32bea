//! The load chart: per second of each fixed-rate run, from its start (warm-up shaded),
//! the mean and slowest latency from the intended start (log scale), and below it the
//! hit ratio of the cache-aside runs: the warm-up curve from a cold cache. Where one
//! target ran at several rates (`ladder load --rates`), `load-rate`: p50 and p99
//! against the rate achieved, corrected solid and uncorrected dashed.

use super::{both, house_style, legend, plot_err, Chart, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::load::LoadSection;
use crate::record::load::{rate_curves, target_label};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draws `load.png`/`.svg` where a run has a per-second series, and
/// `load-rate.png`/`.svg` where a target ran at several rates.
pub fn load_chart(section: &LoadSection, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if section.runs.iter().any(|r| !r.per_second.is_empty()) {
        files.extend(both(dir, "load", &LoadChart { section })?);
    }
    if !rate_curves(section).is_empty() {
        files.extend(both(dir, "load-rate", &RateChart { section })?);
    }
    Ok(files)
}

/// The power of ten at or below `lo` and at or above `hi`.
fn decades(lo: f64, hi: f64) -> (f64, f64) {
    (
        10f64.powf(lo.max(1e-9).log10().floor()),
        10f64.powf(hi.max(lo).log10().ceil()),
    )
}

/// A log axis's tick label where its leading digit is 1, 2 or 5 ("2000"), else none:
/// the ticks between stay as grid lines without crowding the axis.
fn round_label(x: f64) -> String {
    let lead = x / 10f64.powf(x.max(1.0).log10().floor());
    if [1.0, 2.0, 5.0].iter().any(|d| (lead - d).abs() < 1e-6) {
        format!("{x:.0}")
    } else {
        String::new()
    }
}

struct RateChart<'a> {
    section: &'a LoadSection,
}

impl Chart for RateChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let curves = rate_curves(self.section);
        let runs = || curves.iter().flat_map(|c| c.1.iter());
        let fold = |v: &mut dyn Iterator<Item = f64>| {
            v.fold((f64::INFINITY, 0f64), |(a, b), x| (a.min(x), b.max(x)))
        };
        let (x_lo, x_hi) = fold(&mut runs().map(|r| r.rate_achieved.max(1.0)));
        let (y_lo, y_hi) = fold(&mut runs().flat_map(|r| {
            let (c, u) = (&r.percentiles_ns, &r.uncorrected_percentiles_ns);
            [c.p50, c.p99, u.p50, u.p99].map(|v| v.max(1.0))
        }));
        let (x_lo, x_hi) = (x_lo / 1.25, x_hi * 1.25);
        let (y_lo, y_hi) = decades(y_lo, y_hi);
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency against rate: p50 and p99, corrected (solid) and uncorrected (dashed)",
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("requests per second achieved (log scale)")
            .y_desc("latency (log scale)")
            .x_label_formatter(&|x| round_label(*x))
            .y_label_formatter(&|y| crate::units::format_ns_round(*y))
            .draw()
            .map_err(&e)?;
        type Pick = fn(&crate::record::load::LoadRun) -> f64;
        let lines: [(&str, Pick, u32, bool); 4] = [
            ("p99", |r| r.percentiles_ns.p99, 3, false),
            ("p50", |r| r.percentiles_ns.p50, 1, false),
            (
                "p99 uncorrected",
                |r| r.uncorrected_percentiles_ns.p99,
                3,
                true,
            ),
            (
                "p50 uncorrected",
                |r| r.uncorrected_percentiles_ns.p50,
                1,
                true,
            ),
        ];
        for (i, (label, runs)) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            for (name, pick, width, dashed) in lines {
                let pts: Vec<(f64, f64)> = runs
                    .iter()
                    .map(|r| (r.rate_achieved.max(1.0), pick(r).max(1.0)))
                    .collect();
                let style = color.stroke_width(width);
                let legend_style = style;
                let text = format!("{label} — {name}");
                if dashed {
                    chart
                        .draw_series(DashedLineSeries::new(pts, 8, 6, style))
                        .map_err(&e)?
                        .label(text)
                        .legend(move |(x, y)| {
                            plotters::element::DashedPathElement::new(
                                [(x, y), (x + 20, y)],
                                5,
                                3,
                                legend_style,
                            )
                        });
                } else {
                    chart
                        .draw_series(LineSeries::new(pts.clone(), style))
                        .map_err(&e)?
                        .label(text)
                        .legend(move |(x, y)| {
                            PathElement::new([(x, y), (x + 20, y)], legend_style)
                        });
                    chart
                        .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                        .map_err(&e)?;
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        Ok(())
    }
}

struct LoadChart<'a> {
    section: &'a LoadSection,
}

impl Chart for LoadChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let runs = &self.section.runs;
        let seconds = runs.iter().map(|r| r.per_second.len()).max().unwrap_or(1) as f64;
        let values = runs
            .iter()
            .flat_map(|r| r.per_second.iter())
            .filter(|s| s.requests > 0)
            .flat_map(|s| [s.mean_ns, s.max_ns]);
        let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v.max(1.0)), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() {
            decades(lo, hi)
        } else {
            (1e3, 1e9)
        };
        let warmup = runs.first().map_or(0.0, |r| r.warmup_s);
        let cached: Vec<_> = runs.iter().filter(|r| r.hit_ratio.is_some()).collect();
        let (top, bottom) = if cached.is_empty() {
            (root.clone(), None)
        } else {
            let (t, b) = root.split_vertically(SIZE_TOP);
            (t, Some(b))
        };
        let mut chart = ChartBuilder::on(&top)
            .caption(
                "Fixed-rate load: latency per second from each request's intended start",
                (FONT, 26),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..seconds, (lo..hi).log_scale())
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("seconds from the start (warm-up shaded)")
            .y_desc("latency (log scale)")
            .y_label_formatter(&|y| crate::units::format_ns_round(*y))
            .draw()
            .map_err(&e)?;
        chart
            .draw_series([Rectangle::new(
                [(0.0, lo), (warmup, hi)],
                GREY.mix(0.12).filled(),
            )])
            .map_err(&e)?;
        for (i, r) in runs.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let pts = |f: fn(&crate::record::load::Second) -> f64| -> Vec<(f64, f64)> {
                r.per_second
                    .iter()
                    .filter(|s| s.requests > 0)
                    .map(|s| (s.t_s as f64 + 0.5, f(s).max(1.0)))
                    .collect()
            };
            chart
                .draw_series(LineSeries::new(pts(|s| s.mean_ns), color.stroke_width(3)))
                .map_err(&e)?
                .label(format!("{} — mean", target_label(&r.target)))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(LineSeries::new(pts(|s| s.max_ns), color.mix(0.5)))
                .map_err(&e)?
                .label(format!("{} — slowest", target_label(&r.target)))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.mix(0.5)));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        let Some(bottom) = bottom else {
            return Ok(());
        };
        let mut chart = ChartBuilder::on(&bottom)
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..seconds, 0.0..100.0)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("seconds from the start, cold cache at 0")
            .y_desc("hit ratio (%)")
            .draw()
            .map_err(&e)?;
        for (i, r) in runs.iter().enumerate() {
            if r.hit_ratio.is_none() {
                continue;
            }
            let color = PALETTE[i % PALETTE.len()];
            let pts: Vec<(f64, f64)> = r
                .per_second
                .iter()
                .filter(|s| s.requests > 0)
                .map(|s| {
                    (
                        s.t_s as f64 + 0.5,
                        s.hits as f64 * 100.0 / s.requests as f64,
                    )
                })
                .collect();
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(3)))
                .map_err(&e)?
                .label(target_label(&r.target))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}

/// Height of the latency panel where the hit-ratio panel is drawn below it.
const SIZE_TOP: u32 = super::SIZE.1 * 3 / 5;
