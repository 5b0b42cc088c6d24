//! Printed seed figures reproduced by computation from their inputs (never
//! by storing the answer).

use perfledger_domain::action::ActionStatus;
use perfledger_domain::budget::{CapitalFigures, RevenueFigures};
use perfledger_domain::dashboard::{
    canonical_bytes, compute, digest, CustomerMeasure, Dashboard, DashboardInputs, HrFigures,
    IndicatorLine,
};
use perfledger_domain::direction::Direction;
use perfledger_domain::indicator::{IndicatorType, Value};
use perfledger_domain::parse::{parse_amount, parse_assessment, parse_value};
use perfledger_domain::period::Period;
use perfledger_domain::rag::Rag;
use perfledger_domain::risk::Band;
use perfledger_domain::rounding::{percent_1dp, percent_whole};
use perfledger_domain::Fixed;

fn amt(s: &str) -> Fixed {
    parse_amount(s).unwrap()
}

fn revenue(original: &str, revised: &str, forecast: &str) -> RevenueFigures {
    RevenueFigures {
        original: amt(original),
        revised: amt(revised),
        forecast: amt(forecast),
    }
}

/// Seed 004 §2.1: Finance 740 / 969 / 478 → (491), -50.7%.
#[test]
fn seed004_finance_line_variation() {
    let line = revenue("740", "969", "478");
    assert_eq!(line.variation().unwrap(), amt("(491)"));
    assert_eq!(
        line.variation_percent_1dp().unwrap().unwrap().to_string(),
        "-50.7"
    );
}

/// Seed 004 §2.1: Commercial 1,049 / 1,069 / 1,153 → 84, 7.9%.
#[test]
fn seed004_commercial_line_variation() {
    let line = revenue("1,049", "1,069", "1,153");
    assert_eq!(line.variation().unwrap(), amt("84"));
    assert_eq!(
        line.variation_percent_1dp().unwrap().unwrap().to_string(),
        "7.9"
    );
}

/// Seed 004 §2.1: every line's variation and %, and the unit total
/// 19,288 / 20,256 / 20,256 → 0, 0.0%.
#[test]
fn seed004_all_revenue_lines_and_total() {
    // (original, revised, forecast, variation, %): computed from the printed
    // (rounded £000) inputs. All match the printed figures except three
    // lines the source computed from unrounded pounds: Commissioning
    // Strategy prints 62.7% (159/254 = 62.60%), Children & Young People
    // 2.4% (12/521 = 2.30%), Programme & Resources 51 and 6.2% (864 - 814 = 50).
    let rows = [
        ("740", "969", "478", "(491)", "-50.7"),
        ("1,049", "1,069", "1,153", "84", "7.9"),
        ("1,258", "1,292", "1,270", "(22)", "-1.7"),
        ("674", "686", "864", "178", "25.9"),
        ("441", "254", "413", "159", "62.6"),
        ("443", "521", "533", "12", "2.3"),
        ("12,049", "12,838", "12,830", "(8)", "-0.1"),
        ("175", "320", "330", "10", "3.1"),
        ("880", "933", "960", "27", "2.9"),
        ("810", "814", "864", "50", "6.1"),
        ("768", "560", "560", "0", "0"),
    ];
    let mut lines = Vec::new();
    for (o, r, f, var, pc) in rows {
        let l = revenue(o, r, f);
        assert_eq!(l.variation().unwrap(), amt(var), "line {o}/{r}/{f}");
        assert_eq!(
            l.variation_percent_1dp().unwrap().unwrap().to_string(),
            pc,
            "line {o}/{r}/{f}"
        );
        lines.push(l);
    }
    let total = RevenueFigures::total(&lines).unwrap();
    // printed 19,288: the source sums unrounded pounds
    assert_eq!(total.original, amt("19,287"));
    assert_eq!(total.revised, amt("20,256"));
    // the printed forecasts sum to 20,255 (printed total 20,256: a rounding
    // line in the source); the unit total variation is printed as 0 (0.0%)
    assert_eq!(total.forecast, amt("20,255"));
    let printed_total = revenue("19,288", "20,256", "20,256");
    assert_eq!(printed_total.variation().unwrap(), Fixed::ZERO);
    assert_eq!(
        printed_total
            .variation_percent_1dp()
            .unwrap()
            .unwrap()
            .to_string(),
        "0"
    );
}

/// Seed 004 §2.2: 35,168 approved, (4,331) slippage → proposed 30,837,
/// variance (4,331), (12%).
#[test]
fn seed004_capital_line() {
    let c = CapitalFigures {
        approved: amt("35,168"),
        additions: amt("-"),
        slippage: amt("(4,331)"),
        forecast: amt("30,837"),
    };
    assert_eq!(c.proposed().unwrap(), amt("30,837"));
    assert_eq!(c.variance().unwrap(), amt("(4,331)"));
    assert_eq!(c.slippage_percent_whole().unwrap(), amt("(12)"));
}

