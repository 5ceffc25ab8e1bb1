//! Reading a checkpoint from a reader, one frame at a time, so a restore
//! holds at most a frame of the checkpoint in memory, not all of it.
//!
//! The trailing checksum is only known at the end, so the body is decoded
//! before it is verified. What keeps a damaged checkpoint from ever being
//! returned as state (`docs/FORMAT.md`, "Reading in bounded memory"):
//!
//! - the prefix and header are checked (`header_crc`) and the stored length
//!   is compared with the one the header records before the body is read,
//!   so a torn checkpoint is truncated before anything decodes;
//! - a compressed value is checked against its own checksum before it is
//!   decompressed;
//! - the whole checksum is verified once the stored fields are read, before
//!   derived fields are built (the derive calls
//!   [`FieldReader::fields_read`](crate::FieldReader::fields_read)) and
//!   before `check` runs or the state is returned;
//! - when reading fails, the rest is read and the checksum verified first:
//!   damage is reported as damage, never as a schema or decoding error.
//!
//! A value the store already holds whole in memory is checked by
//! [`open_in_place`] instead: the same header checks, then the checksum at
//! once, and its frames are decoded where they lie.

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};

use crate::format::{self, FrameSource, Header, PREFIX_LEN};
use crate::store::ValueReader;
use crate::{Error, Result};

/// A checkpoint being read: its body's frames, then its checksum.
pub(crate) struct CheckpointStream {
    reader: ValueReader,
    /// CRC-32C of everything read so far.
    crc: u32,
    body_len: u64,
    /// Bytes of the body not read yet.
    body_left: u64,
    /// Bytes read so far.
    pos: u64,
    seq: u64,
    location: String,
    /// The trailing checksum has been read and matched.
    verified: bool,
    /// How many more frames the body may hold, once bounded.
    frames_left: Option<usize>,
}

impl fmt::Debug for CheckpointStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointStream")
            .field("seq", &self.seq)
            .field("body_left", &self.body_left)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl CheckpointStream {
    /// Reads and checks the prefix and header of the checkpoint in
    /// `reader`, stored under `key_seq`, and checks its length.
    ///
    /// # Errors
    ///
    /// As [`format::decode_header`], [`Error::Truncated`] when the value is
    /// shorter than its header says, [`Error::Malformed`] when longer, and
    /// [`Error::Store`] when reading fails.
    pub(crate) fn open(
        mut reader: ValueReader,
        key_seq: u64,
        location: &str,
    ) -> Result<(Header, Self)> {
        let len = reader.len();
        let io_err = |e| store_error(location, e);
        let mut head = Vec::new();
        (&mut reader)
            .take(PREFIX_LEN as u64)
            .read_to_end(&mut head)
            .map_err(io_err)?;
        if let Some(need) = format::header_section_len(&head) {
            (&mut reader)
                .take((need - head.len()) as u64)
                .read_to_end(&mut head)
                .map_err(io_err)?;
        }
        let header = format::decode_header(&head, key_seq, location)?;
        check_len(len, header.total_len(), key_seq, location)?;
        let stream = CheckpointStream {
            reader,
            crc: crc32c::crc32c(&head),
            body_len: header.body_len,
            body_left: header.body_len,
            pos: head.len() as u64,
            seq: key_seq,
            location: location.to_owned(),
            verified: false,
            frames_left: None,
        };
        Ok((header, stream))
    }

    /// Bounds the frames the body may hold: more is malformed.
    pub(crate) fn at_most(&mut self, most: Option<usize>) {
        self.frames_left = most;
    }

    /// Reads the rest of the body, frame by frame without keeping it, and
    /// the trailing checksum.
    ///
    /// # Errors
    ///
    /// [`Error::Corrupt`] when the checksum does not match; otherwise as
    /// [`FrameSource::frame_head`].
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.verified {
            return Ok(());
        }
        let parsed = self.skip_frames();
        self.check_crc()?;
        parsed
    }

    /// `error` unless the checkpoint turns out damaged, in which case the
    /// damage: what failed to read or decode may have failed because of it.
    pub(crate) fn damage_or(&mut self, error: Error) -> Error {
        if self.verified || error.is_damage() && !matches!(error, Error::Malformed { .. }) {
            return error;
        }
        match self.skip_raw().and_then(|()| self.check_crc()) {
            Err(damage @ (Error::Corrupt { .. } | Error::Truncated { .. })) => damage,
            _ => error,
        }
    }

    fn skip_raw(&mut self) -> Result<()> {
        self.skip_body(self.body_left)
    }

    fn check_crc(&mut self) -> Result<()> {
        let found = self.crc;
        let mut stored = [0u8; 4];
        self.read_exact(&mut stored)?;
        let expected = u32::from_le_bytes(stored);
        if expected != found {
            return Err(Error::Corrupt {
                seq: self.seq,
                location: self.location.clone(),
                expected,
                found,
            });
        }
        self.verified = true;
        Ok(())
    }

    fn skip_body(&mut self, mut n: u64) -> Result<()> {
        let mut chunk = vec![0; 64 << 10];
        while n > 0 {
            let take = n.min(chunk.len() as u64) as usize;
            self.read_exact(&mut chunk[..take])?;
            self.body_left -= take as u64;
            n -= take as u64;
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes into the checksum.
    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        match self.reader.read_exact(buf) {
            Ok(()) => {
                self.crc = crc32c::crc32c_append(self.crc, buf);
                self.pos += buf.len() as u64;
                Ok(())
            }
            // The length was checked on open: the value shrank while read.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Error::Truncated {
                seq: self.seq,
                location: self.location.clone(),
                expected: self.reader.len(),
                found: self.pos,
            }),
            Err(e) => Err(store_error(&self.location, e)),
        }
    }
}

