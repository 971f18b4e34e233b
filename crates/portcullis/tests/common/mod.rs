//! Test harness: starts the real `portcullis` binary against the machine's
//! PostgreSQL and drives it with real clients.
#![allow(dead_code)]

pub mod raw;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const PG_HOST: &str = "127.0.0.1";
pub const PG_PORT: u16 = 5432;

/// Upstream passwords created by scripts/test-setup.sh.
pub const SCRAM_PASSWORD: &str = "scram-secret-Upstream-7731";
pub const CLEAR_PASSWORD: &str = "clear-secret-Upstream-7732";
pub const TLSONLY_PASSWORD: &str = "tls-secret-Upstream-7733";
pub const MD5_PASSWORD: &str = "md5-secret-Upstream-7734";

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portcullis")
}

/// A unique lowercase name for tables and the like.
pub fn unique(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom(&mut b);
    format!(
        "{prefix}_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    )
}

fn getrandom(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("urandom");
}

/// The default configuration body: the `demo` connection to the local
/// PostgreSQL, identity `demo` granted on it, identity `nogrant` without.
pub fn default_config() -> String {
    r#"
[[connection]]
name = "demo"
kind = "postgres"
address = "127.0.0.1:5432"
database = "test"
user = "postgres"
tls = "disable"
policy = "allow-all"

[[identity]]
name = "demo"
groups = ["developers"]

[[identity]]
name = "nogrant"

[[grant]]
identity = "demo"
connections = ["demo"]
"#
    .to_string()
}

pub struct Gateway {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub addr: String,
    child: Option<Child>,
    logs: Arc<Mutex<Vec<String>>>,
    env: Vec<(String, String)>,
}

/// `addr=HOST:PORT` from a log line.
fn logged_addr(line: &str) -> Option<String> {
    line.split("addr=")
        .nth(1)
        .map(|a| a.split_whitespace().next().unwrap_or("").to_string())
}

pub struct Options {
    pub body: String,
    pub listen_extra: String,
    pub log: &'static str,
    pub env: Vec<(String, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            body: default_config(),
            listen_extra: String::new(),
            log: "debug",
            env: Vec::new(),
        }
    }
}

impl Gateway {
    pub fn start() -> Gateway {
        Self::start_with(Options::default())
    }

    pub fn start_with(opts: Options) -> Gateway {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = dir.path().join("portcullis.toml");
        let text = format!(
            "[store]\npath = \"{}\"\n\n[listen]\npostgres = \"127.0.0.1:0\"\n{}\n{}",
            dir.path().join("state.db").display(),
            opts.listen_extra,
            opts.body
        );
        std::fs::write(&config, text).expect("write config");
        let mut g = Gateway {
            dir,
            config,
            addr: String::new(),
            child: None,
            logs: Arc::new(Mutex::new(Vec::new())),
            env: opts.env,
        };
        g.spawn(opts.log);
        g
    }

    fn spawn(&mut self, log: &str) {
        let mut cmd = Command::new(bin());
        cmd.arg("--config")
            .arg(&self.config)
            .arg("serve")
            .env("PORTCULLIS_LOG", log)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn gateway");
        let stderr = child.stderr.take().expect("stderr");
        let logs = self.logs.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("postgres listener ready")
                    && let Some(addr) = line.split("addr=").nth(1)
                {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
                }
                logs.lock().unwrap().push(line);
            }
        });
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(addr) => self.addr = addr,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "gateway did not start:\n{}",
                    self.logs.lock().unwrap().join("\n")
                );
            }
        }
        self.child = Some(child);
    }

    /// Base URL of the API listener (`listen.api`), once it is up.
    pub fn api_url(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .rev()
                .find(|l| l.contains("API listener ready"))
                .and_then(|l| logged_addr(l));
            if let Some(addr) = found {
                return format!("http://{addr}");
            }
            assert!(
                Instant::now() < deadline,
                "API listener not up:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The API listener's address (`[listen] api`), once it is up.
    pub fn api_addr(&self) -> String {
        self.api_url().trim_start_matches("http://").to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.rsplit(':').next().unwrap().parse().unwrap()
    }

    /// Runs the CLI against this gateway's configuration.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new(bin());
        cmd.arg("--config")
            .arg(&self.config)
            .args(args)
            .env("PORTCULLIS_LOG", "warn");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.output().expect("run cli")
    }

    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "portcullis {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    pub fn token(&self, identity: &str) -> String {
        self.cli_ok(&["token", "create", "--identity", identity])
            .trim()
            .to_string()
    }

    /// A libpq connection string through the gateway.
    pub fn dsn(&self, database: &str, user: &str, password: &str) -> String {
        format!(
            "host=127.0.0.1 port={} dbname={database} user={user} password={password} sslmode=disable",
            self.port()
        )
    }

    pub fn logs(&self) -> String {
        self.logs.lock().unwrap().join("\n")
    }

    /// Stops with SIGTERM (graceful: sessions end, the recorder drains) and waits.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, "TERM");
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            panic!("gateway did not stop within 30s");
        }
    }

    /// Restarts after [`Gateway::stop`], on a new port.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn("debug");
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("state.db")
    }

    /// Polls until `check` holds or 10 s pass.
    pub fn eventually(&self, what: &str, mut check: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("timed out waiting for {what}\nlogs:\n{}", self.logs());
    }

    /// Sessions as JSON from `portcullis sessions list --format json`.
    pub fn sessions(&self) -> Vec<serde_json::Value> {
        let out = self.cli_ok(&["sessions", "list", "--format", "json", "--limit", "100000"]);
        serde_json::from_str(&out).unwrap()
    }

    pub fn session(&self, id: &str) -> serde_json::Value {
        serde_json::from_str(&self.cli_ok(&["sessions", "show", id, "--format", "json"])).unwrap()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn signal(child: &Child, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status();
}

/// Runs psql with a connection string and extra arguments.
pub fn psql(dsn: &str, args: &[&str]) -> Output {
    Command::new("psql")
        .arg(dsn)
        .args(["-X", "-v", "ON_ERROR_STOP=1"])
        .args(args)
        .env_remove("PGPASSWORD")
        .output()
        .expect("run psql")
}

pub fn psql_ok(dsn: &str, args: &[&str]) -> String {
    let out = psql(dsn, args);
    assert!(
        out.status.success(),
        "psql {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Connection string straight to the local PostgreSQL.
pub fn direct_dsn() -> String {
    format!("host={PG_HOST} port={PG_PORT} dbname=test user=postgres sslmode=disable")
}

/// A tokio-postgres client straight to the target, for checking effects.
pub async fn direct() -> tokio_postgres::Client {
    connect(&direct_dsn()).await
}

pub async fn connect(dsn: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(dsn, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect {dsn}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// Sends a signal to a process by pid.
pub fn signal_pid(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// A `/proc/PID/status` field in KiB (`VmRSS:`, `VmHWM:`), to watch memory.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}
