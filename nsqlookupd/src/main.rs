//! The nsqlookupd binary (under construction).
fn main() {}
