//! The Mach-O loader, on objects LLVM assembles and on objects crafted byte
//! by byte (for the entries LLVM never writes and for malformed input).

use crate::arch::aarch64::Reloc as A64;
use crate::arch::x86_64::Reloc as X;
use crate::load::{
    Arch, Binding, Definition, Format, ObjectFile, RelocKind, Relocation, SectionKind, SymbolKind,
    Target,
};
use crate::Error;

// ---------------------------------------------------------------------------
// A minimal MH_OBJECT writer.

const CPU_X86_64: u32 = 0x0100_0007;
const CPU_ARM64: u32 = 0x0100_000c;

const N_EXT: u8 = 0x01;
const N_PEXT: u8 = 0x10;
const N_UNDF: u8 = 0x0;
const N_ABS: u8 = 0x2;
const N_SECT: u8 = 0xe;
const N_INDR: u8 = 0xa;
const N_FUN: u8 = 0x24; // a stab

const S_ZEROFILL: u32 = 0x1;
const S_CSTRING_LITERALS: u32 = 0x2;
const S_8BYTE_LITERALS: u32 = 0x4;
const S_NON_LAZY_SYMBOL_POINTERS: u32 = 0x6;
const S_THREAD_LOCAL_REGULAR: u32 = 0x11;
const S_THREAD_LOCAL_ZEROFILL: u32 = 0x12;
const S_THREAD_LOCAL_VARIABLES: u32 = 0x13;
const S_THREAD_LOCAL_INIT_FUNCTION_POINTERS: u32 = 0x15;
const S_ATTR_PURE_INSTRUCTIONS: u32 = 0x8000_0000;
const S_ATTR_SOME_INSTRUCTIONS: u32 = 0x0000_0400;
const S_ATTR_DEBUG: u32 = 0x0200_0000;

#[derive(Clone)]
struct Sect {
    segment: &'static str,
    name: &'static str,
    addr: u64,
    data: Vec<u8>,
    /// Size in memory (zero-fill sections have no data).
    size: u64,
    align: u32,
    flags: u32,
    relocs: Vec<[u32; 2]>,
}

impl Sect {
    fn new(segment: &'static str, name: &'static str, addr: u64, data: Vec<u8>) -> Sect {
        Sect {
            segment,
            name,
            addr,
            size: data.len() as u64,
            data,
            align: 0,
            flags: 0,
            relocs: Vec::new(),
        }
    }

    fn flags(mut self, flags: u32) -> Sect {
        self.flags = flags;
        self
    }

    fn text(addr: u64, data: Vec<u8>) -> Sect {
        Sect::new("__TEXT", "__text", addr, data)
            .flags(S_ATTR_PURE_INSTRUCTIONS | S_ATTR_SOME_INSTRUCTIONS)
    }

    fn reloc(mut self, r: [u32; 2]) -> Sect {
        self.relocs.push(r);
        self
    }
}

#[derive(Clone)]
struct Sym {
    name: &'static str,
    n_type: u8,
    n_sect: u8,
    n_desc: u16,
    n_value: u64,
}

fn sym(name: &'static str, n_type: u8, n_sect: u8, n_value: u64) -> Sym {
    Sym {
        name,
        n_type,
        n_sect,
        n_desc: 0,
        n_value,
    }
}

/// A plain relocation entry.
fn rel(
    address: u32,
    symbolnum: u32,
    pcrel: bool,
    length: u32,
    external: bool,
    typ: u32,
) -> [u32; 2] {
    [
        address,
        (symbolnum & 0x00ff_ffff)
            | u32::from(pcrel) << 24
            | length << 25
            | u32::from(external) << 27
            | typ << 28,
    ]
}

struct Builder {
    cputype: u32,
    filetype: u32,
    sections: Vec<Sect>,
    symbols: Vec<Sym>,
}

impl Builder {
    fn new(cputype: u32) -> Builder {
        Builder {
            cputype,
            filetype: 1,
            sections: Vec::new(),
            symbols: Vec::new(),
        }
    }

    fn section(mut self, s: Sect) -> Builder {
        self.sections.push(s);
        self
    }

    fn symbol(mut self, s: Sym) -> Builder {
        self.symbols.push(s);
        self
    }

    fn build(&self) -> Vec<u8> {
        let nsects = self.sections.len() as u32;
        let segment_size = 72 + 80 * nsects;
        let sizeofcmds = segment_size + 24;
        let mut offset = 32 + sizeofcmds;
        let mut layout = Vec::new();
        for s in &self.sections {
            let data_off = offset;
            offset += s.data.len() as u32;
            let reloff = offset;
            offset += 8 * s.relocs.len() as u32;
            layout.push((data_off, reloff));
        }
        let symoff = offset;
        offset += 16 * self.symbols.len() as u32;
        let stroff = offset;
        let mut strtab = vec![0u8];
        let mut strx = Vec::new();
        for s in &self.symbols {
            strx.push(strtab.len() as u32);
            strtab.extend_from_slice(s.name.as_bytes());
            strtab.push(0);
        }

        let mut out = Vec::new();
        let u32le = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
        let u64le = |out: &mut Vec<u8>, v: u64| out.extend_from_slice(&v.to_le_bytes());
        let name16 = |out: &mut Vec<u8>, n: &str| {
            let mut b = [0u8; 16];
            b[..n.len()].copy_from_slice(n.as_bytes());
            out.extend_from_slice(&b);
        };
        // mach_header_64
        for v in [
            0xfeed_facf,
            self.cputype,
            3,
            self.filetype,
            2,
            sizeofcmds,
            0,
            0,
        ] {
            u32le(&mut out, v);
        }
        // LC_SEGMENT_64
        u32le(&mut out, 0x19);
        u32le(&mut out, segment_size);
        name16(&mut out, "");
        let vmsize = self
            .sections
            .iter()
            .map(|s| s.addr.saturating_add(s.size))
            .max()
            .unwrap_or(0);
        u64le(&mut out, 0);
        u64le(&mut out, vmsize);
        u64le(&mut out, u64::from(32 + sizeofcmds));
        u64le(&mut out, u64::from(symoff - 32 - sizeofcmds));
        u32le(&mut out, 7);
        u32le(&mut out, 7);
        u32le(&mut out, nsects);
        u32le(&mut out, 0);
        for (s, &(data_off, reloff)) in self.sections.iter().zip(&layout) {
            name16(&mut out, s.name);
            name16(&mut out, s.segment);
            u64le(&mut out, s.addr);
            u64le(&mut out, s.size);
            u32le(&mut out, if s.data.is_empty() { 0 } else { data_off });
            u32le(&mut out, s.align);
            u32le(&mut out, if s.relocs.is_empty() { 0 } else { reloff });
            u32le(&mut out, s.relocs.len() as u32);
            u32le(&mut out, s.flags);
            for _ in 0..3 {
                u32le(&mut out, 0);
            }
        }
        // LC_SYMTAB
        for v in [
            0x2,
            24,
            symoff,
            self.symbols.len() as u32,
            stroff,
            strtab.len() as u32,
        ] {
            u32le(&mut out, v);
        }
        for s in &self.sections {
            out.extend_from_slice(&s.data);
            for r in &s.relocs {
                u32le(&mut out, r[0]);
                u32le(&mut out, r[1]);
            }
        }
        for (s, &x) in self.symbols.iter().zip(&strx) {
            u32le(&mut out, x);
            out.push(s.n_type);
            out.push(s.n_sect);
            out.extend_from_slice(&s.n_desc.to_le_bytes());
            u64le(&mut out, s.n_value);
        }
        out.extend_from_slice(&strtab);
        out
    }
}

