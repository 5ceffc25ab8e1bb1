//! Field frames, the body's layout: one frame per stored field (or, for
//! an enum, one naming the variant first), each
//!
//! ```text
//! name_len:u32 name:utf8 value_len:u64 value
//! ```
//!
//! Frames are written here ([`begin_frame`], [`end_frame`]) and read here,
//! from a body in memory ([`Body`]) or from a checkpoint being streamed
//! (`stream::CheckpointStream`): both read through [`FrameSource`], so a
//! frame is checked the same way, with the same errors, wherever it is
//! read.

use std::borrow::Cow;

use crate::{Error, Result};

/// Longer frame names are malformed: names are identifiers.
pub(crate) const MAX_NAME_LEN: u32 = 64 << 10;

/// Why a body with more frames than its header lists fields is malformed.
pub(crate) const TOO_MANY_FRAMES: &str =
    "its body holds more field frames than its header lists fields";

/// Starts a frame for `name` at the end of `buf`: its name and a length to
/// be patched by [`end_frame`]; returns where the length goes.
pub(crate) fn begin_frame(buf: &mut Vec<u8>, name: &str) -> usize {
    // Names are identifiers, far below u32::MAX bytes.
    buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
    buf.extend_from_slice(name.as_bytes());
    let len_at = buf.len();
    buf.extend_from_slice(&[0; 8]);
    len_at
}

/// Ends the frame whose length goes at `len_at`: everything after the
/// length is its value.
pub(crate) fn end_frame(buf: &mut [u8], len_at: usize) {
    let len = (buf.len() - len_at - 8) as u64;
    buf[len_at..len_at + 8].copy_from_slice(&len.to_le_bytes());
}

/// A frame's name and value: borrowed from a body in memory, owned when
/// read from a stream.
pub(crate) type Frame<'a> = (Cow<'a, str>, Cow<'a, [u8]>);

/// The start of one frame: its name, where it starts in the body and how
/// long its value is. The value follows; read it with
/// [`FrameSource::value`] or pass it with [`FrameSource::skip`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FrameHead<'a> {
    /// The field's (or the variant's) name.
    pub(crate) name: Cow<'a, str>,
    /// Where the frame starts, from the start of the body.
    pub(crate) offset: u64,
    /// The value's length in bytes.
    pub(crate) len: u64,
}

/// A body being read, frame by frame. Implementors say where the bytes
/// come from; the frame layout and its checks are the provided methods.
pub(crate) trait FrameSource<'a> {
    /// The body's whole length.
    fn body_len(&self) -> u64;
    /// Bytes of the body not read yet.
    fn body_left(&self) -> u64;
    /// The next `n` bytes of the body; `n` is at most [`body_left`](Self::body_left).
    fn take(&mut self, n: u64) -> Result<Cow<'a, [u8]>>;
    /// Passes the next `n` bytes of the body; `n` is at most
    /// [`body_left`](Self::body_left).
    fn skip(&mut self, n: u64) -> Result<()>;
    /// A malformed-checkpoint error naming the checkpoint being read.
    fn malformed(&self, reason: String) -> Error;
    /// How many more frames the body may hold, when its reader bounds
    /// them: a checkpoint's header lists every field a frame may hold.
    fn frames_left(&mut self) -> Option<&mut usize> {
        None
    }

    /// The next `n` bytes, or an error naming `what` runs past the body.
    fn take_part(&mut self, n: u64, what: &str) -> Result<Cow<'a, [u8]>> {
        if n > self.body_left() {
            let offset = self.body_len() - self.body_left();
            return Err(self.malformed(format!(
                "a field frame's {what} at body offset {offset} runs past the end of the body"
            )));
        }
        self.take(n)
    }

    /// The next frame's head; `None` at the end of the body.
    ///
    /// # Errors
    ///
    /// [`Error::Malformed`] when the frame runs past the end of the body or
    /// its name is too long or not UTF-8; the source's errors.
    fn frame_head(&mut self) -> Result<Option<FrameHead<'a>>> {
        if self.body_left() == 0 {
            return Ok(None);
        }
        if let Some(left) = self.frames_left() {
            match left.checked_sub(1) {
                Some(fewer) => *left = fewer,
                None => return Err(self.malformed(TOO_MANY_FRAMES.to_owned())),
            }
        }
        let offset = self.body_len() - self.body_left();
        let len = self.take_part(4, "name length")?;
        let name_len = u32::from_le_bytes(len[..].try_into().unwrap_or([0; 4]));
        if name_len > MAX_NAME_LEN {
            return Err(self.malformed(format!(
                "the field frame at body offset {offset} has a name of {name_len} bytes"
            )));
        }
        let name = match self.take_part(u64::from(name_len), "name")? {
            Cow::Borrowed(b) => std::str::from_utf8(b).ok().map(Cow::Borrowed),
            Cow::Owned(b) => String::from_utf8(b).ok().map(Cow::Owned),
        };
        let Some(name) = name else {
            return Err(self.malformed(format!(
                "the field frame at body offset {offset} has a name that is not UTF-8"
            )));
        };
        let len = self.take_part(8, "value length")?;
        let len = u64::from_le_bytes(len[..].try_into().unwrap_or([0; 8]));
        if len > self.body_left() {
            return Err(self.malformed(format!(
                "the field frame at body offset {offset} runs past the end of the body"
            )));
        }
        Ok(Some(FrameHead { name, offset, len }))
    }

    /// The value of the frame whose head was just read.
    fn value(&mut self, head: &FrameHead<'_>) -> Result<Cow<'a, [u8]>> {
        self.take_part(head.len, "value")
    }

    /// The next frame's name and value; `None` at the end of the body.
    ///
    /// # Errors
    ///
    /// As [`frame_head`](Self::frame_head).
    fn next_frame(&mut self) -> Result<Option<Frame<'a>>> {
        let Some(head) = self.frame_head()? else {
            return Ok(None);
        };
        let value = self.value(&head)?;
        Ok(Some((head.name, value)))
    }

    /// Reads the rest of the body frame by frame, keeping nothing.
    fn skip_frames(&mut self) -> Result<()> {
        while let Some(head) = self.frame_head()? {
            self.skip(head.len)?;
        }
        Ok(())
    }
}

