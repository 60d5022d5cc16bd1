//! A TCP stream whose reads say when their bytes arrived.
//!
//! On Linux each read asks the kernel (`SO_TIMESTAMPNS`) when the last
//! segment it took reached the socket, and the connection's `ReadAt` is
//! set to that moment rather than to the clock when the client got round
//! to reading. The time between the two is the client's own: a lane busy
//! with other streams, or asleep until the kernel wakes it (tens of µs
//! when idle, milliseconds on a loaded host), and a figure measured against
//! a server should not carry it. Every byte a read returns arrived no later
//! than that segment, so a stamp is still never early.
//!
//! The kernel gives the wall clock (`CLOCK_REALTIME`); the stamp is the
//! monotonic now less the age of the segment on the wall clock, both read
//! at the read. Only a step of the wall clock between a segment's arrival
//! and its read would misplace it, and a connection's stamps never go back
//! (`ReadAt` keeps the latest). Elsewhere, or where the option is refused,
//! a read is stamped by the clock, as before.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::connect::ReadAt;

pub(super) struct Stamped {
    tcp: TcpStream,
    read_at: Arc<ReadAt>,
    /// The kernel stamps this socket's segments.
    kernel: bool,
}

impl Stamped {
    pub fn new(tcp: TcpStream, read_at: Arc<ReadAt>) -> Self {
        let kernel = imp::enable(&tcp);
        Stamped { tcp, read_at, kernel }
    }
}

/// Starts the kernel's stamping of arriving segments before the first
/// connection (a no-op where reads are stamped by the clock).
pub(super) fn switch_on() {
    imp::switch_on();
}

impl AsyncRead for Stamped {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let s = self.get_mut();
        if s.kernel {
            return imp::poll_read(&s.tcp, &s.read_at, cx, buf);
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut s.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            s.read_at.mark(Instant::now());
        }
        read
    }
}

impl AsyncWrite for Stamped {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::io;
    use std::mem::MaybeUninit;
    use std::net::{Ipv4Addr, TcpListener, UdpSocket};
    use std::os::fd::{AsRawFd, RawFd};
    use std::sync::OnceLock;
    use std::task::{Context, Poll, ready};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use tokio::io::{Interest, ReadBuf};
    use tokio::net::TcpStream;

    use super::ReadAt;

    /// Asks the kernel to stamp the socket's segments; false if it refuses.
    pub fn enable(tcp: &TcpStream) -> bool {
        ask(tcp.as_raw_fd())
    }

