#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    veriframe::cli::main()
}
