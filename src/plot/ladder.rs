//! The ladder: every rung on one log-scale axis, the lecture's claim beside what each
//! run measured; several runs overlay for `ladder compare`.

use super::{both, legend, plot_err, rows_chart, Chart, Labelled, RowsFrame, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::units::format_ns;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

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