    fn ask(fd: RawFd) -> bool {
        let on: libc::c_int = 1;
        let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: a valid socket, and a pointer to an int of the given length.
        let set = unsafe {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, (&raw const on).cast(), len)
        };
        set == 0
    }

    /// The kernel stamps arriving segments only while some socket on the
    /// machine wants stamps, and starts a moment after the first one asks
    /// (deferred work, a millisecond or more on a busy host): on an
    /// otherwise quiet machine a connection's first segments, sent at once,
    /// came unstamped, and were stamped by the read. A socket that asks,
    /// kept open for the life of the process, starts the stamping before
    /// the first connection is made; this waits (once, up to 50 ms) until a
    /// byte sent over loopback TCP comes back stamped. (Not a datagram: the
    /// kernel stamps an unstamped one when it is read.)
    pub fn switch_on() {
        static KEEP: OnceLock<Option<UdpSocket>> = OnceLock::new();
        KEEP.get_or_init(|| {
            let keep = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
            if !ask(keep.as_raw_fd()) {
                return None;
            }
            let _ = stamped_over_loopback();
            Some(keep)
        });
    }

    /// Sends a byte over a loopback connection until one arrives stamped.
    fn stamped_over_loopback() -> io::Result<()> {
        use std::io::Write;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let client = std::net::TcpStream::connect(listener.local_addr()?)?;
        let (mut server, _) = listener.accept()?;
        client.set_read_timeout(Some(Duration::from_millis(10)))?;
        if !ask(client.as_raw_fd()) {
            return Ok(());
        }
        let mut buf = [MaybeUninit::uninit(); 1];
        for _ in 0..50 {
            server.write_all(b"?")?;
            if recv(client.as_raw_fd(), &mut buf)?.1.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    }

    pub fn poll_read(
        tcp: &TcpStream,
        read_at: &ReadAt,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let fd = tcp.as_raw_fd();
        loop {
            ready!(tcp.poll_read_ready(cx))?;
            // SAFETY: `recv` only writes into it, and only the bytes it says
            // it wrote are marked as filled.
            let unfilled = unsafe { buf.unfilled_mut() };
            let want = unfilled.len();
            let mut got = None;
            let tried = tcp.try_io(Interest::READABLE, || {
                let (n, at) = recv(fd, unfilled)?;
                got = Some((n, at));
                // A short read emptied the socket: its readiness is cleared
                // now (as tokio's own read does), not by one more call that
                // would find nothing.
                if n > 0 && n < want { Err(io::ErrorKind::WouldBlock.into()) } else { Ok(()) }
            });
            match (got, tried) {
                (Some((n, at)), _) => {
                    // SAFETY: the kernel wrote `n` bytes at the start of `unfilled`.
                    unsafe { buf.assume_init(n) };
                    buf.advance(n);
                    if n > 0 {
                        read_at.mark(arrived(at));
                    }
                    return Poll::Ready(Ok(()));
                }
                (None, Err(e)) if e.kind() != io::ErrorKind::WouldBlock => return Poll::Ready(Err(e)),
                // Not ready after all: wait for the next readiness.
                (None, _) => {}
            }
        }
    }

    /// One `recvmsg`: the bytes read, and when the last segment they came
    /// in arrived (None if the kernel did not say).
    fn recv(fd: RawFd, into: &mut [MaybeUninit<u8>]) -> io::Result<(usize, Option<SystemTime>)> {
        let mut iov = libc::iovec { iov_base: into.as_mut_ptr().cast(), iov_len: into.len() };
        // Room for one timespec message, aligned for `cmsghdr`.
        let mut control = [0u64; 8];
        // SAFETY: all-zero is a valid msghdr (no name, no buffers yet).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control) as _;
        // SAFETY: `msg` points to a buffer and a control area that outlive the call.
        let n = unsafe { libc::recvmsg(fd, &raw mut msg, 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut at = None;
        // SAFETY: the control messages the kernel wrote, walked with its
        // macros, within `msg_controllen`.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&raw const msg);
            while !c.is_null() {
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_TIMESTAMPNS {
                    let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast());
                    let since = Duration::new(u64::try_from(ts.tv_sec).unwrap_or(0), ts.tv_nsec as u32);
                    at = Some(UNIX_EPOCH + since);
                }
                c = libc::CMSG_NXTHDR(&raw const msg, c);
            }
        }
        Ok((n as usize, at))
    }

    /// The monotonic moment of a wall-clock arrival: now, less its age.
    /// The wall clock is read first, so the age is never overstated by the
    /// time between the two reads: the stamp errs late, by nanoseconds. An
    /// age below zero or past `BELIEVED` says the wall clock was stepped in
    /// between: the read is stamped now, late rather than early.
    fn arrived(at: Option<SystemTime>) -> Instant {
        let age = at
            .and_then(|at| SystemTime::now().duration_since(at).ok())
            .filter(|age| *age <= BELIEVED)
            .unwrap_or_default();
        let now = Instant::now();
        now.checked_sub(age).unwrap_or(now)
    }

    /// The longest a segment is believed to have waited in the socket
    /// before a read took it: far beyond a stalled client's (milliseconds,
    /// BENCHMARKS.md), far below a clock step's usual size.
    const BELIEVED: Duration = Duration::from_secs(1);
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;
    use tokio::net::TcpStream;

    use super::ReadAt;

    pub fn enable(_: &TcpStream) -> bool {
        false
    }

    pub fn switch_on() {}

    pub fn poll_read(
        _: &TcpStream,
        _: &ReadAt,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        unreachable!("the kernel stamps nothing here: `enable` said so")
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A loopback connection: its client end stamping into a new `ReadAt`,
    /// and its server end.
    pub(in crate::client::transport) async fn pair() -> (Stamped, Arc<ReadAt>, TcpStream) {
        // As `Transport::new` does before a run's first connection.
        switch_on();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let read_at = Arc::new(ReadAt::default());
        (Stamped::new(client.unwrap(), read_at.clone()), read_at, server.unwrap().0)
    }

    /// Bytes read 40 ms after they were sent are stamped when they arrived,
    /// not when they were read; bytes sent later, later; a read that brings
    /// nothing (the peer's end) leaves the stamp as it was.
    #[tokio::test]
    async fn a_read_is_stamped_when_its_bytes_arrived_not_when_it_was_made() {
        let (mut stream, read_at, mut server) = pair().await;
        let mut buf = [0u8; 64];
        for round in 0..3 {
            let sent = Instant::now();
            server.write_all(b"data: 1\n\n").await.unwrap();
            let written = Instant::now();
            tokio::time::sleep(Duration::from_millis(40)).await;
            let read = Instant::now();
            assert_eq!(stream.read(&mut buf).await.unwrap(), 9);
            let at = read_at.get(Instant::now());
            if stream.kernel {
                assert!(sent <= at, "round {round}: stamped before it was sent: {:?}", sent - at);
                // Loopback delivers within the write; the margin is for a
                // loaded host, and is far below the 40 ms the read waited.
                assert!(at <= written + Duration::from_millis(5), "round {round}: {:?} late", at - written);
            } else {
                assert!(read <= at, "round {round}: without the kernel's stamp, the read's time");
            }
        }
        assert!(stream.kernel || !cfg!(target_os = "linux"), "Linux stamps TCP segments");
        let last = read_at.get(Instant::now());
        drop(server);
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0, "the peer's end");
        assert_eq!(read_at.get(Instant::now()), last, "a read that brought nothing");
    }

    /// A read into a buffer smaller than what waits takes part of it, and
    /// the rest is read next without waiting for the peer to send more.
    #[tokio::test]
    async fn a_partial_read_leaves_the_rest_readable() {
        let (mut stream, _, mut server) = pair().await;
        server.write_all(&[7u8; 100]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let mut small = [0u8; 30];
        let mut total = 0;
        while total < 100 {
            let n =
                tokio::time::timeout(Duration::from_secs(2), stream.read(&mut small)).await.unwrap().unwrap();
            assert!(n > 0 && small[..n].iter().all(|&b| b == 7));
            total += n;
        }
        assert_eq!(total, 100);
    }
}
