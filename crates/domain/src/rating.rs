//! The RAG rating itself (Green ... Red) and its printed words; the rules
//! that decide a rating live in [`crate::rag`]. Kept apart so that the
//! indicator model (a result's source rating) does not depend on the rules.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// A RAG rating, best first. Never reorder (wire format and ranking).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Rag {
    /// On or above target.
    Green,
    /// Four-level scheme: just below target.
    GreenAmber,
    /// Three-level schemes: off target within tolerance.
    Amber,
    /// Four-level scheme: further below target.
    RedAmber,
    /// Furthest from target.
    Red,
}

impl Rag {
    /// The rating's printed name (`Green Amber`), as [`Rag::parse`] reads it.
    pub fn name(self) -> &'static str {
        match self {
            Rag::Green => "Green",
            Rag::GreenAmber => "Green Amber",
            Rag::Amber => "Amber",
            Rag::RedAmber => "Red Amber",
            Rag::Red => "Red",
        }
    }

    /// Parse a printed rating: `G`, `GA`, `A`, `RA`, `R`, `Green`,
    /// `Green Amber`, `Amber`, `Red Amber`, `Red` (any case).
    pub fn parse(value: &str) -> Result<Self, DomainError> {
        let n: String = value
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        Ok(match n.as_str() {
            "g" | "green" => Rag::Green,
            "ga" | "g/a" | "green amber" | "green/amber" => Rag::GreenAmber,
            "a" | "amber" => Rag::Amber,
            "ra" | "r/a" | "red amber" | "red/amber" => Rag::RedAmber,
            "r" | "red" => Rag::Red,
            _ => {
                return Err(DomainError::Invalid {
                    field: "rag",
                    value: value.chars().take(64).collect(),
                    reason: "expected G, GA, A, RA, R or the words",
                })
            }
        })
    }
}
