//! A linked module's source lines: a compact table read once from its
//! relocated DWARF line programs (`.debug_line`), for
//! [`ExecutionEngine::symbolize_line`](crate::ExecutionEngine::symbolize_line)
//! and the jitdump's `JIT_CODE_DEBUG_INFO` records.
//!
//! The table keeps one entry per address range the line programs give a
//! line to (start address, file, line, column) and one end marker per
//! sequence, sorted by address, with each file name stored once: a few
//! bytes per source statement, against the whole DWARF (types, locations,
//! strings) that the debugger's image carries. Reading is best effort: a
//! unit or line program gimli cannot read is skipped, never an error, and
//! DWARF that yields no rows yields no table.

use std::collections::HashMap;

use gimli::{EndianSlice, RunTimeEndian, SectionId};

use crate::link::DwarfSection;

/// A source position: the file (the compilation directory joined with the
/// name, as the line program gives them), the line (from 1) and the column
/// (0 when the line program gives none).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceLocation {
    /// The source file, as the line table names it (directory joined).
    pub file: String,
    /// The line, from 1 (0: no line).
    pub line: u32,
    /// The column, from 1 (0: the whole line).
    pub column: u32,
}

impl std::fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if self.column != 0 {
            write!(f, ":{}", self.column)?;
        }
        Ok(())
    }
}

/// Marks the end of a sequence in [`Row::file`].
const END: u32 = u32::MAX;

/// From `addr` up to the next row's address, code comes from `file:line`
/// (or from nowhere, for an end marker).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Row {
    addr: u64,
    file: u32,
    line: u32,
    column: u32,
}

/// One row of a [`LineTable`], as [`LineTable::rows_in`] hands it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineRow<'a> {
    /// The first address the row covers.
    pub addr: u64,
    pub file: &'a str,
    pub line: u32,
    pub column: u32,
}

/// The address-to-line table of one module (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineTable {
    files: Vec<Box<str>>,
    rows: Vec<Row>,
}

impl LineTable {
    /// Reads the line programs of `dwarf` (a module's relocated sections).
    /// `None` when they give no line at all (no `.debug_line`, or nothing
    /// readable in it).
    pub fn from_dwarf(dwarf: &[DwarfSection]) -> Option<LineTable> {
        let endian = if cfg!(target_endian = "big") {
            RunTimeEndian::Big
        } else {
            RunTimeEndian::Little
        };
        let section = |id: SectionId| -> Result<EndianSlice<'_, RunTimeEndian>, gimli::Error> {
            let data = dwarf
                .iter()
                .find(|s| s.name == id.name())
                .map_or(&[][..], |s| s.data.as_slice());
            Ok(EndianSlice::new(data, endian))
        };
        let dwarf = gimli::Dwarf::load(section).ok()?;
        let mut table = Builder::default();
        let mut units = dwarf.units();
        // A unit header that cannot be read ends the walk: the next one's
        // offset is not known.
        while let Ok(Some(header)) = units.next() {
            if let Ok(unit) = dwarf.unit(header) {
                table.unit(&dwarf, &unit);
            }
        }
        table.finish()
    }

    /// The source position of the code at `addr`, if a line program covers it.
    pub fn lookup(&self, addr: u64) -> Option<SourceLocation> {
        let after = self.rows.partition_point(|r| r.addr <= addr);
        let row = self.rows[..after].last()?;
        let file = self.files.get(row.file as usize)?;
        Some(SourceLocation {
            file: file.to_string(),
            line: row.line,
            column: row.column,
        })
    }

    /// The rows covering any part of `[start, end)`, in address order; a
    /// row that begins before `start` is reported from `start`.
    pub(crate) fn rows_in(&self, start: u64, end: u64) -> impl Iterator<Item = LineRow<'_>> + '_ {
        let first = self.rows.partition_point(|r| r.addr <= start).max(1) - 1;
        self.rows
            .get(first..)
            .unwrap_or_default()
            .iter()
            .take_while(move |r| r.addr < end)
            .filter(|r| r.file != END)
            .filter_map(move |r| {
                let file = self.files.get(r.file as usize)?;
                let addr = r.addr.max(start);
                // A row before `start` whose range ended before it (the
                // end marker after it is what covers `start`) is skipped by
                // the END filter above; one whose range reaches `start` is
                // reported from there.
                Some(LineRow {
                    addr,
                    file,
                    line: r.line,
                    column: r.column,
                })
            })
            .filter(move |r| r.addr < end)
    }

    /// The number of address ranges with a line (end markers not counted).
    pub fn len(&self) -> usize {
        self.rows.iter().filter(|r| r.file != END).count()
    }

    /// Whether no range has a line.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of heap the table holds (its rows and file names).
    pub fn heap_bytes(&self) -> usize {
        self.rows.capacity() * std::mem::size_of::<Row>()
            + self.files.capacity() * std::mem::size_of::<Box<str>>()
            + self.files.iter().map(|f| f.len()).sum::<usize>()
    }
}

