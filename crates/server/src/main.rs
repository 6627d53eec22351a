//! `ferrokv-server [config-file] [--option value ...]`: see the crate docs.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match ferrokv_server::parse_args(&args) {
        Ok(opts) => ferrokv_server::run(opts),
        Err((msg, code)) => {
            if code == 0 {
                println!("{msg}");
            } else {
                eprintln!("{msg}");
            }
            code
        }
    };
    std::process::exit(code);
}