fn parse(bytes: &[u8]) -> crate::Result<ObjectFile<'_>> {
    ObjectFile::parse(bytes, "test.o")
}

fn only_reloc(obj: &ObjectFile<'_>, section: usize) -> Relocation {
    let relocs = obj.sections[section].relocations.to_vec();
    assert_eq!(relocs.len(), 1, "{relocs:?}");
    relocs[0]
}

fn x(kind: X) -> RelocKind {
    RelocKind::X86_64(kind)
}

fn a64(kind: A64) -> RelocKind {
    RelocKind::Aarch64(kind)
}

fn reason(err: &Error) -> String {
    match err {
        Error::MalformedObject { reason, .. } | Error::UnsupportedObject { reason, .. } => {
            reason.clone()
        }
        Error::UnsupportedRelocation { kind, .. } => kind.clone(),
        other => panic!("unexpected error {other}"),
    }
}

fn assert_malformed(bytes: &[u8], needle: &str) {
    match parse(bytes) {
        Err(e @ Error::MalformedObject { .. }) => {
            assert!(
                reason(&e).contains(needle),
                "`{}` lacks `{needle}`",
                reason(&e)
            )
        }
        Err(other) => panic!("expected MalformedObject with `{needle}`, got {other}"),
        Ok(_) => panic!("expected MalformedObject with `{needle}`, got Ok"),
    }
}

fn assert_unsupported_reloc(bytes: &[u8], needle: &str) {
    match parse(bytes) {
        Err(e @ Error::UnsupportedRelocation { .. }) => {
            assert!(
                reason(&e).contains(needle),
                "`{}` lacks `{needle}`",
                reason(&e)
            )
        }
        Err(other) => panic!("expected UnsupportedRelocation with `{needle}`, got {other}"),
        Ok(_) => panic!("expected UnsupportedRelocation with `{needle}`, got Ok"),
    }
}

fn assert_unsupported_object(bytes: &[u8], needle: &str) {
    match parse(bytes) {
        Err(e @ Error::UnsupportedObject { .. }) => {
            assert!(
                reason(&e).contains(needle),
                "`{}` lacks `{needle}`",
                reason(&e)
            )
        }
        Err(other) => panic!("expected UnsupportedObject with `{needle}`, got {other}"),
        Ok(_) => panic!("expected UnsupportedObject with `{needle}`, got Ok"),
    }
}

// ---------------------------------------------------------------------------
// Crafted objects: x86-64.

/// A text section at 0x0 (16 bytes) and a data section at 0x40 (32 bytes),
/// with local `_t` at text+4 and `_dat` at data+8 and an undefined `_u`.
fn x86_base(text: Vec<u8>, data: Vec<u8>) -> Builder {
    Builder::new(CPU_X86_64)
        .section(Sect::text(0, text))
        .section(Sect::new("__DATA", "__data", 0x40, data))
        .symbol(sym("_t", N_SECT, 1, 0x4))
        .symbol(sym("_dat", N_SECT, 2, 0x48))
        .symbol(sym("_u", N_UNDF | N_EXT, 0, 0))
}

fn with_field(mut bytes: Vec<u8>, at: usize, field: &[u8]) -> Vec<u8> {
    bytes[at..at + field.len()].copy_from_slice(field);
    bytes
}

#[test]
fn x86_unsigned_extern_and_section_relative() {
    // .quad _u + 0x10 at data+0; .quad (data+0x18) at data+8 (non-extern);
    // .long _u - 4 at data+0x10 (sign-extended addend).
    let data = with_field(vec![0; 32], 0, &0x10u64.to_le_bytes());
    let data = with_field(data, 8, &0x58u64.to_le_bytes());
    let data = with_field(data, 0x10, &(-4i32).to_le_bytes());
    let mut b = x86_base(vec![0x90; 16], data);
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 2, false, 3, true, 0))
        .reloc(rel(8, 2, false, 3, false, 0))
        .reloc(rel(0x10, 2, false, 2, true, 0))
        // R_ABS: an absolute value, no fixup.
        .reloc(rel(0x18, 0, false, 3, false, 0));
    let bytes = b.build();
    let obj = parse(&bytes).unwrap();
    assert_eq!(obj.format, Format::MachO);
    assert_eq!(obj.arch, Arch::X86_64);
    let r = obj.sections[2].relocations.to_vec();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(
        (r[0].offset, r[0].kind, r[0].target, r[0].addend),
        (0, x(X::Abs64), Target::Symbol(2), 0x10)
    );
    // 0x58 is data+0x18.
    assert_eq!(
        (r[1].offset, r[1].kind, r[1].target, r[1].addend),
        (8, x(X::Abs64), Target::Section(2), 0x18)
    );
    assert_eq!(
        (r[2].offset, r[2].kind, r[2].target, r[2].addend),
        (0x10, x(X::Abs32), Target::Symbol(2), -4)
    );
}

#[test]
fn x86_pc_relative_extern_addends_are_field_minus_four() {
    // For every pc-relative type the assembler has folded the -n of SIGNED_n
    // into the field; the model addend is field - 4.
    for (typ, field, kind) in [
        (1u32, 0i32, X::Pc32), // SIGNED: movl _u(%rip)
        (1, 4, X::Pc32),       // SIGNED: movl _u+4(%rip)
        (6, -1, X::Pc32),      // SIGNED_1: movb $1, _u(%rip)
        (7, -2, X::Pc32),      // SIGNED_2: movw $1, _u(%rip)
        (8, -4, X::Pc32),      // SIGNED_4: movl $1, _u(%rip)
        (2, 0, X::Branch32),   // BRANCH: call _u
        (2, 4, X::Branch32),   // BRANCH: call _u+4
        (3, 0, X::GotPcRelX),  // GOT_LOAD: movq _u@GOTPCREL(%rip)
        (4, 0, X::GotPcRel32), // GOT: pushq _u@GOTPCREL(%rip)
    ] {
        let text = with_field(vec![0x90; 16], 3, &field.to_le_bytes());
        let mut b = x86_base(text, vec![0; 32]);
        b.sections[0] = b.sections[0].clone().reloc(rel(3, 2, true, 2, true, typ));
        let bytes = b.build();
        let obj = parse(&bytes).unwrap();
        let r = only_reloc(&obj, 1);
        assert_eq!(r.kind, x(kind), "type {typ}");
        assert_eq!(r.target, Target::Symbol(2), "type {typ}");
        assert_eq!(r.addend, i64::from(field) - 4, "type {typ} field {field}");
        assert_eq!(r.offset, 3);
    }
}

#[test]
fn x86_pc_relative_section_relative_addends_find_the_target_address() {
    // Text at 0x0, data at 0x40. An instruction at text+1 whose 4-byte field
    // is at text+3 and that has n bytes of immediate after the field refers
    // to data+0x10 = 0x50: the field holds 0x50 - (3 + 4 + n).
    for (typ, n) in [(1u32, 0i64), (6, 1), (7, 2), (8, 4), (2, 0)] {
        let field = (0x50 - (3 + 4 + n)) as i32;
        let text = with_field(vec![0x90; 16], 3, &field.to_le_bytes());
        let mut b = x86_base(text, vec![0; 32]);
        b.sections[0] = b.sections[0].clone().reloc(rel(3, 2, true, 2, false, typ));
        let bytes = b.build();
        let obj = parse(&bytes).unwrap();
        let r = only_reloc(&obj, 1);
        assert_eq!(r.target, Target::Section(2), "type {typ}");
        // S + A - P must be the displacement to data+0x10 from the end of
        // the instruction: (S + 0x10) - (P + 4 + n).
        assert_eq!(r.addend, 0x10 - 4 - n, "type {typ}");
        // Check it as the linker computes it, with the sections moved apart.
        let (text_at, data_at) = (0x10_0000u64, 0x20_0000u64);
        let p = text_at + 3;
        let value = (data_at as i64 + r.addend) - p as i64;
        assert_eq!(value, (data_at as i64 + 0x10) - (p as i64 + 4 + n));
    }
}