/// A body in memory, read without copying.
#[derive(Debug)]
pub(crate) struct Body<'a, 'l> {
    body_len: u64,
    rest: &'a [u8],
    seq: u64,
    location: &'l str,
    frames_left: Option<usize>,
}

impl<'a, 'l> Body<'a, 'l> {
    /// The body of checkpoint `seq` at `location` (named in errors).
    pub(crate) fn new(body: &'a [u8], seq: u64, location: &'l str) -> Self {
        Body {
            body_len: body.len() as u64,
            rest: body,
            seq,
            location,
            frames_left: None,
        }
    }

    /// This body, malformed if it holds more than `most` frames.
    pub(crate) fn at_most(self, most: Option<usize>) -> Self {
        Body {
            frames_left: most,
            ..self
        }
    }
}

impl<'a> FrameSource<'a> for Body<'a, '_> {
    fn body_len(&self) -> u64 {
        self.body_len
    }

    fn frames_left(&mut self) -> Option<&mut usize> {
        self.frames_left.as_mut()
    }

    fn body_left(&self) -> u64 {
        self.rest.len() as u64
    }

    fn take(&mut self, n: u64) -> Result<Cow<'a, [u8]>> {
        let (head, tail) = self.rest.split_at(n as usize);
        self.rest = tail;
        Ok(Cow::Borrowed(head))
    }

    fn skip(&mut self, n: u64) -> Result<()> {
        self.take(n).map(drop)
    }

    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            seq: self.seq,
            location: self.location.to_owned(),
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(frames: &[(&str, &[u8])]) -> Vec<u8> {
        let mut buf = Vec::new();
        for (name, value) in frames {
            let at = begin_frame(&mut buf, name);
            buf.extend_from_slice(value);
            end_frame(&mut buf, at);
        }
        buf
    }

    #[test]
    fn frames_read_back_as_written() {
        let bytes = body(&[("a", b"1"), ("", b""), ("bc", b"234")]);
        let mut frames = Body::new(&bytes, 0, "x");
        let mut read = Vec::new();
        while let Some((name, value)) = frames.next_frame().unwrap() {
            read.push((name.into_owned(), value.into_owned()));
        }
        let expected = [("a", &b"1"[..]), ("", b""), ("bc", b"234")];
        assert_eq!(read.len(), expected.len());
        for ((name, value), (n, v)) in read.iter().zip(expected) {
            assert_eq!((name.as_str(), value.as_slice()), (n, v));
        }
    }

    #[test]
    fn every_truncation_is_malformed_and_names_the_offset() {
        let bytes = body(&[("a", b"1"), ("bc", b"234")]);
        let second = 4 + 1 + 8 + 1;
        for end in 1..bytes.len() {
            if end == second {
                continue;
            }
            let mut frames = Body::new(&bytes[..end], 7, "x");
            let err = frames.skip_frames().unwrap_err();
            let Error::Malformed { seq, reason, .. } = &err else {
                panic!("{end}: {err}");
            };
            assert_eq!(*seq, 7);
            assert!(reason.contains("runs past the end of the body"), "{reason}");
        }
    }

    #[test]
    fn hostile_names_are_refused_before_they_are_read() {
        let mut bytes = (MAX_NAME_LEN + 1).to_le_bytes().to_vec();
        bytes.extend_from_slice(&[b'a'; 16]);
        let err = Body::new(&bytes, 0, "x").frame_head().unwrap_err();
        assert!(err.to_string().contains("has a name of"), "{err}");
        let bytes = body(&[("\u{e9}", b"")]);
        let mut bad = bytes.clone();
        bad[4] = 0xff;
        let err = Body::new(&bad, 0, "x").frame_head().unwrap_err();
        assert!(err.to_string().contains("not UTF-8"), "{err}");
    }
}
