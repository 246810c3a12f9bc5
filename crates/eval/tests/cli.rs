//! The lab's commands parse and explain themselves; the `veriframe` binary no longer has them.

use std::process::Command;

#[test]
fn every_lab_command_has_help() {
    for args in [
        &["--help"][..],
        &["liveness", "--help"],
        &["pad", "--help"],
        &["faces", "--help"],
        &["mrz", "--help"],
        &["bench", "poll", "--help"],
        &["bench", "vision", "--help"],
        &["bench", "mrz", "--help"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_veriframe-eval")).args(args).output().unwrap();
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        assert!(!output.stdout.is_empty(), "{args:?}");
    }
}
