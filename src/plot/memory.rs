//! The latency curve: working-set size against ns per access, both log scales, sysfs
//! cache sizes marked, detected levels annotated; several runs overlay for `ladder
//! compare`.

use super::{both, house_style, legend, plot_err, Chart, Labelled, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::memory::PageKind;
use crate::record::Run;
use crate::units::{format_ns, format_size};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
    /// Per point: whether its rounds disagreed (drawn hollow).
    unstable: Vec<bool>,
}

fn curves(runs: &[Labelled]) -> Vec<Curve> {
    let mut out = Vec::new();
    for r in runs {
        let Some(mem) = &r.run.memory else { continue };
        for &pages in &mem.config.pages {
            let points: Vec<(f64, f64)> = mem
                .series(pages)
                .map(|p| ((p.size_bytes as f64).log2(), p.ns_per_access))
                .collect();
            let unstable = mem.series(pages).map(|p| p.unstable).collect();
            let pages_text = match pages {
                PageKind::Small => "4 KiB pages",
                PageKind::Huge => "2 MiB pages",
            };
            let label = if r.label.is_empty() {
                format!("{pages_text}, {} order", mem.config.order)
            } else {
                format!("{} — {pages_text}", r.label)
            };
            out.push(Curve {
                label,
                points,
                unstable,
            });
        }
    }
    out
}

/// The latency curve(s): ns per access against working-set size.
pub fn latency_chart(runs: &[Labelled], dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let curves = curves(runs);
    let all = curves.iter().flat_map(|c| c.points.iter());
    let (x0, x1, y0, y1) = all.fold(
        (
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ),
        |(a, b, c, d), &(x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)),
    );
    if !x0.is_finite() {
        return Ok(Vec::new());
    }
    let first = runs[0].run;
    let sysfs: Vec<(String, f64)> = first
        .host
        .data_caches()
        .iter()
        .map(|c| (c.name(), (c.size_bytes as f64).log2()))
        .filter(|(_, x)| *x >= x0 && *x <= x1)
        .collect();
    let chart = LatencyChart {
        curves,
        sysfs,
        first,
        single: runs.len() == 1,
        range: (x0, x1, y0, y1),
    };
    both(dir, stem, &chart)
}

struct LatencyChart<'a> {
    curves: Vec<Curve>,
    sysfs: Vec<(String, f64)>,
    first: &'a Run,
    single: bool,
    range: (f64, f64, f64, f64),
}

impl Chart for LatencyChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let LatencyChart {
            curves,
            sysfs,
            first,
            single,
            range: (x0, x1, y0, y1),
        } = self;
        let (x0, x1, y0, y1, single) = (*x0, *x1, *y0, *y1, *single);
        let title = if single {
            format!("Memory latency — {}", first.host.hostname)
        } else {
            "Memory latency — compared".to_string()
        };
        let mut chart = ChartBuilder::on(root)
            .caption(title, (FONT, 30))
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d((x0 - 0.2)..(x1 + 0.2), (y0 * 0.5..y1 * 1.6).log_scale())
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 16)
            .x_desc("working-set size (log2 scale)")
            .y_desc("latency per access (ns, log scale)")
            .x_label_formatter(&|x| format_size(2f64.powf(*x).round() as u64))
            .y_label_formatter(&|y| format_ns(*y))
            .x_labels(((x1 - x0) / 2.0).ceil() as usize + 1)
            .draw()
            .map_err(&e)?;
        for (name, x) in sysfs.iter() {
            chart
                .draw_series(LineSeries::new(
                    [(*x, y0 * 0.5), (*x, y1 * 1.6)],
                    GREY.stroke_width(1),
                ))
                .map_err(&e)?;
            chart
                .draw_series([Text::new(
                    format!(
                        "{name} {} (sysfs)",
                        format_size(2f64.powf(*x).round() as u64)
                    ),
                    (*x + 0.05, y1 * 1.35),
                    (FONT, 15).into_font().color(&GREY),
                )])
                .map_err(&e)?;
        }
        for (i, c) in curves.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            chart
                .draw_series(LineSeries::new(c.points.clone(), color.stroke_width(2)))
                .map_err(&e)?
                .label(c.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 24, y)], color.stroke_width(3))
                });
            // Unstable points (rounds that disagreed) are hollow and larger.
            chart
                .draw_series(c.points.iter().zip(&c.unstable).map(|(&p, &unstable)| {
                    if unstable {
                        Circle::new(p, 5, color.stroke_width(2))
                    } else {
                        Circle::new(p, 3, color.filled())
                    }
                }))
                .map_err(&e)?;
        }
        if single {
            let mem = first
                .memory
                .as_ref()
                .expect("curves exist only with memory");
            for l in mem.levels.iter().filter(|l| l.detected) {
                let (Some((lo, hi)), Some(ns)) = (l.plateau_bytes, l.latency_ns) else {
                    continue;
                };
                let (a, b) = ((lo as f64).log2(), (hi as f64).log2());
                let cycles = l
                    .latency_cycles
                    .map(|c| format!(", {c:.0} cycles"))
                    .unwrap_or_default();
                chart
                    .draw_series(LineSeries::new(
                        [(a, ns * 0.85), (b, ns * 0.85)],
                        BLACK.stroke_width(2),
                    ))
                    .map_err(&e)?;
                // Labels sit under the plateau's bar, running right from its left end:
                // left of a plateau the curve climbs from below (a label there would
                // cross it), right of it the curve climbs away. RAM's runs to the edge
                // of the picture, so it ends at the bar's right end instead.
                let (anchor, x) = if l.is_ram() {
                    (HPos::Right, b)
                } else {
                    (HPos::Left, a)
                };
                let style =
                    TextStyle::from((FONT, 16).into_font()).pos(Pos::new(anchor, VPos::Top));
                chart
                    .draw_series([Text::new(
                        format!("{} {}{cycles}", l.name, format_ns(ns)),
                        (x, ns * 0.8),
                        style,
                    )])
                    .map_err(&e)?;
            }
        }
        if curves.iter().any(|c| c.unstable.contains(&true)) {
            chart
                .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
                .map_err(&e)?
                .label("hollow: rounds disagreed (unstable)")
                .legend(|(x, y)| Circle::new((x + 12, y), 5, BLACK.stroke_width(2)));
        }
        // Lower right: the one corner a latency curve never reaches.
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}
