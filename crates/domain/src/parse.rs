//! parse (in progress).
