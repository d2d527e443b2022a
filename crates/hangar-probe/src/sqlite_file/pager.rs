//! Pages of a database as a reader sees them: from the write-ahead log (`<db>-wal`) when a
//! committed transaction there holds a newer copy of the page, else from the database file.
//!
//! Both files are opened read-only and never locked: a `-shm` index is not needed, the WAL is
//! scanned from its start like SQLite's own recovery does (frames are used up to the last
//! commit frame whose salts match the WAL header and whose checksum chain holds).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::Fault;
use super::format::{HEADER_LEN, Header, be_u32, page_size, parse_header};

const WAL_HEADER_LEN: usize = 32;
const FRAME_HEADER_LEN: usize = 24;
const WAL_VERSION: u32 = 3_007_000;

/// Read access to the pages of one database.
#[derive(Debug)]
pub(super) struct Pager {
    file: File,
    path: PathBuf,
    file_len: u64,
    wal: Option<Wal>,
    header: Header,
    page_count: u32,
}

/// The committed frames of a write-ahead log.
#[derive(Debug)]
struct Wal {
    file: File,
    path: PathBuf,
    salts: [u8; 8],
    /// Page number → offset of its latest committed frame (of its 24-byte header).
    frames: HashMap<u32, u64>,
    /// The database size in pages after the last committed transaction.
    page_count: u32,
}

fn io_fault(path: &Path, error: io::Error) -> Fault {
    Fault::Io {
        file: path.to_path_buf(),
        error,
    }
}

impl Pager {
    /// Opens the database at `path` and its WAL, if any. `None` for an empty (0-byte)
    /// database file, which SQLite treats as a database without tables (and whose WAL it
    /// deletes unread).
    pub(super) fn open(path: &Path) -> Result<Option<Self>, Fault> {
        let file = File::open(path).map_err(|e| io_fault(path, e))?;
        let file_len = file.metadata().map_err(|e| io_fault(path, e))?.len();
        if file_len == 0 {
            return Ok(None);
        }
        let mut first = vec![0u8; usize::try_from(file_len.min(HEADER_LEN as u64)).unwrap_or(0)];
        file.read_exact_at(&mut first, 0)
            .map_err(|e| io_fault(path, e))?;
        let mut header = parse_header(&first)?;
        let mut pager = Pager {
            file,
            path: path.to_path_buf(),
            file_len,
            wal: None,
            page_count: 0,
            header: header.clone(),
        };
        let mut wal_name = OsString::from(path.as_os_str());
        wal_name.push("-wal");
        let wal = Wal::open(Path::new(&wal_name), header.page_size)?;
        let page_count = match &wal {
            Some(wal) => wal.page_count,
            None => {
                let in_file = u32::try_from(file_len.div_ceil(u64::from(header.page_size)))
                    .unwrap_or(u32::MAX);
                if header.page_count > in_file {
                    return Err(Fault::Truncated(format!(
                        "its header says it has {} pages of {} bytes but the file has {file_len} bytes",
                        header.page_count, header.page_size
                    )));
                }
                if header.page_count == 0 {
                    in_file
                } else {
                    header.page_count
                }
            }
        };
        pager.wal = wal;
        pager.page_count = page_count;
        if pager.wal.is_some() {
            // The WAL may hold a newer page 1, and with it a newer header.
            let page1 = pager.page(1)?;
            header = parse_header(&page1)?;
            if header.page_size != pager.header.page_size {
                return Err(Fault::Corrupt(format!(
                    "its write-ahead log changes the page size from {} to {}",
                    pager.header.page_size, header.page_size
                )));
            }
            pager.header = header;
        }
        Ok(Some(pager))
    }

    /// The database header (from the newest committed page 1).
    pub(super) fn header(&self) -> &Header {
        &self.header
    }

    /// The number of pages in the database.
    pub(super) fn page_count(&self) -> u32 {
        self.page_count
    }

