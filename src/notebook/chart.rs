//! Bar charts drawn inline in a notebook, as SVG: enough to see monthly
//! revenue rise and fall without a plotting library in the kernel.
//!
//! ```
//! let mut chart = lab::notebook::chart::BarChart::new("Revenue per month", "USD");
//! chart.bar("2025-01", 51_234.5).bar("2025-02", 48_100.0);
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg"));
//! // In a notebook, `chart.show()` draws it under the cell.
//! ```

use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 340.0;
const LEFT: f64 = 84.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 64.0;
/// Horizontal grid lines, about.
const TICKS: f64 = 5.0;

/// A bar chart of labelled values, drawn in the order the bars were added.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    title: String,
    unit: String,
    bars: Vec<(String, f64)>,
}

impl BarChart {
    /// An empty chart with a title and the unit of its values.
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> BarChart {
        BarChart {
            title: title.into(),
            unit: unit.into(),
            bars: Vec::new(),
        }
    }

    /// Adds a bar; a negative, infinite or NaN value is drawn as zero.
    pub fn bar(&mut self, label: impl Into<String>, value: f64) -> &mut BarChart {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        self.bars.push((label.into(), value));
        self
    }

    /// How many bars the chart has.
    pub fn len(&self) -> usize {
        self.bars.len()
    }

    /// Whether the chart has no bars.
    pub fn is_empty(&self) -> bool {
        self.bars.is_empty()
    }

    /// The chart as a standalone SVG document.
    pub fn to_svg(&self) -> String {
        let mut svg = String::new();
        let _ = self.write_svg(&mut svg);
        svg
    }

    /// Draws the chart under the running notebook cell (the Jupyter kernel
    /// and the notebook check both read this from standard output).
    pub fn show(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.to_svg()
        );
    }

    fn write_svg(&self, svg: &mut String) -> std::fmt::Result {
        let plot_width = WIDTH - LEFT - RIGHT;
        let plot_height = HEIGHT - TOP - BOTTOM;
        let largest = self.bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        let step = tick_step(largest);
        let top_value = if largest > 0.0 {
            (largest / step).ceil() * step
        } else {
            1.0
        };
        let y = |value: f64| TOP + plot_height * (1.0 - value / top_value);
        writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">"#
        )?;
        writeln!(
            svg,
            r##"<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>"##
        )?;
        writeln!(
            svg,
            r#"<text x="{LEFT}" y="22" font-size="14" font-weight="bold">{}</text>"#,
            escape(&self.title)
        )?;
        let mut tick = 0.0;
        while tick <= top_value + step / 2.0 {
            let at = y(tick);
            writeln!(
                svg,
                r##"<line x1="{LEFT}" y1="{at:.1}" x2="{:.1}" y2="{at:.1}" stroke="#e0e0e0"/>"##,
                WIDTH - RIGHT
            )?;
            writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
                LEFT - 6.0,
                at + 4.0,
                thousands(tick)
            )?;
            tick += step;
        }
        writeln!(
            svg,
            r#"<text x="14" y="{:.1}" transform="rotate(-90 14 {:.1})" text-anchor="middle">{}</text>"#,
            TOP + plot_height / 2.0,
            TOP + plot_height / 2.0,
            escape(&self.unit)
        )?;
        let slot = plot_width / self.bars.len().max(1) as f64;
        let label_every = (self.bars.len() / 24).max(1);
        for (index, (label, value)) in self.bars.iter().enumerate() {
            let x = LEFT + slot * index as f64;
            let top = y(*value);
            writeln!(
                svg,
                r##"<rect x="{:.1}" y="{top:.1}" width="{:.1}" height="{:.1}" fill="#3b6ea5"><title>{}: {}</title></rect>"##,
                x + slot * 0.1,
                slot * 0.8,
                TOP + plot_height - top,
                escape(label),
                thousands(*value)
            )?;
            if index % label_every == 0 {
                let cx = x + slot / 2.0;
                let cy = TOP + plot_height + 12.0;
                writeln!(
                    svg,
                    r#"<text x="{cx:.1}" y="{cy:.1}" transform="rotate(45 {cx:.1} {cy:.1})">{}</text>"#,
                    escape(label)
                )?;
            }
        }
        svg.push_str("</svg>");
        Ok(())
    }
}

/// A round step for about [`TICKS`] grid lines up to `largest`: 1, 2 or 5
/// times a power of ten.
fn tick_step(largest: f64) -> f64 {
    if largest <= 0.0 {
        return 1.0;
    }
    let rough = largest / TICKS;
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|factor| factor * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
}

/// `1234567.8` as `1,234,568`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.round());
    let mut out = String::new();
    for (position, digit) in digits.chars().enumerate() {
        if position > 0 && (digits.len() - position).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// Text made safe inside SVG.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_are_scaled_to_a_round_top_value() {
        let mut chart = BarChart::new("Revenue", "USD");
        chart.bar("a", 430.0).bar("b", 215.0);
        let svg = chart.to_svg();
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains(">500</text>"), "the axis ends at 500: {svg}");
        assert!(svg.contains("<title>a: 430</title>"));
        assert!(svg.ends_with("</svg>"));
    }

    #[test]
    fn labels_are_escaped_and_bad_values_drawn_as_zero() {
        let mut chart = BarChart::new("<b>&", "x");
        chart.bar("a<b", f64::NAN).bar("c", -5.0);
        let svg = chart.to_svg();
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(svg.contains("a&lt;b: 0"));
        assert!(!svg.contains("NaN"));
    }

    #[test]
    fn steps_and_thousands_read_well() {
        assert_eq!(tick_step(430.0), 100.0);
        assert_eq!(tick_step(1_234_567.0), 500_000.0);
        assert_eq!(tick_step(0.0), 1.0);
        assert_eq!(thousands(1_234_567.8), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(0.0), "0");
    }

    #[test]
    fn an_empty_chart_still_draws_its_frame() {
        let chart = BarChart::new("Nothing yet", "USD");
        assert!(chart.is_empty());
        assert!(chart.to_svg().contains("Nothing yet"));
    }
}
