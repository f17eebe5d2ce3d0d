# Everyday commands. `just --list` shows them.

# Start the server on the embedded store with the sandbox (data in ./data).
run *ARGS:
    cargo run -- serve {{ARGS}}

# Run every test: unit, store conformance (SQLite and MongoDB via nx-27017), end to end.
test *ARGS:
    cargo test --workspace {{ARGS}}

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings

# Format the code.
fmt:
    cargo fmt --all

# Run the MongoDB conformance suite against a real MongoDB (PLUGBOARD_TEST_MONGODB_URI).
test-mongodb URI:
    PLUGBOARD_TEST_MONGODB_URI={{URI}} cargo test -p plugboard-store --test mongodb

# The performance suite (release builds, about ten minutes on two cores): writes
# docs/performance.md and docs/performance.svg. Sizes are options, e.g. `just bench --accounts 20000`
# (`just bench --help` lists them).
bench *ARGS:
    cargo build --release -p plugboard -p plugboard-bench
    cargo run --release -q -p plugboard-bench -- run {{ARGS}}
