//! The `nsq_to_nsq` binary: see `nsq_tools::nsq_to_nsq`.

fn main() -> std::process::ExitCode {
    nsq_tools::nsq_to_nsq::main()
}