    /// Page `n` (1-based), all `page_size` bytes of it.
    pub(super) fn page(&self, n: u32) -> Result<Vec<u8>, Fault> {
        if n == 0 || n > self.page_count {
            return Err(Fault::Corrupt(format!(
                "a b-tree points to page {n}, outside the database's {} pages",
                self.page_count
            )));
        }
        let size = self.header.page_size as usize;
        let mut buf = vec![0u8; size];
        if let Some(wal) = &self.wal
            && let Some(&at) = wal.frames.get(&n)
        {
            let mut frame = vec![0u8; FRAME_HEADER_LEN + size];
            wal.file
                .read_exact_at(&mut frame, at)
                .map_err(|e| io_fault(&wal.path, e))?;
            // A checkpoint that restarted the WAL since it was scanned rewrites its frames.
            if be_u32(&frame, 0) != Some(n) || frame[8..16] != wal.salts {
                return Err(Fault::Truncated(format!(
                    "its write-ahead log {} changed while it was being read",
                    wal.path.display()
                )));
            }
            buf.copy_from_slice(&frame[FRAME_HEADER_LEN..]);
            return Ok(buf);
        }
        let at = u64::from(n - 1) * size as u64;
        if at + size as u64 > self.file_len {
            return Err(Fault::Truncated(format!(
                "page {n} lies beyond the end of the {}-byte file",
                self.file_len
            )));
        }
        self.file
            .read_exact_at(&mut buf, at)
            .map_err(|e| io_fault(&self.path, e))?;
        Ok(buf)
    }
}

impl Wal {
    /// Scans the WAL at `path`. `None` when there is none, it is empty, or its header is not
    /// valid (SQLite then ignores it too), or no transaction in it was committed.
    fn open(path: &Path, db_page_size: u32) -> Result<Option<Self>, Fault> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_fault(path, e)),
        };
        let mut reader = BufReader::with_capacity(1 << 16, &file);
        let mut header = [0u8; WAL_HEADER_LEN];
        if !read_full(&mut reader, &mut header).map_err(|e| io_fault(path, e))? {
            return Ok(None);
        }
        let Some(scan) = Scan::new(&header) else {
            return Ok(None);
        };
        if scan.version != WAL_VERSION {
            return Err(Fault::TooNew(format!(
                "its write-ahead log {} has format version {} (SQLite writes {WAL_VERSION})",
                path.display(),
                scan.version
            )));
        }
        if scan.page_size != db_page_size {
            return Err(Fault::Corrupt(format!(
                "its write-ahead log {} has pages of {} bytes, the database of {db_page_size}",
                path.display(),
                scan.page_size
            )));
        }
        let committed = scan.frames(&mut reader).map_err(|e| io_fault(path, e))?;
        Ok(committed.map(|(frames, page_count)| Wal {
            file,
            path: path.to_path_buf(),
            salts: scan.salts,
            frames,
            page_count,
        }))
    }
}

/// A WAL header's fields and its running checksum.
#[derive(Debug)]
pub(super) struct Scan {
    big_endian: bool,
    version: u32,
    page_size: u32,
    salts: [u8; 8],
    checksum: (u32, u32),
}

impl Scan {
    /// The header's fields, or `None` when the magic number, page size or checksum is wrong.
    pub(super) fn new(h: &[u8; WAL_HEADER_LEN]) -> Option<Self> {
        let big_endian = match be_u32(h, 0)? {
            0x377f_0682 => false,
            0x377f_0683 => true,
            _ => return None,
        };
        let sum = checksum(big_endian, (0, 0), &h[..24]);
        if sum != (be_u32(h, 24)?, be_u32(h, 28)?) {
            return None;
        }
        let page_size = be_u32(h, 8).filter(|&s| s != 1).and_then(page_size)?;
        Some(Scan {
            big_endian,
            version: be_u32(h, 4)?,
            page_size,
            salts: h[16..24].try_into().ok()?,
            checksum: sum,
        })
    }

