//! perfledger-gateway
