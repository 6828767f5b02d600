//! What every fuzz target does with one input: parse it as an object, and
//! when that succeeds, link it in a fresh engine and look up its symbols.
//! Nothing linked is ever called. Any outcome is fine except a panic, an
//! abort, a crash or a hang, which libFuzzer reports.
//!
//! Each target is tied to one format: bytes that do not identify themselves
//! as that format get its identification written over their first bytes
//! ([`Format::focus`]), so that even input unlike the seeds reaches the
//! format's parser instead of stopping at "unknown file kind". The
//! unmodified bytes are parsed too, so the format dispatch sees arbitrary
//! input as well.
//!
//! Two more targets link into the image manager, where objects decide the
//! sizes and alignments of heap buffers: `check` (set up as `rivet check`
//! sets it up, with a pinned segment, [`check`]) and `image` ([`image`]),
//! each at a placement the input may choose ([`Placement`]).

use std::borrow::Cow;
use std::ffi::c_void;
use std::sync::OnceLock;

use std::collections::BTreeMap;

use rivet::link::{Externals, LinkOptions, LinkUnit, LinkedModule, SymbolTable};
use rivet::load::{Binding, Definition, ObjectFile, SymbolKind};
use rivet::memory::{Image, ImageConfig, MemoryManager, SegmentClass};
use rivet::ExecutionEngine;

/// The name every fuzzed object is given (it appears in errors).
pub const NAME: &str = "fuzz";

/// Symbol names looked up after a link, at most.
const LOOKUPS: usize = 4;

/// The object format a target explores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Elf,
    MachO,
    Coff,
}

/// ELF, 64-bit, little-endian.
const ELF_IDENT: [u8; 6] = [0x7f, b'E', b'L', b'F', 2, 1];
/// `MH_MAGIC_64`, little-endian.
const MACHO_MAGIC: [u8; 4] = [0xcf, 0xfa, 0xed, 0xfe];
/// `IMAGE_FILE_MACHINE_AMD64`.
const COFF_AMD64: [u8; 2] = [0x64, 0x86];
/// The COFF machine fields that identify an object, little-endian:
/// i386, AMD64, ARM64, ARMNT, ARM64EC, ARM64X.
const COFF_MACHINES: [[u8; 2]; 6] = [
    [0x4c, 0x01],
    [0x64, 0x86],
    [0x64, 0xaa],
    [0xc4, 0x01],
    [0x41, 0xa6],
    [0x4e, 0xa6],
];
/// Start of a bigobj / anonymous object header (`Sig1` = 0, `Sig2` = 0xffff).
const COFF_ANON: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

impl Format {
    /// Whether `data` already identifies itself as this format (including
    /// variants the loader refuses, such as 32-bit ELF or Mach-O, which
    /// stay as they are so that their refusal is exercised).
    pub fn matches(self, data: &[u8]) -> bool {
        match self {
            Format::Elf => data.starts_with(&ELF_IDENT[..4]),
            // 32- and 64-bit magic, either byte order.
            Format::MachO => matches!(
                data.get(..4),
                Some([0xce | 0xcf, 0xfa, 0xed, 0xfe] | [0xfe, 0xed, 0xfa, 0xce | 0xcf])
            ),
            Format::Coff => {
                COFF_MACHINES.iter().any(|m| data.starts_with(m)) || data.starts_with(&COFF_ANON)
            }
        }
    }

    /// `data` if it already identifies as this format, else a copy with the
    /// format's identification written over its first bytes (a copy is
    /// extended with zeros when it is shorter than that).
    pub fn focus(self, data: &[u8]) -> Cow<'_, [u8]> {
        if self.matches(data) {
            return Cow::Borrowed(data);
        }
        let ident: &[u8] = match self {
            Format::Elf => &ELF_IDENT,
            Format::MachO => &MACHO_MAGIC,
            Format::Coff => &COFF_AMD64,
        };
        let mut bytes = data.to_vec();
        if bytes.len() < ident.len() {
            bytes.resize(ident.len(), 0);
        }
        bytes[..ident.len()].copy_from_slice(ident);
        Cow::Owned(bytes)
    }
}

/// One fuzz input through the loader and the linker.
pub fn run(format: Format, data: &[u8]) {
    let bytes = format.focus(data);
    if let Cow::Owned(_) = bytes {
        // The bytes as given, through the format dispatch.
        if let Err(e) = ObjectFile::parse(data, NAME) {
            let _ = e.to_string();
        }
    }
    exercise(&bytes);
}

/// Parses `bytes`; if they parse, links them and looks symbols up.
pub fn exercise(bytes: &[u8]) {
    let (names, runs_code) = match ObjectFile::parse(bytes, NAME) {
        Ok(object) => (inspect(&object), !defines_indirect_functions(&object)),
        Err(e) => {
            // Errors name what failed; formatting them must not panic either.
            let message = e.to_string();
            trace(|| format!("parse: {message}"));
            return;
        }
    };
    link(bytes, &names, runs_code);
}