    /// Reads the frames after the header: the newest frame of each page among the committed
    /// transactions (page → offset of its frame) and the database size after the last commit;
    /// `None` when no transaction was committed. Stops at the first frame that is short, has
    /// other salts or a wrong checksum, as SQLite's recovery does.
    pub(super) fn frames(&self, r: &mut impl Read) -> io::Result<Option<(HashMap<u32, u64>, u32)>> {
        let size = self.page_size as usize;
        let mut frame = vec![0u8; FRAME_HEADER_LEN + size];
        let mut at = WAL_HEADER_LEN as u64;
        let mut sum = self.checksum;
        let (mut committed, mut pending) = (HashMap::new(), Vec::new());
        let mut page_count = None;
        while read_full(r, &mut frame)? {
            let field = |i| be_u32(&frame, i).unwrap_or_default();
            let (page, commit) = (field(0), field(4));
            if page == 0 || frame[8..16] != self.salts {
                break;
            }
            sum = checksum(self.big_endian, sum, &frame[..8]);
            sum = checksum(self.big_endian, sum, &frame[FRAME_HEADER_LEN..]);
            if sum != (field(16), field(20)) {
                break;
            }
            pending.push((page, at));
            if commit != 0 {
                committed.extend(pending.drain(..));
                page_count = Some(commit);
            }
            at += frame.len() as u64;
        }
        Ok(page_count.map(|n| (committed, n)))
    }
}