#[test]
fn x86_subtractor_pairs_become_one_difference() {
    // .quad _dat - _t + 3 (extern both), and .long (data+8) - (text+4) + 3
    // with both entries non-extern.
    let data = with_field(vec![0; 32], 0, &3u64.to_le_bytes());
    let data = with_field(data, 0x10, &((0x48 - 0x4 + 3) as u32).to_le_bytes());
    let mut b = x86_base(vec![0x90; 16], data);
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 0, false, 3, true, 5))
        .reloc(rel(0, 1, false, 3, true, 0))
        .reloc(rel(0x10, 1, false, 2, false, 5))
        .reloc(rel(0x10, 2, false, 2, false, 0));
    let bytes = b.build();
    let obj = parse(&bytes).unwrap();
    let r = obj.sections[2].relocations.to_vec();
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].kind, x(X::Abs64));
    assert_eq!(r[0].target, Target::Symbol(1));
    assert_eq!(r[0].subtrahend, Some(Target::Symbol(0)));
    assert_eq!(r[0].addend, 3);
    assert_eq!(r[1].kind, x(X::Abs32S));
    assert_eq!(r[1].target, Target::Section(2));
    assert_eq!(r[1].subtrahend, Some(Target::Section(1)));
    // S - T + A with S = data, T = text must be (data+8) - (text+4) + 3.
    assert_eq!(r[1].addend, 8 - 4 + 3);
}

#[test]
fn x86_entries_rivet_refuses_are_named() {
    let text = vec![0x90; 16];
    let data = vec![0; 32];
    let case = |r: [u32; 2], in_text: bool| {
        let mut b = x86_base(text.clone(), data.clone());
        let i = if in_text { 0 } else { 1 };
        b.sections[i] = b.sections[i].clone().reloc(r);
        b.build()
    };
    // LLVM writes `.quad _x@GOTPCREL` as a pc-relative GOT of length 3.
    assert_unsupported_reloc(
        &case(rel(0, 2, true, 3, true, 4), false),
        "X86_64_RELOC_GOT",
    );
    assert_unsupported_reloc(
        &case(rel(0, 2, false, 3, true, 4), false),
        "r_pcrel=0 r_length=3",
    );
    // TLV is pc-relative; other shapes are refused, saying what it is.
    assert_unsupported_reloc(&case(rel(3, 2, false, 2, true, 9), true), "thread-local");
    assert_unsupported_reloc(
        &case(rel(3, 2, true, 2, false, 3), true),
        "X86_64_RELOC_GOT_LOAD",
    );
    assert_unsupported_reloc(
        &case(rel(0, 2, true, 3, true, 0), false),
        "X86_64_RELOC_UNSIGNED",
    );
    assert_unsupported_reloc(&case(rel(0, 2, false, 2, true, 12), false), "type 12");
    // A SUBTRACTOR must be followed by its UNSIGNED.
    assert_malformed(
        &case(rel(0, 0, false, 3, true, 5), false),
        "not followed by an UNSIGNED",
    );
    let mut b = x86_base(text.clone(), data.clone());
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 0, false, 3, true, 5))
        .reloc(rel(8, 1, false, 3, true, 0));
    assert_malformed(&b.build(), "same place");
    let mut b = x86_base(text.clone(), data.clone());
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 0, false, 3, true, 5))
        .reloc(rel(0, 1, false, 2, true, 0));
    assert_malformed(&b.build(), "same length");
}

#[test]
fn relocation_targets_and_places_are_checked() {
    let text = vec![0x90; 16];
    let data = vec![0; 32];
    let case = |r: [u32; 2]| {
        let mut b = x86_base(text.clone(), data.clone());
        b.sections[1] = b.sections[1].clone().reloc(r);
        b.build()
    };
    assert_malformed(&case(rel(0, 3, false, 3, true, 0)), "missing symbol 3");
    assert_malformed(&case(rel(0, 3, false, 3, false, 0)), "missing section 3");
    assert_malformed(&case(rel(30, 2, false, 3, true, 0)), "lies outside");
    assert_malformed(
        &case(rel(0xffff_fff0, 2, false, 3, true, 0)),
        "lies outside",
    );
    // A relocation against a debugging entry.
    let mut b = x86_base(text.clone(), data.clone()).symbol(sym("stab", N_FUN, 1, 0));
    b.sections[1] = b.sections[1].clone().reloc(rel(0, 3, false, 3, true, 0));
    assert_malformed(&b.build(), "debugging symbol 3");
    // A relocation into an ignored section.
    let dwarf = Sect::new("__DWARF", "__debug_info", 0x60, vec![0; 8]).flags(S_ATTR_DEBUG);
    let mut b = x86_base(text.clone(), data.clone()).section(dwarf);
    b.sections[1] = b.sections[1].clone().reloc(rel(0, 3, false, 3, false, 0));
    assert_malformed(&b.build(), "not loaded");
    // Relocations in a zero-fill section have no bytes to patch.
    let bss = Sect::new("__DATA", "__bss", 0x60, Vec::new())
        .flags(S_ZEROFILL)
        .reloc(rel(0, 2, false, 3, true, 0));
    let mut b = x86_base(text.clone(), data.clone()).section(bss);
    b.sections[2].size = 16;
    assert_malformed(&b.build(), "lies outside");
}

// ---------------------------------------------------------------------------
// Crafted objects: arm64.

fn arm64_base() -> Builder {
    Builder::new(CPU_ARM64)
        .section(Sect::text(0, vec![0; 16]))
        .section(Sect::new("__DATA", "__data", 0x10, vec![0; 16]))
        .symbol(sym("ltmp0", N_SECT, 1, 0))
        .symbol(sym("_u", N_UNDF | N_EXT, 0, 0))
}

fn arm64_with(relocs: &[[u32; 2]], in_text: bool) -> Vec<u8> {
    let mut b = arm64_base();
    let i = if in_text { 0 } else { 1 };
    for &r in relocs {
        b.sections[i] = b.sections[i].clone().reloc(r);
    }
    b.build()
}

#[test]
fn arm64_addend_pairs_sign_extend_24_bits() {
    for (raw, addend) in [(8u32, 8i64), (0x00ff_fff0, -16), (0x007f_ffff, 0x7f_ffff)] {
        for (typ, pcrel, kind) in [
            (2u32, true, A64::Call26),
            (3, true, A64::AdrPrelPgHi21),
            (4, false, A64::PageOff12),
        ] {
            let bytes = arm64_with(
                &[
                    rel(4, raw, false, 2, false, 10),
                    rel(4, 1, pcrel, 2, true, typ),
                ],
                true,
            );
            let obj = parse(&bytes).unwrap();
            let r = only_reloc(&obj, 1);
            assert_eq!(
                (r.kind, r.target, r.addend, r.offset),
                (a64(kind), Target::Symbol(1), addend, 4)
            );
        }
    }
    // LLVM's assembler writes a negative addend unmasked: the whole word is
    // the sign-extended value with type bits 15.
    let word1 = (-16i32) as u32;
    let bytes = arm64_with(&[[4, word1], rel(4, 1, true, 2, true, 3)], true);
    let obj = parse(&bytes).unwrap();
    let r = only_reloc(&obj, 1);
    assert_eq!((r.kind, r.addend), (a64(A64::AdrPrelPgHi21), -16));
    // Without an ADDEND the addend is 0 whatever the instruction holds.
    let mut b = arm64_base();
    b.sections[0].data[4..8].copy_from_slice(&0x9400_0123u32.to_le_bytes());
    b.sections[0] = b.sections[0].clone().reloc(rel(4, 1, true, 2, true, 2));
    let bytes = b.build();
    assert_eq!(only_reloc(&parse(&bytes).unwrap(), 1).addend, 0);
}