impl FrameSource<'static> for CheckpointStream {
    fn body_len(&self) -> u64 {
        self.body_len
    }

    fn frames_left(&mut self) -> Option<&mut usize> {
        self.frames_left.as_mut()
    }

    fn body_left(&self) -> u64 {
        self.body_left
    }

    /// Never allocates more than the body has left, which the store's
    /// length has confirmed.
    fn take(&mut self, n: u64) -> Result<Cow<'static, [u8]>> {
        let mut bytes = vec![0; usize::try_from(n).unwrap_or(usize::MAX)];
        self.read_exact(&mut bytes)?;
        self.body_left -= n;
        Ok(Cow::Owned(bytes))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.skip_body(n)
    }

    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            seq: self.seq,
            location: self.location.clone(),
            reason,
        }
    }
}

/// The header and body of a checkpoint held whole in memory, checked as
/// [`CheckpointStream::open`] checks them, in the same order, and then
/// against the trailing checksum: its body is verified before any of it
/// decodes.
///
/// # Errors
///
/// As [`CheckpointStream::open`], and [`Error::Corrupt`] when the checksum
/// does not match.
pub(crate) fn open_in_place<'b>(
    bytes: &'b [u8],
    key_seq: u64,
    location: &str,
) -> Result<(Header, &'b [u8])> {
    let mut head = &bytes[..bytes.len().min(PREFIX_LEN)];
    if let Some(need) = format::header_section_len(head) {
        head = &bytes[..need.min(bytes.len())];
    }
    let header = format::decode_header(head, key_seq, location)?;
    check_len(bytes.len() as u64, header.total_len(), key_seq, location)?;
    let content = format::verified(bytes, key_seq, location)?;
    // The header's checks put the body inside `content`.
    let body = content.get(header.body_start()..).unwrap_or_default();
    Ok((header, body))
}

/// Checks a stored length, `len`, against the one the header records.
fn check_len(len: u64, total: u64, seq: u64, location: &str) -> Result<()> {
    if len < total {
        return Err(Error::Truncated {
            seq,
            location: location.to_owned(),
            expected: total,
            found: len,
        });
    }
    if len > total {
        return Err(Error::Malformed {
            seq,
            location: location.to_owned(),
            reason: format!("it is {len} bytes long but its header says {total}"),
        });
    }
    Ok(())
}

fn store_error(location: &str, e: io::Error) -> Error {
    Error::Store(crate::StoreError::io("read", location.to_owned(), e))
}
