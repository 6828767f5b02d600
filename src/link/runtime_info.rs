//! What the run-time side needs to know about a linked module: where its
//! unwind tables are, and which pointer arrays hold its constructors and
//! destructors.

use crate::load::{ObjectFile, SectionKind};

/// Unwind tables and initializer arrays of one linked module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeInfo {
    /// (address, size) of each unwind-table (`.eh_frame`) section; each is
    /// followed in memory by a 4-byte zero terminator.
    pub unwind_tables: Vec<(u64, u64)>,
    /// Pointer arrays of constructors.
    pub constructors: Vec<InitArray>,
    /// Pointer arrays of destructors.
    pub destructors: Vec<InitArray>,
    /// The module's thread-local block, if it has one.
    pub tls: Option<TlsTemplate>,
}

/// A module's thread-local block: what each thread's copy starts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlsTemplate {
    /// Process-wide key `__tls_get_addr` finds the module's block by.
    pub key: u64,
    /// Run-time address of the initial image (`.tdata` contents).
    pub image: u64,
    /// Bytes of the image; the rest of the block starts zeroed.
    pub image_size: u64,
    /// Bytes of a thread's block.
    pub size: u64,
    /// A block's alignment.
    pub align: u64,
}

/// A section holding function pointers to call at start-up or shut-down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitArray {
    /// Lower runs first for constructors and last for destructors.
    pub priority: u32,
    /// Run-time address of the first pointer.
    pub addr: u64,
    /// Number of pointers.
    pub count: u64,
    /// Whether the array is called from its last element to its first
    /// (`.ctors` and `.fini_array`), rather than first to last.
    pub reverse: bool,
}

/// Which list a section's pointers belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Constructor,
    Destructor,
}

/// Default priority of an initializer without one.
const DEFAULT_PRIORITY: u32 = 65535;

/// Recognizes initializer sections by name, in every format rivet reads.
fn classify(name: &str) -> Option<(Role, u32, bool)> {
    let numbered = |rest: &str| -> Option<u32> {
        if rest.is_empty() {
            Some(DEFAULT_PRIORITY)
        } else {
            rest.strip_prefix('.')?.parse().ok()
        }
    };
    if let Some(rest) = name.strip_prefix(".init_array") {
        return Some((Role::Constructor, numbered(rest)?, false));
    }
    if let Some(rest) = name.strip_prefix(".fini_array") {
        return Some((Role::Destructor, numbered(rest)?, true));
    }
    if let Some(rest) = name.strip_prefix(".ctors") {
        // `.ctors.N` holds priority 65535 - N, and runs back to front.
        let n = numbered(rest)?;
        let priority = if rest.is_empty() {
            n
        } else {
            DEFAULT_PRIORITY.saturating_sub(n)
        };
        return Some((Role::Constructor, priority, true));
    }
    if let Some(rest) = name.strip_prefix(".dtors") {
        let n = numbered(rest)?;
        let priority = if rest.is_empty() {
            n
        } else {
            DEFAULT_PRIORITY.saturating_sub(n)
        };
        return Some((Role::Destructor, priority, false));
    }
    match name {
        "__mod_init_func" => return Some((Role::Constructor, DEFAULT_PRIORITY, false)),
        "__mod_term_func" => return Some((Role::Destructor, DEFAULT_PRIORITY, false)),
        _ => {}
    }
    // COFF: `.CRT$XC*` are initializers and `.CRT$XT*` terminators, ordered by
    // their suffix; `.CRT$XCU` is the default for C++ globals.
    if let Some(suffix) = name.strip_prefix(".CRT$XC") {
        return Some((Role::Constructor, crt_priority(suffix), false));
    }
    if let Some(suffix) = name.strip_prefix(".CRT$XT") {
        return Some((Role::Destructor, crt_priority(suffix), false));
    }
    None
}

/// Orders `.CRT$XC<suffix>` sections as the MSVC linker does (by name):
/// `U` (the default) maps to the default priority, others around it.
fn crt_priority(suffix: &str) -> u32 {
    if suffix == "U" {
        return DEFAULT_PRIORITY;
    }
    // LLVM writes prioritized initializers as `.CRT$XCT<5 digits>`.
    if let Some(digits) = suffix.strip_prefix('T') {
        if let Ok(p) = digits.parse::<u32>() {
            return p;
        }
    }
    suffix
        .bytes()
        .next()
        .map_or(DEFAULT_PRIORITY, |b| u32::from(b) * 256)
}

