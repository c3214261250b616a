//! Bar charts drawn inline in a notebook, as SVG, by `plotters`.
//!
//! ```
//! let mut chart = lab::notebook::chart::BarChart::new("Revenue per month", "USD");
//! chart.bar("2025-01", 51_234.5).bar("2025-02", 48_100.0);
//! let svg = chart.to_svg();
//! assert!(svg.starts_with("<svg"));
//! // In a notebook, `chart.show()` draws it under the cell.
//! ```
//!
//! Drawn by `plotters` with its SVG backend alone (`default-features =
//! false`, feature `svg_backend`). Without its `ttf` or `ab_glyph` font
//! features it estimates text sizes and keeps every label a `<text>`
//! element for the browser to draw: no font files, no freetype or
//! fontconfig in a fresh notebook kernel, which compiles this crate first.
//! Measured when it came in (December 2026): `cargo tree -p lab -e normal
//! --prefix none | sort -u | wc -l` went from 336 to 339 lines (plotters,
//! plotters-backend and plotters-svg; num-traits was already there), and a
//! scratch crate with only plotters built from nothing in 4 s (debug, two
//! cores). Bars are drawn as rectangles in the order they were added, not
//! through plotters' `Histogram`, which emits them in hash-map order: the
//! same chart gives the same bytes, one element a line, so a notebook's
//! stored chart diffs line by line. Hovering a bar no longer shows its
//! value (plotters writes no `<title>`); the value axis does.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

/// Width and height of the picture, in pixels.
const SIZE: (u32, u32) = (760, 340);
/// Font sizes as `plotters` takes them: the SVG gets them divided by 1.24,
/// so these come out as 14 and 11 pixels.
const TITLE_FONT: f64 = 17.36;
const LABEL_FONT: f64 = 13.64;
/// Space around the chart, under the plot for the bar labels and left of it
/// for the values and the unit.
const MARGIN: u32 = 12;
const X_LABEL_AREA: u32 = 28;
const Y_LABEL_AREA: u32 = 84;
/// How wide one character of a bar label is drawn, about, in pixels.
const CHAR_WIDTH: f64 = 6.0;
/// Horizontal grid lines, about.
const TICKS: f64 = 5.0;
const BAR_COLOR: RGBColor = RGBColor(0x3b, 0x6e, 0xa5);
const GRID_COLOR: RGBColor = RGBColor(0xe0, 0xe0, 0xe0);

/// A bar chart of labelled values, drawn in the order the bars were added.
#[derive(Debug, Clone, PartialEq)]
pub struct BarChart {
    title: String,
    unit: String,
    bars: Vec<(String, f64)>,
}

/// Why `plotters` could not draw a chart: it writes into a `String`, so in
/// practice a layout it refused.
type DrawError = DrawingAreaErrorKind<std::io::Error>;

impl BarChart {
    /// An empty chart with a title and the unit of its values.
    pub fn new(title: impl Into<String>, unit: impl Into<String>) -> BarChart {
        BarChart {
            title: title.into(),
            unit: unit.into(),
            bars: Vec::new(),
        }
    }

    /// Adds a bar; a negative, infinite, NaN or absurdly large (over
    /// `f64::MAX / 10`) value is drawn as zero.
    pub fn bar(&mut self, label: impl Into<String>, value: f64) -> &mut BarChart {
        // Up to f64::MAX / 10, so the round top of the value axis stays finite.
        let value = if value.is_finite() && value > 0.0 && value <= f64::MAX / 10.0 {
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

    /// The chart as a standalone SVG document. Should `plotters` refuse to
    /// draw it, the picture says why instead.
    pub fn to_svg(&self) -> String {
        let mut svg = String::new();
        let drawn = self.draw(SVGBackend::with_string(&mut svg, SIZE).into_drawing_area());
        match drawn {
            Ok(()) => svg,
            Err(error) => not_drawn(&error),
        }
    }

    /// Draws the chart under the running notebook cell (the Jupyter kernel
    /// and the notebook check both read this from standard output).
    pub fn show(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.to_svg()
        );
    }

    fn draw(&self, root: DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), DrawError> {
        root.fill(&WHITE)?;
        let largest = self.bars.iter().map(|(_, v)| *v).fold(0.0, f64::max);
        let step = tick_step(largest);
        let top_value = if largest > 0.0 {
            (largest / step).ceil() * step
        } else {
            1.0
        };
        // plotters counts both ends of an integer range: `0..n - 1` is n
        // slots, and an empty chart keeps one.
        let slots = self.bars.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(
                &self.title,
                ("sans-serif", TITLE_FONT)
                    .into_font()
                    .style(FontStyle::Bold),
            )
            .margin(MARGIN)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d((0..slots - 1).into_segmented(), 0.0..top_value)?;
        let every = self.label_every(chart.plotting_area().dim_in_pixel().0);
        let bar_label = |slot: &SegmentValue<usize>| match slot {
            SegmentValue::CenterOf(index) if index % every == 0 => self
                .bars
                .get(*index)
                .map(|(label, _)| label.clone())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let value_label = |value: &f64| thousands(*value);
        chart
            .configure_mesh()
            .disable_x_mesh()
            // Not `max_light_lines(0)`: plotters 0.3.7 then loops until
            // an integer overflow (a panic in a debug build, as in a
            // notebook) while placing light lines on the bar axis.
            .light_line_style(TRANSPARENT)
            .bold_line_style(GRID_COLOR)
            .x_labels(slots)
            .y_labels((top_value / step).round() as usize + 1)
            .x_label_formatter(&bar_label)
            .y_label_formatter(&value_label)
            .label_style(("sans-serif", LABEL_FONT).into_font())
            .y_desc(&self.unit)
            .axis_desc_style(("sans-serif", LABEL_FONT).into_font())
            .draw()?;
        let margin = slot_margin(chart.plotting_area().dim_in_pixel().0, slots);
        chart.draw_series(self.bars.iter().enumerate().map(|(index, (_, value))| {
            let mut bar = Rectangle::new(
                [
                    (SegmentValue::Exact(index), 0.0),
                    (SegmentValue::Exact(index + 1), *value),
                ],
                BAR_COLOR.filled(),
            );
            bar.set_margin(0, 0, margin, margin);
            bar
        }))?;
        root.present()
    }

    /// Every how many bars a label fits under the plot, `plot_width` pixels
    /// wide, without running into the next one.
    fn label_every(&self, plot_width: u32) -> usize {
        let longest = self
            .bars
            .iter()
            .map(|(label, _)| label.chars().count())
            .max()
            .unwrap_or(0);
        let slot = f64::from(plot_width) / self.bars.len().max(1) as f64;
        let needed = (longest as f64 + 1.0) * CHAR_WIDTH;
        ((needed / slot).ceil() as usize).max(1)
    }
}

/// The gap each side of a bar: a tenth of its slot.
fn slot_margin(plot_width: u32, slots: usize) -> u32 {
    (f64::from(plot_width) / slots as f64 / 10.0).round() as u32
}

/// A picture that says the chart could not be drawn, and why.
fn not_drawn(error: &DrawError) -> String {
    format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}"><text x="12" y="24">the chart could not be drawn: {}</text></svg>"#,
        SIZE.0,
        SIZE.1,
        escape(&error.to_string())
    )
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

