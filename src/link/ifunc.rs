//! Indirect functions (ELF `STT_GNU_IFUNC`, x86-64 and AArch64): a symbol
//! whose definition is a resolver, called once at link time, whose result
//! is the function the name stands for.
//!
//! The resolver is code of the module itself, so it can run only once the
//! module is finalized (its text executable, every fixup applied). By then
//! the code and the GOT are read-only, so what the result must reach is
//! laid out beforehand, as a static linker's IPLT and IRELATIVE slots are:
//!
//! - a **slot**, one word in the module's Data (writable after finalize),
//!   which receives the result;
//! - a **thunk** in the module's Text that jumps through the slot
//!   (`arch::*::ifunc_thunk_bytes`). The symbol's address inside the link
//!   is the thunk's, so calls, branches and address-taking fixups reach
//!   the result through it (it is the function's canonical address there);
//! - GOT loads of the symbol read the slot itself: the pointer they load is
//!   the result.
//!
//! After finalize, each resolver is called on the linking thread, before
//! any of the link's names are published, in the order of the object's
//! symbols. It may call anything the module reaches (its own functions,
//! host functions); static constructors have not run yet, and another
//! indirect function of the module whose resolver has not run yet is not
//! callable (its slot holds 0), as with IRELATIVE processing in a C
//! library. The name the module exports is the result itself, so
//! `get_function_address` and other modules get the chosen function.
//!
//! Resolvers run only where the module's code runs natively (an x86-64
//! host for x86-64 code). AArch64 code on this host runs in the emulator,
//! which the linker does not call into, so there an indirect function is
//! [`Error::IndirectFunction`]; a link that does not run code (an image
//! for `rivet check`, `skip_finalize`) leaves the slots 0.

use super::layout::NONE;
use super::ObjectRecord;
use crate::arch::{aarch64, x86_64, Arch};
use crate::load::{Definition, ObjectFile, SymbolKind};
use crate::memory::{Allocation, ModuleLayout, SegmentClass};
use crate::{Error, Result};

/// One indirect function of a module.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndirectFunction {
    pub symbol: u32,
    /// Offsets of its thunk in Text and of its slot in Data.
    thunk_offset: u64,
    slot_offset: u64,
    /// Run-time addresses of the thunk, the slot and the resolver (from
    /// the assign phase).
    pub thunk: u64,
    pub slot: u64,
    pub resolver: u64,
}

/// Whether symbol `index` of `object` is an indirect function's definition.
pub(crate) fn is_indirect(object: &ObjectFile<'_>, index: usize) -> bool {
    object.symbols.get(index).is_some_and(|s| {
        s.kind == SymbolKind::IndirectFunction && matches!(s.definition, Definition::Section { .. })
    })
}

/// The thunk's size and alignment for `arch`, if rivet makes thunks for it.
fn thunk_geometry(arch: Arch) -> Option<(u64, u64)> {
    match arch {
        Arch::X86_64 => Some((x86_64::IFUNC_THUNK_SIZE as u64, 16)),
        Arch::Aarch64 => Some((aarch64::IFUNC_THUNK_SIZE as u64, 8)),
        _ => None,
    }
}

fn error(object: &ObjectFile<'_>, symbol: u32, reason: String) -> Error {
    Error::IndirectFunction {
        object: object.name.clone(),
        symbol: object
            .symbols
            .get(symbol as usize)
            .map_or_else(String::new, |s| s.name.to_string()),
        reason,
    }
}

/// Reserves a thunk (Text) and a slot (Data) for each indirect function
/// the object defines for its references (`owned`), after the sections.
pub(crate) fn plan(
    object: &ObjectFile<'_>,
    owned: &[bool],
    request: &mut ModuleLayout,
) -> Result<Vec<IndirectFunction>> {
    let symbols: Vec<u32> = (0..object.symbols.len())
        .filter(|&i| owned.get(i).copied().unwrap_or(false) && is_indirect(object, i))
        .map(|i| i as u32)
        .collect();
    let Some(&first) = symbols.first() else {
        return Ok(Vec::new());
    };
    let Some((thunk_size, thunk_align)) = thunk_geometry(object.arch) else {
        return Err(error(
            object,
            first,
            format!(
                "rivet links indirect functions (STT_GNU_IFUNC) for x86-64 and AArch64 only, not {:?}",
                object.arch
            ),
        ));
    };
    let too_big = || Error::MalformedObject {
        object: object.name.clone(),
        reason: "its sections' sizes and alignments overflow the address space".to_string(),
    };
    let mut planned = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        let text = request.get_mut(SegmentClass::Text);
        let thunk_offset = text
            .size
            .checked_next_multiple_of(thunk_align)
            .ok_or_else(too_big)?;
        text.size = thunk_offset.checked_add(thunk_size).ok_or_else(too_big)?;
        text.align = text.align.max(thunk_align);
        let data = request.get_mut(SegmentClass::Data);
        let slot_offset = data.size.checked_next_multiple_of(8).ok_or_else(too_big)?;
        data.size = slot_offset.checked_add(8).ok_or_else(too_big)?;
        data.align = data.align.max(8);
        planned.push(IndirectFunction {
            symbol,
            thunk_offset,
            slot_offset,
            thunk: 0,
            slot: 0,
            resolver: 0,
        });
    }
    Ok(planned)
}

