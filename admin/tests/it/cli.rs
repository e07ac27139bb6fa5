//! Every binary answers --version and --help, and refuses unknown arguments with usage.

use std::process::Command;

#[test]
fn every_binary_answers_version_and_help() {
    for name in ["herald-web", "herald-worker", "herald-admin"] {
        let version = Command::new(testkit::bin(name)).arg("--version").output().expect("run");
        assert!(version.status.success(), "{name}");
        assert_eq!(String::from_utf8_lossy(&version.stdout).trim(), format!("{name} {}", env!("CARGO_PKG_VERSION")));
        let help = Command::new(testkit::bin(name)).arg("--help").output().expect("run");
        assert!(help.status.success(), "{name}");
        let text = String::from_utf8_lossy(&help.stdout);
        assert!(text.contains("--config") && text.contains("--set"), "{name}: {text}");
        let bad = Command::new(testkit::bin(name)).arg("--no-such-flag").output().expect("run");
        assert_eq!(bad.status.code(), Some(2), "{name}");
    }
}
