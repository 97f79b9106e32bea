//! `ladder compare --baseline`'s chart: one row per figure, its change against the
//! baseline as a dot with its 95% interval as a bar, the noise threshold as a grey band
//! around zero; red where slower, green where faster, blue where no change beyond noise.
//! The axis is the ratio on a log scale (labelled as a change in percent), so that
//! +100% and -50% sit equally far from zero; the picture grows with the rows.

use super::{both_sized, house_style, plot_err, row_label, Chart, FONT, GREY, PALETTE, SIZE};
use crate::baseline::{Comparison, Row, Verdict};
use crate::error::Result;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Pixels per row.
const ROW_PX: u32 = 18;

/// Draws `<stem>.png`/`.svg` for one comparison (its comparable rows).
pub fn change_chart(c: &Comparison, dir: &Path, stem: &str) -> Result<Vec<PathBuf>> {
    let rows: Vec<&Row> = c
        .rows
        .iter()
        .filter(|r| !matches!(r.verdict, Verdict::NotComparable(_)))
        .collect();
    let height = (rows.len() as u32 * ROW_PX + 150).max(SIZE.1);
    both_sized(dir, stem, (SIZE.0, height), &ChangeChart { c, rows })
}

struct ChangeChart<'a> {
    c: &'a Comparison,
    rows: Vec<&'a Row>,
}

/// A change (run / baseline - 1) on the log2-ratio axis.
fn at(change: f64) -> f64 {
    (1.0 + change).max(1e-6).log2()
}

/// A row's label, cut to fit the label area.
fn short(label: &str) -> String {
    const MAX: usize = 70;
    if label.chars().count() <= MAX {
        return label.to_string();
    }
    let cut: String = label.chars().take(MAX - 1).collect();
    format!("{cut}…")
}

impl Chart for ChangeChart<'_> {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let rows = &self.rows;
        let n = rows.len().max(1) as f64;
        let reach = rows
            .iter()
            .flat_map(|r| {
                let [lo, hi] = r.interval.unwrap_or([r.change, r.change]);
                [lo, hi, r.change, r.threshold]
            })
            .map(|x| at(x).abs())
            .fold(at(0.1), f64::max)
            * 1.1;
        let labels: Vec<String> = rows.iter().map(|r| short(&r.label)).collect();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{} against {}: change with its 95% interval (grey: noise threshold)",
                    self.c.run, self.c.baseline
                ),
                (FONT, 20),
            )
            .margin(20)
            .x_label_area_size(45)
            .y_label_area_size(470)
            .build_cartesian_2d(-reach..reach, -0.6..(n - 0.4))
            .map_err(&e)?;
        house_style(&mut chart.configure_mesh(), 12)
            .x_desc("change against the baseline (log scale of the ratio; positive: larger figure)")
            .x_label_formatter(&|x| format!("{:+.0}%", (x.exp2() - 1.0) * 100.0))
            .y_labels(rows.len())
            .y_label_formatter(&|y| row_label(&labels, *y))
            .draw()
            .map_err(&e)?;
        for (i, r) in rows.iter().enumerate() {
            let y = n - 1.0 - i as f64;
            // Slower and faster by the threshold: a ratio of 1 + t, or 1 / (1 + t).
            let t = at(r.threshold);
            chart
                .draw_series([Rectangle::new(
                    [(-t, y - 0.4), (t, y + 0.4)],
                    GREY.mix(0.2).filled(),
                )])
                .map_err(&e)?;
            let color = match r.verdict {
                Verdict::Slower => PALETTE[1],
                Verdict::Faster => PALETTE[2],
                _ => PALETTE[0],
            };
            if let Some([lo, hi]) = r.interval {
                chart
                    .draw_series(LineSeries::new(
                        [(at(lo), y), (at(hi), y)],
                        color.stroke_width(3),
                    ))
                    .map_err(&e)?;
            }
            chart
                .draw_series([Circle::new((at(r.change), y), 4, color.filled())])
                .map_err(&e)?;
        }
        chart
            .draw_series(LineSeries::new(
                [(0.0, -0.6), (0.0, n - 0.4)],
                BLACK.stroke_width(1),
            ))
            .map_err(&e)?;
        Ok(())
    }
}
