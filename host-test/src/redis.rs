//! A small, blocking Redis client (RESP2 over TCP) for the key-value store's
//! Redis backend: enough for GET / SET / DEL / EXISTS / INCRBY / SCAN / EVAL,
//! with a pool of connections shared by every component instance.
//!
//! Blocking on purpose: the `wasi:keyvalue` host functions are synchronous,
//! and a loopback Redis round trip is tens of microseconds, like a redb
//! commit. A connection that fails mid-command is dropped, never reused, so
//! a half-read reply can never be taken for the answer to the next command.
//! Commands are not retried: a lost reply to `INCRBY` must not count twice.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context as _, bail};

/// The largest bulk string or array accepted from the server.
const MAX_BULK: usize = 64 << 20;
const MAX_ARRAY: usize = 1 << 20;
const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept for reuse.
const MAX_IDLE: usize = 32;

/// One decoded reply. Server errors (`-ERR ...`) come back as `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Nil,
    Int(i64),
    Bytes(Vec<u8>),
    Array(Vec<Reply>),
}

impl Reply {
    pub fn into_bytes(self) -> Option<Vec<u8>> {
        match self {
            Self::Bytes(b) => Some(b),
            Self::Int(i) => Some(i.to_string().into_bytes()),
            Self::Nil | Self::Array(_) => None,
        }
    }
}

/// Where and how to connect, parsed from `redis://[[user]:password@]host[:port][/db]`.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    addr: String,
    user: Option<String>,
    password: Option<String>,
    db: u32,
}

impl std::fmt::Debug for Target {
    /// The password is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("addr", &self.addr)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("db", &self.db)
            .finish()
    }
}

fn parse_url(url: &str) -> anyhow::Result<Target> {
    if url.starts_with("rediss://") {
        bail!("rediss:// (TLS) is not supported; use a local TLS tunnel and redis://");
    }
    let Some(rest) = url.strip_prefix("redis://") else {
        bail!("a Redis URL starts with redis://");
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        None => (None, None),
        Some(u) => match u.split_once(':') {
            Some((user, pass)) => (
                (!user.is_empty()).then(|| user.to_owned()),
                Some(pass.to_owned()),
            ),
            None => (None, Some(u.to_owned())),
        },
    };
    if hostport.is_empty() {
        bail!("the Redis URL has no host");
    }
    // `host`, `[v6]` get the default port; `host:port`, `[v6]:port` keep theirs.
    let addr = if hostport.ends_with(']') || !hostport.contains(':') {
        format!("{hostport}:6379")
    } else {
        hostport.to_owned()
    };
    let db = match path.trim_matches('/') {
        "" => 0,
        d => d
            .parse()
            .with_context(|| format!("the Redis database {d:?} is not a number"))?,
    };
    Ok(Target {
        addr,
        user,
        password,
        db,
    })
}

struct Conn {
    reader: BufReader<TcpStream>,
}

impl Conn {
    fn open(t: &Target) -> std::io::Result<Self> {
        let tcp = TcpStream::connect(&t.addr)?;
        tcp.set_nodelay(true)?;
        tcp.set_read_timeout(Some(IO_TIMEOUT))?;
        tcp.set_write_timeout(Some(IO_TIMEOUT))?;
        let mut conn = Self {
            reader: BufReader::new(tcp),
        };
        if let Some(pass) = &t.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &t.user {
                args.push(user.as_bytes());
            }
            args.push(pass.as_bytes());
            // The server's error text never contains the password.
            conn.call(&args)?
                .map_err(|e| bad(format!("AUTH failed: {e}")))?;
        }
        if t.db != 0 {
            conn.call(&[b"SELECT", t.db.to_string().as_bytes()])?
                .map_err(|e| bad(format!("SELECT {} failed: {e}", t.db)))?;
        }
        Ok(conn)
    }

    fn call(&mut self, args: &[&[u8]]) -> std::io::Result<Result<Reply, String>> {
        let mut out = Vec::with_capacity(16 + args.iter().map(|a| a.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.reader.get_mut().write_all(&out)?;
        read_reply(&mut self.reader)
    }
}

fn bad(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

fn read_line(r: &mut impl BufRead) -> std::io::Result<Vec<u8>> {
    let mut line = Vec::new();
    r.by_ref().take(64 * 1024).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\r\n") {
        return Err(bad("Redis reply line is cut or too long"));
    }
    line.truncate(line.len() - 2);
    Ok(line)
}

fn parse_len(s: &[u8]) -> std::io::Result<i64> {
    std::str::from_utf8(s)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("Redis sent a bad length"))
}

