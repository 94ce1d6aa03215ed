//! The `devpeer` binary: see `devpeer --help`.
fn main() {
    std::process::exit(devpeer::cli::main());
}
