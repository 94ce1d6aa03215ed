//! `devpeer`: a development Fabric peer (work in progress).
fn main() {
    eprintln!("devpeer: not built yet");
    std::process::exit(2);
}
