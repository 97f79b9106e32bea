//! The load chart: per second of each fixed-rate run, from its start (warm-up shaded),
//! the mean and slowest latency from the intended start (log scale), and below it the
//! hit ratio of the cache-aside runs: the warm-up curve from a cold cache.

use super::{both, legend, plot_err, Chart, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::load::LoadSection;
use crate::report::load::target_label;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draws `load.png`/`.svg` where a run has a per-second series.
pub fn load_chart(section: &LoadSection, dir: &Path) -> Result<Vec<PathBuf>> {
    if section.runs.iter().all(|r| r.per_second.is_empty()) {
        return Ok(Vec::new());
    }
    both(dir, "load", &LoadChart { section })
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
            (
                10f64.powf(lo.log10().floor()),
                10f64.powf(hi.log10().ceil()),
            )
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
        chart
            .configure_mesh()
            .x_desc("seconds from the start (warm-up shaded)")
            .y_desc("latency (log scale)")
            .y_label_formatter(&|y| crate::units::format_ns_round(*y))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(235, 235, 235))
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
        chart
            .configure_mesh()
            .x_desc("seconds from the start, cold cache at 0")
            .y_desc("hit ratio (%)")
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .light_line_style(RGBColor(235, 235, 235))
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
