//! Chart 2: p50/p95/p99 of TTFT and e2e per variant, side by side: the trade-offs
//! between variants at a glance. Bars run horizontally so that variant names,
//! however long, read left to right and never overlap.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, font, label_font};
use super::{Chart, Skipped};
use crate::metrics::{Percentiles, Summary};

pub const TITLE: &str = "TTFT and e2e percentiles per variant";

const TTFT: [RGBColor; 3] = [RGBColor(158, 202, 225), RGBColor(66, 146, 198), RGBColor(8, 69, 148)];
const E2E: [RGBColor; 3] = [RGBColor(253, 190, 133), RGBColor(241, 105, 19), RGBColor(166, 54, 3)];
const PCT: [&str; 3] = ["p50", "p95", "p99"];

struct Row {
    name: String,
    /// `None` when not streamed (TTFT is e2e).
    ttft: Option<[Option<f64>; 3]>,
    e2e: [Option<f64>; 3],
}

pub struct Bars {
    rows: Vec<Row>,
}

fn three(p: &Percentiles) -> [Option<f64>; 3] {
    [p.p50, p.p95, p.p99]
}

impl Bars {
    pub fn new(summary: &Summary, labels: &[String]) -> Result<Self, Skipped> {
        let rows: Vec<Row> = summary
            .variants
            .iter()
            .zip(labels)
            .filter(|(v, _)| v.e2e_ms.count > 0)
            .map(|(v, label)| Row {
                name: label.clone(),
                ttft: (v.streaming != Some(false)).then(|| three(&v.ttft_ms)),
                e2e: three(&v.e2e_ms),
            })
            .collect();
        if rows.is_empty() {
            return Err(Skipped { title: TITLE, reason: "no request succeeded".into() });
        }
        Ok(Bars { rows })
    }
}

impl Chart for Bars {
    fn name(&self) -> &'static str {
        "percentiles"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        "p50, p95 and p99 of time to first token (blue) and end-to-end latency (orange) per variant, \
         in ms from the intended start, with the values at the bar ends."
            .into()
    }
    fn size(&self) -> (u32, u32) {
        (960, (140 + 84 * self.rows.len() as u32).max(320))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        let mut items: Vec<(String, Option<RGBColor>)> = Vec::new();
        for (k, p) in PCT.iter().enumerate() {
            items.push((format!("TTFT {p}"), Some(TTFT[k])));
        }
        for (k, p) in PCT.iter().enumerate() {
            items.push((format!("e2e {p}"), Some(E2E[k])));
        }
        let plot = style::legend(&root, &items)?;

        let n = self.rows.len();
        let top = self
            .rows
            .iter()
            .flat_map(|r| r.e2e.iter().chain(r.ttft.iter().flatten()).flatten())
            .fold(0.0, |a: f64, b| a.max(*b));
        let longest = self.rows.iter().map(|r| r.name.chars().count()).max().unwrap_or(4);
        let names: Vec<&str> = self.rows.iter().map(|r| r.name.as_str()).collect();
        let label = move |y: &f64| {
            let k = y.round();
            if (y - k).abs() > 1e-6 || k < 0.0 || k as usize >= n {
                return String::new();
            }
            names[n - 1 - k as usize].to_owned()
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(16 + 8 * longest as u32)
            // Room at the right for the value printed after the longest bar.
            .build_cartesian_2d(0f64..style::nice_max(top * 1.12), -0.5f64..(n as f64 - 0.5))?;
        chart
            .configure_mesh()
            // The y "ticks" are category slots, not values: no tick marks.
            .set_tick_mark_size(LabelAreaPosition::Left, 0)
            .disable_y_mesh()
            .y_labels(4 * n + 4)
            .y_label_formatter(&label)
            .x_label_formatter(&|x| style::number(*x))
            .x_desc("latency (ms)")
            .label_style(label_font())
            .axis_desc_style(label_font())
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let h = 0.12;
        // Values start a little after their bar (a leading space would be
        // collapsed in SVG).
        let gap = style::nice_max(top * 1.12) * 0.005;
        for (i, row) in self.rows.iter().enumerate() {
            let center = (n - 1 - i) as f64;
            // Top to bottom: TTFT p50, p95, p99, a gap, e2e p50, p95, p99.
            let mut slot = 0;
            for (values, colors) in [(row.ttft, TTFT), (Some(row.e2e), E2E)] {
                for k in 0..3 {
                    let y1 = center + 0.42 - h * slot as f64 - if slot >= 3 { 0.06 } else { 0.0 };
                    let y0 = y1 - h * 0.9;
                    slot += 1;
                    let Some(values) = values else {
                        if k == 1 {
                            chart.draw_series([Text::new(
                                "not streamed: TTFT = e2e",
                                (0.0, y1),
                                font(12).color(&style::grey()),
                            )])?;
                        }
                        continue;
                    };
                    let Some(v) = values[k] else { continue };
                    chart.draw_series([Rectangle::new([(0.0, y0), (v, y1)], colors[k].filled())])?;
                    chart.draw_series([Text::new(
                        style::number(v),
                        (v + gap, y1),
                        font(11).pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Top,
                        )),
                    )])?;
                }
            }
        }
        Ok(())
    }
}
