//! The `to_nsq` binary: everything is in the library's `to_nsq` module.

fn main() {
    std::process::exit(tools::to_nsq::main());
}
