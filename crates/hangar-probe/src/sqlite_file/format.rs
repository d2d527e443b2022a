//! The byte-level pieces of the SQLite file format (<https://www.sqlite.org/fileformat2.html>):
//! the 100-byte database header, varints, records (header of serial types, then values) and the
//! formula that splits a cell's payload between its page and overflow pages.

use super::{Fault, Value};

/// The length of the database header at the start of page 1.
pub(super) const HEADER_LEN: usize = 100;

const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What the reader needs from the database header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    /// Bytes per page, 512 to 65536.
    pub(super) page_size: u32,
    /// Bytes at the end of each page that belong to extensions (encryption, checksums).
    pub(super) reserved: u8,
    /// The database size in pages, when the header's copy of it is valid (else 0).
    pub(super) page_count: u32,
}

impl Header {
    /// The usable size of a page: what the b-tree layer may use.
    pub(super) fn usable(&self) -> u32 {
        self.page_size - u32::from(self.reserved)
    }
}

pub(super) fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

pub(super) fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// A page size field: a power of two from 512 to 32768, or 1 for 65536.
pub(super) fn page_size(raw: u32) -> Option<u32> {
    let size = if raw == 1 { 65536 } else { raw };
    ((512..=65536).contains(&size) && size.is_power_of_two()).then_some(size)
}

/// Parses and checks the database header (the first 100 bytes of the file or of page 1).
pub(super) fn parse_header(b: &[u8]) -> Result<Header, Fault> {
    let not = |what: &str| Fault::NotSqlite(what.to_owned());
    if b.len() < HEADER_LEN {
        return Err(Fault::Truncated(format!(
            "the file is {} bytes long, shorter than SQLite's 100-byte header",
            b.len()
        )));
    }
    if &b[..16] != MAGIC {
        return Err(not("bad header"));
    }
    let page_size = be_u16(b, 16)
        .and_then(|raw| page_size(u32::from(raw)))
        .ok_or_else(|| not("bad page size in the header"))?;
    let (read_version, reserved) = (b[19], b[20]);
    if read_version > 2 {
        return Err(Fault::TooNew(format!(
            "its file format read version is {read_version} (SQLite knows 1 and 2)"
        )));
    }
    if b[21..24] != [64, 32, 32] {
        return Err(not("bad payload fractions in the header"));
    }
    if page_size - u32::from(reserved) < 480 {
        return Err(not("too many reserved bytes per page"));
    }
    let field = |at| be_u32(b, at).unwrap_or_default();
    let schema_format = field(44);
    if schema_format > 4 {
        return Err(Fault::TooNew(format!(
            "its schema format is {schema_format} (SQLite knows 1 to 4)"
        )));
    }
    match field(56) {
        // 0: the encoding is not set yet (no schema written).
        0 | 1 => {}
        2 => return Err(Fault::Utf16("UTF-16le")),
        3 => return Err(Fault::Utf16("UTF-16be")),
        _ => return Err(not("unknown text encoding in the header")),
    }
    // The in-header size is valid only when the change counter matches version-valid-for.
    let page_count = if field(24) == field(92) { field(28) } else { 0 };
    Ok(Header {
        page_size,
        reserved,
        page_count,
    })
}

/// A varint: 1 to 9 bytes, big-endian, 7 bits a byte with the high bit set on all but the
/// last, except that a 9th byte gives all 8 of its bits. Returns the value and its length;
/// `None` when `b` ends first.
pub(super) fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for i in 0..8 {
        let byte = *b.get(i)?;
        value = (value << 7) | u64::from(byte & 0x7f);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    Some(((value << 8) | u64::from(*b.get(8)?), 9))
}

/// The length in bytes of a value of serial type `t`; `None` for the reserved types 10, 11.
pub(super) fn serial_len(t: u64) -> Option<u64> {
    Some(match t {
        0 | 8 | 9 => 0,
        1..=4 => t,
        5 => 6,
        6 | 7 => 8,
        10 | 11 => return None,
        _ => (t - 12) / 2,
    })
}