/// Whether `object` defines an indirect function (ELF `STT_GNU_IFUNC`),
/// whose resolver the linker calls: fuzzed code must never run, so such
/// an object is linked into memory that runs nothing ([`Image`]).
pub fn defines_indirect_functions(object: &ObjectFile<'_>) -> bool {
    object
        .symbols
        .iter()
        .any(|s| s.kind == SymbolKind::IndirectFunction && s.definition != Definition::Undefined)
}

/// An engine for a fuzzed object: the arena, or when `runs_code` is false
/// (see [`defines_indirect_functions`]) an image that runs nothing.
pub fn engine(runs_code: bool) -> Option<ExecutionEngine> {
    if runs_code {
        ExecutionEngine::with_lmm(Some(true)).ok()
    } else {
        Some(ExecutionEngine::new(Box::new(Image::new(
            ImageConfig::default(),
        ))))
    }
}

/// Walks the parsed model the way error messages do, and picks the names
/// to look up after the link: defined external symbols first, then one
/// undefined one.
fn inspect(object: &ObjectFile<'_>) -> Vec<String> {
    for section in &object.sections {
        for reloc in &section.relocations {
            let _ = object.target_name(reloc.target);
            if let Some(subtrahend) = reloc.subtrahend {
                let _ = object.target_name(subtrahend);
            }
        }
    }
    let mut names: Vec<String> = object
        .symbols
        .iter()
        .filter(|s| s.binding != Binding::Local && !s.name.is_empty())
        .filter(|s| s.definition != Definition::Undefined)
        .take(LOOKUPS - 1)
        .map(|s| s.name.to_string())
        .collect();
    if let Some(undefined) = object
        .symbols
        .iter()
        .find(|s| s.definition == Definition::Undefined && !s.name.is_empty())
    {
        names.push(undefined.name.to_string());
    }
    names
}

/// Links `bytes` in an engine of its own (dropped before returning, with
/// everything it mapped and registered) and looks `names` up.
fn link(bytes: &[u8], names: &[String], runs_code: bool) {
    let Some(engine) = engine(runs_code) else {
        return;
    };
    // Link maps (and symbolize) walk the finished layout: exercise them too.
    engine.keep_link_maps(true);
    // The external names of rivet's every-relocation fixture (a seed), with
    // values that fit the narrow fields it patches.
    static EXT: u64 = 0;
    engine.add_global_mapping("ext", &EXT as *const u64 as u64);
    engine.add_global_mapping("low32", 0x7fff_0000);
    engine.add_global_mapping("low16", 0xfffe);
    engine.add_global_mapping("low8", 0x7e);
    let id = match engine.add_object_bytes(bytes.to_vec(), NAME) {
        Ok(id) => id,
        Err(e) => {
            trace(|| format!("add: {e}"));
            return;
        }
    };
    let finalized = engine.finalize_object();
    trace(|| match &finalized {
        Ok(()) => format!("linked; looking up {names:?}"),
        Err(e) => format!("link: {e}"),
    });
    if finalized.is_err() {
        // A failed finalize leaves the module pending: one look-up tries the
        // link again, which must fail the same way, cleanly.
        if let Some(name) = names.first() {
            let _ = engine.get_function_address(name);
        }
        let _ = engine.remove_module(id);
        return;
    }
    for name in names {
        if let Ok(address) = engine.get_global_value_address(name) {
            let _ = engine.symbolize(address);
            probe_unwinder(address);
        }
    }
    let _ = engine.memory_stats();
    let _ = engine.link_maps();
    let _ = engine.remove_module(id);
}

/// With `RIVET_FUZZ_TRACE` set, prints what became of each input (to read
/// what the seeds reach: `cargo fuzz run TARGET fuzz/seeds/FORMAT -- -runs=0`).
fn trace(message: impl FnOnce() -> String) {
    static ON: OnceLock<bool> = OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("RIVET_FUZZ_TRACE").is_some()) {
        eprintln!("rivet-fuzz: {}", message());
    }
}

/// libgcc's view of a code address's unwind entry (`struct dwarf_eh_bases`).
#[repr(C)]
struct DwarfEhBases {
    tbase: *mut c_void,
    dbase: *mut c_void,
    func: *mut c_void,
}

extern "C" {
    /// libgcc's FDE look-up, as used by every unwind and backtrace.
    fn _Unwind_Find_FDE(pc: *mut c_void, bases: *mut DwarfEhBases) -> *const c_void;
}

/// Asks the process unwinder for the unwind entry of `address`, as the
/// next panic, exception or backtrace in the process would. A look-up makes
/// libgcc read every `.eh_frame` table registered since the last one, so a
/// table the linker registered that the unwinder cannot read fails here
/// instead of at some later unwind. Reads only; calls nothing linked.
///
/// `RIVET_FUZZ_UNWIND=0` leaves it out (to look for other problems while a
/// known unwind-table one is open).
fn probe_unwinder(address: u64) {
    static ON: OnceLock<bool> = OnceLock::new();
    let on = *ON.get_or_init(|| std::env::var_os("RIVET_FUZZ_UNWIND").is_none_or(|v| v != "0"));
    if !on || !cfg!(all(target_arch = "x86_64", target_os = "linux")) || address == 0 {
        return;
    }
    let mut bases = DwarfEhBases {
        tbase: std::ptr::null_mut(),
        dbase: std::ptr::null_mut(),
        func: std::ptr::null_mut(),
    };
    // SAFETY: `_Unwind_Find_FDE` only reads: the registered tables (which
    // the engine keeps mapped until it is dropped, after this returns) and
    // the process's loaded images. `address` is used as a number, never
    // dereferenced, and `bases` is a valid out-parameter.
    let _ = unsafe { _Unwind_Find_FDE(address as *mut c_void, &mut bases) };
}

