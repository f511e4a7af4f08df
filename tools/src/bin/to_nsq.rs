//! The `to_nsq` binary: see `nsq_tools::to_nsq`.

fn main() -> std::process::ExitCode {
    nsq_tools::to_nsq::main()
}
