//! perfledger-testkit