    /// The texts of the SVG's `<text>` elements, in order.
    fn texts(svg: &str) -> Vec<&str> {
        svg.split("<text ")
            .skip(1)
            .filter_map(|element| element.split_once(">\n"))
            .filter_map(|(_, rest)| rest.split_once("\n</text>"))
            .map(|(text, _)| text)
            .collect()
    }

    /// The `x` of each bar, in the order the SVG draws them.
    fn bar_lefts(svg: &str) -> Vec<u32> {
        svg.lines()
            .filter(|line| line.contains("fill=\"#3B6EA5\""))
            .filter_map(|line| line.split("x=\"").nth(1)?.split('"').next()?.parse().ok())
            .collect()
    }

    #[test]
    fn bars_are_scaled_to_a_round_top_value() {
        let mut chart = BarChart::new("Revenue", "USD");
        chart.bar("a", 430.0).bar("b", 215.0);
        let svg = chart.to_svg();
        assert_eq!(bar_lefts(&svg).len(), 2, "{svg}");
        let texts = texts(&svg);
        assert_eq!(
            texts,
            [
                "Revenue", "USD", "0", "100", "200", "300", "400", "500", "a", "b"
            ],
            "the axis ends at 500: {svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"));
    }

    #[test]
    fn the_same_chart_gives_the_same_bytes_bars_in_order() {
        let mut chart = BarChart::new("Revenue", "USD");
        for month in 1..=12 {
            chart.bar(format!("2025-{month:02}"), f64::from(month % 5) * 1000.0);
        }
        let svg = chart.to_svg();
        assert_eq!(svg, chart.clone().to_svg());
        let lefts = bar_lefts(&svg);
        assert_eq!(lefts.len(), 12);
        assert!(lefts.is_sorted(), "bars drawn out of order: {lefts:?}");
    }

    #[test]
    fn labels_are_escaped_and_bad_values_drawn_as_zero() {
        let mut chart = BarChart::new("<b>&", "x");
        chart.bar("a<b", f64::NAN).bar("c", -5.0);
        let svg = chart.to_svg();
        assert!(svg.contains("&lt;b&gt;&amp;"));
        assert!(texts(&svg).contains(&"a&lt;b"));
        assert!(!svg.contains("NaN"));
        assert!(!svg.contains("<b>"));
        let mut huge = BarChart::new("t", "x");
        huge.bar("max", f64::MAX).bar("large", 1e300);
        assert!(!huge.to_svg().contains("inf"), "a finite axis for 1e300");
    }

    #[test]
    fn labels_are_thinned_out_when_they_would_overlap() {
        let mut chart = BarChart::new("Revenue", "USD");
        for month in 0..24 {
            chart.bar(format!("{}-{:02}", 2024 + month / 12, month % 12 + 1), 1.0);
        }
        let svg = chart.to_svg();
        let months: Vec<&str> = texts(&svg)
            .into_iter()
            .filter(|text| text.starts_with("202"))
            .collect();
        assert_eq!(months.first(), Some(&"2024-01"));
        assert!(months.len() < 24 && months.len() >= 8, "{months:?}");
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
        let svg = chart.to_svg();
        assert!(texts(&svg).contains(&"Nothing yet"), "{svg}");
        assert!(bar_lefts(&svg).is_empty());
    }

    #[test]
    fn a_chart_plotters_refuses_says_why() {
        let svg = not_drawn(&DrawingAreaErrorKind::LayoutError);
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("the chart could not be drawn: "), "{svg}");
    }
}
