//! One blocking connection to the server: connect (TCP, unix socket or TLS), the
//! handshake redis-cli does (AUTH, SELECT, HELLO 3), and request/reply framing.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use ferrokv_resp::{Frame, FrameDecoder};

use crate::args::Config;

/// A byte stream to the server, plain or encrypted.
pub trait Stream: Read + Write + Send {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()>;
    /// A second handle for writing while this one reads (--pipe); `None` where the
    /// stream cannot be split (TLS).
    fn writer(&self) -> Option<Box<dyn Write + Send>>;
}

impl Stream for TcpStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, t)
    }
    fn writer(&self) -> Option<Box<dyn Write + Send>> {
        self.try_clone()
            .ok()
            .map(|s| Box::new(s) as Box<dyn Write + Send>)
    }
}

impl Stream for UnixStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, t)
    }
    fn writer(&self) -> Option<Box<dyn Write + Send>> {
        self.try_clone()
            .ok()
            .map(|s| Box::new(s) as Box<dyn Write + Send>)
    }
}

/// Why a reply could not be read.
#[derive(Debug)]
pub enum ReadError {
    /// The server closed the connection.
    Closed,
    Io(io::Error),
    /// The bytes were not RESP (text as redis-cli prints it, without "Error: ").
    Protocol(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("Server closed the connection"),
            ReadError::Io(e) => f.write_str(&strerror(e)),
            ReadError::Protocol(m) => f.write_str(m),
        }
    }
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// The C library's text for an OS error, as redis-cli prints it.
pub fn strerror(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a NUL-terminated static or
            // thread-local string; it is copied out at once.
            let p = unsafe { libc::strerror(code) };
            if p.is_null() {
                return e.to_string();
            }
            // SAFETY: non-null and NUL-terminated, see above.
            unsafe { std::ffi::CStr::from_ptr(p) }
                .to_string_lossy()
                .into_owned()
        }
        None => {
            let s = e.to_string();
            match s.strip_prefix("failed to lookup address information: ") {
                Some(rest) => rest.to_string(),
                None => s,
            }
        }
    }
}

/// An open connection.
pub struct Connection {
    stream: Box<dyn Stream>,
    buf: BytesMut,
    decoder: FrameDecoder,
}

/// Where `config` points, as redis-cli names it in messages (`host:port` or the path).
pub fn address(config: &Config) -> String {
    match &config.socket {
        Some(path) => path.clone(),
        None => format!("{}:{}", config.host, config.port),
    }
}

impl Connection {
    /// Connects without any handshake. The error is redis-cli's message.
    pub fn connect_raw(config: &Config) -> Result<Connection, String> {
        let fail = |e: &io::Error| {
            format!(
                "Could not connect to Redis at {}: {}",
                address(config),
                strerror(e)
            )
        };
        let stream: Box<dyn Stream> = match &config.socket {
            Some(path) => Box::new(UnixStream::connect(path).map_err(|e| fail(&e))?),
            None => {
                let addrs = (config.host.as_str(), config.port)
                    .to_socket_addrs()
                    .map_err(|e| fail(&e))?;
                let mut last = io::Error::new(io::ErrorKind::NotFound, "Name or service not known");
                let mut found = None;
                for a in addrs {
                    match TcpStream::connect(a) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let tcp = found.ok_or_else(|| fail(&last))?;
                let _ = tcp.set_nodelay(true);
                if config.tls.enabled {
                    crate::tls::wrap(tcp, config)?
                } else {
                    Box::new(tcp)
                }
            }
        };
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
            decoder: FrameDecoder::default(),
        })
    }

    /// Connects and authenticates, selects the database and switches protocol as
    /// the options ask. Handshake failures are printed to stderr as redis-cli does and
    /// do not fail the connection.
    pub fn connect(config: &Config) -> Result<Connection, String> {
        let mut conn = Connection::connect_raw(config)?;
        conn.handshake(config).map_err(|e| format!("Error: {e}"))?;
        Ok(conn)
    }

    fn handshake(&mut self, config: &Config) -> Result<(), ReadError> {
        if let Some(pass) = &config.password {
            let mut cmd = vec![b"AUTH".to_vec()];
            if let Some(user) = &config.user {
                cmd.push(user.clone());
            }
            cmd.push(pass.clone());
            let reply = self.call(&cmd)?;
            if let Frame::Error(e) = &reply {
                eprintln!("AUTH failed: {}", String::from_utf8_lossy(e));
                // Like redis-cli: no SELECT or HELLO after a failed AUTH.
                return Ok(());
            }
        }
        if config.dbnum != 0 {
            let reply = self.call(&[b"SELECT".to_vec(), config.dbnum.to_string().into_bytes()])?;
            if let Frame::Error(e) = &reply {
                eprintln!(
                    "SELECT {} failed: {}",
                    config.dbnum,
                    String::from_utf8_lossy(e)
                );
            }
        }
        if config.resp == Some(3) {
            let reply = self.call(&[b"HELLO".to_vec(), b"3".to_vec()])?;
            if let Frame::Error(e) = &reply {
                eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(e));
            }
        }
        Ok(())
    }

    /// Sends one command.
    pub fn send(&mut self, args: &[Vec<u8>]) -> io::Result<()> {
        let mut out = BytesMut::new();
        Frame::array_of_bulks(args).encode(&mut out);
        self.stream.write_all(&out)?;
        self.stream.flush()
    }

    /// Reads the next reply, waiting as long as it takes.
    pub fn read_frame(&mut self) -> Result<Frame, ReadError> {
        loop {
            if let Some(f) = self.try_decode()? {
                return Ok(f);
            }
            self.fill()?;
        }
    }

    /// A reply already buffered, without reading.
    pub fn try_decode(&mut self) -> Result<Option<Frame>, ReadError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        // redis-cli's reply reader rejects attributes; say it the same way.
        if self.buf[0] == b'|' {
            return Err(ReadError::Protocol(
                "Protocol error, got \"|\" as reply type byte".into(),
            ));
        }
        self.decoder
            .decode(&mut self.buf)
            .map_err(|e| ReadError::Protocol(e.to_string()))
    }

    /// Reads more bytes into the buffer.
    pub fn fill(&mut self) -> Result<usize, ReadError> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Puts bytes read too far back in front of the buffer.
    pub fn unread(&mut self, data: &[u8]) {
        let mut joined = BytesMut::with_capacity(data.len() + self.buf.len());
        joined.extend_from_slice(data);
        joined.extend_from_slice(&self.buf);
        self.buf = joined;
    }

    /// Reads raw bytes, after the buffered ones are used up.
    pub fn read_raw(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if !self.buf.is_empty() {
            let n = out.len().min(self.buf.len());
            out[..n].copy_from_slice(&self.buf.split_to(n));
            return Ok(n);
        }
        self.stream.read(out)
    }

    /// Sends a command and reads its reply, skipping RESP3 pushes that arrive before it.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Result<Frame, ReadError> {
        self.send(args)?;
        loop {
            match self.read_frame()? {
                Frame::Push(_) => continue,
                f => return Ok(f),
            }
        }
    }

    /// See [`Stream::writer`].
    pub fn writer(&self) -> Option<Box<dyn Write + Send>> {
        self.stream.writer()
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(t)
    }
}
