//! perfledger-ledger