/// Read one reply; `Ok(Err(text))` is a server error reply.
fn read_reply(r: &mut impl BufRead) -> std::io::Result<Result<Reply, String>> {
    let line = read_line(r)?;
    let Some((&kind, rest)) = line.split_first() else {
        return Err(bad("Redis sent an empty line"));
    };
    Ok(Ok(match kind {
        b'+' => Reply::Bytes(rest.to_vec()),
        b'-' => return Ok(Err(String::from_utf8_lossy(rest).into_owned())),
        b':' => Reply::Int(parse_len(rest)?),
        b'$' => {
            let n = parse_len(rest)?;
            if n < 0 {
                Reply::Nil
            } else {
                let n = usize::try_from(n).map_err(|_| bad("bulk length"))?;
                if n > MAX_BULK {
                    return Err(bad("Redis bulk string over the size limit"));
                }
                let mut buf = vec![0; n + 2];
                r.read_exact(&mut buf)?;
                if !buf.ends_with(b"\r\n") {
                    return Err(bad("Redis bulk string not terminated"));
                }
                buf.truncate(n);
                Reply::Bytes(buf)
            }
        }
        b'*' => {
            let n = parse_len(rest)?;
            if n < 0 {
                Reply::Nil
            } else {
                let n = usize::try_from(n).map_err(|_| bad("array length"))?;
                if n > MAX_ARRAY {
                    return Err(bad("Redis array over the size limit"));
                }
                let mut items = Vec::with_capacity(n.min(1024));
                for _ in 0..n {
                    match read_reply(r)? {
                        Ok(item) => items.push(item),
                        Err(e) => return Ok(Err(e)),
                    }
                }
                Reply::Array(items)
            }
        }
        other => {
            return Err(bad(format!(
                "unknown Redis reply type {:?}",
                char::from(other)
            )));
        }
    }))
}

/// A pooled Redis client. Share it with an `Arc`.
pub struct RedisClient {
    target: Target,
    idle: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for RedisClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClient")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

impl RedisClient {
    /// Parse `url` and check the server answers `PING`.
    pub fn connect(url: &str) -> anyhow::Result<Self> {
        let target = parse_url(url)?;
        let client = Self {
            target,
            idle: Mutex::new(Vec::new()),
        };
        match client.cmd(&[b"PING"]) {
            Ok(_) => Ok(client),
            Err(e) => bail!("Redis at {} does not answer: {e}", client.target.addr),
        }
    }

    /// Run one command. I/O failures and server errors are both `Err(text)`.
    pub fn cmd(&self, args: &[&[u8]]) -> Result<Reply, String> {
        let pooled = self.idle.lock().ok().and_then(|mut v| v.pop());
        let mut conn = match pooled {
            Some(c) => c,
            None => Conn::open(&self.target).map_err(|e| format!("redis: {e}"))?,
        };
        match conn.call(args) {
            Ok(reply) => {
                if let Ok(mut v) = self.idle.lock()
                    && v.len() < MAX_IDLE
                {
                    v.push(conn);
                }
                reply.map_err(|e| format!("redis: {e}"))
            }
            // The connection is in an unknown state: drop it.
            Err(e) => Err(format!("redis: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let t = parse_url("redis://127.0.0.1:6380").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.db, t.password),
            ("127.0.0.1:6380", 0, None)
        );
        let t = parse_url("redis://:s3cret@localhost/2").unwrap();
        assert_eq!(t.addr, "localhost:6379");
        assert_eq!(t.db, 2);
        assert_eq!(t.password.as_deref(), Some("s3cret"));
        assert!(!format!("{t:?}").contains("s3cret"));
        let t = parse_url("redis://app:pw@[::1]:7000").unwrap();
        assert_eq!(
            (t.addr.as_str(), t.user.as_deref()),
            ("[::1]:7000", Some("app"))
        );
        assert!(parse_url("rediss://h").is_err());
        assert!(parse_url("http://h").is_err());
        assert!(parse_url("redis://h/x").is_err());
    }

    #[test]
    fn replies_decode() {
        let mut r = &b"+OK\r\n:42\r\n$3\r\nabc\r\n$-1\r\n*2\r\n$1\r\nx\r\n:1\r\n-ERR nope\r\n"[..];
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Ok(Reply::Bytes(b"OK".to_vec()))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Ok(Reply::Int(42)));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Ok(Reply::Bytes(b"abc".to_vec()))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Ok(Reply::Nil));
        assert_eq!(
            read_reply(&mut r).unwrap(),
            Ok(Reply::Array(vec![
                Reply::Bytes(b"x".to_vec()),
                Reply::Int(1)
            ]))
        );
        assert_eq!(read_reply(&mut r).unwrap(), Err("ERR nope".to_owned()));
        assert!(read_reply(&mut &b"$5\r\nab\r\n"[..]).is_err());
        assert!(read_reply(&mut &b"$99999999999\r\n"[..]).is_err());
        assert!(read_reply(&mut &b"?\r\n"[..]).is_err());
    }
}
