//! The indicator trend chart: results vs targets by period as inline SVG.
//! Geometry is integer arithmetic on `Fixed` raw values (i128 to avoid
//! overflow); nothing is stored. Layout: a `W`×`H` canvas, the plot inside
//! the `LEFT`/`RIGHT`/`TOP`/`BOTTOM` margins, periods evenly across it, values
//! scaled between the padded minimum and maximum.

use std::fmt::Write;

use perfledger_domain::Fixed;

use crate::html::esc;

/// One period on the chart.
pub struct Point {
    /// Period label.
    pub label: String,
    /// Result (display value), if numeric.
    pub result: Option<Fixed>,
    /// Target (display value), if numeric.
    pub target: Option<Fixed>,
}

const W: i64 = 760;
const H: i64 = 300;
const LEFT: i64 = 80;
const RIGHT: i64 = 20;
const TOP: i64 = 20;
const BOTTOM: i64 = 70;

/// The chart's scale: the value range shown (`lo`..`hi`, raw `Fixed`) and
/// the number of periods across.
#[derive(Clone, Copy)]
struct Scale {
    lo: i64,
    hi: i64,
    n: i64,
}

const PLOT_W: i64 = W - LEFT - RIGHT;
const PLOT_BOTTOM: i64 = H - BOTTOM;

impl Scale {
    /// The range of every result and target, padded; None when there is
    /// none.
    fn of(points: &[Point]) -> Option<Scale> {
        let values: Vec<i64> = points
            .iter()
            .flat_map(|p| [p.result, p.target])
            .flatten()
            .map(Fixed::raw)
            .collect();
        let (mut lo, mut hi) = (*values.iter().min()?, *values.iter().max()?);
        // Pad the range a little (5% each side) so points sit inside the frame;
        // include zero when all values are positive and close to it.
        let pad = (hi - lo) / 20;
        lo = lo.saturating_sub(pad);
        hi = hi.saturating_add(pad);
        if lo > 0 && lo < hi / 2 {
            lo = 0;
        }
        let n = i64::try_from(points.len()).unwrap_or(1).max(1);
        Some(Scale { lo, hi, n })
    }

    fn y_of(self, v: Fixed) -> i64 {
        y_of(v, self.lo, self.hi)
    }

    /// The x of the `i`th period (the middle when there is one).
    fn x_of(self, i: usize) -> i64 {
        let i = i64::try_from(i).unwrap_or(0);
        if self.n == 1 {
            LEFT + PLOT_W / 2
        } else {
            LEFT + PLOT_W * i / (self.n - 1)
        }
    }
}

fn y_of(v: Fixed, lo: i64, hi: i64) -> i64 {
    let plot = i128::from(H - TOP - BOTTOM);
    let span = i128::from(hi) - i128::from(lo);
    let off = if span == 0 {
        plot / 2
    } else {
        (i128::from(hi) - i128::from(v.raw())) * plot / span
    };
    TOP + i64::try_from(off).unwrap_or(0)
}

/// Render the chart; None when no period has a numeric result or target.
pub fn chart(title: &str, points: &[Point]) -> Option<String> {
    let scale = Scale::of(points)?;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" \
         width=\"{W}\" height=\"{H}\" role=\"img\" aria-labelledby=\"chart-title chart-desc\">\
         <title id=\"chart-title\">{t}</title>\
         <desc id=\"chart-desc\">Results (solid line, dots) and targets (dashed line) by period; \
         the table below gives every figure.</desc>",
        t = esc(title)
    );
    axes(&mut s, scale, points);
    series(&mut s, scale, points);
    legend(&mut s);
    s.push_str("</svg>");
    Some(s)
}