type Slice<'a> = EndianSlice<'a, RunTimeEndian>;

#[derive(Default)]
struct Builder {
    files: Vec<Box<str>>,
    by_name: HashMap<Box<str>, u32>,
    rows: Vec<Row>,
}

impl Builder {
    /// Adds the rows of `unit`'s line program; stops at the first error in
    /// it, keeping the sequences read before.
    fn unit(&mut self, dwarf: &gimli::Dwarf<Slice<'_>>, unit: &gimli::Unit<Slice<'_>>) {
        let Some(program) = unit.line_program.clone() else {
            return;
        };
        let mut rows = program.rows();
        // Rows of the current sequence: (address, file index, line, column).
        let mut sequence: Vec<(u64, u64, u32, u32)> = Vec::new();
        // File indices of this unit already named, to our table's index.
        let mut names: HashMap<u64, Option<u32>> = HashMap::new();
        while let Ok(Some((header, row))) = rows.next_row() {
            if row.end_sequence() {
                let end = row.address();
                for (i, &(addr, file, line, column)) in sequence.iter().enumerate() {
                    let next = sequence.get(i + 1).map_or(end, |r| r.0);
                    // Rows that cover no address, or no source line, give
                    // nothing to look up.
                    if next <= addr || line == 0 {
                        continue;
                    }
                    let index = *names
                        .entry(file)
                        .or_insert_with(|| self.file_name(dwarf, unit, header, file));
                    if let Some(file) = index {
                        self.rows.push(Row {
                            addr,
                            file,
                            line,
                            column,
                        });
                    }
                }
                if !sequence.is_empty() {
                    self.rows.push(Row {
                        addr: end,
                        file: END,
                        line: 0,
                        column: 0,
                    });
                }
                sequence.clear();
                continue;
            }
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
            let column = match row.column() {
                gimli::ColumnType::LeftEdge => 0,
                gimli::ColumnType::Column(c) => u32::try_from(c.get()).unwrap_or(u32::MAX),
            };
            sequence.push((row.address(), row.file_index(), line, column));
        }
    }

    /// Our index of file `index` of a line program, adding its name.
    fn file_name(
        &mut self,
        dwarf: &gimli::Dwarf<Slice<'_>>,
        unit: &gimli::Unit<Slice<'_>>,
        header: &gimli::LineProgramHeader<Slice<'_>>,
        index: u64,
    ) -> Option<u32> {
        let entry = header.file(index)?;
        let text = |value| -> Option<String> {
            let s = dwarf.attr_string(unit, value).ok()?;
            Some(String::from_utf8_lossy(s.slice()).into_owned())
        };
        let name = text(entry.path_name())?;
        let path = match entry.directory(header).and_then(text) {
            Some(dir) if !dir.is_empty() && !name.starts_with('/') => {
                format!("{}/{name}", dir.trim_end_matches('/'))
            }
            _ => name,
        };
        let path: Box<str> = path.into();
        if let Some(&i) = self.by_name.get(&path) {
            return Some(i);
        }
        let i = u32::try_from(self.files.len()).ok().filter(|&i| i != END)?;
        self.files.push(path.clone());
        self.by_name.insert(path, i);
        Some(i)
    }

    fn finish(mut self) -> Option<LineTable> {
        if !self.rows.iter().any(|r| r.file != END) {
            return None;
        }
        // Sequences are sorted among themselves; at one address an end
        // marker goes before the start of the next sequence.
        self.rows.sort_by_key(|r| (r.addr, r.file != END));
        // Consecutive end markers, and one at the address a sequence
        // starts, say nothing more.
        let mut rows: Vec<Row> = Vec::with_capacity(self.rows.len());
        for row in self.rows {
            if let Some(last) = rows.last() {
                if last.file == END && (row.file == END || row.addr == last.addr) {
                    rows.pop();
                }
            }
            rows.push(row);
        }
        rows.shrink_to_fit();
        self.files.shrink_to_fit();
        Some(LineTable {
            files: self.files,
            rows,
        })
    }
}

#[cfg(test)]
mod tests;