/// Fills `buf`; false when the reader ends first (a partial read at the end is not an error).
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The WAL checksum: over 32-bit words in pairs, in the byte order the magic number names.
pub(super) fn checksum(big_endian: bool, (mut s0, mut s1): (u32, u32), data: &[u8]) -> (u32, u32) {
    let word = |b: &[u8]| {
        let b: [u8; 4] = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    };
    for pair in data.chunks_exact(8) {
        s0 = s0.wrapping_add(word(&pair[..4])).wrapping_add(s1);
        s1 = s1.wrapping_add(word(&pair[4..])).wrapping_add(s0);
    }
    (s0, s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 512;

    fn wal_header(big_endian: bool, salts: [u8; 8]) -> [u8; WAL_HEADER_LEN] {
        let mut h = [0u8; WAL_HEADER_LEN];
        let magic: u32 = if big_endian { 0x377f_0683 } else { 0x377f_0682 };
        h[..4].copy_from_slice(&magic.to_be_bytes());
        h[4..8].copy_from_slice(&WAL_VERSION.to_be_bytes());
        h[8..12].copy_from_slice(&(PAGE as u32).to_be_bytes());
        h[16..24].copy_from_slice(&salts);
        let (a, b) = checksum(big_endian, (0, 0), &h[..24]);
        h[24..28].copy_from_slice(&a.to_be_bytes());
        h[28..32].copy_from_slice(&b.to_be_bytes());
        h
    }

    /// Appends a frame for `page` (filled with `fill`), chaining the checksum in `sum`.
    fn frame(
        out: &mut Vec<u8>,
        sum: &mut (u32, u32),
        be: bool,
        salts: [u8; 8],
        page: u32,
        commit: u32,
        fill: u8,
    ) {
        let mut f = vec![0u8; FRAME_HEADER_LEN + PAGE];
        f[..4].copy_from_slice(&page.to_be_bytes());
        f[4..8].copy_from_slice(&commit.to_be_bytes());
        f[8..16].copy_from_slice(&salts);
        f[FRAME_HEADER_LEN..].fill(fill);
        *sum = checksum(be, *sum, &f[..8]);
        *sum = checksum(be, *sum, &f[FRAME_HEADER_LEN..]);
        f[16..20].copy_from_slice(&sum.0.to_be_bytes());
        f[20..24].copy_from_slice(&sum.1.to_be_bytes());
        out.extend(f);
    }

    fn scan(wal: &[u8]) -> Option<(HashMap<u32, u64>, u32)> {
        let h: [u8; WAL_HEADER_LEN] = wal[..WAL_HEADER_LEN].try_into().unwrap();
        let s = Scan::new(&h)?;
        s.frames(&mut &wal[WAL_HEADER_LEN..]).unwrap()
    }

    fn offset(i: u64) -> u64 {
        WAL_HEADER_LEN as u64 + i * (FRAME_HEADER_LEN + PAGE) as u64
    }

    #[test]
    fn the_checksum_in_both_byte_orders() {
        let data = [1, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(checksum(false, (0, 0), &data), (1, 3));
        assert_eq!(checksum(true, (0, 0), &data), (1 << 24, 3 << 24));
        // s0 += x0 + s1; s1 += x1 + s0, wrapping.
        assert_eq!(checksum(false, (u32::MAX, 1), &data), (1, 4));
    }

    #[test]
    fn only_committed_frames_with_the_headers_salts_count() {
        for be in [false, true] {
            let salts = [1, 2, 3, 4, 5, 6, 7, 8];
            let mut wal = wal_header(be, salts).to_vec();
            let mut sum = Scan::new(&wal_header(be, salts)).unwrap().checksum;
            frame(&mut wal, &mut sum, be, salts, 2, 0, 0xa0);
            frame(&mut wal, &mut sum, be, salts, 3, 3, 0xa1); // commit: 3 pages
            frame(&mut wal, &mut sum, be, salts, 2, 0, 0xb0);
            frame(&mut wal, &mut sum, be, salts, 4, 4, 0xb1); // commit: 4 pages
            frame(&mut wal, &mut sum, be, salts, 2, 0, 0xc0); // never committed
            let (frames, pages) = scan(&wal).unwrap();
            assert_eq!(pages, 4, "big endian: {be}");
            assert_eq!(
                frames,
                HashMap::from([(2, offset(2)), (3, offset(1)), (4, offset(3))])
            );

            // A frame with other salts (left from before a WAL restart) ends the log, even
            // when a commit follows it.
            let mut stale = wal[..offset(2) as usize].to_vec();
            let mut s2 = sum_after(&stale, be);
            frame(&mut stale, &mut s2, be, [9; 8], 2, 0, 0xd0);
            frame(&mut stale, &mut s2, be, salts, 5, 5, 0xd1);
            let (frames, pages) = scan(&stale).unwrap();
            assert_eq!((frames.len(), pages), (2, 3));

            // A broken checksum ends it too.
            let mut broken = wal.clone();
            broken[offset(2) as usize + FRAME_HEADER_LEN + 7] ^= 1;
            let (frames, pages) = scan(&broken).unwrap();
            assert_eq!(pages, 3);
            assert_eq!(frames.get(&2), Some(&offset(0)));

            // A frame cut short is not read.
            let (_, pages) = scan(&wal[..wal.len() - 1]).unwrap();
            assert_eq!(pages, 4);
            assert!(
                scan(&wal[..offset(1) as usize]).is_none(),
                "nothing committed"
            );
        }
    }

    fn sum_after(wal: &[u8], be: bool) -> (u32, u32) {
        let n = (wal.len() - WAL_HEADER_LEN) / (FRAME_HEADER_LEN + PAGE);
        if n == 0 {
            return checksum(be, (0, 0), &wal[..24]);
        }
        let last = offset(n as u64 - 1) as usize;
        (
            be_u32(wal, last + 16).unwrap(),
            be_u32(wal, last + 20).unwrap(),
        )
    }

    #[test]
    fn bad_wal_headers_are_ignored() {
        let good = wal_header(false, [0; 8]);
        assert!(Scan::new(&good).is_some());
        let mut magic = good;
        magic[3] = 0x84;
        assert!(Scan::new(&magic).is_none());
        let mut sum = good;
        sum[31] ^= 1;
        assert!(Scan::new(&sum).is_none());
        let mut size = wal_header(false, [0; 8]);
        size[8..12].copy_from_slice(&1000u32.to_be_bytes());
        let (a, b) = checksum(false, (0, 0), &size[..24]);
        size[24..28].copy_from_slice(&a.to_be_bytes());
        size[28..32].copy_from_slice(&b.to_be_bytes());
        assert!(Scan::new(&size).is_none());
    }
}
