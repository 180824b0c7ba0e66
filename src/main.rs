use std::process::ExitCode;

fn main() -> ExitCode {
    // In the image the kernel starts us as PID 1 (/sbin/init).
    if std::process::id() == 1 {
        pharos::init::main();
    }
    pharos::cli::main()
}
