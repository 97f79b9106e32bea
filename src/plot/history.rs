//! One host's memory levels over time (`ladder compare` over runs of one CPU): each
//! level's latency per run, with its 95% interval as a bar, on a log latency axis.

use super::{both, house_style, legend, plot_err, Chart, FONT, PALETTE};
use crate::baseline::LevelHistory;
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draws `history.png`/`.svg`.
pub fn history_chart(levels: &[LevelHistory], dir: &Path) -> Result<Vec<PathBuf>> {
    both(dir, "history", &HistoryChart { levels })
}

struct HistoryChart<'a> {
    levels: &'a [LevelHistory],
}

impl Chart for HistoryChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let points = || self.levels.iter().flat_map(|l| l.points.iter());
        let t0 = points().map(|p| p.0).min().unwrap_or(0) as f64;
        let t1 = points().map(|p| p.0).max().unwrap_or(0) as f64;
        let pad = ((t1 - t0) * 0.08).max(60.0);
        let values = || {
            points().flat_map(|&(_, v, i)| {
                let (lo, hi) = i.unwrap_or((v, v));
                [v, lo, hi]
            })
        };
        let y_lo = values().fold(f64::INFINITY, f64::min).max(0.01) / 1.5;
        let y_hi = values().fold(0.01, f64::max) * 1.5;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Memory levels over time, one host: latency with its 95% interval",
                (FONT, 24),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(t0 - pad..t1 + pad, (y_lo..y_hi).log_scale())
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("run started (UTC)")
            .y_desc("latency (log scale)")
            .x_labels(6)
            .x_label_formatter(&|t| {
                let (stamp, _) = crate::record::utc_stamp(t.max(0.0) as u64);
                stamp[5..16].replace('T', " ")
            })
            .y_label_formatter(&|y| crate::units::format_ns_round(*y))
            .draw()
            .map_err(&e)?;
        for (i, l) in self.levels.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let line: Vec<(f64, f64)> = l.points.iter().map(|&(t, v, _)| (t as f64, v)).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
                .map_err(&e)?
                .label(l.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(line.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(&e)?;
            for &(t, _, interval) in &l.points {
                if let Some((lo, hi)) = interval {
                    chart
                        .draw_series(LineSeries::new(
                            [(t as f64, lo), (t as f64, hi)],
                            color.stroke_width(2),
                        ))
                        .map_err(&e)?;
                }
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        Ok(())
    }
}
