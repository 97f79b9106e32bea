//! Charts, as PNG and SVG, drawn from Run records alone: the latency curve (working-set
//! size against ns per access, both log scales, sysfs cache sizes marked, detected
//! levels annotated) and the ladder (every rung on one log-scale axis, the lecture's
//! claim beside the measurement). Several runs overlay for `ladder compare`.
//!
//! Text is drawn with the DejaVu Sans font embedded in the binary, so a machine without
//! fonts or fontconfig draws the same pictures.

mod cores;
pub mod load;

use crate::error::{Error, Result};
use crate::memory::PageKind;
use crate::record::Run;
use crate::units::{format_ns, format_size};
use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

mod cache_lab;
mod web;

/// Picture size in pixels (PNG) and user units (SVG).
pub const SIZE: (u32, u32) = (1280, 760);
const FONT: &str = "sans-serif";

/// Series colours, in order.
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];
const GREY: RGBColor = RGBColor(120, 120, 120);

fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The embedded fonts are valid OpenType; a failure would only cost the text.
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

fn plot_err<E: std::fmt::Debug>(what: &Path) -> impl Fn(E) -> Error + '_ {
    move |e| Error::Internal(format!("cannot draw {}: {e:?}", what.display()))
}

/// The house style of a mesh: labels at `px`, axis descriptions 2 px larger, light
/// grid lines.
fn house_style<'m, 'a, 'b, X: Ranged, Y: Ranged, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    px: u32,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB> {
    mesh.label_style((FONT, px))
        .axis_desc_style((FONT, px + 2))
        .light_line_style(RGBColor(235, 235, 235))
}

/// The frame of a chart of labelled rows on a log latency axis (the ladder, the web's
/// caches).
struct RowsFrame<'t> {
    caption: &'t str,
    caption_px: u32,
    /// Height of the latency axis' labels.
    x_area: u32,
    /// Width of the row labels.
    label_area: u32,
    /// Size of the labels (axis descriptions 2 px larger).
    label_px: u32,
}

/// A chart of `labels.len()` rows from `lo` to `hi` ns on a log axis, its mesh drawn:
/// row i from the top sits at y = n - 1 - i, its label left of it.
fn rows_chart<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    frame: &RowsFrame,
    labels: &[&str],
    (lo, hi): (f64, f64),
    path: &Path,
) -> Result<ChartContext<'a, DB, Cartesian2d<LogCoord<f64>, RangedCoordf64>>> {
    let e = plot_err(path);
    let n = labels.len() as f64;
    let mut chart = ChartBuilder::on(root)
        .caption(frame.caption, (FONT, frame.caption_px))
        .margin(20)
        .x_label_area_size(frame.x_area)
        .y_label_area_size(frame.label_area)
        .build_cartesian_2d((lo..hi).log_scale(), -0.6..(n - 0.4))
        .map_err(&e)?;
    house_style(&mut chart.configure_mesh(), frame.label_px)
        .x_desc("latency (log scale)")
        .x_label_formatter(&|x| crate::units::format_ns_round(*x))
        .y_labels(labels.len())
        .y_label_formatter(&|y| {
            let i = (n - 1.0 - y).round();
            if (y - y.round()).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
                labels[i as usize].to_string()
            } else {
                String::new()
            }
        })
        .draw()
        .map_err(&e)?;
    Ok(chart)
}

/// A chart that can be drawn on any backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()>;
}

/// Draws `chart` into `<stem>.png` and `<stem>.svg` in `dir`; returns both paths.
fn both(dir: &Path, stem: &str, chart: &impl Chart) -> Result<Vec<PathBuf>> {
    register_fonts();
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(&png))?;
        chart.draw(&root, &png)?;
        root.present().map_err(plot_err(&png))?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(&svg))?;
        chart.draw(&root, &svg)?;
        root.present().map_err(plot_err(&svg))?;
    }
    Ok(vec![png, svg])
}

/// Draws the series legend in a white box at `pos`.
fn legend<'a, DB, CT>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> std::result::Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend + 'a,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .position(pos)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.9))
        .border_style(GREY)
        .draw()
}

/// A labelled run for charts that overlay several.
pub struct Labelled<'a> {
    /// Legend text.
    pub label: String,
    /// The record.
    pub run: &'a Run,
}

/// Draws every chart a run has into `dir`: latency (when memory ran) and ladder (when
/// the ladder was built).
pub fn draw_run(run: &Run, dir: &Path) -> Result<Vec<PathBuf>> {
    let runs = [Labelled {
        label: String::new(),
        run,
    }];
    let mut files = Vec::new();
    if run.memory.is_some() {
        files.extend(latency_chart(&runs, dir, "latency")?);
    }
    if !run.ladder.is_empty() {
        files.extend(ladder_chart(&runs, dir, "ladder")?);
    }
    if let Some(p) = &run.patterns {
        files.extend(pattern_charts(p, dir)?);
    }
    if let Some(c) = &run.cores {
        files.extend(cores::cores_charts(c, dir)?);
    }
    if let Some(h) = &run.http {
        files.extend(web::web_chart(h, dir)?);
    }
    if let Some(l) = &run.load {
        files.extend(load::load_chart(l, dir)?);
    }
    if let Some(c) = &run.cache_lab {
        files.extend(cache_lab::charts(c, dir)?);
    }
    Ok(files)
}

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