/// The value of serial type `t` from its bytes (exactly `serial_len(t)` of them).
pub(super) fn serial_value(t: u64, b: &[u8]) -> Value {
    match t {
        1..=6 => {
            // Big-endian two's complement, sign-extended from its first byte.
            let first = b.first().map_or(0, |&x| i64::from(x.cast_signed()));
            let v = b[1..].iter().fold(first, |v, &x| (v << 8) | i64::from(x));
            Value::Integer(v)
        }
        7 => Value::Real(f64::from_bits(
            b.iter().fold(0u64, |v, &x| (v << 8) | u64::from(x)),
        )),
        8 => Value::Integer(0),
        9 => Value::Integer(1),
        t if t >= 12 && t % 2 == 0 => Value::Blob(b.to_vec()),
        t if t >= 13 => Value::Text(String::from_utf8_lossy(b).into_owned()),
        _ => Value::Null,
    }
}

/// Decodes a record: a varint header size, the serial types, then the values.
pub(super) fn decode_record(p: &[u8]) -> Result<Vec<Value>, String> {
    let (header_len, mut at) = varint(p).ok_or("a record header is cut short")?;
    let header_len = usize::try_from(header_len)
        .ok()
        .filter(|&h| h >= at && h <= p.len())
        .ok_or_else(|| {
            format!(
                "a record header of {header_len} bytes does not fit its {} bytes",
                p.len()
            )
        })?;
    let mut body = header_len;
    let mut values = Vec::new();
    while at < header_len {
        let (t, n) = varint(&p[at..header_len]).ok_or("a record header is cut short")?;
        at += n;
        let len = serial_len(t).ok_or_else(|| format!("a record has reserved serial type {t}"))?;
        let end = usize::try_from(len)
            .ok()
            .and_then(|len| body.checked_add(len))
            .filter(|&end| end <= p.len())
            .ok_or_else(|| format!("a record's values run past its {} bytes", p.len()))?;
        values.push(serial_value(t, &p[body..end]));
        body = end;
    }
    Ok(values)
}

