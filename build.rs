//! Puts the version and the git commit into `wgbert --version`.
use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WGBERT_VERSION={} (commit {commit})", env!("CARGO_PKG_VERSION"));
    // In a git worktree (or a tarball) .git is no folder: a path that does not exist would make
    // cargo run this script, and rebuild the crate, on every build.
    if std::path::Path::new(".git/HEAD").is_file() {
        println!("cargo:rerun-if-changed=.git/HEAD");
        println!("cargo:rerun-if-changed=.git/refs/heads");
    } else {
        println!("cargo:rerun-if-changed=build.rs");
    }
}
