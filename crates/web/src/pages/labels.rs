//! Names and CSS classes of domain values as the pages print them:
//! indicator types and polarities, directions of travel, action statuses,
//! risk bands and assessments. One function per value kind, so every page
//! prints a value the same way; `–` stands for "no value".

use perfledger_domain::action::ActionStatus;
use perfledger_domain::direction::Direction;
use perfledger_domain::indicator::{IndicatorType, Polarity};
use perfledger_domain::printed;
use perfledger_domain::risk::{Assessment, Band};

pub(crate) fn dir_name(d: Option<Direction>) -> &'static str {
    d.map_or(printed::NO_VALUE, printed::direction)
}

pub(crate) fn polarity_name(p: Polarity) -> String {
    let s = format!("{p:?}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push(' ');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

pub(crate) fn type_name(t: IndicatorType) -> &'static str {
    match t {
        IndicatorType::Cpi => "Corporate Plan Indicator",
        IndicatorType::Spi => "Commissioning Plan Indicator",
        IndicatorType::Mpi => "Management Agreement Indicator",
        IndicatorType::Kpi => "Contract Performance Indicator",
        IndicatorType::Outcome => "Outcome indicator",
    }
}

pub(crate) fn status_class(s: ActionStatus) -> &'static str {
    match s {
        ActionStatus::Green => "st-green",
        ActionStatus::GreenAmber => "st-green-amber",
        ActionStatus::RedAmber => "st-red-amber",
        ActionStatus::Red => "st-red",
        ActionStatus::NotRated => "st-not-rated",
    }
}

pub(crate) fn band_class(b: Band) -> &'static str {
    match b {
        Band::Low => "band-low",
        Band::MediumLow => "band-ml",
        Band::MediumHigh => "band-mh",
        Band::High => "band-high",
    }
}

pub(crate) fn band_abbr(b: Band) -> &'static str {
    match b {
        Band::Low => "L",
        Band::MediumLow => "ML",
        Band::MediumHigh => "MH",
        Band::High => "H",
    }
}

pub(crate) fn assessment_text(a: Option<&Assessment>) -> String {
    match a {
        Some(a) => format!(
            "{}×{} = {} ({})",
            a.impact,
            a.probability,
            a.score(),
            a.band().label()
        ),
        None => "–".to_string(),
    }
}
