//! The `wgbert` command line: parse, call the library, print.

fn main() {
    quiet_headless_wsi();
    std::process::exit(wgbert_cli::run());
}

/// wgpu enables every window-system extension a Vulkan driver offers, and on a headless Linux
/// machine without `XDG_RUNTIME_DIR` Mesa's Wayland support then prints "error: XDG_RUNTIME_DIR is
/// invalid or not set in the environment." on every start, though a compute tool never opens a
/// window. An absolute path (the temp folder) silences it; nothing of ours is written there.
/// Set here, before any thread exists, since the environment is process-wide.
fn quiet_headless_wsi() {
    if cfg!(all(unix, not(target_os = "macos"))) {
        let set = std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_absolute());
        if !set {
            std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
        }
    }
}

mod wgbert_cli {
    pub use wgbert::cli::run;
}
