//! Walking a table b-tree: interior pages (type 0x05) point to children, leaf pages (0x0D)
//! hold the rows (rowid and record), a record too big for its page continues on a chain of
//! overflow pages. Every offset is checked against the page, and each page is visited once,
//! so a corrupt file ends in an error, never in a panic or a loop.

use std::collections::HashSet;

use super::Fault;
use super::format::{be_u16, be_u32, local_payload, varint};
use super::pager::Pager;

const INTERIOR: u8 = 0x05;
const LEAF: u8 = 0x0d;

/// Calls `row(rowid, record)` for every row of the table b-tree rooted at page `root`, in
/// rowid order.
pub(super) fn scan(
    pager: &Pager,
    root: u32,
    mut row: impl FnMut(i64, &[u8]) -> Result<(), Fault>,
) -> Result<(), Fault> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        if !seen.insert(n) || seen.len() > pager.page_count() as usize {
            return Err(Fault::Corrupt(format!(
                "page {n} appears twice in the b-tree rooted at page {root}"
            )));
        }
        let page = pager.page(n)?;
        let usable = pager.header().usable() as usize;
        let cells = Cells::new(&page, n, usable)?;
        match cells.kind {
            INTERIOR => {
                // Children in key order: each cell's left child, then the right-most pointer.
                stack.push(cells.right_most);
                let mut children = Vec::with_capacity(cells.count);
                for i in 0..cells.count {
                    let cell = cells.cell(i)?;
                    children.push(be_u32(cell, 0).ok_or_else(|| cells.bad(i))?);
                }
                stack.extend(children.into_iter().rev());
            }
            _ => {
                for i in 0..cells.count {
                    let (rowid, payload) = leaf_cell(pager, &cells, i)?;
                    row(rowid, &payload)?;
                }
            }
        }
    }
    Ok(())
}

/// The cells of one b-tree page.
struct Cells<'a> {
    page: &'a [u8],
    number: u32,
    usable: usize,
    kind: u8,
    count: usize,
    /// Where the cell pointer array starts.
    pointers: usize,
    right_most: u32,
}

impl<'a> Cells<'a> {
    fn new(page: &'a [u8], number: u32, usable: usize) -> Result<Self, Fault> {
        // Page 1 starts with the database header.
        let at = if number == 1 { 100 } else { 0 };
        let kind = page[at];
        let header = match kind {
            INTERIOR => 12,
            LEAF => 8,
            _ => {
                return Err(Fault::Corrupt(format!(
                    "page {number} is not a table b-tree page (type {kind:#04x})"
                )));
            }
        };
        let count = be_u16(page, at + 3).unwrap_or_default() as usize;
        let pointers = at + header;
        if pointers + 2 * count > usable {
            return Err(Fault::Corrupt(format!(
                "page {number} claims {count} cells, more than fit on it"
            )));
        }
        let right_most = if kind == INTERIOR {
            be_u32(page, at + 8).unwrap_or_default()
        } else {
            0
        };
        Ok(Cells {
            page,
            number,
            usable,
            kind,
            count,
            pointers,
            right_most,
        })
    }

    /// Cell `i`: from its offset to the end of the usable part of the page.
    fn cell(&self, i: usize) -> Result<&'a [u8], Fault> {
        let offset = be_u16(self.page, self.pointers + 2 * i).unwrap_or_default() as usize;
        if offset < self.pointers + 2 * self.count || offset >= self.usable {
            return Err(self.bad(i));
        }
        Ok(&self.page[offset..self.usable])
    }

    fn bad(&self, i: usize) -> Fault {
        Fault::Corrupt(format!(
            "cell {i} of page {} lies outside the page's cell area",
            self.number
        ))
    }
}

/// The rowid and whole payload (overflow included) of cell `i` of a table leaf.
fn leaf_cell(pager: &Pager, cells: &Cells<'_>, i: usize) -> Result<(i64, Vec<u8>), Fault> {
    let cell = cells.cell(i)?;
    let (size, a) = varint(cell).ok_or_else(|| cells.bad(i))?;
    let (rowid, b) = varint(&cell[a..]).ok_or_else(|| cells.bad(i))?;
    let rest = &cell[a + b..];
    let usable = pager.header().usable();
    let local = local_payload(size, usable, true);
    let mut overflow = size - local;
    let per_page = u64::from(usable) - 4;
    // Bounded by the pages there are, before anything is allocated for it.
    if overflow > u64::from(pager.page_count()) * per_page {
        return Err(Fault::Corrupt(format!(
            "cell {i} of page {} claims a {size}-byte record, more than the database holds",
            cells.number
        )));
    }
    // Less than a page: it fits in a usize.
    let local = usize::try_from(local).unwrap_or(usize::MAX);
    let on_page = rest.get(..local).ok_or_else(|| cells.bad(i))?;
    let mut payload = Vec::with_capacity(usize::try_from(size.min(1 << 24)).unwrap_or(0));
    payload.extend_from_slice(on_page);
    if overflow > 0 {
        let mut next = rest
            .get(local..local + 4)
            .and_then(|b| be_u32(b, 0))
            .ok_or_else(|| cells.bad(i))?;
        while overflow > 0 {
            if next == 0 {
                return Err(Fault::Corrupt(format!(
                    "the overflow chain of cell {i} of page {} ends {overflow} bytes early",
                    cells.number
                )));
            }
            let page = pager.page(next)?;
            let take = overflow.min(per_page);
            payload.extend_from_slice(&page[4..][..usize::try_from(take).unwrap_or(0)]);
            overflow -= take;
            next = be_u32(&page, 0).unwrap_or_default();
        }
    }
    Ok((rowid.cast_signed(), payload))
}
