//! The `wgbert` command line: parse, call the library, print.

fn main() {
    std::process::exit(wgbert_cli::run());
}

mod wgbert_cli {
    pub use wgbert::cli::run;
}