/// Seed 004 §1.3: revenue 819 overspend of £20.256m budget → 4.0%.
#[test]
fn seed004_unit_overspend_percent() {
    let p = percent_1dp(amt("819"), amt("20,256")).unwrap();
    assert_eq!(p, parse_amount("4.0").unwrap());
}

fn seed004_indicator_lines() -> Vec<IndicatorLine> {
    // §3.1 table: per type (G, GA, RA, R, Monitor, improving, worsening, no DoT, expected)
    let table = [
        (IndicatorType::Cpi, [7, 5, 1, 0], 5, 9, 7, 2, 18),
        (IndicatorType::Spi, [6, 3, 1, 2], 3, 7, 3, 5, 15),
        (IndicatorType::Mpi, [0, 0, 0, 1], 2, 0, 1, 2, 3),
    ];
    let colours = [Rag::Green, Rag::GreenAmber, Rag::RedAmber, Rag::Red];
    let mut out = Vec::new();
    for (ty, rags, monitor, imp, wor, none, expected) in table {
        let mut rag_iter = colours
            .iter()
            .zip(rags)
            .flat_map(|(c, n)| std::iter::repeat_n(Some(*c), n))
            .chain(std::iter::repeat_n(None, monitor));
        let mut dot_iter = std::iter::repeat_n(Some(Direction::Improving), imp)
            .chain(std::iter::repeat_n(Some(Direction::Worsening), wor))
            .chain(std::iter::repeat_n(None, none));
        for _ in 0..expected {
            let rag = rag_iter.next().unwrap();
            out.push(IndicatorLine {
                indicator_type: ty,
                rag,
                monitor: rag.is_none(),
                direction: dot_iter.next().unwrap(),
            });
        }
    }
    out
}

/// Seed 004 §1.1/§3.1: 13/8/2/3 of 26 → 50%/31%/8%/12%; DoT 16/11 of 27 →
/// 59%/41%; Monitor 10 of 36 → 28%; key actions 19/12/0/0/2 of 33 →
/// 58%/36%/0%/0%/6%; capital (4,331) (12%).
#[test]
fn seed004_dashboard_overview() {
    let mut actions = vec![ActionStatus::Green; 19];
    actions.extend(vec![ActionStatus::GreenAmber; 12]);
    actions.extend(vec![ActionStatus::NotRated; 2]);
    let inputs = DashboardInputs {
        unit: Some("Commissioning Group".try_into().unwrap()),
        period: Period::parse("Q1 2016/17").unwrap(),
        revenue: vec![revenue("19,288", "20,256", "20,256")],
        capital: vec![CapitalFigures {
            approved: amt("35,168"),
            additions: Fixed::ZERO,
            slippage: amt("(4,331)"),
            forecast: amt("30,837"),
        }],
        savings: vec![],
        indicators: seed004_indicator_lines(),
        actions,
        risks: vec![],
        hr: Some(HrFigures {
            headcount: 170,
            agency_staff: 47,
            agency_spend_percent: Some(amt("22")),
            sickness_days_per_fte: Some(amt("3.75")),
        }),
        customer: [
            ("FOIs", 153, 159),
            ("Complaints", 15, 26),
            ("Member Enquiries", 10, 19),
            ("SARs", 25, 28),
        ]
        .into_iter()
        .map(|(n, on_time, received)| CustomerMeasure {
            name: n.try_into().unwrap(),
            on_time,
            received,
        })
        .collect(),
    };
    let d = compute(&inputs).unwrap();
    let pcts: Vec<Option<i64>> = d.customer.iter().map(|c| c.percent).collect();
    assert_eq!(pcts, vec![Some(96), Some(58), Some(53), Some(89)]);
    check_dashboard_golden(&d);
    let i = &d.indicators;
    assert_eq!((i.reported, i.rated, i.monitor), (36, 26, 10));
    assert_eq!(i.counts[&Rag::Green], 13);
    assert_eq!(i.counts[&Rag::GreenAmber], 8);
    assert_eq!(i.counts[&Rag::RedAmber], 2);
    assert_eq!(i.counts[&Rag::Red], 3);
    assert_eq!(i.percent_of_rated[&Rag::Green], Some(50));
    assert_eq!(i.percent_of_rated[&Rag::GreenAmber], Some(31));
    assert_eq!(i.percent_of_rated[&Rag::RedAmber], Some(8));
    assert_eq!(i.percent_of_rated[&Rag::Red], Some(12));
    assert_eq!(i.monitor_percent, Some(28));
    assert_eq!((i.improved_or_same, i.worsened), (16, 11));
    assert_eq!(i.improved_or_same_percent, Some(59));
    assert_eq!(i.worsened_percent, Some(41));
    let cpi = &d.indicators_by_type[&IndicatorType::Cpi];
    assert_eq!(
        (cpi.rated, cpi.monitor, cpi.improved_or_same, cpi.worsened),
        (13, 5, 9, 7)
    );
    let a = &d.actions;
    assert_eq!(a.total, 33);
    assert_eq!(a.percent[&ActionStatus::Green], Some(58));
    assert_eq!(a.percent[&ActionStatus::GreenAmber], Some(36));
    assert_eq!(a.percent[&ActionStatus::RedAmber], Some(0));
    assert_eq!(a.percent[&ActionStatus::Red], Some(0));
    assert_eq!(a.percent[&ActionStatus::NotRated], Some(6));
    assert_eq!(d.revenue.variance, Fixed::ZERO);
    assert_eq!(d.capital.variance, amt("(4,331)"));
    assert_eq!(d.capital.slippage_percent, Some(amt("(12)")));
}