#[test]
fn arm64_every_instruction_and_got_kind() {
    for (typ, pcrel, length, kind) in [
        (2u32, true, 2u32, A64::Call26),
        (3, true, 2, A64::AdrPrelPgHi21),
        (4, false, 2, A64::PageOff12),
        (5, true, 2, A64::AdrGotPage),
        (6, false, 2, A64::Ld64GotLo12Nc),
        (7, true, 2, A64::GotPrel32),
        (7, false, 3, A64::GotAbs64),
    ] {
        let mut b = arm64_base();
        // A bias at the place must not become an addend (POINTER_TO_GOT).
        b.sections[1].data[0..8].copy_from_slice(&(-4i64).to_le_bytes());
        let i = if typ == 7 { 1 } else { 0 };
        b.sections[i] = b.sections[i]
            .clone()
            .reloc(rel(0, 1, pcrel, length, true, typ));
        let bytes = b.build();
        let obj = parse(&bytes).unwrap();
        let r = only_reloc(&obj, i + 1);
        assert_eq!(
            (r.kind, r.target, r.addend),
            (a64(kind), Target::Symbol(1), 0),
            "type {typ}"
        );
    }
}

#[test]
fn arm64_data_pointers_and_differences() {
    let mut b = arm64_base();
    b.sections[1].data[0..8].copy_from_slice(&24u64.to_le_bytes());
    // Non-extern: the field holds the address text+8 = 0x8.
    b.sections[1].data[8..12].copy_from_slice(&8u32.to_le_bytes());
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 1, false, 3, true, 0))
        .reloc(rel(8, 1, false, 2, false, 0))
        .reloc(rel(12, 0, false, 2, true, 1))
        .reloc(rel(12, 1, false, 2, true, 0));
    let bytes = b.build();
    let obj = parse(&bytes).unwrap();
    let r = obj.sections[2].relocations.to_vec();
    assert_eq!(r.len(), 3, "{r:?}");
    assert_eq!(
        (r[0].kind, r[0].target, r[0].addend),
        (a64(A64::Abs64), Target::Symbol(1), 24)
    );
    assert_eq!(
        (r[1].kind, r[1].target, r[1].addend),
        (a64(A64::Abs32), Target::Section(1), 8)
    );
    assert_eq!(
        (r[2].kind, r[2].target, r[2].subtrahend, r[2].addend),
        (
            a64(A64::Abs32),
            Target::Symbol(1),
            Some(Target::Symbol(0)),
            0
        )
    );
}

#[test]
fn arm64_entries_rivet_refuses_are_named() {
    // TLVP_LOAD_PAGE21 is pc-relative and TLVP_LOAD_PAGEOFF12 is not;
    // other shapes are refused, saying what they are.
    assert_unsupported_reloc(
        &arm64_with(&[rel(0, 1, false, 2, true, 8)], true),
        "thread-local",
    );
    assert_unsupported_reloc(
        &arm64_with(&[rel(4, 1, true, 2, true, 9)], true),
        "thread-local",
    );
    assert_unsupported_reloc(
        &arm64_with(&[rel(0, 1, false, 3, true, 11)], false),
        "pointer authentication",
    );
    assert_unsupported_reloc(
        &arm64_with(&[rel(0, 1, true, 2, false, 3)], true),
        "ARM64_RELOC_PAGE21",
    );
    assert_unsupported_reloc(
        &arm64_with(&[rel(0, 1, false, 2, true, 3)], true),
        "r_pcrel=0",
    );
    assert_unsupported_reloc(
        &arm64_with(&[rel(0, 1, false, 2, true, 13)], true),
        "type 13",
    );
    // ADDEND must precede BRANCH26/PAGE21/PAGEOFF12 at the same place.
    assert_malformed(
        &arm64_with(&[rel(0, 8, false, 2, false, 10)], true),
        "ARM64_RELOC_ADDEND",
    );
    assert_malformed(
        &arm64_with(
            &[rel(0, 8, false, 2, false, 10), rel(0, 1, true, 2, true, 5)],
            true,
        ),
        "ARM64_RELOC_ADDEND",
    );
    assert_malformed(
        &arm64_with(
            &[rel(0, 8, false, 2, false, 10), rel(4, 1, true, 2, true, 2)],
            true,
        ),
        "ARM64_RELOC_ADDEND",
    );
    // Scattered entries do not exist on arm64.
    let scattered = [0x8000_0000, 0];
    assert_malformed(&arm64_with(&[scattered], true), "scattered");
}

// ---------------------------------------------------------------------------
// Symbols and sections.

#[test]
fn symbols_keep_their_numbers_and_lose_the_underscore() {
    let mut weak_def = sym("_weakdef", N_SECT | N_EXT, 2, 0x48);
    weak_def.n_desc = 0x0080; // N_WEAK_DEF
    let mut weak_ref = sym("_weakref", N_UNDF | N_EXT, 0, 0);
    weak_ref.n_desc = 0x0040; // N_WEAK_REF
    let mut common = sym("_common", N_UNDF | N_EXT, 0, 24);
    common.n_desc = 3 << 8; // 2^3 alignment
    let natural = sym("_natural", N_UNDF | N_EXT, 0, 24);
    let bytes = Builder::new(CPU_X86_64)
        .section(Sect::text(0x0, vec![0x90; 16]))
        .section(Sect::new("__DATA", "__data", 0x40, vec![0; 16]))
        .symbol(sym("_local", N_SECT, 1, 0x4))
        .symbol(sym("", N_FUN, 1, 0x0))
        .symbol(sym("ltmp0", N_SECT, 1, 0))
        .symbol(sym("_global", N_SECT | N_EXT, 2, 0x44))
        .symbol(sym("_private", N_SECT | N_EXT | N_PEXT, 1, 0x8))
        .symbol(weak_def)
        .symbol(weak_ref)
        .symbol(common)
        .symbol(natural)
        .symbol(sym("_abs", N_ABS | N_EXT, 0, 0x1234))
        .symbol(sym("_sin", N_UNDF | N_EXT, 0, 0))
        .symbol(sym("__ZN3fooEv", N_UNDF | N_EXT, 0, 0))
        .build();
    let obj = parse(&bytes).unwrap();
    let s = &obj.symbols;
    assert_eq!(s.len(), 12);
    let expect = |i: usize, name: &str, binding: Binding, kind: SymbolKind, def: Definition| {
        assert_eq!(s[i].name, name, "symbol {i}");
        assert_eq!(s[i].binding, binding, "{name}");
        assert_eq!(s[i].kind, kind, "{name}");
        assert_eq!(s[i].definition, def, "{name}");
    };
    let sec = |section: u32, offset: u64| Definition::Section { section, offset };
    expect(0, "local", Binding::Local, SymbolKind::Function, sec(1, 4));
    expect(
        1,
        "",
        Binding::Local,
        SymbolKind::Other,
        Definition::Absolute(0),
    );
    expect(2, "ltmp0", Binding::Local, SymbolKind::Function, sec(1, 0));
    expect(3, "global", Binding::Global, SymbolKind::Data, sec(2, 4));
    expect(
        4,
        "private",
        Binding::Global,
        SymbolKind::Function,
        sec(1, 8),
    );
    expect(5, "weakdef", Binding::Weak, SymbolKind::Data, sec(2, 8));
    expect(
        6,
        "weakref",
        Binding::Weak,
        SymbolKind::Other,
        Definition::Undefined,
    );
    let common = Definition::Common { size: 24, align: 8 };
    expect(7, "common", Binding::Global, SymbolKind::Data, common);
    let natural = Definition::Common {
        size: 24,
        align: 16,
    };
    expect(8, "natural", Binding::Global, SymbolKind::Data, natural);
    expect(
        9,
        "abs",
        Binding::Global,
        SymbolKind::Other,
        Definition::Absolute(0x1234),
    );
    expect(
        10,
        "sin",
        Binding::Global,
        SymbolKind::Other,
        Definition::Undefined,
    );
    expect(
        11,
        "_ZN3fooEv",
        Binding::Global,
        SymbolKind::Other,
        Definition::Undefined,
    );
}

