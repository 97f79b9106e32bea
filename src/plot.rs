//! Charts, as PNG and SVG, drawn from Run records alone. This file is the house style
//! (size, font, palette, mesh, legends, the row-chart frame, writing both formats); each
//! section's charts are in the file of its name, called by that section's
//! [`crate::report::Section`] implementation.
//!
//! Text is drawn with the DejaVu Sans font embedded in the binary, so a machine without
//! fonts or fontconfig draws the same pictures.

pub mod baseline;
pub mod cache_lab;
pub mod cores;
pub mod db_sizes;
pub mod history;
pub mod ladder;
pub mod load;
pub mod memory;
pub mod patterns;
pub mod web;

use crate::error::{Error, Result};
use crate::record::Run;
use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;
use std::path::{Path, PathBuf};
use std::sync::Once;

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
        .y_label_formatter(&|y| row_label(labels, *y))
        .draw()
        .map_err(&e)?;
    Ok(chart)
}

/// The label of the row at `y` in a chart of labelled rows (row i from the top at
/// y = n - 1 - i); empty between rows.
fn row_label<S: AsRef<str>>(labels: &[S], y: f64) -> String {
    let i = (labels.len() as f64 - 1.0 - y).round();
    if (y - y.round()).abs() < 0.01 && i >= 0.0 && (i as usize) < labels.len() {
        labels[i as usize].as_ref().to_string()
    } else {
        String::new()
    }
}

/// A chart that can be drawn on any backend.
trait Chart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()>;
}

/// Draws `chart` into `<stem>.png` and `<stem>.svg` in `dir`; returns both paths.
fn both(dir: &Path, stem: &str, chart: &impl Chart) -> Result<Vec<PathBuf>> {
    both_sized(dir, stem, SIZE, chart)
}

/// [`both`] at another size (a chart of many rows grows downwards).
fn both_sized(
    dir: &Path,
    stem: &str,
    size: (u32, u32),
    chart: &impl Chart,
) -> Result<Vec<PathBuf>> {
    register_fonts();
    let png = dir.join(format!("{stem}.png"));
    {
        let root = BitMapBackend::new(&png, size).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err(&png))?;
        chart.draw(&root, &png)?;
        root.present().map_err(plot_err(&png))?;
    }
    let svg = dir.join(format!("{stem}.svg"));
    {
        let root = SVGBackend::new(&svg, size).into_drawing_area();
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
