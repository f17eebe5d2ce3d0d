//! The whole harness at toy sizes, with this package's binary standing in for `plugboard`
//! (the release server is not built by `cargo test`): every process starts, every section
//! is measured and the report renders. No number is asserted.

use std::process::Command;

#[test]
fn the_suite_runs_at_toy_sizes_and_writes_every_section_of_the_report() {
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_plugboard-bench"))
        .args(["run", "--toy", "--plugboard-self", "--out"])
        .arg(out.path())
        .status()
        .unwrap();
    assert!(
        status.success(),
        "plugboard-bench run --toy failed: {status}"
    );
    let md = std::fs::read_to_string(out.path().join("performance.md")).unwrap();
    for section in [
        "## Machine",
        "## Targets",
        "## 1. `GET /v1/connect/twitter`",
        "| bare actix-web handler |",
        "| Plugboard, SQLite |",
        "| Plugboard, MongoDB (nx-27017) |",
        "## 2. Callback overhead",
        "## 3. Refresh sweep",
        "## 4. Memory and start",
        "## Reproducing",
        "not a real MongoDB",
        "](performance.svg)",
    ] {
        assert!(md.contains(section), "no {section:?} in\n{md}");
    }
    let svg = std::fs::read_to_string(out.path().join("performance.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{svg}"
    );
    assert!(svg.contains("Refresh sweep"), "{svg}");
}