/// The frame, the y-axis labels (max, min, middle) with their grid lines,
/// and the period labels along the x axis.
fn axes(s: &mut String, scale: Scale, points: &[Point]) {
    let Scale { lo, hi, .. } = scale;
    let _ = write!(
        s,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{PLOT_W}\" height=\"{}\" fill=\"#fff\" stroke=\"#b1b4b6\"/>",
        PLOT_BOTTOM - TOP
    );
    for v in [hi, lo, lo + (hi - lo) / 2] {
        let f = Fixed::from_raw(v);
        let y = scale.y_of(f);
        let _ = write!(
            s,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#e5e5e5\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#505a5f\">{}</text>",
            LEFT + PLOT_W,
            LEFT - 6,
            y + 4,
            esc(&round_label(f))
        );
    }
    for (i, p) in points.iter().enumerate() {
        let x = scale.x_of(i);
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"{}\" font-size=\"12\" text-anchor=\"end\" fill=\"#0b0c0c\" \
             transform=\"rotate(-35 {x} {})\">{}</text>",
            PLOT_BOTTOM + 16,
            PLOT_BOTTOM + 16,
            esc(&p.label)
        );
    }
}

/// Targets (dashed line, squares) then results (solid line, dots); a line
/// only joins two or more points.
fn series(s: &mut String, scale: Scale, points: &[Point]) {
    let pick = |f: &dyn Fn(&Point) -> Option<Fixed>| -> Vec<(i64, i64)> {
        points
            .iter()
            .enumerate()
            .filter_map(|(i, p)| f(p).map(|v| (scale.x_of(i), scale.y_of(v))))
            .collect()
    };
    let targets = pick(&|p| p.target);
    let results = pick(&|p| p.result);
    let poly = |pts: &[(i64, i64)]| -> String {
        pts.iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if targets.len() > 1 {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#505a5f\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>",
            poly(&targets)
        );
    }
    for (x, y) in &targets {
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#505a5f\"/>",
            x - 4,
            y - 4
        );
    }
    if results.len() > 1 {
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1d70b8\" stroke-width=\"3\"/>",
            poly(&results)
        );
    }
    for (x, y) in &results {
        let _ = write!(
            s,
            "<circle cx=\"{x}\" cy=\"{y}\" r=\"5\" fill=\"#1d70b8\"/>"
        );
    }
}

/// The legend below the axis: a result dot and a target square.
fn legend(s: &mut String) {
    let ly = H - 14;
    let _ = write!(
        s,
        "<circle cx=\"{}\" cy=\"{}\" r=\"5\" fill=\"#1d70b8\"/><text x=\"{}\" y=\"{}\" font-size=\"13\">Result</text>\
         <rect x=\"{}\" y=\"{}\" width=\"8\" height=\"8\" fill=\"#505a5f\"/><text x=\"{}\" y=\"{}\" font-size=\"13\">Target</text>",
        LEFT + 5,
        ly - 4,
        LEFT + 15,
        ly,
        LEFT + 90,
        ly - 8,
        LEFT + 104,
        ly
    );
}

/// Axis label: the value to at most one decimal place (integer arithmetic).
fn round_label(f: Fixed) -> String {
    let tenth = Fixed::SCALE / 10;
    let r = f.raw();
    let half = if r < 0 { -tenth / 2 } else { tenth / 2 };
    let rounded = (r + half) / tenth * tenth;
    Fixed::from_raw(rounded).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Option<Fixed> {
        Some(Fixed::parse_full(s).unwrap())
    }

    #[test]
    fn chart_geometry() {
        let pts = vec![
            Point {
                label: "2016/17 Q1".into(),
                result: f("80"),
                target: f("85"),
            },
            Point {
                label: "2016/17 Q2".into(),
                result: f("90"),
                target: f("85"),
            },
        ];
        let s = chart("t <x>", &pts).unwrap();
        assert!(s.starts_with("<svg"));
        assert!(s.contains("t &lt;x&gt;"));
        assert_eq!(s.matches("<circle").count(), 3); // two points + legend
        assert!(!s.contains("NaN"));
        assert!(chart("none", &[]).is_none());
        let single = chart(
            "one",
            &[Point {
                label: "x".into(),
                result: f("5"),
                target: None,
            }],
        )
        .unwrap();
        assert!(single.contains("<circle"));
    }

    #[test]
    fn labels() {
        assert_eq!(round_label(Fixed::parse_full("86.66").unwrap()), "86.7");
        assert_eq!(round_label(Fixed::parse_full("-2.25").unwrap()), "-2.3");
    }
}
