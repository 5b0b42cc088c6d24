//! As-of queries, one module per view. Every query resolves its [`crate::AsOf`]
//! to a sequence S once and reads only versions with seq ≤ S (reverse
//! range scans over versioned keys, [`facts`]), so the current view is
//! simply as-of the checkpoint through the same code, and two reads as of
//! the same S agree.

mod actions;
mod audit;
mod dashboard;
mod entities;
mod facts;
mod finance;
mod indicators;
mod risks;
mod seals;

use crate::ReadModelError;

pub use actions::ActionRow;
pub use audit::AuditTrail;
pub use dashboard::DashboardView;
pub(crate) use dashboard::{view_of, Counted};
pub use entities::UnitRow;
pub(crate) use facts::fy_start_month;
pub use finance::{CapitalRow, FinanceView, RevenueRow, SavingRow};
pub(crate) use finance::{FinanceProvenance, LineProvenance};
pub use indicators::{IndicatorRow, IndicatorSummary, IndicatorView};
pub use risks::{HeatMaps, RiskRegister, RiskRow};
pub use seals::{seal_verdict, FigureDiff, SealRecord, SealVerdict};

type R<T> = Result<T, ReadModelError>;
