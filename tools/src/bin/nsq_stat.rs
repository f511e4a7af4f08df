//! The `nsq_stat` binary: see `nsq_tools::nsq_stat`.

fn main() -> std::process::ExitCode {
    nsq_tools::nsq_stat::main()
}
