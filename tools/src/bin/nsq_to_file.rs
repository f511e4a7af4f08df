//! The `nsq_to_file` binary: see `nsq_tools::nsq_to_file`.

fn main() -> std::process::ExitCode {
    nsq_tools::nsq_to_file::main()
}