/// How many bytes of a payload of `payload` bytes are stored on the b-tree page itself (the
/// rest goes to overflow pages), for a page of `usable` usable bytes. `table_leaf` is true on
/// table b-tree leaves, false on index pages.
pub(super) fn local_payload(payload: u64, usable: u32, table_leaf: bool) -> u64 {
    let u = u64::from(usable);
    let max = if table_leaf {
        u - 35
    } else {
        (u - 12) * 64 / 255 - 23
    };
    if payload <= max {
        return payload;
    }
    let min = (u - 12) * 32 / 255 - 23;
    let k = min + (payload - min) % (u - 4);
    if k <= max { k } else { min }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The varint encoding, written independently of the decoder.
    fn encode(v: u64) -> Vec<u8> {
        if v >> 56 != 0 {
            let mut out: Vec<u8> = (0..8)
                .map(|i| ((v >> (8 + 7 * (7 - i))) as u8 & 0x7f) | 0x80)
                .collect();
            out.push(v as u8);
            return out;
        }
        let mut groups = vec![(v & 0x7f) as u8];
        let mut rest = v >> 7;
        while rest != 0 {
            groups.push((rest & 0x7f) as u8 | 0x80);
            rest >>= 7;
        }
        groups.reverse();
        groups
    }

    #[test]
    fn varints_of_every_length() {
        let cases: &[(&[u8], u64)] = &[
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x81, 0x00], 128),
            (&[0x82, 0x2c], 300),
            (&[0xff, 0x7f], 16383),
            (&[0x81, 0x80, 0x00], 16384),
            (&[0xff; 9], u64::MAX),
            (&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], 1),
            (
                &[0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],
                1 << 57,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(varint(bytes), Some((*want, bytes.len())), "{bytes:02x?}");
            // Trailing bytes are not read.
            let mut more = bytes.to_vec();
            more.extend([0xff, 0xff]);
            assert_eq!(varint(&more), Some((*want, bytes.len())));
        }
        for v in [
            0,
            1,
            127,
            128,
            240,
            2287,
            67823,
            1 << 32,
            (1 << 56) - 1,
            1 << 56,
            u64::MAX,
        ] {
            let e = encode(v);
            assert_eq!(varint(&e), Some((v, e.len())), "{v}");
        }
        // Cut short: every continuation byte promises one more.
        assert_eq!(varint(&[]), None);
        assert_eq!(varint(&[0x81]), None);
        assert_eq!(varint(&[0xff; 8]), None);
    }

    #[test]
    fn serial_types_and_their_values() {
        let lens = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (4, 4),
            (5, 6),
            (6, 8),
            (7, 8),
            (8, 0),
            (9, 0),
        ];
        for (t, len) in lens {
            assert_eq!(serial_len(t), Some(len), "type {t}");
        }
        assert_eq!(serial_len(10), None);
        assert_eq!(serial_len(11), None);
        assert_eq!(serial_len(12), Some(0));
        assert_eq!(serial_len(13), Some(0));
        assert_eq!(serial_len(25), Some(6));
        assert_eq!(serial_len(26), Some(7));
        assert_eq!(serial_value(0, &[]), Value::Null);
        assert_eq!(serial_value(1, &[0xff]), Value::Integer(-1));
        assert_eq!(serial_value(1, &[0x7f]), Value::Integer(127));
        assert_eq!(serial_value(2, &[0x80, 0x00]), Value::Integer(-32768));
        assert_eq!(serial_value(3, &[0x01, 0x00, 0x00]), Value::Integer(65536));
        assert_eq!(serial_value(3, &[0xff, 0xff, 0xfe]), Value::Integer(-2));
        assert_eq!(
            serial_value(4, &[0x80, 0, 0, 0]),
            Value::Integer(i64::from(i32::MIN))
        );
        assert_eq!(
            serial_value(5, &[0, 1, 0, 0, 0, 0]),
            Value::Integer(1 << 32)
        );
        assert_eq!(serial_value(5, &[0xff; 6]), Value::Integer(-1));
        assert_eq!(
            serial_value(6, &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Value::Integer(i64::MAX)
        );
        assert_eq!(
            serial_value(6, &[0x80, 0, 0, 0, 0, 0, 0, 0]),
            Value::Integer(i64::MIN)
        );
        assert_eq!(serial_value(7, &1.5f64.to_be_bytes()), Value::Real(1.5));
        assert_eq!(serial_value(8, &[]), Value::Integer(0));
        assert_eq!(serial_value(9, &[]), Value::Integer(1));
        assert_eq!(serial_value(18, &[1, 2, 3]), Value::Blob(vec![1, 2, 3]));
        assert_eq!(serial_value(12, &[]), Value::Blob(vec![]));
        assert_eq!(serial_value(19, b"abc"), Value::Text("abc".into()));
        assert_eq!(serial_value(13, b""), Value::Text(String::new()));
    }

    #[test]
    fn records_decode_and_reject_garbage() {
        // header 5 bytes: [5, NULL, int8, text(2), int 1]; body: 0x2a "hi".
        let rec = [5, 0, 1, 17, 9, 0x2a, b'h', b'i'];
        assert_eq!(
            decode_record(&rec).unwrap(),
            vec![
                Value::Null,
                Value::Integer(42),
                Value::Text("hi".into()),
                Value::Integer(1)
            ]
        );
        // An empty record (header of one byte).
        assert_eq!(decode_record(&[1]).unwrap(), vec![]);
        assert!(decode_record(&[]).is_err());
        assert!(
            decode_record(&[9, 0]).is_err(),
            "header longer than the record"
        );
        assert!(
            decode_record(&[0]).is_err(),
            "header shorter than its own size"
        );
        assert!(decode_record(&[2, 10]).is_err(), "reserved serial type");
        assert!(
            decode_record(&[2, 6, 1, 2]).is_err(),
            "value runs past the end"
        );
        assert!(
            decode_record(&[3, 0x81]).is_err(),
            "varint cut by the header end"
        );
        let huge = [10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
        assert!(decode_record(&huge).is_err(), "a 2^63-byte blob");
    }

    #[test]
    fn the_local_payload_formula() {
        // Page 4096, nothing reserved: X = 4061, M = 489, U-4 = 4092.
        assert_eq!(local_payload(0, 4096, true), 0);
        assert_eq!(local_payload(4061, 4096, true), 4061);
        // P = 4062: K = 489 + (4062-489) % 4092 = 4062 > X, so M.
        assert_eq!(local_payload(4062, 4096, true), 489);
        // P = 4581 = M + U-4: K = 489 + 0 = 489.
        assert_eq!(local_payload(4581, 4096, true), 489);
        // P = 8153: K = 489 + 7664 % 4092 = 4061 = X; one more and K > X.
        assert_eq!(local_payload(8153, 4096, true), 4061);
        assert_eq!(local_payload(8154, 4096, true), 489);
        // P = 10000: K = 489 + 9511 % 4092 = 489 + 1327 = 1816 <= X.
        assert_eq!(local_payload(10000, 4096, true), 1816);
        // Page 512: U = 512, X = 477, M = 39; P = 1000: K = 39 + 961 % 508 = 492 > X → M.
        assert_eq!(local_payload(477, 512, true), 477);
        assert_eq!(local_payload(1000, 512, true), 39);
        // P = 600: K = 39 + 561 % 508 = 92.
        assert_eq!(local_payload(600, 512, true), 92);
        // Page 65536: X = 65501, M = 65524 * 32 / 255 - 23 = 8199.
        assert_eq!(local_payload(65501, 65536, true), 65501);
        assert_eq!(local_payload(65502, 65536, true), 8199);
        assert_eq!(
            local_payload(100_000, 65536, true),
            8199 + (100_000 - 8199) % 65532
        );
        // K = 8199 + 191801 % 65532 = 68936 > X, so M.
        assert_eq!(local_payload(200_000, 65536, true), 8199);
        // 8 reserved bytes: U = 4088.
        assert_eq!(local_payload(4053, 4088, true), 4053);
        assert_eq!(local_payload(4054, 4088, true), (4088 - 12) * 32 / 255 - 23);
        // Index pages: X = (U-12)*64/255 - 23 = 1002 for U = 4096.
        assert_eq!(local_payload(1002, 4096, false), 1002);
        // K = 489 + 514 = 1003 > X, so M.
        assert_eq!(local_payload(1003, 4096, false), 489);
        assert_eq!(local_payload(5000, 4096, false), 489 + (5000 - 489) % 4092);
        // Never more than the page can hold, whatever the payload.
        for p in (0..300_000).step_by(97) {
            for u in [480, 512, 1024, 4096, 65536] {
                assert!(local_payload(p, u, true) <= u64::from(u) - 35);
            }
        }
    }

    fn header() -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..16].copy_from_slice(MAGIC);
        h[16..18].copy_from_slice(&4096u16.to_be_bytes());
        h[18] = 1;
        h[19] = 1;
        h[21..24].copy_from_slice(&[64, 32, 32]);
        h[24..28].copy_from_slice(&7u32.to_be_bytes());
        h[28..32].copy_from_slice(&3u32.to_be_bytes());
        h[44..48].copy_from_slice(&4u32.to_be_bytes());
        h[56..60].copy_from_slice(&1u32.to_be_bytes());
        h[92..96].copy_from_slice(&7u32.to_be_bytes());
        h
    }

    #[test]
    fn headers() {
        let h = header();
        let want = Header {
            page_size: 4096,
            reserved: 0,
            page_count: 3,
        };
        assert_eq!(parse_header(&h).unwrap(), want);
        let mut big = h.clone();
        big[16..18].copy_from_slice(&1u16.to_be_bytes());
        big[20] = 12;
        let p = parse_header(&big).unwrap();
        assert_eq!((p.page_size, p.usable()), (65536, 65524));
        // A stale in-header size (change counter != version-valid-for) is not used.
        let mut stale = h.clone();
        stale[92] = 9;
        assert_eq!(parse_header(&stale).unwrap().page_count, 0);

        let bad = |f: &dyn Fn(&mut Vec<u8>)| {
            let mut b = h.clone();
            f(&mut b);
            parse_header(&b).unwrap_err()
        };
        assert!(matches!(bad(&|b| b.truncate(99)), Fault::Truncated(_)));
        assert!(matches!(bad(&|b| b[0] = b's'), Fault::NotSqlite(_)));
        assert!(matches!(
            bad(&|b| b[16..18].copy_from_slice(&1000u16.to_be_bytes())),
            Fault::NotSqlite(_)
        ));
        assert!(matches!(
            bad(&|b| b[16..18].copy_from_slice(&256u16.to_be_bytes())),
            Fault::NotSqlite(_)
        ));
        assert!(matches!(bad(&|b| b[21] = 63), Fault::NotSqlite(_)));
        assert!(matches!(bad(&|b| b[19] = 3), Fault::TooNew(_)));
        assert!(matches!(bad(&|b| b[47] = 5), Fault::TooNew(_)));
        assert!(matches!(
            bad(&|b| {
                b[16..18].copy_from_slice(&512u16.to_be_bytes());
                b[20] = 33;
            }),
            Fault::NotSqlite(_)
        ));
        assert!(matches!(bad(&|b| b[59] = 2), Fault::Utf16("UTF-16le")));
        assert!(matches!(bad(&|b| b[59] = 3), Fault::Utf16("UTF-16be")));
        assert!(matches!(bad(&|b| b[59] = 4), Fault::NotSqlite(_)));
    }
}
