//! Shared support for perfledger's cross-crate test suites in `tests/`.
