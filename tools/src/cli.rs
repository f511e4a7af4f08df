//! Parsing a tool's command line as Go's `flag.Parse` with `ExitOnError` does: `-h`
//! prints the usage on stderr and exits 0, a bad flag prints the error and the usage and
//! exits 2.

use options::{Opt, Outcome};

/// The parsed options, or the process ends as Go's would.
pub fn parse<C: Clone>(program: &str, table: &[Opt<C>], defaults: C) -> (C, bool) {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    match options::parse(table, defaults.clone(), &args) {
        Ok(Outcome::Run { config, .. }) => (config, false),
        Ok(Outcome::Version) => (defaults, true),
        Ok(Outcome::Help) => {
            eprint!("{}", options::usage(&argv0(program), table, &defaults));
            std::process::exit(0)
        }
        Err(e) => usage_error(program, table, &defaults, &e.to_string()),
    }
}

/// Prints `message` and the usage, exits 2 (Go's flag error).
pub fn usage_error<C>(program: &str, table: &[Opt<C>], defaults: &C, message: &str) -> ! {
    eprintln!("{message}");
    eprint!("{}", options::usage(&argv0(program), table, defaults));
    std::process::exit(2)
}

/// Go's usage names the program as invoked (`os.Args[0]`).
fn argv0(program: &str) -> String {
    std::env::args()
        .next()
        .unwrap_or_else(|| program.to_string())
}
