//! ferrokv-cli: being built (see the CLI issue).
fn main() {
    eprintln!("ferrokv-cli is not built yet; use redis-cli for now");
    std::process::exit(1);
}
