//! `risks`: the risk register (current and target assessment of each
//! risk), with the 5x5 heat map on request.

use perfledger_domain::risk::Assessment;
use perfledger_readmodel::views::{self, RisksJson};
use perfledger_readmodel::RiskRegister;

use super::dashboard::print_heat;
use super::{csv_out, table};
use crate::args::Format;
use crate::error::Res;

/// `risks`.
pub fn risks(f: Format, r: &RiskRegister, heat: bool) -> Res<()> {
    let printed = |a: &Option<Assessment>| {
        a.map(|a| format!("{} {}", a.band().label(), a.score()))
            .unwrap_or_default()
    };
    match f {
        Format::Json => out!("{}", views::to_json(&RisksJson::from(r), true)),
        Format::Csv | Format::Table => {
            let header = [
                "risk_id",
                "unit",
                "title",
                "period",
                "current",
                "target",
                "escalated",
            ];
            let rows: Vec<Vec<String>> = r
                .risks
                .iter()
                .map(|x| {
                    vec![
                        x.risk_id.clone(),
                        x.unit.clone(),
                        x.title.clone(),
                        x.period.map(|p| p.to_string()).unwrap_or_default(),
                        printed(&x.current),
                        printed(&x.target),
                        if x.escalated {
                            "yes".into()
                        } else {
                            String::new()
                        },
                    ]
                })
                .collect();
            if f == Format::Csv {
                return csv_out(&header, rows);
            }
            out!(
                "Risk register {} (as of sequence {})",
                r.unit.as_deref().unwrap_or("council-wide"),
                r.as_of
            );
            table(&header, &rows);
            if heat {
                out!();
                print_heat(&r.heat_maps.current);
            }
        }
    }
    Ok(())
}
