//! A module's own getter for Mach-O thread-local variables, for code this
//! host runs only in the emulator (arm64), where rivet's run time has no
//! getter: the emulator runs one thread, so the module's variables get one
//! copy of its thread-local block, in its Data, initialized at link time
//! from the block's image, and a getter in its Text that returns `block +
//! offset` for a descriptor (getter, key, offset). Code compiled for the
//! host gets the run time's getter instead, with a copy per thread.

use super::layout::TlsBlock;
use super::resolve::Resolved;
use super::ObjectRecord;
use crate::arch::{aarch64, Arch};
use crate::memory::{Allocation, ModuleLayout, SegmentClass};
use crate::{Error, Result};

/// Where a module's own getter and block are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SingleThreadTlv {
    getter_offset: u64,
    block_offset: u64,
    block_size: u64,
    block_align: u64,
}

impl SingleThreadTlv {
    /// The getter's run-time address.
    pub(crate) fn getter(&self, allocation: &Allocation) -> u64 {
        allocation.segment(SegmentClass::Text).addr + self.getter_offset
    }

    /// The block's run-time address.
    fn block(&self, allocation: &Allocation) -> u64 {
        allocation.segment(SegmentClass::Data).addr + self.block_offset
    }
}

/// Whether code of `arch` gets a module's own getter (arm64 only: the
/// getter is arm64 code).
pub(crate) fn has_single_thread_getter(arch: Arch) -> bool {
    arch == Arch::Aarch64
}

/// Reserves the getter (Text) and the block (Data) when a symbol of the
/// record resolves to the module's own getter.
pub(crate) fn plan(
    record: &ObjectRecord<'_, '_, '_>,
    tls: Option<&TlsBlock>,
    request: &mut ModuleLayout,
) -> Result<Option<SingleThreadTlv>> {
    if !record
        .resolved
        .iter()
        .any(|(_, r)| matches!(r, Resolved::SingleThreadTlvGetter))
    {
        return Ok(None);
    }
    let too_big = || Error::MalformedObject {
        object: record.object().name.clone(),
        reason: "its thread-local block overflows the address space".to_string(),
    };
    let (block_size, block_align) = tls.map_or((0, 1), |b| (b.size, b.align.max(1)));
    let text = request.get_mut(SegmentClass::Text);
    let getter_offset = text.size.checked_next_multiple_of(8).ok_or_else(too_big)?;
    text.size = getter_offset
        .checked_add(aarch64::TLV_GETTER_SIZE as u64)
        .ok_or_else(too_big)?;
    text.align = text.align.max(8);
    let data = request.get_mut(SegmentClass::Data);
    let block_offset = data
        .size
        .checked_next_multiple_of(block_align)
        .ok_or_else(too_big)?;
    data.size = block_offset.checked_add(block_size).ok_or_else(too_big)?;
    data.align = data.align.max(block_align);
    Ok(Some(SingleThreadTlv {
        getter_offset,
        block_offset,
        block_size,
        block_align,
    }))
}

/// Writes the getter and the block's initial values (the image the apply
/// pass wrote in ReadOnly; the rest of the block is fresh, zeroed memory).
pub(crate) fn write(
    record: &ObjectRecord<'_, '_, '_>,
    allocation: &Allocation,
    tlv: &SingleThreadTlv,
) -> Result<()> {
    let internal = |what: &str| Error::MalformedObject {
        object: record.object().name.clone(),
        reason: format!("internal layout error: {what}"),
    };
    let bytes = aarch64::single_thread_tlv_getter_bytes(tlv.block(allocation));
    let text = allocation.segment(SegmentClass::Text);
    write_bytes(text, tlv.getter_offset, &bytes).ok_or_else(|| internal("TLV getter"))?;
    let Some(block) = &record.layout.tls else {
        return Ok(());
    };
    let image_len = block.image_size.min(block.size);
    if image_len == 0 {
        return Ok(());
    }
    let read_only = allocation.segment(SegmentClass::ReadOnly);
    if read_only.write_ptr.is_null()
        || block
            .image_offset
            .checked_add(image_len)
            .is_none_or(|end| end > read_only.size)
    {
        return Err(internal("TLS image"));
    }
    // SAFETY: the image lies inside the ReadOnly segment (checked above),
    // written by the apply pass through this writable view, which the
    // linker owns until finalize; the copy below writes another segment.
    let image = unsafe {
        std::slice::from_raw_parts(
            read_only.write_ptr.add(block.image_offset as usize),
            image_len as usize,
        )
    };
    let data = allocation.segment(SegmentClass::Data);
    write_bytes(data, tlv.block_offset, image).ok_or_else(|| internal("TLV block"))
}

/// Copies `bytes` to `offset` of `segment` through its writable view;
/// `None` when they do not fit.
fn write_bytes(segment: &crate::memory::Segment, offset: u64, bytes: &[u8]) -> Option<()> {
    let end = offset.checked_add(bytes.len() as u64)?;
    if segment.write_ptr.is_null() || end > segment.size {
        return None;
    }
    // SAFETY: the range lies inside the segment (checked above), which
    // the linker owns and may write through `write_ptr` until finalize;
    // `bytes` is not inside it (a getter's bytes, or another segment).
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            segment.write_ptr.add(offset as usize),
            bytes.len(),
        );
    }
    Some(())
}

/// The map entries that name the getter and the block (so that the
/// emulator maps their pages with the module's sections).
pub(crate) fn map_entries(
    allocation: &Allocation,
    tlv: &SingleThreadTlv,
) -> [(String, u64, u64, u64, SegmentClass); 2] {
    [
        (
            "[tlv-getter]".to_string(),
            tlv.getter(allocation),
            aarch64::TLV_GETTER_SIZE as u64,
            8,
            SegmentClass::Text,
        ),
        (
            "[tlv-block]".to_string(),
            tlv.block(allocation),
            tlv.block_size,
            tlv.block_align,
            SegmentClass::Data,
        ),
    ]
}
