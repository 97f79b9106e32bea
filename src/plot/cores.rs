//! The cores charts: the core-to-core heat map (one panel per handoff, CPU against CPU,
//! one-way latency as colour, the diagonal blank) and the loaded-latency chart (RAM
//! latency against the bandwidth the other CPUs achieved, MLC's loaded-latency curve,
//! beside read bandwidth against threads).

use super::{both, house_style, plot_err, Chart, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::cores::{CoresSection, Handoff};
use crate::units::format_ns;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// Cells are labelled with their latency up to this many CPUs.
const LABELLED_CPUS: usize = 16;

/// Viridis-like colour for `t` in 0..=1 (dark purple, teal, yellow).
fn colour(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 3] = [
        (68.0, 1.0, 84.0),
        (33.0, 145.0, 140.0),
        (253.0, 231.0, 37.0),
    ];
    let t = t.clamp(0.0, 1.0) * 2.0;
    let (a, b, f) = if t < 1.0 {
        (STOPS[0], STOPS[1], t)
    } else {
        (STOPS[1], STOPS[2], t - 1.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

struct HeatMap<'a>(&'a CoresSection);

impl HeatMap<'_> {
    /// One-way ns of every pair of a handoff, with the range shared by both panels.
    fn range(&self) -> (f64, f64) {
        self.0
            .pairs
            .iter()
            .fold((f64::INFINITY, 0.0), |(lo, hi), p| {
                (lo.min(p.one_way_ns), hi.max(p.one_way_ns))
            })
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        handoff: Handoff,
        (lo, hi): (f64, f64),
        path: &Path,
    ) -> Result<()> {
        let e = plot_err(path);
        let cpus = &self.0.cpus;
        let n = cpus.len();
        let title = match handoff {
            Handoff::Cas => "compare-and-swap, one-way",
            Handoff::Store => "store/load handoff, one-way",
        };
        let mut chart = ChartBuilder::on(area)
            .caption(title, (FONT, 22))
            .margin(15)
            .x_label_area_size(50)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..n as f64 - 0.5, -0.5..n as f64 - 0.5)
            .map_err(&e)?;
        // Cell i spans i - 0.5 to i + 0.5, so the axis labels its whole-number centres;
        // the y axis counts from the top.
        let step = n.div_ceil(16).max(1);
        let name = |v: f64, flip: bool| {
            let i = v.round();
            if (v - i).abs() > 1e-6
                || i < 0.0
                || i as usize >= n
                || !(i as usize).is_multiple_of(step)
            {
                return String::new();
            }
            let i = if flip { n - 1 - i as usize } else { i as usize };
            cpus[i].to_string()
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("answering CPU")
            .y_desc("starting CPU")
            .x_labels(n.min(16) + 1)
            .y_labels(n.min(16) + 1)
            .x_label_formatter(&|v| name(*v, false))
            .y_label_formatter(&|v| name(*v, true))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 17))
            .draw()
            .map_err(&e)?;
        let index = |cpu: usize| cpus.iter().position(|&c| c == cpu);
        let span = (hi - lo).max(1e-9);
        let cell = |x: f64, y: f64| [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)];
        for p in self.0.pairs.iter().filter(|p| p.handoff == handoff) {
            let (Some(a), Some(b)) = (index(p.cpu_a), index(p.cpu_b)) else {
                continue;
            };
            let (x, y) = (b as f64, (n - 1 - a) as f64);
            let t = (p.one_way_ns - lo) / span;
            chart
                .draw_series([Rectangle::new(cell(x, y), colour(t).filled())])
                .map_err(&e)?;
            if n <= LABELLED_CPUS {
                let ink = if t > 0.6 { BLACK } else { WHITE };
                let style = TextStyle::from((FONT, 16).into_font())
                    .color(&ink)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                chart
                    .draw_series([Text::new(format_ns(p.one_way_ns), (x, y), style)])
                    .map_err(&e)?;
            }
        }
        for i in 0..n {
            let (x, y) = (i as f64, (n - 1 - i) as f64);
            chart
                .draw_series([Rectangle::new(cell(x, y), RGBColor(235, 235, 235).filled())])
                .map_err(&e)?;
        }
        Ok(())
    }
}