/// Gives each indirect function its addresses: the resolver is where the
/// symbol's definition is; the symbol itself becomes the thunk, and GOT
/// loads of it read the slot.
pub(crate) fn assign(record: &mut ObjectRecord<'_, '_, '_>) -> Result<()> {
    let allocation = record.allocation()?;
    let text = allocation.segment(SegmentClass::Text).addr;
    let data = allocation.segment(SegmentClass::Data).addr;
    let addresses = &mut record.addresses;
    for function in &mut record.ifuncs {
        let si = function.symbol as usize;
        function.thunk = text + function.thunk_offset;
        function.slot = data + function.slot_offset;
        function.resolver = addresses.symbols[si];
        addresses.symbols[si] = function.thunk;
        if record
            .layout
            .got_of_symbol
            .get(si)
            .is_some_and(|&s| s != NONE)
        {
            addresses
                .got_slots_elsewhere
                .push((function.symbol, function.slot));
        }
    }
    Ok(())
}

/// Writes each thunk into Text (before finalize, through the writable view).
pub(crate) fn write_thunks(
    record: &ObjectRecord<'_, '_, '_>,
    allocation: &Allocation,
) -> Result<()> {
    let object = record.object();
    let text = allocation.segment(SegmentClass::Text);
    for function in &record.ifuncs {
        let bytes: &[u8] = match object.arch {
            Arch::X86_64 => &x86_64::ifunc_thunk_bytes(function.slot),
            Arch::Aarch64 => &aarch64::ifunc_thunk_bytes(function.slot),
            _ => &[],
        };
        let len = bytes.len() as u64;
        if text.write_ptr.is_null()
            || len == 0
            || function
                .thunk_offset
                .checked_add(len)
                .is_none_or(|end| end > text.size)
        {
            return Err(Error::MalformedObject {
                object: object.name.clone(),
                reason: "internal layout error: no room for an indirect function's thunk"
                    .to_string(),
            });
        }
        // SAFETY: the range lies inside the Text segment (checked above),
        // which the linker owns and may write through `write_ptr` until
        // finalize; nothing else refers to these bytes yet.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                text.write_ptr.add(function.thunk_offset as usize),
                bytes.len(),
            );
        }
    }
    Ok(())
}

/// What AArch64 resolvers get as their first argument: `AT_HWCAP`.
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
fn hardware_capabilities() -> u64 {
    // SAFETY: getauxval has no preconditions.
    unsafe { libc::getauxval(libc::AT_HWCAP) }
}

#[cfg(not(all(target_arch = "aarch64", target_os = "linux")))]
fn hardware_capabilities() -> u64 {
    0
}

/// Calls each resolver of a finalized module and stores its result in the
/// slot; returns (symbol, result). `runs_code`: whether the memory's code
/// runs in this process (else the slots stay 0 and nothing is returned).
pub(crate) fn run_resolvers(
    record: &ObjectRecord<'_, '_, '_>,
    runs_code: bool,
) -> Result<Vec<(u32, u64)>> {
    let object = record.object();
    let Some(first) = record.ifuncs.first() else {
        return Ok(Vec::new());
    };
    if !runs_code {
        return Ok(Vec::new());
    }
    if Some(object.arch) != Arch::host() {
        return Err(error(
            object,
            first.symbol,
            format!(
                "its resolver must run at link time, and {:?} code runs on this host only in \
                 the emulator, which the linker does not call into",
                object.arch
            ),
        ));
    }
    let mut results = Vec::with_capacity(record.ifuncs.len());
    for function in &record.ifuncs {
        // SAFETY: `resolver` is the address of the resolver function of a
        // module linked for this host's instruction set and finalized (its
        // text is executable, its fixups applied). Resolvers return the
        // function's address; they take what the C library passes: nothing
        // on x86-64 (an extra integer argument is ignored there), the
        // hardware capabilities on AArch64.
        let resolve: extern "C" fn(u64) -> u64 = unsafe { std::mem::transmute(function.resolver) };
        let result = resolve(hardware_capabilities());
        if result == 0 {
            return Err(error(
                object,
                function.symbol,
                "its resolver returned a null address".to_string(),
            ));
        }
        // SAFETY: `slot` is an 8-aligned word of the module's Data segment,
        // which a finalized allocation leaves readable and writable at its
        // run-time address; no code of the module has run but the resolvers,
        // on this thread, and the module is not published yet.
        unsafe { (function.slot as *mut u64).write(result) };
        results.push((function.symbol, result));
    }
    Ok(results)
}
