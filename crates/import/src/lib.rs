//! perfledger-import