/// Checks that `table` is an `.eh_frame` the process unwinder can walk
/// without reading out of bounds or aborting: record lengths inside the
/// table, CIE versions 1 or 3, augmentation strings the unwinder knows, and
/// every FDE pointing at a CIE of the table. (The unwinder trusts what it is
/// given; a malformed table must never reach it.)
pub(crate) fn check_eh_frame(table: &[u8]) -> Result<(), String> {
    let word = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(table.get(at..at + 4)?.try_into().ok()?))
    };
    // (offset, bytes of an FDE's address fields under its CIE's encoding).
    let mut cies: Vec<(usize, usize)> = Vec::new();
    let mut at = 0usize;
    while at < table.len() {
        let length = word(at).ok_or_else(|| format!("record at {at:#x} is cut short"))?;
        if length == 0 {
            break;
        }
        if length == u32::MAX {
            return Err(format!("record at {at:#x} uses the 64-bit format"));
        }
        let body = at + 4;
        let end = body
            .checked_add(length as usize)
            .filter(|&end| end <= table.len() && length >= 4)
            .ok_or_else(|| format!("record at {at:#x} runs past the table"))?;
        let id = word(body).ok_or_else(|| format!("record at {at:#x} is cut short"))?;
        if id == 0 {
            let version = *table.get(body + 4).ok_or("CIE without a version")?;
            if version != 1 && version != 3 {
                return Err(format!("CIE at {at:#x} has version {version}"));
            }
            let aug = &table[(body + 5).min(end)..end];
            let nul = aug
                .iter()
                .position(|&b| b == 0)
                .ok_or_else(|| format!("CIE at {at:#x} has an unterminated augmentation"))?;
            let aug_str = &aug[..nul];
            let known = aug_str.is_empty()
                || (aug_str[0] == b'z' && aug_str[1..].iter().all(|c| b"RPLS".contains(c)));
            if !known {
                return Err(format!(
                    "CIE at {at:#x} has an augmentation the unwinder does not know"
                ));
            }
            // The augmentation data: the unwinder aborts on a pointer
            // encoding it cannot read, so check each one.
            let cut = || format!("CIE at {at:#x} is cut short");
            let byte = |cursor: usize| table.get(cursor).copied().filter(|_| cursor < end);
            let leb = |cursor: &mut usize| -> Result<(), String> {
                loop {
                    let b = byte(*cursor).ok_or_else(cut)?;
                    *cursor += 1;
                    if b & 0x80 == 0 {
                        return Ok(());
                    }
                }
            };
            let mut cursor = body + 5 + nul + 1;
            leb(&mut cursor)?; // code alignment
            leb(&mut cursor)?; // data alignment
            if version == 1 {
                cursor += 1;
            } else {
                leb(&mut cursor)?; // return address register
            }
            // FDE addresses are absolute 8-byte values unless 'R' says otherwise.
            let mut address_size = 8;
            if aug_str.first() == Some(&b'z') {
                leb(&mut cursor)?; // augmentation data length
                for &c in &aug_str[1..] {
                    if c == b'S' {
                        continue;
                    }
                    let encoding = byte(cursor).ok_or_else(cut)?;
                    cursor += 1;
                    if !encoding_is_readable(encoding) {
                        return Err(format!(
                            "CIE at {at:#x} has pointer encoding {encoding:#x}, which the unwinder cannot read"
                        ));
                    }
                    if c == b'R' {
                        // The unwinder reads FDE addresses with this encoding
                        // while searching: direct, absolute or PC-relative.
                        if encoding & 0x80 != 0 || encoding & 0x70 > 0x10 || encoding == 0xff {
                            return Err(format!(
                                "CIE at {at:#x} has FDE encoding {encoding:#x}, which the unwinder cannot search"
                            ));
                        }
                        address_size = match encoding & 0x0f {
                            0x02 | 0x0a => 2,
                            0x03 | 0x0b => 4,
                            _ => 8,
                        };
                    }
                    if c == b'P' {
                        // libgcc reads the personality even while only
                        // searching for an FDE, with the encoding's low
                        // seven bits: `omit` (0xff) becomes an unknown form
                        // there, and it aborts.
                        if encoding == 0xff {
                            return Err(format!(
                                "CIE at {at:#x} omits its personality pointer (encoding 0xff), which the unwinder cannot read"
                            ));
                        }
                        // The personality pointer itself.
                        cursor += match encoding & 0x0f {
                            0x02 | 0x0a => 2,
                            0x03 | 0x0b => 4,
                            _ => 8,
                        };
                        if cursor > end {
                            return Err(cut());
                        }
                    }
                }
            }
            cies.push((at, address_size));
        } else {
            // The CIE pointer counts back from the pointer field itself.
            let cie = body.checked_sub(id as usize);
            let &(_, address_size) = cies
                .iter()
                .find(|(c, _)| Some(*c) == cie)
                .ok_or_else(|| format!("FDE at {at:#x} does not point at a CIE before it"))?;
            // The CIE pointer, then the start address and the length.
            if (length as usize) < 4 + 2 * address_size {
                return Err(format!("FDE at {at:#x} is too short for its addresses"));
            }
        }
        at = end;
    }
    Ok(())
}

/// Whether the unwinder can read a pointer of `encoding` with a fixed size
/// (libgcc aborts on the others): absolute, 2/4/8-byte data, relative to
/// the place, text, data, function or aligned; `omit` (0xff) is allowed.
fn encoding_is_readable(encoding: u8) -> bool {
    if encoding == 0xff {
        return true;
    }
    let form = encoding & 0x0f;
    let base = encoding & 0x70;
    matches!(form, 0x00 | 0x02 | 0x03 | 0x04 | 0x0a | 0x0b | 0x0c) && base <= 0x50
}

/// Collects `object`'s unwind tables and initializer arrays, given the
/// run-time address of each of its sections.
pub(crate) fn collect(object: &ObjectFile<'_>, section_addrs: &[u64]) -> RuntimeInfo {
    let mut info = RuntimeInfo::default();
    for (i, section) in object.sections.iter().enumerate() {
        let addr = section_addrs.get(i).copied().unwrap_or(0);
        if !section.kind.is_loaded() || addr == 0 {
            continue;
        }
        if section.kind == SectionKind::Unwind && section.size > 0 {
            info.unwind_tables.push((addr, section.size));
            continue;
        }
        if let Some((role, priority, reverse)) = classify(section.name) {
            let entry = InitArray {
                priority,
                addr,
                count: section.size / 8,
                reverse,
            };
            match role {
                Role::Constructor => info.constructors.push(entry),
                Role::Destructor => info.destructors.push(entry),
            }
        }
    }
    info
}

#[cfg(test)]
mod tests;
