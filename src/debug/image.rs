//! Turning a [`LinkMap`] into the sections and symbols of a
//! [`ModuleImage`](super::ModuleImage).
//!
//! A link map knows where each section and symbol went but not how long a
//! symbol is or whether it is code. Here a symbol is code when the section
//! holding it is executable, and its size runs to the next higher symbol
//! address in the same section or to the section's end.

use super::{DebugSection, DebugSymbol};
use crate::link::{DwarfSection, LinkMap};
use crate::memory::SegmentClass;

/// The sections and symbols of one linked module, borrowed from its link map.
/// Build a [`ModuleImage`](super::ModuleImage) from them:
///
/// ```no_run
/// # fn demo(name: &str, map: &rivet::link::LinkMap) {
/// use rivet::debug::{image::ImageParts, ModuleImage};
/// use rivet::load::Arch;
/// let parts = ImageParts::from_link_map(map);
/// let image = ModuleImage {
///     name,
///     arch: Arch::X86_64,
///     sections: &parts.sections,
///     symbols: &parts.symbols,
///     dwarf: parts.dwarf,
/// };
/// # let _ = image;
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImageParts<'a> {
    /// The module's placed sections.
    pub sections: Vec<DebugSection<'a>>,
    /// The module's symbols, at their run-time addresses.
    pub symbols: Vec<DebugSymbol<'a>>,
    /// The map's relocated DWARF sections.
    pub dwarf: &'a [DwarfSection],
}

impl<'a> ImageParts<'a> {
    /// The loaded sections of `map` and the symbols that lie inside one of
    /// them. Symbols outside every loaded section (file symbols, absolute
    /// symbols) are left out: they name no place in the module's memory.
    pub fn from_link_map(map: &'a LinkMap) -> ImageParts<'a> {
        let sections: Vec<DebugSection<'a>> = map
            .sections
            .iter()
            .map(|(name, addr, size, _align, class)| DebugSection {
                name,
                addr: *addr,
                size: *size,
                executable: matches!(class, SegmentClass::Text | SegmentClass::Stubs),
                writable: *class == SegmentClass::Data,
            })
            .collect();

        // Section indices by start address, for finding the one holding an
        // address. Loaded sections do not overlap; empty ones hold nothing.
        let mut by_addr: Vec<usize> = (0..sections.len())
            .filter(|&i| sections[i].size != 0)
            .collect();
        by_addr.sort_by_key(|&i| sections[i].addr);
        let holder = |addr: u64| -> Option<usize> {
            let after = by_addr.partition_point(|&i| sections[i].addr <= addr);
            let &i = by_addr[..after].last()?;
            let s = &sections[i];
            (addr - s.addr < s.size).then_some(i)
        };

        // Each section's symbol addresses, sorted and deduplicated, so a
        // symbol's size is the distance to the next one.
        let placed: Vec<(usize, &'a str, u64)> = map
            .symbols
            .iter()
            .filter_map(|(name, addr)| Some((holder(*addr)?, name.as_str(), *addr)))
            .collect();
        let mut starts: Vec<Vec<u64>> = vec![Vec::new(); sections.len()];
        for &(section, _, addr) in &placed {
            starts[section].push(addr);
        }
        for list in &mut starts {
            list.sort_unstable();
            list.dedup();
        }

        let symbols = placed
            .into_iter()
            .map(|(section, name, addr)| {
                let s = &sections[section];
                let list = &starts[section];
                let next = list[list.partition_point(|&a| a <= addr)..]
                    .first()
                    .copied()
                    .unwrap_or(s.addr + s.size);
                DebugSymbol {
                    name,
                    addr,
                    size: next - addr,
                    is_function: s.executable,
                }
            })
            .collect();
        ImageParts {
            sections,
            symbols,
            dwarf: &map.dwarf,
        }
    }
}

#[cfg(test)]
mod tests;
