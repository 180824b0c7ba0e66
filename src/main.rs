use std::process::ExitCode;

fn main() -> ExitCode {
    pharos::cli::main()
}
