//! perfledger-readmodel
