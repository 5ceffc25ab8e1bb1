//! A whole part written or read as a stream, never whole in memory: its
//! bytes summed on the way as `part::part_checksum` sums them, so that
//! the part's [`PartInfo`](super::PartInfo) needs no read back and a
//! restore checks the part against its commit record as it reads it.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use super::part::PartOwner;
use crate::format;
use crate::format::part::{owner_header, PART_MAGIC};
use crate::store::{PendingValue, ValueReader};

/// A whole part being read as a stream, summed as `part_checksum` sums it
/// (and its last four bytes kept, for `legacy_part_checksum`), so a
/// restore checks it against its commit record without holding it.
pub(crate) struct PartStream {
    shared: Arc<Mutex<Summing>>,
}

/// What a [`PartStream`] and the reader it hands out share.
struct Summing {
    inner: Box<dyn Read + Send>,
    /// Offset of the next byte read, from the part's start.
    at: u64,
    len: u64,
    /// The embedded checksums, as offsets from the part's start: left out
    /// of the sum.
    skip: [Range<u64>; 3],
    crc: u32,
    last: [u8; 4],
}

impl Summing {
    fn take(&mut self, bytes: &[u8]) {
        let start = self.at;
        let end = start + bytes.len() as u64;
        let mut from = start;
        for range in &self.skip {
            if range.end <= from || range.start >= end {
                continue;
            }
            if range.start > from {
                let piece = &bytes[(from - start) as usize..(range.start - start) as usize];
                self.crc = crc32c::crc32c_append(self.crc, piece);
            }
            from = from.max(range.end);
        }
        if from < end {
            let piece = &bytes[(from - start) as usize..];
            self.crc = crc32c::crc32c_append(self.crc, piece);
        }
        let tail = self.len.saturating_sub(4);
        for at in start.max(tail)..end.min(self.len) {
            self.last[(at - tail) as usize] = bytes[(at - start) as usize];
        }
        self.at = end;
    }
}

/// The checkpoint of a [`PartStream`], as a reader.
struct Summed(Arc<Mutex<Summing>>);

impl Read for Summed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut s = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = s.inner.read(buf)?;
        s.take(&buf[..n]);
        Ok(n)
    }
}

impl PartStream {
    /// Reads the owner header and the checkpoint's prefix from `part`, a
    /// part of `len` bytes: the owner they name, and the checkpoint as a
    /// reader. `None` when the part is not a whole one whose sum streaming
    /// can take (an incremental part, a part too short or whose header
    /// lengths do not hold): read it whole, which names what is wrong.
    pub(crate) fn open(
        mut part: impl Read + Send + 'static,
        len: u64,
    ) -> io::Result<Option<(Vec<u8>, ValueReader, PartStream)>> {
        let mut owner = vec![0; PART_MAGIC.len() + 4];
        part.read_exact(&mut owner)?;
        let header_len = u32::from_le_bytes(owner[8..12].try_into().expect("four bytes")) as u64;
        if header_len > MAX_OWNER_HEADER {
            return Ok(None);
        }
        let owner_end = owner.len() as u64 + header_len;
        let mut rest = vec![0; header_len as usize + 4];
        part.read_exact(&mut rest)?;
        owner.extend_from_slice(&rest);
        let mut prefix = vec![0; format::PREFIX_LEN];
        part.read_exact(&mut prefix)?;
        let at = owner.len() as u64;
        let Some(section) = format::header_section_len(&prefix) else {
            return Ok(None);
        };
        let header_crc = at + section as u64 - 4;
        if crate::incremental::is_manifest(&prefix) || header_crc + 8 > len {
            return Ok(None);
        }
        let mut summing = Summing {
            inner: Box::new(part),
            at: 0,
            len,
            skip: [
                owner_end..owner_end + 4,
                header_crc..header_crc + 4,
                len - 4..len,
            ],
            crc: 0,
            last: [0; 4],
        };
        summing.take(&owner);
        summing.take(&prefix);
        let shared = Arc::new(Mutex::new(summing));
        let checkpoint = io::Cursor::new(prefix).chain(Summed(Arc::clone(&shared)));
        let value = ValueReader::new(len - at, checkpoint);
        Ok(Some((owner, value, PartStream { shared })))
    }

    /// The part's `part_checksum` and `legacy_part_checksum`, once the
    /// rest of it, if any, is read too.
    pub(crate) fn finish(self) -> io::Result<(u32, u32)> {
        let mut s = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        let mut buf = vec![0; 64 << 10];
        loop {
            let n = s.inner.read(&mut buf)?;
            if n == 0 {
                break;
            }
            s.take(&buf[..n]);
        }
        if s.at != s.len {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the part ended after {} of its {} bytes", s.at, s.len),
            ));
        }
        Ok((s.crc, u32::from_le_bytes(s.last)))
    }
}

/// A whole part written to a store's pending value as it is encoded: the
/// owner header first, then the checkpoint, whose head is patched in place
/// once sealed. Sums what it writes as `part_checksum` does, so the
/// part's [`PartInfo`](super::PartInfo) needs no read back.
pub(crate) struct PartOutput<'a> {
    pending: &'a mut dyn PendingValue,
    owner: Vec<u8>,
    body_crc: u32,
    body_len: u64,
    /// The part's length and checksum, once sealed.
    pub(crate) sealed: Option<(u64, u32)>,
}

impl<'a> PartOutput<'a> {
    pub(crate) fn new(pending: &'a mut dyn PendingValue, owner: &PartOwner<'_>) -> Self {
        PartOutput {
            pending,
            owner: owner_header(owner, 0),
            body_crc: 0,
            body_len: 0,
            sealed: None,
        }
    }
}

impl crate::encode::Output for PartOutput<'_> {
    fn head(&mut self, head: &[u8]) -> io::Result<()> {
        self.pending.write_all(&self.owner)?;
        self.pending.write_all(head)
    }

    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.body_crc = crc32c::crc32c_append(self.body_crc, bytes);
        self.body_len += bytes.len() as u64;
        self.pending.write_all(bytes)
    }

    fn restart(&mut self) -> io::Result<()> {
        self.body_crc = 0;
        self.body_len = 0;
        self.pending.restart()
    }

    fn seal(&mut self, head: &[u8], tail: &[u8]) -> io::Result<()> {
        self.pending
            .seek(io::SeekFrom::Start(self.owner.len() as u64))?;
        self.pending.write_all(head)?;
        self.pending.seek(io::SeekFrom::End(0))?;
        self.pending.write_all(tail)?;
        // Every byte but the owner header's, the checkpoint header's and
        // the trailing checksums: the body lies between the last two.
        let owner_end = self.owner.len() - 4;
        let crc = crc32c::crc32c(&self.owner[..owner_end]);
        let crc = crc32c::crc32c_append(crc, &head[..head.len().saturating_sub(4)]);
        let crc = crc32c::crc32c_combine(
            crc,
            self.body_crc,
            usize::try_from(self.body_len).unwrap_or(usize::MAX),
        );
        let len = (self.owner.len() + head.len() + tail.len()) as u64 + self.body_len;
        self.sealed = Some((len, crc));
        Ok(())
    }
}

/// The longest owner header a streamed read takes: a group name and a
/// participant id of at most 128 bytes each, and an epoch, encode in far
/// less.
const MAX_OWNER_HEADER: u64 = 4096;
