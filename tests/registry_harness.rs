//! A real registry for the tests (Debian's `docker-registry`, CNCF distribution), with
//! optional htpasswd Basic auth, and a fault-injecting HTTP proxy to put in front of it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::util::have;

/// A free TCP port on 127.0.0.1 (bound and released; the race is harmless here).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `docker-registry serve`, killed on drop.
pub struct Registry {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its config, data and log dir.
    pub dir: tempfile::TempDir,
}

impl Registry {
    /// Starts an anonymous registry, or returns `None` (with a printed reason) when the
    /// `docker-registry` binary is missing.
    pub fn start(test: &str) -> Option<Registry> {
        Registry::start_with_auth(test, None)
    }

    /// Starts a registry that demands Basic auth for `user`/`pass` (htpasswd, bcrypt).
    pub fn start_with_auth(test: &str, auth: Option<(&str, &str)>) -> Option<Registry> {
        Registry::start_with(test, auth, false)
    }

    /// Starts a registry serving HTTPS with a certificate for 127.0.0.1 signed by a fresh
    /// test CA, whose PEM is [`Registry::ca`].
    pub fn start_tls(test: &str) -> Option<Registry> {
        if !have("openssl", test) {
            return None;
        }
        Registry::start_with(test, None, true)
    }

    /// The test CA's PEM file (TLS registries only).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn start_with(test: &str, auth: Option<(&str, &str)>, tls: bool) -> Option<Registry> {
        if !have("docker-registry", test) || (auth.is_some() && !have("htpasswd", test)) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: rbuild-test-secret\n",
            dir.path().join("data").display()
        );
        if let Some((user, pass)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, pass])
                .output()
                .expect("htpasswd");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).expect("write htpasswd");
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: rbuild-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            ));
        }
        if tls {
            make_certs(dir.path());
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start docker-registry");
        let reg = Registry { child, port, dir };
        // Plain HTTP to a TLS port gets Go's 400 "HTTP request to an HTTPS server".
        reg.wait_ready(match (tls, auth.is_some()) {
            (true, _) => 400,
            (false, true) => 401,
            (false, false) => 200,
        });
        Some(reg)
    }

    fn wait_ready(&self, want: u16) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if http_status(self.port, "GET", "/v2/") == Some(want) {
                return;
            }
            thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "registry on port {} not ready; log:\n{}",
            self.port,
            self.log()
        );
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// The registry's storage root.
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test CA (`ca.pem`) and a server certificate for IP 127.0.0.1 (`cert.pem`, `key.pem`).
fn make_certs(dir: &Path) {
    let ssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("run openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ext =
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    std::fs::write(dir.join("ext.cnf"), ext).expect("write ext.cnf");
    ssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=rbuild-test-ca",
    ]);
    ssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    ssl(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
}

/// The status of a bare HTTP/1.0 request, or `None` when nothing answers.
pub fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    text.split_whitespace().nth(1)?.parse().ok()
}

/// What the proxy does wrong, by request number (1-based; each request gets its own
/// connection because the proxy forces `Connection: close`).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Every Nth request: cut the connection after `drop_after` bytes in either direction.
    pub drop_every: u32,
    /// Bytes after which a doomed connection is cut.
    pub drop_after: usize,
    /// Every Nth request: answer 500 without asking the registry.
    pub error_every: u32,
    /// Every Nth request: answer 429 with `Retry-After: 1`.
    pub too_many_every: u32,
    /// Flip one byte in the body of every blob GET.
    pub corrupt_blobs: bool,
}

/// Counters of what the proxy did.
#[derive(Debug, Default)]
pub struct ProxyStats {
    /// Requests seen.
    pub requests: AtomicU32,
    /// Connections cut mid-transfer.
    pub dropped: AtomicU32,
    /// 500s sent.
    pub errors: AtomicU32,
    /// 429s sent.
    pub too_many: AtomicU32,
    /// Blob bodies corrupted.
    pub corrupted: AtomicU32,
    /// Request lines in order.
    pub log: Mutex<Vec<String>>,
}

/// A fault-injecting HTTP proxy on 127.0.0.1 in front of `upstream`; stops on drop.
pub struct FaultProxy {
    /// Its port.
    pub port: u16,
    /// What it did.
    pub stats: Arc<ProxyStats>,
    stop: Arc<AtomicBool>,
}

