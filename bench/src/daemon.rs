//! A fresh nsqd per run on the shared process harness (`testkit`): `127.0.0.1:0`
//! listeners (the bound addresses come from the startup log), a new temporary data
//! directory, `/ping` before any load, peak RSS and CPU time from `/proc/<pid>`, SIGTERM
//! after (SIGINT to a wrapper such as `perf record`, which writes its data on it).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use testkit::{Process, Spec, TempDir, HTTP_MARKER, TCP_MARKER};

const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(60);
/// Log lines kept for error reports.
const LOG_TAIL: usize = 60;

pub struct Nsqd {
    process: Process,
    pub tcp: SocketAddr,
    pub http: SocketAddr,
    /// Removed on drop, after the process is gone (field order).
    _data_dir: TempDir,
}

impl Nsqd {
    /// Starts `wrap... bin --tcp-address=127.0.0.1:0 --http-address=127.0.0.1:0
    /// --data-path=<fresh dir> flags...` and waits for both listeners and `/ping`.
    pub fn start(bin: &Path, flags: &[String], wrap: &[String]) -> Result<Nsqd> {
        let data_dir = TempDir::try_new("bench")?;
        let process = Spec::new(bin)
            .wrap(wrap)
            .args([
                "--tcp-address=127.0.0.1:0".to_string(),
                "--http-address=127.0.0.1:0".to_string(),
                format!("--data-path={}", data_dir.path().display()),
            ])
            .args(flags)
            .start()?;
        let (Some(tcp), Some(http)) = (process.addr(TCP_MARKER), process.addr(HTTP_MARKER)) else {
            bail!("{} started without both listeners", process.label());
        };
        Ok(Nsqd {
            process,
            tcp,
            http,
            _data_dir: data_dir,
        })
    }

    /// The last lines nsqd printed (stdout and stderr interleaved).
    pub fn log_tail(&self) -> String {
        self.process.output_tail(LOG_TAIL)
    }

    /// Peak resident set size in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> Result<u64> {
        Ok(testkit::proc_status_kib(self.process.pid(), "VmHWM:")?)
    }

    /// User + system CPU seconds the process has used so far.
    pub fn cpu_secs(&self) -> Result<f64> {
        Ok(testkit::cpu_secs(self.process.pid())?)
    }

    /// Fails if the process is no longer running (it crashed under load).
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.process.try_exit()? {
            bail!(
                "nsqd exited with {status} during the run; output:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// SIGTERM (SIGINT to a wrapper), wait (SIGKILL after a minute); the data directory is
    /// removed on drop.
    pub fn stop(mut self) -> Result<()> {
        let status = self.process.stop(SHUTDOWN_TIMEOUT)?;
        if !status.success() {
            eprintln!("note: nsqd exited with {status} after its stop signal");
        }
        Ok(())
    }
}
