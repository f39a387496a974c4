//! `host-test serve` as a child process (the real binary), for tests that
//! kill it, restart it or scrape it from outside.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The composed proxy, composed once per test binary.
pub fn proxy_component() -> &'static Path {
    static PATH: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PATH.get_or_init(|| host_test::serve::composed_proxy().expect("wac plug composes the proxy"))
}

/// A running `serve`, with its stderr collected. Killed (SIGKILL) on drop.
pub struct ServeProcess {
    pub child: Child,
    /// `http://127.0.0.1:port`
    pub url: String,
    pub stderr: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// `host-test --component <proxy> serve --listen 127.0.0.1:0 <args>`;
    /// returns once it printed the address it serves on.
    pub fn start(args: &[&std::ffi::OsStr]) -> Self {
        Self::start_with_env(args, &[])
    }

    /// [`Self::start`] with these environment variables set.
    pub fn start_with_env(args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_host-test"))
            .envs(envs.iter().copied())
            .arg("--component")
            .arg(proxy_component())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("host-test starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let lines = BufReader::new(child.stderr.take().expect("piped stderr"));
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                if line.starts_with("serving ")
                    && let Some(url) = line
                        .split_whitespace()
                        .find(|w| w.starts_with("http://127.0.0.1:"))
                {
                    let _ = tx.send(url.to_owned());
                }
                if let Ok(mut l) = log.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        let Ok(url) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let log = stderr.lock().map(|l| l.clone()).unwrap_or_default();
            panic!("serve did not start within 60 s:\n{log}");
        };
        Self { child, url, stderr }
    }

    /// SIGINT (Ctrl-C), then wait for the process to exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT failed");
        self.child.wait().expect("serve exits")
    }

    /// SIGKILL, then reap: no destructor, no flush, no clean shutdown.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn log(&self) -> String {
        self.stderr.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
