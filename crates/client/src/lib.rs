//! perfledger-client
