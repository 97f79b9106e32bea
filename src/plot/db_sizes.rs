//! The expensive query against the rows it aggregates: one line per engine and
//! transport, warm solid and cold dashed, on log-log axes, with the lecture's 50 ms as a
//! grey line.

use super::{both, house_style, legend, plot_err, Chart, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::db::{LookupSplit, QuerySizes};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Draws `db-sizes.png`/`.svg`.
pub fn db_sizes_chart(sizes: &[QuerySizes], lecture_ns: f64, dir: &Path) -> Result<Vec<PathBuf>> {
    both(dir, "db-sizes", &SizesChart { sizes, lecture_ns })
}

struct SizesChart<'a> {
    sizes: &'a [QuerySizes],
    lecture_ns: f64,
}

/// The label of one engine and transport: "PostgreSQL over TCP", "SQLite".
pub fn sizes_label(s: &QuerySizes) -> String {
    use crate::record::rung::{Engine, Transport};
    let engine = match s.engine {
        Engine::Postgres => "PostgreSQL",
        Engine::Sqlite => "SQLite",
    };
    match s.transport {
        Transport::Embedded => engine.to_string(),
        t => format!("{engine} over {t}"),
    }
}

impl Chart for SizesChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let points = || self.sizes.iter().flat_map(|s| s.points.iter());
        let x_hi = points().map(|p| p.orders as f64).fold(1.0, f64::max);
        let x_lo = points().map(|p| p.orders as f64).fold(x_hi, f64::min);
        let times = || {
            points()
                .flat_map(|p| [Some(p.warm_p50_ns), p.cold_p50_ns])
                .flatten()
                .chain([self.lecture_ns])
        };
        let y_lo = times().fold(f64::INFINITY, f64::min).max(1.0);
        let y_hi = times().fold(1.0, f64::max);
        let (y_lo, y_hi) = (
            10f64.powf(y_lo.log10().floor()),
            10f64.powf(y_hi.log10().ceil()),
        );
        let mut chart = ChartBuilder::on(root)
            .caption(
                "The expensive query against the orders it aggregates: warm (solid), cold (dashed)",
                (FONT, 24),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(90)
            .build_cartesian_2d(
                (x_lo / 1.2..x_hi * 1.2).log_scale(),
                (y_lo..y_hi).log_scale(),
            )
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("orders aggregated (log scale)")
            .y_desc("p50 latency (log scale)")
            .x_label_formatter(&|x| crate::units::format_count(*x))
            .y_label_formatter(&|y| crate::units::format_ns_round(*y))
            .draw()
            .map_err(&e)?;
        let lecture = self.lecture_ns;
        chart
            .draw_series(LineSeries::new(
                [(x_lo / 1.2, lecture), (x_hi * 1.2, lecture)],
                GREY.stroke_width(2),
            ))
            .map_err(&e)?
            .label("the lecture's database: ~50 ms")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], GREY.stroke_width(2)));
        for (i, s) in self.sizes.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let label = sizes_label(s);
            let warm: Vec<(f64, f64)> = s
                .points
                .iter()
                .map(|p| (p.orders as f64, p.warm_p50_ns.max(1.0)))
                .collect();
            chart
                .draw_series(LineSeries::new(warm.clone(), color.stroke_width(3)))
                .map_err(&e)?
                .label(format!("{label}, warm"))
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(3))
                });
            chart
                .draw_series(warm.iter().map(|&p| Circle::new(p, 4, color.filled())))
                .map_err(&e)?;
            let cold: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((p.orders as f64, p.cold_p50_ns?.max(1.0))))
                .collect();
            if !cold.is_empty() {
                chart
                    .draw_series(DashedLineSeries::new(
                        cold.clone(),
                        8,
                        6,
                        color.stroke_width(2),
                    ))
                    .map_err(&e)?
                    .label(format!("{label}, cold"))
                    .legend(move |(x, y)| {
                        plotters::element::DashedPathElement::new(
                            [(x, y), (x + 20, y)],
                            5,
                            3,
                            color.stroke_width(2),
                        )
                    });
                chart
                    .draw_series(
                        cold.iter()
                            .map(|&p| Circle::new(p, 4, color.stroke_width(2))),
                    )
                    .map_err(&e)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        Ok(())
    }
}

/// Draws `db-split.png`/`.svg`: one stacked bar per transport, the warm point lookup's
/// time as the bare round trip, the server's execution and the rest, with the planning
/// an unprepared statement would add drawn after them in grey.
pub fn db_split_chart(splits: &[LookupSplit], dir: &Path) -> Result<Vec<PathBuf>> {
    both(dir, "db-split", &SplitChart { splits })
}

struct SplitChart<'a> {
    splits: &'a [LookupSplit],
}

/// The label of one split: its transport and placement.
pub fn split_label(s: &LookupSplit) -> String {
    match &s.placement {
        Some(p) => format!("PostgreSQL over {} [{}]", s.transport, p.label()),
        None => format!("PostgreSQL over {}", s.transport),
    }
}

impl Chart for SplitChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let us = |ns: f64| ns / 1e3;
        let x_hi = self
            .splits
            .iter()
            .map(|s| us(s.round_trip_ns.max(s.total_ns) + s.execution_ns + s.planning_ns))
            .fold(1.0, f64::max)
            * 1.15;
        let n = self.splits.len();
        let mut chart = ChartBuilder::on(root)
            .caption("What a warm PostgreSQL point lookup is made of", (FONT, 26))
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(20)
            .build_cartesian_2d(0.0..x_hi, 0.0..n as f64)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("µs (p50 of each part)")
            .draw()
            .map_err(&e)?;
        let parts: [(&str, RGBColor); 4] = [
            ("round trip (SELECT 1)", PALETTE[0]),
            ("execution in the server", PALETTE[1]),
            ("the rest (bind, protocol, row)", PALETTE[2]),
            ("planning, if not prepared", GREY),
        ];
        for (k, (name, color)) in parts.into_iter().enumerate() {
            let bars = self.splits.iter().enumerate().map(move |(i, s)| {
                let (lo, width) = match k {
                    0 => (0.0, s.round_trip_ns),
                    1 => (s.round_trip_ns, s.execution_ns),
                    2 => (s.round_trip_ns + s.execution_ns, s.rest_ns()),
                    _ => (
                        s.round_trip_ns + s.execution_ns + s.rest_ns(),
                        s.planning_ns,
                    ),
                };
                let y = (n - 1 - i) as f64;
                Rectangle::new(
                    [(us(lo), y + 0.3), (us(lo + width), y + 0.7)],
                    color.filled(),
                )
            });
            chart
                .draw_series(bars)
                .map_err(&e)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 16, y + 6)], color.filled())
                });
        }
        for (i, s) in self.splits.iter().enumerate() {
            let y = (n - 1 - i) as f64 + 0.85;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(
                        "{}: {} in all",
                        split_label(s),
                        crate::units::format_ns(s.total_ns)
                    ),
                    (x_hi * 0.01, y),
                    (FONT, 16),
                )))
                .map_err(&e)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}
