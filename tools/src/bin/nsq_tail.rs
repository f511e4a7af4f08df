//! The `nsq_tail` binary: everything is in the library's `tail` module.

fn main() {
    std::process::exit(tools::tail::main());
}