/// Seed 004 §3.1 percentages straight from the counts.
#[test]
fn seed004_percentages_by_rounding_rule() {
    let got: Vec<i64> = [13, 8, 2, 3]
        .iter()
        .map(|n| percent_whole(*n, 26).unwrap())
        .collect();
    assert_eq!(got, vec![50, 31, 8, 12]);
    assert_eq!(percent_whole(16, 27), Some(59));
    assert_eq!(percent_whole(11, 27), Some(41));
    // customer experience, seed 004 §5: 153/159 → 96%, 15/26 → 58%, 10/19 → 53%, 25/28 → 89%
    assert_eq!(percent_whole(153, 159), Some(96));
    assert_eq!(percent_whole(15, 26), Some(58));
    assert_eq!(percent_whole(10, 19), Some(53));
    assert_eq!(percent_whole(25, 28), Some(89));
}

/// Seed 003 §5.3: risk ratings from impact × probability, and the printed bands.
#[test]
fn seed003_risk_scores_and_bands() {
    // (impact, probability, printed score, printed band)
    let rows = [
        ("Major 4", "Almost Certain 5", 20, Band::High),
        ("Catastrophic 5", "Possible 3", 15, Band::High),
        ("Catastrophic 5", "Unlikely 2", 10, Band::MediumHigh),
        ("Major 4", "Possible 3", 12, Band::MediumHigh),
        ("Moderate 3", "Likely 4", 12, Band::MediumHigh),
        ("Moderate 3", "Unlikely 2", 6, Band::MediumLow),
    ];
    for (i, p, score, band) in rows {
        let a = parse_assessment(i, p).unwrap();
        assert_eq!(a.score(), score, "{i} x {p}");
        assert_eq!(a.band(), band, "{i} x {p}");
        assert_eq!(a.escalated(), score >= 15);
    }
}

/// Seed 003 §5.3 heat map: the cells count risks per impact/probability.
#[test]
fn seed003_heat_map_counts() {
    use perfledger_domain::risk::{Assessment, HeatMap};
    // printed rows (impact 5..1) x probability 1..5
    let printed = [
        (5u8, [1u32, 1, 2, 1, 0]),
        (4, [0, 2, 5, 0, 1]),
        (3, [0, 1, 0, 1, 0]),
        (2, [1, 0, 0, 0, 0]),
        (1, [0, 0, 0, 0, 0]),
    ];
    let mut risks = Vec::new();
    for (impact, row) in printed {
        for (pi, n) in row.iter().enumerate() {
            for _ in 0..*n {
                risks.push(Assessment::new(impact, u8::try_from(pi + 1).unwrap()).unwrap());
            }
        }
    }
    let map = HeatMap::from_assessments(&risks);
    for (impact, row) in printed {
        assert_eq!(map.cells[usize::from(impact) - 1], row);
    }
    assert_eq!(risks.len(), 16);
}

/// Seed 003 CPI 5001: 1,385/1,599 → 86.6%.
#[test]
fn seed003_numerator_denominator() {
    let v = parse_value("1,385/1,599").unwrap();
    assert!(matches!(v, Value::Fraction { .. }));
    assert_eq!(v.display_value().unwrap().to_string(), "86.6");
}

/// The canonical bytes of the seed-004 dashboard are a golden vector too:
/// seals pin their digest, so the dashboard's shape must never move.
fn check_dashboard_golden(d: &Dashboard) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../proto/golden/dashboard_seed004.hex");
    let bytes = canonical_bytes(d);
    if std::env::var_os("PERFLEDGER_BLESS").is_some() {
        std::fs::write(
            &path,
            format!(
                "# canonical bytes (postcard) of the seed 004 Q1 2016/17 dashboard; sha256 {}\n{}\n",
                hex::encode(digest(d)),
                hex::encode(&bytes)
            ),
        )
        .unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap();
    let line = stored.lines().find(|l| !l.starts_with('#')).unwrap();
    let golden = hex::decode(line.trim()).unwrap();
    assert_eq!(postcard::from_bytes::<Dashboard>(&golden).unwrap(), *d);
    assert_eq!(golden, bytes, "dashboard canonical bytes changed");
    assert!(stored.contains(&hex::encode(digest(d))));
}
