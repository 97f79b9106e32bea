//! The access-pattern charts: latency against stride, and against parallel chains.

use super::{both, house_style, legend, plot_err, Chart, FONT, PALETTE};
use crate::error::Result;
use crate::units::{format_ns, format_size};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// One line of an x-y chart.
pub struct Series {
    /// Legend text.
    pub label: String,
    /// (x, y) points; x in log2 units.
    pub points: Vec<(f64, f64)>,
    /// Colour index into the palette.
    pub color: usize,
    /// Dashed (the "other" variant of a pair, e.g. random beside sequential).
    pub dashed: bool,
}

/// A log-log chart of several series: x in log2 units labelled by `x_label`, y on a log
/// scale labelled by `y_label`.
struct XyChart {
    title: String,
    x_desc: &'static str,
    y_desc: &'static str,
    series: Vec<Series>,
    x_label: fn(f64) -> String,
    y_label: fn(f64) -> String,
}

impl Chart for XyChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let pts = self.series.iter().flat_map(|s| s.points.iter());
        let (x0, x1, y0, y1) = pts.fold(
            (
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
            ),
            |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
        );
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            // Headroom above the highest curve keeps the legend off the lines.
            .build_cartesian_2d((x0 - 0.2)..(x1 + 0.2), (y0 * 0.7..y1 * 30.0).log_scale())
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .x_labels((x1 - x0).ceil() as usize + 1)
            .x_label_formatter(&|x| (self.x_label)(*x))
            .y_label_formatter(&|y| (self.y_label)(*y))
            .draw()
            .map_err(&e)?;
        for s in &self.series {
            let color = PALETTE[s.color % PALETTE.len()];
            let style = color.stroke_width(2);
            let anno = if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(s.points.clone(), 8, 5, style))
                    .map_err(&e)?
            } else {
                chart
                    .draw_series(LineSeries::new(s.points.clone(), style))
                    .map_err(&e)?
            };
            let dashed = s.dashed;
            anno.label(s.label.clone()).legend(move |(x, y)| {
                let end = if dashed { x + 10 } else { x + 24 };
                PathElement::new([(x, y), (end, y)], color.stroke_width(3))
            });
            chart
                .draw_series(s.points.iter().map(|&p| Circle::new(p, 3, color.filled())))
                .map_err(&e)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        Ok(())
    }
}

/// The stride chart and the parallel-chains chart of a patterns section.
pub fn pattern_charts(
    p: &crate::record::patterns::PatternsSection,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let log2 = |v: u64| (v as f64).log2();
    let mut stride = Vec::new();
    for (i, s) in p.stride.iter().enumerate() {
        let name = format!("{} {}", s.set.level, format_size(s.set.size_bytes));
        stride.push(Series {
            label: format!("{name} sequential"),
            points: s
                .points
                .iter()
                .map(|q| (log2(q.stride_bytes), q.sequential_ns))
                .collect(),
            color: i,
            dashed: false,
        });
        stride.push(Series {
            label: format!("{name} random"),
            points: s
                .points
                .iter()
                .map(|q| (log2(q.stride_bytes), q.random_ns))
                .collect(),
            color: i,
            dashed: true,
        });
    }
    let mut files = both(
        dir,
        "stride",
        &XyChart {
            title: "Latency against stride (sequential solid, random dashed)".into(),
            x_desc: "stride (bytes, log2 scale)",
            y_desc: "latency per access (ns, log scale)",
            series: stride,
            x_label: |x| format_size(2f64.powf(x).round() as u64),
            y_label: |y| format_ns(y),
        },
    )?;
    let mut levels = Vec::new();
    for q in &p.parallel {
        if !levels.contains(&q.level) {
            levels.push(q.level);
        }
    }
    let parallel: Vec<Series> = levels
        .iter()
        .enumerate()
        .map(|(i, level)| Series {
            label: level.to_string(),
            points: p
                .parallel
                .iter()
                .filter(|q| q.level == *level)
                .map(|q| (f64::from(q.chains).log2(), q.misses_in_flight))
                .collect(),
            color: i,
            dashed: false,
        })
        .collect();
    if !parallel.is_empty() {
        files.extend(both(
            dir,
            "parallel",
            &XyChart {
                title: "Memory-level parallelism".into(),
                x_desc: "independent chains (log2 scale)",
                y_desc: "misses in flight (log scale)",
                series: parallel,
                x_label: |x| format!("{}", 2f64.powf(x).round()),
                y_label: |y| {
                    if y >= 9.95 {
                        format!("{y:.0}")
                    } else {
                        format!("{y:.1}")
                    }
                },
            },
        )?);
    }
    Ok(files)
}
