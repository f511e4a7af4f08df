//! The `nsq_to_http` binary: see `nsq_tools::nsq_to_http`.

fn main() -> std::process::ExitCode {
    nsq_tools::nsq_to_http::main()
}
