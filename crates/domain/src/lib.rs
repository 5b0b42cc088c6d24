//! perfledger-domain