impl Chart for HeatMap<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let (lo, hi) = self.range();
        let root = root
            .titled(
                &match self.0.bursts_per_pair {
                    0 => format!(
                        "Core-to-core latency: {} CPUs, median of {} samples per pair",
                        self.0.cpus.len(),
                        self.0.samples_per_pair
                    ),
                    b => format!(
                        "Core-to-core latency: {} CPUs, {b} bursts per pair (the mode most fell in)",
                        self.0.cpus.len()
                    ),
                },
                (FONT, 28),
            )
            .map_err(&e)?;
        let (panels, scale) = root.split_vertically(root.dim_in_pixel().1 as i32 - 70);
        let halves = panels.split_evenly((1, 2));
        self.panel(&halves[0], Handoff::Cas, (lo, hi), path)?;
        self.panel(&halves[1], Handoff::Store, (lo, hi), path)?;
        // The colour scale, lowest to highest one-way latency.
        let (w, _) = scale.dim_in_pixel();
        let (x0, x1) = (w as i32 / 4, w as i32 * 3 / 4);
        for x in x0..x1 {
            let t = f64::from(x - x0) / f64::from(x1 - x0);
            scale
                .draw(&Rectangle::new([(x, 10), (x + 1, 35)], colour(t).filled()))
                .map_err(&e)?;
        }
        let style = TextStyle::from((FONT, 16).into_font()).color(&GREY);
        let label = |s: String, x: i32, h: HPos| {
            scale.draw(&Text::new(s, (x, 45), style.pos(Pos::new(h, VPos::Top))))
        };
        label(format_ns(lo), x0, HPos::Center).map_err(&e)?;
        label(format_ns(hi), x1, HPos::Center).map_err(&e)?;
        label("one-way latency".into(), (x0 + x1) / 2, HPos::Center).map_err(&e)?;
        Ok(())
    }
}

struct Loaded<'a>(&'a CoresSection);

impl Chart for Loaded<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let c = self.0;
        let halves = root.split_evenly((1, 2));
        let pts: Vec<(f64, f64)> = c
            .loaded
            .iter()
            .map(|l| (l.background_gbps, l.latency_ns))
            .collect();
        let x_max = pts.iter().map(|p| p.0).fold(1.0, f64::max) * 1.15;
        let y_max = pts.iter().map(|p| p.1).fold(1.0, f64::max) * 1.25;
        let mut chart = ChartBuilder::on(&halves[0])
            .caption("RAM latency under load", (FONT, 24))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("bandwidth of the other CPUs (GB/s)")
            .y_desc("chase latency (ns)")
            .draw()
            .map_err(&e)?;
        let blue = PALETTE[0];
        chart
            .draw_series(LineSeries::new(pts.clone(), blue.stroke_width(2)))
            .map_err(&e)?;
        chart
            .draw_series(pts.iter().map(|&p| Circle::new(p, 5, blue.filled())))
            .map_err(&e)?;
        let small = TextStyle::from((FONT, 14).into_font()).color(&GREY);
        chart
            .draw_series(c.loaded.iter().map(|l| {
                Text::new(
                    format!("{:.0}% busy", l.intensity * 100.0),
                    (l.background_gbps + x_max * 0.015, l.latency_ns * 1.04),
                    small.clone(),
                )
            }))
            .map_err(&e)?;

        let threads = c.scaling.iter().map(|s| s.threads).max().unwrap_or(1) as f64;
        let gb_max = c.scaling.iter().map(|s| s.read_gbps).fold(1.0, f64::max) * 1.25;
        let mut chart = ChartBuilder::on(&halves[1])
            .caption("Read bandwidth at RAM by threads", (FONT, 24))
            .margin(20)
            .x_label_area_size(55)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..threads + 1.0, 0f64..gb_max)
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 15)
            .x_desc("threads, one per CPU")
            .y_desc("all threads together (GB/s)")
            .x_labels((threads as usize + 2).min(17))
            .x_label_formatter(&|v| {
                if v.fract() == 0.0 {
                    format!("{v:.0}")
                } else {
                    String::new()
                }
            })
            .draw()
            .map_err(&e)?;
        let red = PALETTE[1];
        let sp: Vec<(f64, f64)> = c
            .scaling
            .iter()
            .map(|s| (s.threads as f64, s.read_gbps))
            .collect();
        chart
            .draw_series(LineSeries::new(sp.clone(), red.stroke_width(2)))
            .map_err(&e)?;
        chart
            .draw_series(sp.iter().map(|&p| Circle::new(p, 5, red.filled())))
            .map_err(&e)?;
        Ok(())
    }
}

/// `cores.png`/`.svg` (where pairs were measured) and `loaded.png`/`.svg` (where scaling
/// or loaded latency was).
pub fn cores_charts(c: &CoresSection, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    if !c.pairs.is_empty() {
        files.extend(both(dir, "cores", &HeatMap(c))?);
    }
    if !c.scaling.is_empty() || !c.loaded.is_empty() {
        files.extend(both(dir, "loaded", &Loaded(c))?);
    }
    Ok(files)
}