/// The ladder: every rung on one log-scale axis, the lecture's claim beside what each
/// run measured (p50 or plateau, with a whisker to p99 where there is one).
pub fn ladder_chart(runs: &[Labelled], dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let rows: Vec<&crate::record::ladder::LadderRow> = runs[0].run.ladder.iter().collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let values = runs
        .iter()
        .flat_map(|r| r.run.ladder.iter())
        .flat_map(|r| [Some(r.lecture_claim_ns), r.measured_ns, r.p99_ns])
        .flatten();
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    let (lo, hi) = (
        10f64.powf(lo.log10().floor()),
        10f64.powf(hi.log10().ceil()),
    );
    both(dir, stem, &LadderChart { runs, rows, lo, hi })
}

struct LadderChart<'a, 'b> {
    runs: &'b [Labelled<'a>],
    rows: Vec<&'a crate::record::ladder::LadderRow>,
    lo: f64,
    hi: f64,
}

impl Chart for LadderChart<'_, '_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let LadderChart { runs, rows, lo, hi } = self;
        let (lo, hi) = (*lo, *hi);
        let n = rows.len() as f64;
        let title = if runs.len() == 1 {
            format!(
                "The latency ladder — lecture vs {}",
                runs[0].run.host.hostname
            )
        } else {
            "The latency ladder — compared".to_string()
        };
        let frame = RowsFrame {
            caption: &title,
            caption_px: 30,
            x_area: 60,
            label_area: 250,
            label_px: 16,
        };
        let labels: Vec<&str> = rows.iter().map(|r| r.rung.as_str()).collect();
        let mut chart = rows_chart(root, &frame, &labels, (lo, hi), path)?;
        // Row i from the top sits at y = n - 1 - i.
        let y_of = |i: usize| n - 1.0 - i as f64;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                Rectangle::new(
                    [
                        (r.lecture_claim_ns / 1.25, y_of(i) + 0.32),
                        (r.lecture_claim_ns * 1.25, y_of(i) + 0.12),
                    ],
                    GREY.filled(),
                )
            }))
            .map_err(&e)?
            .label("lecture's claim")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 20, y + 5)], GREY.filled()));
        let k = runs.len() as f64;
        for (ri, run) in runs.iter().enumerate() {
            let color = PALETTE[ri % PALETTE.len()];
            let dy = -0.1 - 0.4 * ri as f64 / k;
            let measured: Vec<(usize, &crate::record::ladder::LadderRow)> = run
                .run
                .ladder
                .iter()
                .filter_map(|r| rows.iter().position(|x| x.key == r.key).map(|i| (i, r)))
                .collect();
            for &(i, r) in &measured {
                if let (Some(p50), Some(p99)) = (r.measured_ns, r.p99_ns) {
                    chart
                        .draw_series(LineSeries::new(
                            [(p50, y_of(i) + dy), (p99, y_of(i) + dy)],
                            color.stroke_width(2),
                        ))
                        .map_err(&e)?;
                }
            }
            let label = if run.label.is_empty() {
                "measured (p50 or plateau; line to p99)".to_string()
            } else {
                run.label.clone()
            };
            chart
                .draw_series(measured.iter().filter_map(|&(i, r)| {
                    r.measured_ns
                        .map(|v| Circle::new((v, y_of(i) + dy), 6, color.filled()))
                }))
                .map_err(&e)?
                .label(label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 6, color.filled()));
            if runs.len() == 1 {
                chart
                    .draw_series(measured.iter().map(|&(i, r)| {
                        let text = match (r.measured_ns, r.ratio) {
                            (Some(v), Some(_)) => format!("{} — {}", format_ns(v), r.verdict),
                            _ => r.verdict.clone(),
                        };
                        // Text goes right of the marks, or left of them in the
                        // right third of the axis, where it would be cut off.
                        let right = r
                            .measured_ns
                            .unwrap_or(r.lecture_claim_ns)
                            .max(r.p99_ns.unwrap_or(0.0));
                        let left = r
                            .measured_ns
                            .unwrap_or(r.lecture_claim_ns)
                            .min(r.lecture_claim_ns);
                        let fits_right = (right * 1.6 / lo).ln() < (hi / lo).ln() * 0.6;
                        let (x, anchor) = if fits_right {
                            (right * 1.6, HPos::Left)
                        } else {
                            (left / 1.6, HPos::Right)
                        };
                        let style = TextStyle::from((FONT, 15).into_font())
                            .pos(Pos::new(anchor, VPos::Center));
                        Text::new(text, (x, y_of(i) - 0.1), style)
                    }))
                    .map_err(&e)?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
        Ok(())
    }
}

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
    p: &crate::memory::patterns::PatternsSection,
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