#[test]
fn bad_symbols_are_errors() {
    let base = || {
        Builder::new(CPU_X86_64)
            .section(Sect::text(0x0, vec![0x90; 16]))
            .section(Sect::new("__DATA", "__data", 0x40, vec![0; 16]))
    };
    assert_malformed(
        &base().symbol(sym("_x", N_SECT | N_EXT, 3, 0)).build(),
        "missing section 3",
    );
    assert_malformed(
        &base().symbol(sym("_x", N_SECT | N_EXT, 0, 0)).build(),
        "NO_SECT",
    );
    assert_malformed(
        &base().symbol(sym("_x", N_SECT | N_EXT, 2, 0x10)).build(),
        "outside its section",
    );
    assert_malformed(
        &base().symbol(sym("_x", N_SECT | N_EXT, 2, 0x51)).build(),
        "outside its section",
    );
    assert_malformed(
        &base().symbol(sym("_x", N_UNDF, 0, 8)).build(),
        "not external",
    );
    assert_malformed(&base().symbol(sym("_x", 0x6, 0, 0)).build(), "unknown type");
    assert_unsupported_object(
        &base().symbol(sym("_x", N_INDR | N_EXT, 0, 0)).build(),
        "N_INDR",
    );
    let mut resolver = sym("_x", N_SECT | N_EXT, 1, 0);
    resolver.n_desc = 0x0100;
    assert_unsupported_object(&base().symbol(resolver).build(), "N_SYMBOL_RESOLVER");
    // A global defined in a section that is not loaded.
    let dwarf = Sect::new("__DWARF", "__debug_info", 0x60, vec![0; 8]).flags(S_ATTR_DEBUG);
    assert_malformed(
        &base()
            .section(dwarf)
            .symbol(sym("_x", N_SECT | N_EXT, 3, 0x60))
            .build(),
        "not loaded",
    );
    // A name outside the string table.
    let mut bytes = base().symbol(sym("_x", N_UNDF | N_EXT, 0, 0)).build();
    let symoff = u32::from_le_bytes(bytes[32 + 72 + 160 + 8..][..4].try_into().unwrap()) as usize;
    bytes[symoff..symoff + 4].copy_from_slice(&0x7fff_0000u32.to_le_bytes());
    assert_malformed(&bytes, "outside the string table");
}

#[test]
fn sections_are_classified_and_numbered_from_one() {
    let mut bss = Sect::new("__DATA", "__bss", 0x100, Vec::new()).flags(S_ZEROFILL);
    bss.size = 64;
    bss.align = 4;
    let bytes = Builder::new(CPU_X86_64)
        .section(Sect::text(0, vec![0x90; 16]))
        .section(Sect::new("__TEXT", "__cstring", 0x10, b"hi\0".to_vec()).flags(S_CSTRING_LITERALS))
        .section(Sect::new("__TEXT", "__literal8", 0x18, vec![1; 8]).flags(S_8BYTE_LITERALS))
        .section(Sect::new("__TEXT", "__const", 0x20, vec![2; 8]))
        .section(Sect::new("__DATA", "__data", 0x28, vec![3; 8]))
        .section(Sect::new("__DATA", "__const", 0x30, vec![4; 8]))
        .section(Sect::new("__TEXT", "__eh_frame", 0x38, vec![0; 8]).flags(0x6800_000b))
        .section(Sect::new("__LD", "__compact_unwind", 0x40, vec![6; 32]).flags(S_ATTR_DEBUG))
        .section(Sect::new("__DWARF", "__debug_line", 0x60, vec![7; 8]).flags(S_ATTR_DEBUG))
        .section(bss)
        .section(
            Sect::new("__TEXT", "__StaticInit", 0x140, vec![0xc3; 1])
                .flags(S_ATTR_SOME_INSTRUCTIONS),
        )
        .build();
    let obj = parse(&bytes).unwrap();
    let kinds: Vec<_> = obj.sections.iter().map(|s| (s.name, s.kind)).collect();
    use SectionKind::*;
    assert_eq!(
        kinds,
        [
            ("", Ignored),
            ("__text", Text),
            ("__cstring", ReadOnly),
            ("__literal8", ReadOnly),
            ("__const", ReadOnly),
            ("__data", Data),
            ("__const", Data),
            ("__eh_frame", Unwind),
            ("__compact_unwind", Ignored),
            ("__debug_line", Ignored),
            ("__bss", ZeroFill),
            ("__StaticInit", Text),
        ]
    );
    assert_eq!(obj.sections[2].data, b"hi\0");
    assert_eq!(obj.sections[5].data, &[3; 8]);
    assert!(
        obj.sections[8].data.is_empty(),
        "ignored sections carry no bytes"
    );
    assert_eq!((obj.sections[10].size, obj.sections[10].align), (64, 16));
    assert!(obj.sections[10].data.is_empty());
}

#[test]
fn thread_local_variable_sections_are_classified() {
    let one = |s: Sect| Builder::new(CPU_X86_64).section(s).build();
    for (flags, kind) in [
        (S_THREAD_LOCAL_REGULAR, SectionKind::TlsData),
        (S_THREAD_LOCAL_ZEROFILL, SectionKind::TlsZeroFill),
        (S_THREAD_LOCAL_VARIABLES, SectionKind::TlvDescriptors),
    ] {
        let bytes = one(Sect::new("__DATA", "__thread", 0, vec![0; 24]).flags(flags));
        let obj = ObjectFile::parse(&bytes, "tlv.o").unwrap();
        assert_eq!(obj.sections[1].kind, kind);
        assert_eq!(obj.sections[1].segment, "__DATA");
    }
}

#[test]
fn sections_rivet_refuses() {
    let one = |s: Sect| Builder::new(CPU_X86_64).section(s).build();
    assert_unsupported_object(
        &one(Sect::new("__DATA", "__thread_init", 0, vec![0; 8])
            .flags(S_THREAD_LOCAL_INIT_FUNCTION_POINTERS)),
        "thread-local initializers",
    );
    assert_unsupported_object(
        &one(
            Sect::new("__DATA", "__nl_symbol_ptr", 0, vec![0; 8]).flags(S_NON_LAZY_SYMBOL_POINTERS)
        ),
        "does not belong in a relocatable object",
    );
    let mut aligned = Sect::new("__DATA", "__data", 0, vec![0; 8]);
    aligned.align = 16;
    assert_unsupported_object(&one(aligned), "2^16");
    // Bytes outside the file.
    let mut bytes = one(Sect::new("__DATA", "__data", 0, vec![0; 8]));
    let size_at = 32 + 72 + 40;
    bytes[size_at..size_at + 8].copy_from_slice(&0x1000u64.to_le_bytes());
    assert_malformed(&bytes, "outside the file");
    // An address range that wraps.
    let mut bytes = one(Sect::new("__DATA", "__data", u64::MAX - 2, vec![0; 8]));
    bytes[size_at..size_at + 8].copy_from_slice(&8u64.to_le_bytes());
    assert_malformed(&bytes, "wraps around");
}

