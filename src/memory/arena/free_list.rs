//! A list of free ranges, kept in address order and merged, with first-fit
//! allocation at an absolute alignment. The arena uses one per region (whole
//! blocks or chunk runs) and one per span of a class pool (sub-allocations).

use std::collections::BTreeMap;

use crate::memory::sys::round_up_usize;

/// Free `[offset, offset + len)` ranges relative to some base address.
#[derive(Debug, Clone, Default)]
pub(super) struct FreeList {
    /// Offset → length, never adjacent (merged), never empty.
    ranges: BTreeMap<usize, usize>,
    /// Sum of the lengths.
    total: usize,
}

impl FreeList {
    /// A list holding the one range `[offset, offset + len)`.
    pub(super) fn with_range(offset: usize, len: usize) -> FreeList {
        let mut list = FreeList::default();
        list.give_back(offset, len);
        list
    }

    /// Takes the first range that holds `len` bytes starting at an address
    /// (`base + offset`) that is a multiple of `align` (a power of two).
    /// Returns the offset of the taken bytes.
    pub(super) fn take_first_fit(
        &mut self,
        base: usize,
        len: usize,
        align: usize,
    ) -> Option<usize> {
        if len == 0 {
            return None;
        }
        let mut found = None;
        for (&offset, &range_len) in &self.ranges {
            if range_len < len {
                continue;
            }
            let Some(aligned) = base
                .checked_add(offset)
                .and_then(|address| round_up_usize(address, align))
            else {
                continue;
            };
            let start = aligned - base;
            let Some(end) = start.checked_add(len) else {
                continue;
            };
            if end <= offset + range_len {
                found = Some((offset, range_len, start, end));
                break;
            }
        }
        let (offset, range_len, start, end) = found?;
        self.ranges.remove(&offset);
        if start > offset {
            self.ranges.insert(offset, start - offset);
        }
        if end < offset + range_len {
            self.ranges.insert(end, offset + range_len - end);
        }
        self.total -= len;
        Some(start)
    }

    /// Puts `[offset, offset + len)` back, merged with adjacent free ranges.
    /// The range must not overlap a free range.
    pub(super) fn give_back(&mut self, mut offset: usize, mut len: usize) {
        if len == 0 {
            return;
        }
        self.total += len;
        if let Some((&before, &before_len)) = self.ranges.range(..offset).next_back() {
            debug_assert!(before + before_len <= offset, "double free");
            if before + before_len == offset {
                self.ranges.remove(&before);
                offset = before;
                len += before_len;
            }
        }
        if let Some(after_len) = self.ranges.remove(&(offset + len)) {
            len += after_len;
        }
        self.ranges.insert(offset, len);
    }

    /// Free bytes in all.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// The longest free range.
    pub(super) fn largest(&self) -> usize {
        self.ranges.values().copied().max().unwrap_or(0)
    }

    /// Number of separate free ranges.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.ranges.len()
    }

    /// The free ranges in address order.
    #[cfg(test)]
    pub(super) fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges.iter().map(|(&offset, &len)| (offset, len))
    }
}

#[cfg(test)]
mod tests;
