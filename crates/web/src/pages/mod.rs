//! The HTML pages, one module per page, and the parts they share.
//!
//! Invariant: every page function resolves the request's context (as-of
//! sequence, unit) once with [`crate::params::ctx`] and reads the read model
//! only at that one sequence, so a page is consistent even while the
//! projector advances the checkpoint. Every piece of text from the read model
//! goes through [`crate::html::esc`] before it is written into the page.
//!
//! | module | holds |
//! |---|---|
//! | `home` | `/`: units, periods, latest seals |
//! | `dashboard` | `/dashboard`: the unit/quarter (or council-wide) dashboard |
//! | `indicators` | `/indicators`: the indicator list |
//! | `indicator` | `/indicators/{key}`: one indicator, its trend chart and audit trail |
//! | `risks` | `/risks`: the risk register and its heat maps |
//! | `finance` | `/finance`: revenue, capital and savings tables |
//! | `audit` | `/audit/{kind}/{key}`: any entity's audit trail, and the audit table |
//! | `seals` | the seal box: a seal and its verdict against the view shown |
//! | `heat_map` | the 5×5 risk heat-map table (also used by the pack) |
//! | `frame` | what frames every page: as-of bar, selectors, footer, known periods |
//! | `labels` | names and CSS classes of domain values (types, bands, statuses) |

use std::collections::BTreeMap;

use axum::response::Response;

use crate::AppError;

mod audit;
mod dashboard;
mod finance;
mod frame;
mod heat_map;
mod home;
mod indicator;
mod indicators;
mod labels;
mod risks;
mod seals;

pub(crate) use audit::{audit, kind_param};
pub(crate) use dashboard::dashboard;
pub(crate) use finance::finance;
pub(crate) use frame::known_periods;
pub(crate) use heat_map::heat_map_table;
pub(crate) use home::home;
pub(crate) use indicator::indicator;
pub(crate) use indicators::indicators;
pub(crate) use risks::risks;
pub(crate) use seals::hex32;

/// A request's query parameters.
pub(crate) type M = BTreeMap<String, String>;
/// A page's answer: the response, or the error to show in its place.
pub(crate) type Res = Result<Response, AppError>;
