fn main() -> std::process::ExitCode {
    st2_rs::entry::main()
}
