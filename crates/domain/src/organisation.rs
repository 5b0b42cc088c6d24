//! Organisation: the council's committees, themes, objectives and delivery
//! units / service areas. People are named by job title only.

use serde::{Deserialize, Serialize};

use crate::text::Text;

/// What an organisation entry is. Never reorder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum OrgKind {
    /// A delivery unit or service area.
    Unit,
    /// A committee (Policy & Resources, ...).
    Committee,
    /// A corporate-plan theme (Clean, Safe & Well Run, ...).
    Theme,
    /// An objective / committee priority.
    Objective,
}

impl OrgKind {
    /// Key prefix used in the natural key (`committee`, `unit`...).
    pub fn token(self) -> &'static str {
        match self {
            OrgKind::Unit => "unit",
            OrgKind::Committee => "committee",
            OrgKind::Theme => "theme",
            OrgKind::Objective => "objective",
        }
    }
}

/// An organisation entry.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    /// Kind.
    pub kind: OrgKind,
    /// Name.
    pub name: Text,
    /// Parent entry name (a unit's committee, an objective's theme), if any.
    pub parent: Option<Text>,
    /// Head / chair by job title.
    pub lead: Option<Text>,
}
