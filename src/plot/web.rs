//! The web chart: one horizontal bar per variant (p50, log scale, a line to p99),
//! grouped and coloured by what it measures: the origin's 200/304/fresh hit per body
//! size, the edge per cache status, the request phases' totals, name resolution.

use super::{both, legend, plot_err, rows_chart, Chart, RowsFrame, FONT, GREY, PALETTE};
use crate::error::Result;
use crate::record::http::{Dist, HttpSection, OriginKind, Phase, PhaseTarget};
use crate::units::format_ns;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::{Path, PathBuf};

/// One bar: its label, group (colour) and distribution.
struct Bar {
    label: String,
    group: usize,
    dist: Dist,
}

const GROUPS: [&str; 4] = [
    "browser cache / ETag (origin)",
    "CDN-style edge (nginx)",
    "request, phase totals",
    "name resolution",
];

fn bars(h: &HttpSection) -> Vec<Bar> {
    let mut bars = Vec::new();
    for r in &h.origin {
        let kind = match r.kind {
            OriginKind::Full => "200",
            OriginKind::NotModified => "304",
            OriginKind::FreshHit => "fresh hit",
        };
        bars.push(Bar {
            label: format!("{} {kind}", r.size.label()),
            group: 0,
            dist: r.latency,
        });
    }
    for r in &h.edge {
        bars.push(Bar {
            label: format!("edge {} {}", r.status.name(), r.size.label()),
            group: 1,
            dist: r.latency,
        });
    }
    for p in &h.phases {
        if let Some(d) = p.phase(Phase::Total) {
            let who = match p.target {
                PhaseTarget::ManagedOrigin => "HTTPS origin (loopback)".to_string(),
                PhaseTarget::User if p.url.len() > 28 => {
                    format!("{}…", p.url.chars().take(27).collect::<String>())
                }
                PhaseTarget::User => p.url.clone(),
            };
            bars.push(Bar {
                label: format!("{who} {}", if p.reuse { "kept" } else { "new conn" }),
                group: 2,
                dist: *d,
            });
        }
    }
    if let Some(d) = &h.dns {
        for (label, dist) in [
            ("DNS first (forwarded)", d.first),
            ("DNS again (cached)", d.cached),
            ("/etc/hosts (localhost)", d.hosts_file),
        ] {
            bars.push(Bar {
                label: label.into(),
                group: 3,
                dist,
            });
        }
    }
    bars
}

/// Draws `web.png` and `web.svg` into `dir`.
pub fn web_chart(h: &HttpSection, dir: &Path) -> Result<Vec<PathBuf>> {
    let bars = bars(h);
    if bars.is_empty() {
        return Ok(Vec::new());
    }
    let lo = bars
        .iter()
        .map(|b| b.dist.p50_ns)
        .fold(f64::INFINITY, f64::min);
    let hi = bars.iter().map(|b| b.dist.p99_ns).fold(0f64, f64::max);
    let (lo, hi) = (
        10f64.powf((lo / 2.0).log10().floor()),
        10f64.powf((hi * 4.0).log10().ceil()),
    );
    both(dir, "web", &WebChart { bars, lo, hi })
}

struct WebChart {
    bars: Vec<Bar>,
    lo: f64,
    hi: f64,
}

impl Chart for WebChart {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>, path: &Path) -> Result<()> {
        let e = plot_err(path);
        let WebChart { bars, lo, hi } = self;
        let (lo, hi) = (*lo, *hi);
        let n = bars.len() as f64;
        let frame = RowsFrame {
            caption: "The web's caches on loopback (p50, line to p99)",
            caption_px: 28,
            x_area: 50,
            label_area: 330,
            label_px: 14,
        };
        let labels: Vec<&str> = bars.iter().map(|b| b.label.as_str()).collect();
        let mut chart = rows_chart(root, &frame, &labels, (lo, hi), path)?;
        let y_of = |i: usize| n - 1.0 - i as f64;
        for (g, name) in GROUPS.iter().enumerate() {
            let color = PALETTE[g % PALETTE.len()];
            let of_group: Vec<(usize, &Bar)> = bars
                .iter()
                .enumerate()
                .filter(|(_, b)| b.group == g)
                .collect();
            if of_group.is_empty() {
                continue;
            }
            chart
                .draw_series(of_group.iter().map(|&(i, b)| {
                    Rectangle::new(
                        [(lo, y_of(i) - 0.32), (b.dist.p50_ns, y_of(i) + 0.32)],
                        color.mix(0.85).filled(),
                    )
                }))
                .map_err(&e)?
                .label(*name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 20, y + 5)], color.filled())
                });
            chart
                .draw_series(of_group.iter().map(|&(i, b)| {
                    PathElement::new(
                        [
                            (b.dist.p50_ns, y_of(i)),
                            (b.dist.p99_ns.max(b.dist.p50_ns), y_of(i)),
                        ],
                        GREY.stroke_width(2),
                    )
                }))
                .map_err(&e)?;
            chart
                .draw_series(of_group.iter().map(|&(i, b)| {
                    let style = TextStyle::from((FONT, 13).into_font())
                        .pos(Pos::new(HPos::Left, VPos::Center));
                    Text::new(
                        format_ns(b.dist.p50_ns),
                        (b.dist.p99_ns.max(b.dist.p50_ns) * 1.15, y_of(i)),
                        style,
                    )
                }))
                .map_err(&e)?;
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight).map_err(&e)?;
        Ok(())
    }
}