#[test]
fn headers_rivet_refuses() {
    let good = Builder::new(CPU_X86_64)
        .section(Sect::text(0, vec![0xc3]))
        .build();
    assert!(parse(&good).is_ok());
    let mut exe = Builder::new(CPU_X86_64);
    exe.filetype = 2;
    assert_unsupported_object(&exe.build(), "MH_OBJECT");
    assert_unsupported_object(&Builder::new(0x0000_0012).build(), "CPU type 0x12");
    // arm64_32.
    assert_unsupported_object(&Builder::new(0x0200_000c).build(), "CPU type");
    let mut big = good.clone();
    big[..4].copy_from_slice(&0xfeed_facfu32.to_be_bytes());
    assert!(matches!(
        parse(&big),
        Err(Error::UnsupportedObject { .. }) | Err(Error::MalformedObject { .. })
    ));
    let mut thirty_two = good.clone();
    thirty_two[..4].copy_from_slice(&0xfeed_faceu32.to_le_bytes());
    assert_unsupported_object(&thirty_two, "32-bit Mach-O");
}

#[test]
fn no_input_panics() {
    // Every truncation and many single-byte corruptions of a realistic
    // object either parse or fail with a typed error.
    let mut b = x86_base(vec![0x90; 16], vec![0; 32]);
    b.sections[0] = b.sections[0].clone().reloc(rel(3, 2, true, 2, true, 1));
    b.sections[1] = b.sections[1]
        .clone()
        .reloc(rel(0, 0, false, 3, true, 5))
        .reloc(rel(0, 1, false, 3, true, 0))
        .reloc(rel(8, 2, false, 3, false, 0));
    let value = 4i64 - (0x60 + 28);
    let b = b.section(
        Sect::new(
            "__TEXT",
            "__eh_frame",
            0x60,
            eh_frame(0x10, &value.to_le_bytes()),
        )
        .flags(0x6800_000b),
    );
    let x86 = b.build();
    let obj = parse(&x86).unwrap();
    assert_eq!(obj.sections[3].relocations.len(), 1, "the FDE is read");
    let arm = arm64_with(
        &[
            rel(4, 8, false, 2, false, 10),
            rel(4, 1, true, 2, true, 2),
            [8, (-16i32) as u32],
            rel(8, 1, true, 2, true, 3),
        ],
        true,
    );
    assert_eq!(parse(&arm).unwrap().sections[1].relocations.len(), 2);
    let mut errors = 0;
    for bytes in [x86, arm] {
        for len in 0..bytes.len() {
            let _ = parse(&bytes[..len]);
        }
        for at in 0..bytes.len() {
            for value in [0x00, 0x7f, 0x80, 0xff] {
                let mut corrupt = bytes.clone();
                corrupt[at] = value;
                match parse(&corrupt) {
                    Ok(_) => {}
                    Err(
                        Error::MalformedObject { .. }
                        | Error::UnsupportedObject { .. }
                        | Error::UnsupportedRelocation { .. },
                    ) => errors += 1,
                    Err(other) => panic!("unexpected error kind: {other}"),
                }
            }
        }
    }
    assert!(errors > 0, "some corruptions must be caught");
}

// ---------------------------------------------------------------------------
// __eh_frame.

/// A CIE ("zR", FDE pointer encoding `encoding`) at offset 0 and one FDE
/// at offset 20 whose pc_begin field (offset 28) holds `pc_begin`.
fn eh_frame(encoding: u8, pc_begin: &[u8]) -> Vec<u8> {
    let mut cie = vec![
        0, 0, 0, 0, 1, b'z', b'R', 0, 1, 0x78, 0x10, 1, encoding, 0, 0, 0,
    ];
    let mut out = (cie.len() as u32).to_le_bytes().to_vec();
    out.append(&mut cie);
    let mut fde = 24u32.to_le_bytes().to_vec(); // back to the CIE at 0
    fde.extend_from_slice(pc_begin);
    fde.extend_from_slice(&vec![0; pc_begin.len()]); // pc_range
    fde.push(0); // augmentation length
    while fde.len() % 4 != 0 {
        fde.push(0);
    }
    out.extend_from_slice(&(fde.len() as u32).to_le_bytes());
    out.extend_from_slice(&fde);
    out
}

fn with_eh_frame(eh: Vec<u8>) -> Vec<u8> {
    Builder::new(CPU_X86_64)
        .section(Sect::text(0, vec![0x90; 16]))
        .section(Sect::new("__TEXT", "__eh_frame", 0x100, eh).flags(0x6800_000b))
        .build()
}

#[test]
fn eh_frame_pointers_without_relocations_get_one() {
    // pc-relative, 8 bytes: text+4 seen from the field at 0x100 + 28.
    let value = 4i64 - (0x100 + 28);
    let bytes = with_eh_frame(eh_frame(0x10, &value.to_le_bytes()));
    let obj = parse(&bytes).unwrap();
    let r = only_reloc(&obj, 2);
    assert_eq!(
        (r.offset, r.kind, r.target, r.addend, r.subtrahend),
        (28, x(X::Pc64), Target::Section(1), 4, None)
    );
    // pc-relative sdata4.
    let value = 8i32 - (0x100 + 28);
    let bytes = with_eh_frame(eh_frame(0x1b, &value.to_le_bytes()));
    let r = only_reloc(&parse(&bytes).unwrap(), 2);
    assert_eq!((r.offset, r.kind, r.addend), (28, x(X::Pc32), 8));
    // Absolute, 8 bytes.
    let bytes = with_eh_frame(eh_frame(0x00, &12u64.to_le_bytes()));
    let r = only_reloc(&parse(&bytes).unwrap(), 2);
    assert_eq!(
        (r.offset, r.kind, r.target, r.addend),
        (28, x(X::Abs64), Target::Section(1), 12)
    );
    // An explicit relocation at the place wins.
    let mut b = Builder::new(CPU_X86_64)
        .section(Sect::text(0, vec![0x90; 16]))
        .section(
            Sect::new("__TEXT", "__eh_frame", 0x100, eh_frame(0x00, &[0; 8]))
                .flags(0x6800_000b)
                .reloc(rel(28, 0, false, 3, true, 0)),
        )
        .symbol(sym("_f", N_SECT | N_EXT, 1, 0));
    b.sections[1].data[28] = 3;
    let bytes = b.build();
    let r = only_reloc(&parse(&bytes).unwrap(), 2);
    assert_eq!(
        (r.kind, r.target, r.addend),
        (x(X::Abs64), Target::Symbol(0), 3)
    );
}

