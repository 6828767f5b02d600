//! The floor: the least any in-memory linker must do with an object —
//! copy its loaded sections' bytes into fresh memory and write once at
//! every relocation site.
//!
//! Parsing the object (with [`rivet::load::ObjectFile`]) to find the
//! sections and sites is done when the plan is made and is not part of the
//! floor's time; neither is resolving symbols, building a GOT, or
//! protecting pages. A linker's time over the floor is therefore everything
//! it does beyond touching the bytes it must touch, parsing included.

use std::time::{Duration, Instant};

use rivet::load::{ObjectFile, RelocKind};
use rivet::{Error, Result};

/// Where each loaded section goes in the floor's image, and every site.
#[derive(Debug, Clone, Default)]
pub struct FloorPlan<'data> {
    /// (bytes, offset in the image); zero-fill sections have no bytes to copy.
    copies: Vec<(&'data [u8], usize)>,
    /// (offset in the image, field width in bytes) of each relocation.
    sites: Vec<(usize, u8)>,
    /// Bytes of the image.
    size: usize,
}

fn field_width(kind: RelocKind) -> u8 {
    match kind {
        RelocKind::X86_64(r) => r.field_size() as u8,
        // AArch64 fixups patch one 32-bit instruction or a 64-bit word; the
        // floor writes four bytes for all of them.
        RelocKind::Aarch64(_) => 4,
        RelocKind::Riscv64(r) => r.field_size() as u8,
    }
}

impl<'data> FloorPlan<'data> {
    /// Plans the image of `objects`, laid out one after another, each
    /// section at its alignment. A relocation whose field lies outside its
    /// section is an error naming it.
    pub fn new(objects: &[ObjectFile<'data>]) -> Result<FloorPlan<'data>> {
        let mut plan = FloorPlan::default();
        for object in objects {
            for section in &object.sections {
                if !section.kind.is_loaded() {
                    continue;
                }
                let align = section.align.max(1) as usize;
                let offset = plan.size.div_ceil(align) * align;
                if !section.data.is_empty() {
                    plan.copies.push((section.data, offset));
                }
                for r in &section.relocations {
                    let width = field_width(r.kind);
                    if r.offset.saturating_add(u64::from(width)) > section.size {
                        return Err(Error::MalformedObject {
                            object: object.name.clone(),
                            reason: format!(
                                "relocation {} at {}+{:#x} lies outside the section",
                                r.kind, section.name, r.offset
                            ),
                        });
                    }
                    plan.sites.push((offset + r.offset as usize, width));
                }
                plan.size = offset + section.size as usize;
            }
        }
        Ok(plan)
    }

    /// Relocation sites in the plan.
    pub fn sites(&self) -> usize {
        self.sites.len()
    }

    /// Bytes of the image.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Builds the image: fresh zeroed memory, every section copied, every
    /// site written once. Returns the image and the time it took.
    pub fn run(&self) -> (Vec<u8>, Duration) {
        let start = Instant::now();
        let mut image = vec![0u8; self.size];
        for &(bytes, offset) in &self.copies {
            if let Some(dst) = image.get_mut(offset..offset + bytes.len()) {
                dst.copy_from_slice(bytes);
            }
        }
        for &(offset, width) in &self.sites {
            // The value is a stand-in for S + A - P: cheap, and different at
            // every site so that the writes cannot be merged.
            let value = (offset as u64).wrapping_mul(0x9E37_79B9);
            let width = usize::from(width).min(8);
            if let Some(dst) = image.get_mut(offset..offset + width) {
                dst.copy_from_slice(&value.to_le_bytes()[..width]);
            }
        }
        let elapsed = start.elapsed();
        (std::hint::black_box(image), elapsed)
    }
}
