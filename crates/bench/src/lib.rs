//! perfledger-bench: benchmark binaries live in `src/bin/`.
//! Run e.g. `cargo run --release -p perfledger-bench --bin log_bench -- --n 200000`.