impl FaultProxy {
    /// Starts the proxy.
    pub fn start(upstream: u16, faults: Faults) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let stats = Arc::new(ProxyStats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (stats.clone(), stop.clone());
        thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let (st, faults) = (st.clone(), faults.clone());
                thread::spawn(move || handle(conn, upstream, &faults, &st));
            }
        });
        FaultProxy { port, stats, stop }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Request lines seen so far.
    pub fn requests(&self) -> Vec<String> {
        self.stats.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn read_head(conn: &mut TcpStream) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Some((buf, rest));
        }
        let n = conn.read(&mut chunk).ok()?;
        if n == 0 || (buf.is_empty() && chunk[0] == 0x16) || buf.len() > 64 * 1024 {
            return None; // closed, a TLS handshake (https probe), or garbage
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The head with `Connection: close` forced, so that one connection carries one request.
fn force_close(head: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n").filter(|l| !l.is_empty()) {
        if !line.to_ascii_lowercase().starts_with("connection:") {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("Connection: close\r\n\r\n");
    out.into_bytes()
}

fn handle(mut conn: TcpStream, upstream: u16, faults: &Faults, stats: &ProxyStats) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let Some((head, rest)) = read_head(&mut conn) else {
        return;
    };
    let n = stats.requests.fetch_add(1, Ordering::SeqCst) + 1;
    let line = String::from_utf8_lossy(&head)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    if let Ok(mut log) = stats.log.lock() {
        log.push(line.clone());
    }
    let every = |k: u32| k > 0 && n.is_multiple_of(k);
    if every(faults.error_every) {
        stats.errors.fetch_add(1, Ordering::SeqCst);
        let _ = conn.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return;
    }
    if every(faults.too_many_every) {
        stats.too_many.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}"#;
        let _ = write!(conn, "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        return;
    }
    let Ok(mut up) = TcpStream::connect(("127.0.0.1", upstream)) else {
        return;
    };
    let limit = if every(faults.drop_every) {
        faults.drop_after
    } else {
        usize::MAX
    };
    let corrupt =
        faults.corrupt_blobs && line.starts_with("GET ") && line.contains("/blobs/sha256:");
    if up
        .write_all(&force_close(&head))
        .and_then(|()| up.write_all(&rest))
        .is_err()
    {
        return;
    }
    let (mut up_r, mut conn_w) = match (up.try_clone(), conn.try_clone()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return,
    };
    let sent = rest.len();
    let uploader = thread::spawn(move || pump(&mut conn, &mut up, limit, sent, false));
    let cut = pump(&mut up_r, &mut conn_w, limit, 0, corrupt);
    if cut {
        stats.dropped.fetch_add(1, Ordering::SeqCst);
    }
    if corrupt {
        stats.corrupted.fetch_add(1, Ordering::SeqCst);
    }
    let _ = up_r.shutdown(Shutdown::Both);
    let _ = conn_w.shutdown(Shutdown::Both);
    if uploader.join().unwrap_or(false) {
        stats.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Copies until EOF; cuts both ends once `limit` bytes passed (returns true then).
/// With `corrupt`, flips the 1000th body byte (after the response head).
fn pump(
    from: &mut TcpStream,
    to: &mut TcpStream,
    limit: usize,
    already: usize,
    corrupt: bool,
) -> bool {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = already;
    let mut body_start: Option<usize> = None;
    let mut seen = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if corrupt {
            flip_body_byte(&mut buf[..n], total, &mut body_start, &mut seen);
        }
        let allowed = n.min(limit.saturating_sub(total));
        if to.write_all(&buf[..allowed]).is_err() {
            return false;
        }
        total += n;
        if allowed < n {
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            return true;
        }
    }
}

fn flip_body_byte(
    chunk: &mut [u8],
    offset: usize,
    body_start: &mut Option<usize>,
    seen: &mut Vec<u8>,
) {
    if body_start.is_none() {
        seen.extend_from_slice(chunk);
        *body_start = find(seen, b"\r\n\r\n").map(|i| i + 4);
    }
    if let Some(start) = *body_start {
        let target = start + 1000;
        if (offset..offset + chunk.len()).contains(&target) {
            chunk[target - offset] ^= 0xff;
        }
    }
}

/// Writes an executable shell script.
pub fn write_script(path: &Path, body: &str) {
    std::fs::write(path, body).expect("write script");
    let mut perm = std::fs::metadata(path).expect("stat script").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    std::fs::set_permissions(path, perm).expect("chmod script");
}
