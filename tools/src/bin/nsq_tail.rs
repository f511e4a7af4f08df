//! The `nsq_tail` binary: see `nsq_tools::nsq_tail`.

fn main() -> std::process::ExitCode {
    nsq_tools::nsq_tail::main()
}
