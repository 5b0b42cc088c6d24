//! The 5×5 risk heat map as an HTML table (risk page, dashboard and pack).
//!
//! Grammar: impact rows 5 → 1 (top to bottom), probability columns 1 → 5,
//! each cell the count of open risks with that assessment, coloured by the
//! band of its score (impact × probability), followed by the band legend.

use std::fmt::Write;

use perfledger_domain::risk::{band, Band, HeatMap, Impact, Probability};

use super::labels::{band_abbr, band_class};
use crate::html::esc;

/// The 5×5 heat map: impact rows 5→1, probability columns 1→5, cells
/// coloured by score band with the count and score printed.
pub(crate) fn heat_map_table(id: &str, caption: &str, map: &HeatMap) -> String {
    let mut s = format!(
        "<table class=\"heat\" id=\"{}\"><caption>{}</caption><thead><tr><th scope=\"col\">Impact ↓ / Probability →</th>",
        esc(id),
        esc(caption)
    );
    for p in 1..=5u8 {
        let name = Probability::new(p).map(|x| x.name()).unwrap_or("?");
        let _ = write!(s, "<th scope=\"col\">{p} {name}</th>");
    }
    s.push_str("</tr></thead><tbody>");
    for i in (1..=5u8).rev() {
        let name = Impact::new(i).map(|x| x.name()).unwrap_or("?");
        let _ = write!(s, "<tr><th scope=\"row\">{i} {name}</th>");
        for p in 1..=5u8 {
            let n = map.cells[usize::from(i - 1)][usize::from(p - 1)];
            let score = i * p;
            let b = band(score);
            let _ = write!(
                s,
                "<td class=\"{}\" data-impact=\"{i}\" data-probability=\"{p}\" data-count=\"{n}\">{n}\
                 <span class=\"vh\"> risks, </span><small>{score} · <abbr title=\"{}\">{}</abbr></small></td>",
                band_class(b),
                b.label(),
                band_abbr(b)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table><p class=\"legend\">Bands: ");
    for (b, range) in [
        (Band::Low, "1–3"),
        (Band::MediumLow, "4–7"),
        (Band::MediumHigh, "8–14"),
        (Band::High, "15–25, escalated"),
    ] {
        let _ = write!(
            s,
            "<span class=\"{}\">{} {} (score {range})</span>",
            band_class(b),
            band_abbr(b),
            b.label()
        );
    }
    s.push_str("</p>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use perfledger_domain::risk::Assessment;

    #[test]
    fn heat_map_rows_and_columns() {
        let a = [
            Assessment {
                impact: 5,
                probability: 1,
            },
            Assessment {
                impact: 5,
                probability: 1,
            },
        ];
        let s = heat_map_table("h", "cap <x>", &HeatMap::from_assessments(&a));
        assert!(s.contains("cap &lt;x&gt;"));
        assert!(s.contains("data-impact=\"5\" data-probability=\"1\" data-count=\"2\""));
        // impact 5 row first, probability 1 column first
        let first_cell = s.find("data-impact=").unwrap();
        assert_eq!(
            &s[first_cell..first_cell + 35],
            "data-impact=\"5\" data-probability=\"1"
        );
        assert_eq!(s.matches("<td ").count(), 25);
    }
}