/// Where a heap-backed manager (the image manager, `rivet check`'s memory)
/// puts segments. Read from an input's first bytes when they are not an
/// object's, so that the fuzzer explores placements (bases near the top of
/// the address space, huge separations, pinned segments) as well as
/// objects; an input that is an object as it stands gets the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    /// The first segment's address.
    pub base: u64,
    /// Bytes left after each segment.
    pub separation: u64,
    /// The checker pins this class's segment of the first module at `at`
    /// (`SegmentClass::ALL` index); the image manager ends its addresses
    /// there. `None`: neither.
    pub pinned: Option<usize>,
    pub at: u64,
}

/// Bytes of an input that make up a [`Placement`].
pub const PLACEMENT_BYTES: usize = 20;

impl Placement {
    /// `rivet check`'s defaults: from 0x1000, no separation.
    pub const DEFAULT: Placement = Placement {
        base: 0x1000,
        separation: 0,
        pinned: None,
        at: 0,
    };

    /// The placement and the object bytes of one input.
    pub fn split(data: &[u8]) -> (Placement, &[u8]) {
        let is_object = [Format::Elf, Format::MachO, Format::Coff]
            .iter()
            .any(|f| f.matches(data));
        if is_object || data.len() < PLACEMENT_BYTES {
            return (Placement::DEFAULT, data);
        }
        let word = |at: usize| {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&data[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let separation = u64::from(u16::from_le_bytes([data[8], data[9]])) << (data[10] % 64);
        let pinned = usize::from(data[11] % 6);
        let placement = Placement {
            base: word(0),
            separation,
            pinned: (pinned < 5).then_some(pinned),
            at: word(12),
        };
        (placement, &data[PLACEMENT_BYTES..])
    }
}

/// Links `object` alone into `memory`, every undefined name at address 0
/// (as `rivet check` links names it cannot find, to report them all).
fn link_alone(
    object: &ObjectFile<'_>,
    memory: &mut dyn MemoryManager,
) -> rivet::Result<Vec<LinkedModule>> {
    let mut externals = Externals::default();
    externals.resolver = Some(Box::new(|_| Some(0)));
    rivet::link::link(
        &[LinkUnit {
            module: 1,
            key: rivet::link::next_module_key(),
            object,
        }],
        &SymbolTable::default(),
        &externals,
        memory,
        LinkOptions {
            map: true,
            ..LinkOptions::default()
        },
    )
}

/// One input through `rivet check`'s linking path: parse, link into the
/// image as the checker sets it up (a base, a separation and a pinned
/// segment, as `--map-section` pins one), read every segment back by
/// address as check expressions do, give everything back. A failed link
/// must leave nothing allocated.
pub fn check(data: &[u8]) {
    let (placement, bytes) = Placement::split(data);
    let Ok(object) = ObjectFile::parse(bytes, NAME) else {
        return;
    };
    let mut pinned = BTreeMap::new();
    if let Some(class) = placement.pinned {
        pinned.insert((0, SegmentClass::ALL[class]), placement.at);
    }
    let mut memory = Image::new(ImageConfig {
        base: placement.base,
        separation: placement.separation,
        end: u64::MAX,
        pinned,
    });
    match link_alone(&object, &mut memory) {
        Ok(linked) => {
            for segment in memory.segments() {
                let _ = memory.read(segment.addr, segment.size);
                let _ = memory.read(segment.addr, 8);
                let _ = memory.read_to_end(segment.addr.saturating_add(segment.size / 2));
            }
            let _ = memory.overlap();
            for module in linked {
                memory.release(module.allocation);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    assert!(memory.segments().is_empty(), "segments left behind");
}

/// One input through the image manager: parse, link at the input's base,
/// separation and end, read every segment back, give everything back. A
/// failed link must leave nothing allocated.
pub fn image(data: &[u8]) {
    let (placement, bytes) = Placement::split(data);
    let Ok(object) = ObjectFile::parse(bytes, NAME) else {
        return;
    };
    let mut image = Image::new(ImageConfig {
        base: placement.base,
        separation: placement.separation,
        end: placement.pinned.map_or(u64::MAX, |_| placement.at),
        ..ImageConfig::default()
    });
    match link_alone(&object, &mut image) {
        Ok(linked) => {
            for segment in image.segments() {
                let _ = image.read(segment.addr, segment.size);
                let _ = image.read_uint(segment.end().saturating_sub(8), 8);
            }
            for module in linked {
                image.release(module.allocation);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    assert_eq!(image.stats().allocations, 0, "allocations left behind");
}
