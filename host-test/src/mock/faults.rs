//! Faults below HTTP: a port nothing listens on ([`refused_addr`]), a port
//! where connecting never completes ([`BlackHole`]), and the per-connection
//! switch that resets a connection with a TCP RST ([`Kill`], [`KillableTcp`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// An address on 127.0.0.1 that was just bound and closed again: connecting
/// to it is refused.
pub fn refused_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let addr = l.local_addr()?;
    drop(l);
    Ok(addr)
}

/// A listener that never accepts, its one-slot queue already taken:
/// connecting to it hangs (the kernel drops the SYN), so a client's connect
/// timeout fires. Stops when dropped.
#[derive(Debug)]
pub struct BlackHole {
    addr: SocketAddr,
    _listener: TcpListener,
    _filler: std::net::TcpStream,
}

impl BlackHole {
    /// Bind on 127.0.0.1 with a backlog of 0 and fill the queue (needs a
    /// tokio runtime).
    pub fn new() -> anyhow::Result<Self> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let listener = socket.listen(0)?;
        let addr = listener.local_addr()?;
        let filler = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
        Ok(Self {
            addr,
            _listener: listener,
            _filler: filler,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A per-connection switch: once thrown, the connection's socket gets
/// `SO_LINGER 0` and every further read or write fails, so hyper drops it
/// and the kernel answers with a RST instead of a FIN.
#[derive(Debug, Clone, Default)]
pub(super) struct Kill(Arc<AtomicBool>);

impl Kill {
    pub(super) fn throw(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn thrown(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The accepted socket, with its [`Kill`] switch.
#[derive(Debug)]
pub(super) struct KillableTcp {
    pub(super) tcp: TcpStream,
    pub(super) kill: Kill,
}

impl KillableTcp {
    fn check(&self) -> std::io::Result<()> {
        if self.kill.thrown() {
            // A zero linger never blocks: close discards the send buffer and
            // sends RST at once (the deprecation is about non-zero values).
            #[expect(deprecated, reason = "SO_LINGER 0 is the point: reset, no blocking")]
            let _ = self.tcp.set_linger(Some(Duration::ZERO));
            return Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        }
        Ok(())
    }
}

impl AsyncRead for KillableTcp {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableTcp {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        self.check()?;
        std::pin::Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
