//! The cache-lab chart: hit ratio against cache size, one line per eviction policy
//! (and memcached), at the run's sweep skew. Linear axes: a ratio and a percentage.

use super::{both, legend, plot_err, Chart, FONT, PALETTE};
use crate::error::Result;
use crate::record::cache_lab::{EvictionSection, Policy, Workload};
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
        chart
            .configure_mesh()
            .x_desc("cache size (% of the working set's bytes)")
            .y_desc("hit ratio (client)")
            .x_label_formatter(&|x| format!("{x:.0}%"))
            .y_label_formatter(&|y| format!("{y:.1}"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .light_line_style(RGBColor(235, 235, 235))
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

/// Draws `cache_lab_hit_ratio.png` and `.svg` where the eviction section has rows.
pub fn charts(e: &EvictionSection, dir: &Path) -> Result<Vec<PathBuf>> {
    let chart = HitRatioChart(e);
    if chart.series().is_empty() {
        return Ok(Vec::new());
    }
    both(dir, "cache_lab_hit_ratio", &chart)
}
