//! Length-prefixed, checksummed records: the framing the spool's segments and the consent
//! ledger's file share.
//!
//! ```text
//! record = length: u32 LE | crc32(body): u32 LE | body (length bytes)
//! ```

/// Longest body a reader accepts; a longer length is taken for corruption.
pub(crate) const MAX_RECORD: usize = 64 << 20;

/// Bytes of the header before a body.
pub(crate) const HEADER: usize = 8;

/// Reserves the record header; returns where the record starts.
pub(crate) fn begin(buf: &mut Vec<u8>) -> usize {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER]);
    start
}

/// Fills in length and checksum of the record starting at `start`.
pub(crate) fn finish(buf: &mut [u8], start: usize) {
    let body = &buf[start + HEADER..];
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    let crc = crc32fast::hash(body);
    buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends `bytes` with a little-endian length prefix of `width` bytes, truncating what does
/// not fit.
pub(crate) fn put(buf: &mut Vec<u8>, bytes: &[u8], width: usize) {
    let max = (1usize << (8 * width.min(4))).saturating_sub(1);
    let bytes = &bytes[..bytes.len().min(max)];
    buf.extend_from_slice(&(bytes.len() as u64).to_le_bytes()[..width]);
    buf.extend_from_slice(bytes);
}

/// Why the bytes at some offset are not a whole, intact record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bad {
    /// The bytes end before the header or the body does: a write torn by a crash, or a
    /// truncated file.
    Truncated,
    /// The length is beyond [`MAX_RECORD`].
    TooLong,
    /// The body does not match its checksum.
    Checksum,
}

impl Bad {
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Bad::Truncated => {
                "the record ends before its length says (torn write or truncated file)"
            }
            Bad::TooLong => "its length field is corrupt",
            Bad::Checksum => "its checksum does not match its content",
        }
    }
}

/// The body of the record at the start of `bytes` and the bytes the record takes.
pub(crate) fn split(bytes: &[u8]) -> Result<(usize, &[u8]), Bad> {
    let header = bytes.get(..HEADER).ok_or(Bad::Truncated)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    let len = usize::try_from(len).map_err(|_| Bad::TooLong)?;
    if len > MAX_RECORD {
        return Err(Bad::TooLong);
    }
    let body = bytes.get(HEADER..HEADER + len).ok_or(Bad::Truncated)?;
    if crc32fast::hash(body) != crc {
        return Err(Bad::Checksum);
    }
    Ok((HEADER + len, body))
}

/// Reads fields off the front of a body.
pub(crate) struct Reader<'a>(pub &'a [u8]);

impl<'a> Reader<'a> {
    pub(crate) fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.0.get(..n)?, self.0.get(n..)?);
        self.0 = rest;
        Some(head)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }

    pub(crate) fn string(&mut self, width: usize) -> Option<String> {
        let mut len = [0u8; 8];
        len[..width].copy_from_slice(self.bytes(width)?);
        let len = usize::try_from(u64::from_le_bytes(len)).ok()?;
        String::from_utf8(self.bytes(len)?.to_vec()).ok()
    }

    /// What is left.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.0)
    }
}