#[test]
fn bad_eh_frames_are_errors() {
    let pc = (4i64 - (0x100 + 28)).to_le_bytes();
    // A pointer to no section.
    assert_malformed(
        &with_eh_frame(eh_frame(0x10, &0x1000i64.to_le_bytes())),
        "no loaded section",
    );
    // An FDE whose CIE pointer is wrong.
    let mut eh = eh_frame(0x10, &pc);
    eh[24] = 8;
    assert_malformed(&with_eh_frame(eh), "names no CIE");
    // A record longer than the section.
    let mut eh = eh_frame(0x10, &pc);
    eh[20] = 0xf0;
    assert_malformed(&with_eh_frame(eh), "longer than the section");
    // A truncated CIE.
    let mut eh = eh_frame(0x10, &pc);
    eh[0] = 3;
    assert!(parse(&with_eh_frame(eh)).is_err());
    // DWARF64 and application encodings other than pcrel and absolute.
    let mut eh = eh_frame(0x10, &pc);
    eh[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_unsupported_object(&with_eh_frame(eh), "64-bit DWARF");
    assert_unsupported_object(&with_eh_frame(eh_frame(0x30, &pc)), "encoding 0x30");
    assert_unsupported_object(&with_eh_frame(eh_frame(0x11, &[4])), "encoding 0x11");
}

// ---------------------------------------------------------------------------
// Objects LLVM assembles.

#[cfg(feature = "llvm")]
mod assembled {
    use super::*;
    use crate::llvm::{TargetMachine, TargetOptions};

    pub(super) fn assemble(triple: &str, asm: &str) -> Vec<u8> {
        TargetMachine::new(&TargetOptions {
            triple: Some(triple.into()),
            ..TargetOptions::default()
        })
        .unwrap()
        .assemble(asm)
        .unwrap()
    }

    fn symbol_index(obj: &ObjectFile<'_>, name: &str) -> u32 {
        obj.symbols
            .iter()
            .position(|s| s.name == name)
            .unwrap_or_else(|| panic!("no symbol `{name}`")) as u32
    }

    fn section_index(obj: &ObjectFile<'_>, name: &str, kind: SectionKind) -> usize {
        obj.sections
            .iter()
            .position(|s| s.name == name && s.kind == kind)
            .unwrap_or_else(|| panic!("no section `{name}`"))
    }

    fn at(obj: &ObjectFile<'_>, section: usize, offset: u64) -> Relocation {
        let found: Vec<_> = obj.sections[section]
            .relocations
            .iter()
            .filter(|r| r.offset == offset)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "at {offset:#x}: {:?}",
            obj.sections[section].relocations
        );
        found[0]
    }

    const X86_ASM: &str = r#"
        .text
        .globl _f
    _f:
        movq _x@GOTPCREL(%rip), %rax
        pushq _x@GOTPCREL(%rip)
        movl _x(%rip), %eax
        movl _x+4(%rip), %eax
        movb $1, _x(%rip)
        movw $1, _x(%rip)
        movl $1, _x(%rip)
        call _g
        call _g+4
        leaq L0(%rip), %rax
        addl $6, L0(%rip)
        movl $0x12345678, L0+8(%rip)
        ret
        .data
    L0: .quad 5
        .globl _d
    _d:
        .quad _x
        .quad _x+4
        .quad _f - _d
        .long _f - _d + 8
        .quad L0 + 2
        .long _x@GOTPCREL
        .long _g
    "#;

    #[test]
    fn x86_64_every_type_llvm_writes() {
        let bytes = assemble("x86_64-apple-macosx10.15", X86_ASM);
        let obj = parse(&bytes).unwrap();
        let text = section_index(&obj, "__text", SectionKind::Text);
        let data = section_index(&obj, "__data", SectionKind::Data);
        assert_eq!((text, data), (1, 2));
        let (sx, sg, sf, sd) = (
            Target::Symbol(symbol_index(&obj, "x")),
            Target::Symbol(symbol_index(&obj, "g")),
            Target::Symbol(symbol_index(&obj, "f")),
            Target::Symbol(symbol_index(&obj, "d")),
        );
        let data_section = Target::Section(data as u32);
        for (offset, kind, target, addend) in [
            (0x03, X::GotPcRelX, sx, -4),
            (0x09, X::GotPcRel32, sx, -4),
            (0x0f, X::Pc32, sx, -4),
            (0x15, X::Pc32, sx, 0),
            (0x1b, X::Pc32, sx, -5),
            (0x23, X::Pc32, sx, -6),
            (0x2b, X::Pc32, sx, -8),
            (0x34, X::Branch32, sg, -4),
            (0x39, X::Branch32, sg, 0),
            (0x40, X::Pc32, data_section, -4),
            (0x46, X::Pc32, data_section, -5),
            (0x4d, X::Pc32, data_section, 8 - 8),
        ] {
            let r = at(&obj, text, offset);
            assert_eq!(
                (r.kind, r.target, r.addend, r.subtrahend),
                (x(kind), target, addend, None),
                "text+{offset:#x}"
            );
        }
        assert_eq!(obj.sections[text].relocations.len(), 12);
        for (offset, kind, target, addend, subtrahend) in [
            (0x08, X::Abs64, sx, 0, None),
            (0x10, X::Abs64, sx, 4, None),
            (0x18, X::Abs64, sf, 0, Some(sd)),
            (0x20, X::Abs32S, sf, 8, Some(sd)),
            (0x24, X::Abs64, data_section, 2, None),
            (0x2c, X::GotPcRel32, sx, -4, None),
            (0x30, X::Abs32, sg, 0, None),
        ] {
            let r = at(&obj, data, offset);
            assert_eq!(
                (r.kind, r.target, r.addend, r.subtrahend),
                (x(kind), target, addend, subtrahend),
                "data+{offset:#x}"
            );
        }
        assert_eq!(obj.sections[data].relocations.len(), 7);
    }

    #[test]
    fn x86_64_thread_local_loads_are_got_loads_of_the_descriptor() {
        let tlv = assemble(
            "x86_64-apple-macosx10.15",
            ".text\n.globl _f\n_f:\n movq _tv@TLVP(%rip), %rdi\n ret\n",
        );
        let obj = ObjectFile::parse(&tlv, "tlv.o").unwrap();
        let r = obj.sections[1].relocations.get(0).unwrap();
        assert_eq!((r.kind, r.offset, r.addend), (x(X::GotPcRelX), 3, -4));
        let tls_def = assemble(
            "x86_64-apple-macosx10.15",
            ".section __DATA,__thread_data,thread_local_regular\n_tv$tlv$init:\n .long 1\n",
        );
        let obj = ObjectFile::parse(&tls_def, "tls.o").unwrap();
        assert!(obj
            .sections
            .iter()
            .any(|s| s.name == "__thread_data" && s.kind == SectionKind::TlsData));
    }

    #[test]
    fn x86_64_got_quads_are_refused() {
        let quad = assemble(
            "x86_64-apple-macosx10.15",
            ".data\n.globl _d\n_d:\n .quad _x@GOTPCREL\n",
        );
        assert_unsupported_reloc(&quad, "X86_64_RELOC_GOT (r_pcrel=1 r_length=3");
    }

    const ARM64_ASM: &str = r#"
        .text
        .globl _f
        .p2align 2
    _f:
        bl _g
        bl _g+8
        adrp x0, _x@PAGE
        add x0, x0, _x@PAGEOFF
        adrp x1, _x@PAGE+16
        ldr x1, [x1, _x@PAGEOFF+16]
        adrp x1, _x@PAGE-16
        add x1, x1, _x@PAGEOFF-16
        adrp x3, _x@GOTPAGE
        ldr x3, [x3, _x@GOTPAGEOFF]
        adrp x4, Lloc@PAGE
        add x4, x4, Lloc@PAGEOFF
        ret
        .data
    Lloc: .quad 1
        .globl _d
    _d:
        .quad _x
        .quad _x+12
        .quad _f - _d
        .long _f - _d
        .quad Lloc
        .long _x@GOT - .
        .quad _x@GOT
    "#;

    #[test]
    fn arm64_every_type_llvm_writes() {
        let bytes = assemble("arm64-apple-macosx11.0", ARM64_ASM);
        let obj = parse(&bytes).unwrap();
        assert_eq!(obj.arch, Arch::Aarch64);
        let text = section_index(&obj, "__text", SectionKind::Text);
        let data = section_index(&obj, "__data", SectionKind::Data);
        let (sx, sg, sf, sd, ltmp1) = (
            Target::Symbol(symbol_index(&obj, "x")),
            Target::Symbol(symbol_index(&obj, "g")),
            Target::Symbol(symbol_index(&obj, "f")),
            Target::Symbol(symbol_index(&obj, "d")),
            Target::Symbol(symbol_index(&obj, "ltmp1")),
        );
        assert_eq!(
            obj.symbols[symbol_index(&obj, "ltmp1") as usize].binding,
            Binding::Local
        );
        for (offset, kind, target, addend) in [
            (0x00, A64::Call26, sg, 0),
            (0x04, A64::Call26, sg, 8),
            (0x08, A64::AdrPrelPgHi21, sx, 0),
            (0x0c, A64::PageOff12, sx, 0),
            (0x10, A64::AdrPrelPgHi21, sx, 16),
            (0x14, A64::PageOff12, sx, 16),
            (0x18, A64::AdrPrelPgHi21, sx, -16),
            (0x1c, A64::PageOff12, sx, -16),
            (0x20, A64::AdrGotPage, sx, 0),
            (0x24, A64::Ld64GotLo12Nc, sx, 0),
            (0x28, A64::AdrPrelPgHi21, ltmp1, 0),
            (0x2c, A64::PageOff12, ltmp1, 0),
        ] {
            let r = at(&obj, text, offset);
            assert_eq!(
                (r.kind, r.target, r.addend, r.subtrahend),
                (a64(kind), target, addend, None),
                "text+{offset:#x}"
            );
        }
        assert_eq!(obj.sections[text].relocations.len(), 12);
        for (offset, kind, target, addend, subtrahend) in [
            (0x08, A64::Abs64, sx, 0, None),
            (0x10, A64::Abs64, sx, 12, None),
            (0x18, A64::Abs64, sf, 0, Some(sd)),
            (0x20, A64::Abs32, sf, 0, Some(sd)),
            (0x24, A64::Abs64, ltmp1, 0, None),
            (0x2c, A64::GotPrel32, sx, 0, None),
            (0x30, A64::GotAbs64, sx, 0, None),
        ] {
            let r = at(&obj, data, offset);
            assert_eq!(
                (r.kind, r.target, r.addend, r.subtrahend),
                (a64(kind), target, addend, subtrahend),
                "data+{offset:#x}"
            );
        }
        assert_eq!(obj.sections[data].relocations.len(), 7);
    }

    #[test]
    fn arm64_thread_local_loads_are_got_loads_of_the_descriptor() {
        let tlv = assemble(
            "arm64-apple-macosx11.0",
            ".text\n.globl _f\n.p2align 2\n_f:\n adrp x0, _tv@TLVPPAGE\n ldr x0, [x0, _tv@TLVPPAGEOFF]\n ret\n",
        );
        let obj = ObjectFile::parse(&tlv, "tlv.o").unwrap();
        let mut kinds: Vec<_> = obj.sections[1]
            .relocations
            .iter()
            .map(|r| (r.offset, r.kind))
            .collect();
        kinds.sort_by_key(|k| k.0);
        assert_eq!(
            kinds,
            [
                (0, RelocKind::Aarch64(A64::AdrGotPage)),
                (4, RelocKind::Aarch64(A64::Ld64GotLo12Nc))
            ]
        );
    }

    #[test]
    fn x86_64_eh_frame_lsda_and_personality() {
        let ir = r#"
            declare i32 @__gxx_personality_v0(...)
            declare void @may_throw()
            define i32 @catcher() personality ptr @__gxx_personality_v0 {
            entry:
              invoke void @may_throw() to label %ok unwind label %lp
            ok:
              ret i32 0
            lp:
              %l = landingpad { ptr, i32 } cleanup
              ret i32 1
            }
        "#;
        let tm = TargetMachine::new(&TargetOptions {
            triple: Some("x86_64-apple-macosx10.15".into()),
            ..TargetOptions::default()
        })
        .unwrap();
        let mut m = crate::llvm::Module::parse_ir(ir, "eh").unwrap();
        let bytes = tm.emit_object(&mut m).unwrap();
        let obj = parse(&bytes).unwrap();
        let eh = section_index(&obj, "__eh_frame", SectionKind::Unwind);
        let text = section_index(&obj, "__text", SectionKind::Text) as u32;
        let lsda = section_index(&obj, "__gcc_except_tab", SectionKind::ReadOnly) as u32;
        let personality = Target::Symbol(symbol_index(&obj, "__gxx_personality_v0"));
        let relocs = obj.sections[eh].relocations.to_vec();
        // The CIE's personality pointer: explicit (GOT, +4 in the field).
        let p = relocs.iter().find(|r| r.target == personality).unwrap();
        assert_eq!((p.kind, p.addend), (x(X::GotPcRel32), 0));
        // The FDE's pc_begin and LSDA pointer: added.
        let mut implicit: Vec<_> = relocs
            .iter()
            .filter(|r| r.target != personality)
            .map(|r| (r.kind, r.target, r.addend))
            .collect();
        implicit.sort_by_key(|r| format!("{r:?}"));
        let mut expected = vec![
            (x(X::Pc64), Target::Section(lsda), 0),
            (x(X::Pc64), Target::Section(text), 0),
        ];
        expected.sort_by_key(|r| format!("{r:?}"));
        assert_eq!(implicit, expected);
    }

    #[test]
    fn compiled_ir_has_sections_symbols_and_relocations() {
        let ir = r#"
            @counter = internal global i64 0
            @table = global [2 x ptr] [ptr @counter, ptr @bump]
            @k = global double 0.0
            define i64 @bump() {
              %v = load i64, ptr @counter
              %w = add i64 %v, 1
              store i64 %w, ptr @counter
              ret i64 %w
            }
            define double @scale(double %x) {
              %y = fmul double %x, 1.234567
              %z = call double @sin(double %y)
              ret double %z
            }
            declare double @sin(double)
        "#;
        for triple in ["x86_64-apple-macosx10.15", "arm64-apple-macosx11.0"] {
            let tm = TargetMachine::new(&TargetOptions {
                triple: Some(triple.into()),
                ..TargetOptions::default()
            })
            .unwrap();
            let mut m = crate::llvm::Module::parse_ir(ir, "m").unwrap();
            let bytes = tm.emit_object(&mut m).unwrap();
            let obj = parse(&bytes).unwrap();
            let find = |name: &str| {
                obj.symbols
                    .iter()
                    .find(|s| s.name == name)
                    .unwrap_or_else(|| panic!("{triple}: no `{name}`"))
            };
            assert_eq!(find("bump").binding, Binding::Global);
            assert_eq!(find("bump").kind, SymbolKind::Function);
            assert_eq!(find("counter").binding, Binding::Local);
            assert_eq!(find("sin").definition, Definition::Undefined);
            assert_eq!(find("table").kind, SymbolKind::Data);
            // `k` is zero: it lives in a zero-fill section.
            let Definition::Section { section, .. } = find("k").definition else {
                panic!("{triple}: k is not in a section");
            };
            assert_eq!(
                obj.sections[section as usize].kind,
                SectionKind::ZeroFill,
                "{triple}"
            );
            let relocs: usize = obj.sections.iter().map(|s| s.relocations.len()).sum();
            assert!(relocs >= 4, "{triple}: {relocs} relocations");
            // Every target is in range.
            for s in &obj.sections {
                for r in &s.relocations {
                    match r.target {
                        Target::Symbol(i) => assert!((i as usize) < obj.symbols.len()),
                        Target::Section(i) => assert!(obj.sections[i as usize].kind.is_loaded()),
                    }
                }
            }
        }
    }
}
