//! vcall's entry point; the program is the library's `app::main`.

fn main() -> std::process::ExitCode {
    vcall::app::main()
}
