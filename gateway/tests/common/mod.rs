//! The real `ferrex serve` for the gateway's tests: on 127.0.0.1 with free ports and a fresh
//! journal directory, logging at warn; stopped by SIGTERM (or killed when dropped).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use ferrex_tests::journal_fixture::TempDir;

const FERREX: &str = env!("CARGO_BIN_EXE_ferrex");

/// A running server.
pub struct Server {
    pub child: Child,
    /// `IP:PORT` of the WebSocket API.
    pub address: String,
    /// `IP:PORT` of the admin endpoint.
    pub admin: String,
    /// `IP:PORT` of the binary protocol.
    pub binary: String,
    /// The state hash it recovered (its start banner), hex.
    pub recovered_hash: String,
}

impl Server {
    /// Starts `ferrex serve` on the demo market in `dir`.
    pub fn start(dir: &TempDir) -> Server {
        Server::start_command(dir, "serve")
    }

    /// Starts `ferrex demo` (the demo market with its market sessions) in `dir`.
    pub fn start_demo(dir: &TempDir) -> Server {
        Server::start_command(dir, "demo")
    }

    /// Starts `ferrex serve --config FILE` in `dir`.
    pub fn start_with_config(dir: &TempDir, config: &std::path::Path) -> Server {
        Server::start_args(dir, &["serve", "--config", config.to_str().expect("a UTF-8 path")])
    }

    fn start_command(dir: &TempDir, command: &str) -> Server {
        Server::start_args(dir, &[command])
    }

    fn start_args(dir: &TempDir, command: &[&str]) -> Server {
        let mut child = Command::new(FERREX)
            .args(command)
            .args([
                "--log-level",
                "warn",
                "--listen",
                "127.0.0.1:0",
                "--admin-listen",
                "127.0.0.1:0",
                "--binary-listen",
                "127.0.0.1:0",
                "--data",
            ])
            .arg(&dir.0)
            .stdout(Stdio::piped())
            .spawn()
            .expect("ferrex serve starts");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let recovered_hash = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| Some(line.split_once("state hash ")?.1.trim().to_string()))
            .expect("the server says what it recovered");
        let address = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("ferrex: listening on ws://").map(str::to_string))
            .expect("the server says where it listens");
        let binary = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("ferrex: binary protocol on tcp://").map(str::to_string))
            .expect("the server says where the binary protocol listens");
        let admin = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                line.strip_prefix("ferrex: admin on http://")?.split('/').next().map(str::to_string)
            })
            .expect("the server says where its admin endpoint is");
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Server { child, address, admin, binary, recovered_hash }
    }

    /// An admin HTTP GET: (status line, body).
    pub fn admin_get(&self, path: &str) -> (String, String) {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(&self.admin).expect("admin connect");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: ferrex\r\n\r\n").expect("request");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response");
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        (head.lines().next().unwrap_or_default().to_string(), body.to_string())
    }

    /// The value of a counter without labels in the metrics.
    pub fn counter(&self, name: &str) -> u64 {
        let metrics = self.admin_get("/metrics").1;
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} in the metrics:\n{metrics}"))
    }

    /// Waits until a line of the metrics satisfies `wanted` (each look is a round trip to the
    /// server; the deadline of 30 s only bounds a failure). False when none did in time.
    pub fn await_metric(&self, wanted: impl Fn(&str) -> bool) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if self.admin_get("/metrics").1.lines().any(&wanted) {
                return true;
            }
            if std::time::Instant::now() > deadline {
                return false;
            }
        }
    }

    /// SIGKILL, and wait for it to be gone.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, then the exit status (a graceful stop exits 0).
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
        assert!(sent.success());
        self.child.wait().expect("exit").success()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The demo configuration with `edits` applied (`(find, replace)` pairs, each found once), written
/// into `configs`.
pub fn demo_config_with(configs: &TempDir, edits: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = ferrex_gateway::config::DEMO_CONFIG.to_string();
    for (find, replace) in edits {
        assert!(text.contains(find), "the demo configuration has {find:?}");
        text = text.replacen(find, replace, 1);
    }
    std::fs::create_dir_all(&configs.0).expect("a directory for the configuration");
    let path = configs.0.join("config.toml");
    std::fs::write(&path, text).expect("write the configuration");
    path
}
