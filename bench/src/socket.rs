//! Non-blocking socket steps shared by the load generators (`ferrex-load`'s binary sessions and
//! `floor`'s echo client): write what the socket takes now, read everything it has now.
//!
//! Neither ever waits: `WouldBlock` ends the step. A peer that closed the connection is an
//! error (`UnexpectedEof` for a read, `WriteZero` for a write), as is any other socket error.

use std::io::{ErrorKind, Read, Write};

/// Writes as much of `bytes` as the socket takes without waiting; returns how much it took.
///
/// # Errors
/// The socket's error, or `WriteZero` when the peer no longer takes bytes.
pub fn write_available(stream: &mut impl Write, bytes: &[u8]) -> std::io::Result<usize> {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => return Err(std::io::Error::new(ErrorKind::WriteZero, "the peer closed the connection")),
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(written)
}

/// Appends to `input` everything the socket has now, read through `chunk`.
///
/// # Errors
/// The socket's error, or `UnexpectedEof` when the peer closed the connection.
pub fn read_available(stream: &mut impl Read, chunk: &mut [u8], input: &mut Vec<u8>) -> std::io::Result<()> {
    loop {
        match stream.read(chunk) {
            Ok(0) => {
                return Err(std::io::Error::new(ErrorKind::UnexpectedEof, "the peer closed the connection"));
            }
            Ok(n) => input.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket stand-in: gives `data` in `step`-byte reads, then `WouldBlock` (or end of
    /// stream when `closed`); takes at most `room` bytes of writes.
    struct Fake {
        data: Vec<u8>,
        step: usize,
        closed: bool,
        room: usize,
        taken: Vec<u8>,
    }

    impl Read for Fake {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.data.is_empty() {
                return if self.closed { Ok(0) } else { Err(ErrorKind::WouldBlock.into()) };
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data.drain(..n);
            Ok(n)
        }
    }

    impl Write for Fake {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room).min(3);
            self.taken.extend_from_slice(&buf[..n]);
            self.room -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_read_takes_everything_there_is_and_a_write_what_fits() {
        let mut fake = Fake { data: (0..20).collect(), step: 7, closed: false, room: 10, taken: Vec::new() };
        let (mut chunk, mut input) = ([0u8; 4], Vec::new());
        read_available(&mut fake, &mut chunk, &mut input).expect("no error");
        assert_eq!(input, (0..20).collect::<Vec<u8>>(), "every byte, in order, across short reads");
        assert_eq!(write_available(&mut fake, &[9; 25]).expect("no error"), 10, "what the socket took");
        assert_eq!(fake.taken, [9; 10]);
    }

    #[test]
    fn a_closed_peer_is_an_error() {
        let mut fake = Fake { data: vec![1, 2], step: 8, closed: true, room: 0, taken: Vec::new() };
        let (mut chunk, mut input) = ([0u8; 8], Vec::new());
        let error = read_available(&mut fake, &mut chunk, &mut input).expect_err("closed");
        assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
        assert_eq!(input, [1, 2], "what came before the end is kept");
    }
}
