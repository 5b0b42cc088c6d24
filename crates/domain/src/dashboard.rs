//! dashboard (in progress).
