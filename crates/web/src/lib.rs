//! perfledger-web
