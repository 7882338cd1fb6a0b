//! A real `redis-server` per test: free loopback port, no persistence, its own temp dir, killed on drop.
//!
//! Needs the `redis-server` binary (Debian package `redis-server`); `.ci/run` installs it. Without it the test
//! fails with a message saying so, it is never skipped.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free loopback port")
        .port()
}

impl RedisServer {
    /// Start a server on a free loopback port and wait until it answers `PING`.
    pub fn start() -> RedisServer {
        // A port found free can be taken before redis-server binds it: try a few.
        for _ in 0..5 {
            let mut server = RedisServer {
                child: None,
                port: free_port(),
                dir: tempfile::Builder::new()
                    .prefix("e2e-redis")
                    .tempdir()
                    .expect("redis temp dir"),
            };
            if server.spawn() {
                return server;
            }
        }
        panic!("redis-server did not start on a free loopback port in 5 attempts");
    }

    /// `redis://127.0.0.1:<port>/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// A plain connection, to look at keys from the test.
    pub fn connection(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .expect("redis url")
            .get_connection_with_timeout(Duration::from_secs(5))
            .expect("connect to the test redis-server")
    }

    /// Kill the server (SIGKILL, as a crash or a network loss would look) and wait for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Start the server again on the same port (empty: nothing is persisted).
    pub fn restart(&mut self) {
        self.stop();
        // The old socket can linger for a moment; retry until the port is ours again.
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start again on port {} within 30 s",
                self.port
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Spawn on `self.port`; true once it answers `PING`, false when it exited (port taken).
    fn spawn(&mut self) -> bool {
        let spawned = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "redis-server is not installed ({e}): install it to run the Redis tests \
                 (Debian/Ubuntu: `apt-get install -y redis-server`; .ci/run installs it)"
            ),
            Err(e) => panic!("starting redis-server: {e}"),
        };
        let client = redis::Client::open(self.url()).expect("redis url");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                return false;
            }
            let pong = client
                .get_connection_with_timeout(Duration::from_millis(500))
                .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
            if pong.is_ok() {
                self.child = Some(child);
                return true;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "redis-server on port {} did not answer PING within 20 s",
                    self.port
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
