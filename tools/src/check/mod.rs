//! `rivet check`: link for any supported target at addresses the caller
//! chooses, without running anything, and verify the linked bytes with the
//! expressions of LLVM's RuntimeDyldChecker (`llvm-rtdyld -verify -check`,
//! `llvm-jitlink -noexec -check`).
//!
//! ```text
//! rivet check --triple TRIPLE [--dummy-extern SYM=ADDR]... [--target-addr-start ADDR]
//!             [--target-section-sep N] [--layout rivet|jitlink|rtdyld] [--page-size N]
//!             [--map-section FILE,SECTION=ADDR]...
//!             [--check-prefix rtdyld-check|jitlink-check]... [--check FILE]... FILE.s|FILE.o ...
//! ```
//!
//! Assembly (`.s`, `.S`, `.asm`) is assembled by LLVM for the triple
//! (module-level inline assembly, no `llvm-mc`); the command line does it in
//! a child process per file ([`CheckOptions::assembler`]), so that an input
//! LLVM aborts or traps on is an error, not the end of the check. The
//! object made from `dir/name.s` is called `name.o`, the name check
//! expressions use for it.
//! Objects are taken as they are. Everything is linked in one batch by
//! rivet's linker ([`rivet::link::link`]) into a [`rivet::memory::Image`].
//! rivet links each module's sections of one class into one segment (text,
//! stubs, GOT, read-only data, data); `--layout` chooses where the segments
//! go, from `--target-addr-start` (alias `--slab-address`, default 0x1000):
//!
//! - `rivet`: each module's segments in that class order,
//!   `--target-section-sep` (default 0) bytes apart;
//! - `jitlink`: as JITLink lays out a graph (`llvm-jitlink -noexec` with its
//!   slab allocator): per module, one page-aligned segment per protection,
//!   read-only (read-only data, then the GOT), read-write (data), executable
//!   (text, then the stubs);
//! - `rtdyld`: as `llvm-rtdyld -verify` maps sections: the code of every
//!   module with its stubs right after it, then the data of every module,
//!   then an ELF module's `.got`, each on whole pages and
//!   `--target-section-sep` bytes apart.
//!
//! [`layout`] has the rules in full; `--page-size` (alias
//! `--slab-page-size`, default 0x1000) is their page. Without `--layout`, a
//! run whose check files use `jitlink-check` only is laid out as `jitlink`,
//! one that uses `rtdyld-check` only as `rtdyld`, any other as `rivet`.
//! Under `jitlink` and `rtdyld` the modules are linked twice: once to learn
//! every segment's size (which does not depend on addresses), once at the
//! addresses the layout gives them. `--map-section` pins the segment
//! holding a section so that the section lands at the address given; under
//! `jitlink` and `rtdyld` the segments the layout keeps next to it move
//! with it.
//!
//! Every line `# rtdyld-check: EXPR` and `# jitlink-check: EXPR` (or the
//! prefixes `--check-prefix` names) of a check file is one check; a line
//! ending in `\` continues on the next line of the same prefix. The check
//! files are the assembly files named on the command line, or the files
//! given with `--check`. See [`expr`] for the language.
//!
//! Two directives of rivet's own may appear in a check file:
//!
//! - `# rivet-check-args: ARGS...` adds command-line arguments (whitespace
//!   separated, no quoting); files among them are link inputs, relative to
//!   the check file's folder. `rivet check FILE.s` then needs nothing else.
//! - `# rivet-check-error: TEXT` says that linking must fail with a message
//!   containing TEXT; the checks of that file are then not evaluated.
//!
//! The run fails (and the command exits non-zero) when a check is false or
//! cannot be evaluated, when a check file has no checks, when linking fails
//! and no check file expects it (or succeeds when one does), or when an
//! input cannot be read or assembled.
//!
//! # Names
//!
//! Symbols are named as in the assembly. rivet's model drops the leading
//! underscore of Mach-O names (`_foo` is `foo`); the checker maps `_foo`
//! back to it, so Mach-O checks and `--dummy-extern` use the names the file
//! has. `stub_addr` and `got_addr` take a container `FILE` or
//! `FILE/SECTION` (the section is only checked to exist: rivet keeps one
//! stub area and one GOT per module); `stub_addr`'s optional third argument,
//! a stub kind, is ignored (rivet has one kind), except that the older
//! RuntimeDyld form `stub_addr(FILE, SECTION, SYMBOL)` is understood. `stub_addr` gives the stub rivet
//! reserved for a branch to a symbol defined outside the module (always
//! written, used by a branch only when the symbol is out of its reach).
//! As in JITLink, a stub jumps through the symbol's GOT slot, which GOT
//! loads of the symbol share, so `got_addr` names that slot for a called
//! symbol too and `*{8}got_addr(FILE, SYM) = SYM` holds (a stub to a
//! symbol plus an offset has a slot of its own, holding that sum, right
//! where the layout reserved it). For a COFF `__imp_` name, and for any
//! name under the `rtdyld-check` prefix when the module has no stub for it,
//! it gives the GOT slot instead (RuntimeDyld keeps its GOT entries and
//! import pointers among its stubs). `section_addr(FILE, [got])` and
//! `section_addr(FILE, [stubs])` give the module's GOT and stub areas, and
//! `--map-section FILE,[got]=ADDR` places them; `.got` is accepted for
//! `[got]`, as RuntimeDyld names it. `_GLOBAL_OFFSET_TABLE_` is the GOT's
//! base (of the first module that has a GOT), as the GOTPC and GOTOFF
//! fixups count from it.
//! Section bounds the linker defines (ELF `__start_NAME` / `__stop_NAME`,
//! Mach-O `section$start$SEG$SECT` / `section$end$SEG$SECT`) are symbols of
//! each module that refers to them (the first such module's, by name).
//!
//! `decode_operand` decodes with LLVM's own disassembler, so operands are
//! numbered as LLVM's `MCInst` numbers them; a register operand gives LLVM's
//! register number (RuntimeDyldChecker refuses registers).

mod disasm;
pub mod expr;
pub mod layout;

pub use disasm::Disassembler;
pub use expr::{evaluate, Decoded, Env, Operand, Outcome};
pub use layout::Layout;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rivet::link::{self, Externals, LinkMap, LinkOptions, LinkUnit, SymbolTable};
use rivet::llvm::{TargetMachine, TargetOptions};
use rivet::load::{Arch, Binding, Definition, Format, ObjectFile, SectionKind};
use rivet::memory::{
    Allocation, Image, ImageConfig, MemoryManager, MemoryStats, ModuleLayout, SegmentClass,
};
use rivet::Error;

/// The check prefixes read when none is given.
pub const DEFAULT_PREFIXES: [&str; 2] = ["rtdyld-check", "jitlink-check"];
/// The default `--target-addr-start`: the first page stays unused, as in
/// `llvm-rtdyld`.
pub const DEFAULT_ADDR_START: u64 = 0x1000;
/// The directive that adds command-line arguments.
pub const ARGS_DIRECTIVE: &str = "# rivet-check-args:";
/// The directive that expects a link error.
pub const ERROR_DIRECTIVE: &str = "# rivet-check-error:";
/// The pseudo-section naming a module's GOT.
pub const GOT_SECTION: &str = "[got]";
/// The pseudo-section naming a module's stubs.
pub const STUBS_SECTION: &str = "[stubs]";
/// RuntimeDyld's name for an ELF module's GOT, accepted for [`GOT_SECTION`].
pub const ELF_GOT_SECTION: &str = ".got";
/// The linker-defined symbol at the base of the GOT.
pub const GOT_SYMBOL: &str = "_GLOBAL_OFFSET_TABLE_";

/// The linker-made area a section name stands for: `[got]` (and `.got`,
/// which relocatable objects never hold themselves) and `[stubs]`.
fn linker_area(section: &str) -> Option<SegmentClass> {
    match section {
        GOT_SECTION | ELF_GOT_SECTION => Some(SegmentClass::Got),
        STUBS_SECTION => Some(SegmentClass::Stubs),
        _ => None,
    }
}

/// A section pinned at an address: `FILE,SECTION=ADDR`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSection {
    pub file: String,
    pub section: String,
    pub addr: u64,
}

/// Options of `rivet check` (its command line).
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(name = "rivet check")]
pub struct CheckOptions {
    /// Target triple to assemble and link for (default: that of the first
    /// object input).
    #[arg(long)]
    pub triple: Option<String>,
    /// CPU to assemble and disassemble for (default: generic).
    #[arg(long)]
    pub cpu: Option<String>,
    /// Target features, e.g. `+lse` (default: none).
    #[arg(long)]
    pub features: Option<String>,
    /// Gives an undefined symbol an address (repeatable).
    #[arg(long = "dummy-extern", visible_alias = "abs", value_name = "SYM=ADDR", value_parser = parse_dummy_extern)]
    pub dummy_externs: Vec<(String, u64)>,
    /// Address of the first segment [default: 0x1000].
    #[arg(long, visible_alias = "slab-address", value_name = "ADDR", value_parser = parse_number)]
    pub target_addr_start: Option<u64>,
    /// Bytes left between segments [default: 0].
    #[arg(long, value_name = "N", value_parser = parse_number)]
    pub target_section_sep: Option<u64>,
    /// Whose layout to reproduce [default: jitlink for files checked with
    /// `jitlink-check` only, rtdyld for `rtdyld-check` only, else rivet].
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// Page size of the jitlink and rtdyld layouts [default: 0x1000].
    #[arg(long, visible_alias = "slab-page-size", value_name = "N", value_parser = parse_page_size)]
    pub page_size: Option<u64>,
    /// Places a section (its module's segment of that class) at an address.
    #[arg(long = "map-section", value_name = "FILE,SECTION=ADDR", value_parser = parse_map_section)]
    pub map_sections: Vec<MapSection>,
    /// Prefix of check lines, `# PREFIX: EXPR` [default: rtdyld-check and jitlink-check].
    #[arg(long = "check-prefix", value_name = "PREFIX")]
    pub check_prefixes: Vec<String>,
    /// A file of checks (repeatable); without one, the assembly inputs are the check files.
    #[arg(long = "check", value_name = "FILE")]
    pub checks: Vec<PathBuf>,
    /// Print every check with its value, and where every segment went.
    #[arg(short, long)]
    pub verbose: bool,
    /// Assembly files and relocatable objects to link.
    #[arg(value_name = "FILE.s|FILE.o")]
    pub inputs: Vec<PathBuf>,
    /// A `rivet` executable to assemble each input in, as a child process
    /// (`rivet assemble`): some inputs make LLVM abort or trap instead of
    /// reporting an error, and that must end the child, not the check.
    /// `None` assembles in this process. The command line sets it.
    #[arg(skip)]
    pub assembler: Option<PathBuf>,
}

/// A number: decimal or `0x` hex.
fn parse_number(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|_| format!("`{text}` is not a number (decimal or 0x hex)"))
}

fn parse_page_size(text: &str) -> std::result::Result<u64, String> {
    let size = parse_number(text)?;
    if size.is_power_of_two() {
        Ok(size)
    } else {
        Err(format!("page size `{text}` is not a power of two"))
    }
}

fn parse_dummy_extern(text: &str) -> std::result::Result<(String, u64), String> {
    let (name, addr) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not SYM=ADDR"))?;
    if name.trim().is_empty() {
        return Err(format!("`{text}` has no symbol name"));
    }
    Ok((name.trim().to_string(), parse_number(addr)?))
}

fn parse_map_section(text: &str) -> std::result::Result<MapSection, String> {
    let (what, addr) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}` is not FILE,SECTION=ADDR"))?;
    let (file, section) = what
        .split_once(',')
        .ok_or_else(|| format!("`{text}` is not FILE,SECTION=ADDR"))?;
    Ok(MapSection {
        file: file.trim().to_string(),
        section: section.trim().to_string(),
        addr: parse_number(addr)?,
    })
}

/// One evaluated check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// The line the check starts on (1-based).
    pub line: usize,
    /// The prefix it was written with.
    pub prefix: String,
    /// The expression, continuation lines joined.
    pub expr: String,
    pub outcome: Outcome,
}

/// What happened to one check file.
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    pub path: PathBuf,
    /// The checks evaluated (none when the link failed).
    pub checks: Vec<CheckResult>,
    /// The number of check lines found (evaluated or not).
    pub check_count: usize,
    /// `# rivet-check-error:` text and its line.
    pub expected_error: Option<(usize, String)>,
}

impl FileReport {
    /// Why the file fails, or `None` when it passes.
    pub fn failure(&self, link_error: Option<&str>) -> Option<String> {
        match (&self.expected_error, link_error) {
            (Some((_, text)), Some(error)) if error.contains(text.as_str()) => None,
            (Some((line, text)), Some(error)) => Some(format!(
                "{}:{line}: linking failed, but not with `{text}`: {error}",
                self.path.display()
            )),
            (Some((line, text)), None) => Some(format!(
                "{}:{line}: linking was expected to fail with `{text}`, but it succeeded",
                self.path.display()
            )),
            (None, Some(error)) => Some(format!(
                "{}: linking failed: {error}",
                self.path.display()
            )),
            (None, None) if self.check_count == 0 => Some(format!(
                "{}: no checks (no `# rtdyld-check:` or `# jitlink-check:` line, nor `{ERROR_DIRECTIVE}`)",
                self.path.display()
            )),
            (None, None) => {
                let bad = self
                    .checks
                    .iter()
                    .filter(|c| !matches!(c.outcome, Outcome::True(_)))
                    .count();
                (bad > 0).then(|| {
                    format!(
                        "{}: {bad} of {} checks failed",
                        self.path.display(),
                        self.checks.len()
                    )
                })
            }
        }
    }
}

/// The result of a run of `rivet check`.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub files: Vec<FileReport>,
    /// Why linking failed, if it did.
    pub link_error: Option<String>,
    /// Where each module's segments went: (module, class, address, size).
    pub segments: Vec<(String, SegmentClass, u64, u64)>,
    /// Print every check, not only the failures.
    pub verbose: bool,
    /// The layout the segments were placed by.
    pub layout: Layout,
}

impl Report {
    /// Whether every check file passed.
    pub fn passed(&self) -> bool {
        !self.files.is_empty()
            && self
                .files
                .iter()
                .all(|f| f.failure(self.link_error.as_deref()).is_none())
    }

    /// Every check that is not true, with its file.
    pub fn failed_checks(&self) -> impl Iterator<Item = (&Path, &CheckResult)> {
        self.files.iter().flat_map(|f| {
            f.checks
                .iter()
                .filter(|c| !matches!(c.outcome, Outcome::True(_)))
                .map(move |c| (f.path.as_path(), c))
        })
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.verbose {
            writeln!(f, "layout {}", layout::layout_name(self.layout))?;
            for (module, class, addr, size) in &self.segments {
                writeln!(
                    f,
                    "segment {addr:#018x} {size:>8} {:<7} {module}",
                    class.name()
                )?;
            }
        }
        let (mut passed, mut total) = (0usize, 0usize);
        for file in &self.files {
            for check in &file.checks {
                total += 1;
                let at = format!("{}:{}", file.path.display(), check.line);
                match &check.outcome {
                    Outcome::True(value) => {
                        passed += 1;
                        if self.verbose {
                            writeln!(f, "{at}: true: {} ({value:#x})", check.expr)?;
                        }
                    }
                    Outcome::False { lhs, rhs } => writeln!(
                        f,
                        "{at}: error: check `{}` is false: {lhs:#x} != {rhs:#x}",
                        check.expr
                    )?,
                    Outcome::Error(message) => writeln!(
                        f,
                        "{at}: error: cannot evaluate `{}`: {message}",
                        check.expr
                    )?,
                }
            }
            match file.failure(self.link_error.as_deref()) {
                Some(why) => writeln!(f, "{why}")?,
                None => {
                    if let (Some((line, text)), true) = (&file.expected_error, self.verbose) {
                        writeln!(
                            f,
                            "{}:{line}: linking failed as expected (`{text}`)",
                            file.path.display()
                        )?;
                    }
                }
            }
        }
        writeln!(
            f,
            "rivet check: {} file(s), {passed} of {total} checks true: {}",
            self.files.len(),
            if self.passed() { "PASS" } else { "FAIL" }
        )
    }
}

/// Runs `rivet check` and prints the report; returns the exit status.
pub fn cli(options: &CheckOptions) -> i32 {
    match run(options) {
        Ok(report) => {
            let text = report.to_string();
            if report.passed() {
                print!("{text}");
                0
            } else {
                eprint!("{text}");
                1
            }
        }
        Err(e) => {
            eprintln!("rivet check: {e}");
            1
        }
    }
}

/// A check file: its text and where it came from.
struct CheckFile {
    path: PathBuf,
    text: String,
}

/// One link input with the bytes of its object.
struct Input {
    path: PathBuf,
    /// The object's name: `name.o` for `name.s`, the file name of an object.
    name: String,
    bytes: Vec<u8>,
}

impl Input {
    /// Whether `file` names this input in a check expression.
    fn is_named(&self, file: &str) -> bool {
        let file_name = self.path.file_name().map(|n| n.to_string_lossy());
        file == self.name
            || file_name.as_deref() == Some(file)
            || self.path.as_os_str() == std::ffi::OsStr::new(file)
    }
}

fn is_assembly(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("s" | "S" | "asm")
    )
}

fn read_text(path: &Path) -> std::result::Result<String, CheckError> {
    std::fs::read_to_string(path).map_err(|source| {
        CheckError::Rivet(Error::Io {
            path: path.to_path_buf(),
            source,
        })
    })
}

/// Why `rivet check` could not run at all (as opposed to a link failure
/// or a false check, which are in the [`Report`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// Bad options or directives, or nothing to check.
    #[error("{0}")]
    Usage(String),
    /// An assembly input that LLVM cannot assemble.
    #[error("cannot assemble `{}`: {source}", path.display())]
    Assemble {
        path: PathBuf,
        #[source]
        source: Error,
    },
    /// An input that cannot be read, or another error of rivet's.
    #[error(transparent)]
    Rivet(#[from] Error),
}

fn usage(message: String) -> CheckError {
    CheckError::Usage(message)
}

/// Adds the options of a `# rivet-check-args:` line of `file` to `into`.
fn merge_file_options(
    into: &mut CheckOptions,
    file: &Path,
    args: &str,
) -> std::result::Result<(), CheckError> {
    let tokens = std::iter::once("rivet-check").chain(args.split_whitespace());
    let parsed = <CheckOptions as clap::Parser>::try_parse_from(tokens).map_err(|e| {
        usage(format!(
            "{}: bad `{ARGS_DIRECTIVE}` line: {}",
            file.display(),
            e.render().to_string().lines().next().unwrap_or("")
        ))
    })?;
    let conflict = |what: &str| {
        usage(format!(
            "{}: `{ARGS_DIRECTIVE}` sets {what} differently from elsewhere",
            file.display()
        ))
    };
    fn merge_one<T: PartialEq + Clone>(into: &mut Option<T>, from: Option<T>) -> bool {
        match (into.as_ref(), from) {
            (_, None) => true,
            (None, Some(v)) => {
                *into = Some(v);
                true
            }
            (Some(a), Some(b)) => *a == b,
        }
    }
    if !merge_one(&mut into.triple, parsed.triple) {
        return Err(conflict("--triple"));
    }
    if !merge_one(&mut into.cpu, parsed.cpu) {
        return Err(conflict("--cpu"));
    }
    if !merge_one(&mut into.features, parsed.features) {
        return Err(conflict("--features"));
    }
    if !merge_one(&mut into.target_addr_start, parsed.target_addr_start) {
        return Err(conflict("--target-addr-start"));
    }
    if !merge_one(&mut into.target_section_sep, parsed.target_section_sep) {
        return Err(conflict("--target-section-sep"));
    }
    if !merge_one(&mut into.layout, parsed.layout) {
        return Err(conflict("--layout"));
    }
    if !merge_one(&mut into.page_size, parsed.page_size) {
        return Err(conflict("--page-size"));
    }
    into.dummy_externs.extend(parsed.dummy_externs);
    into.map_sections.extend(parsed.map_sections);
    for prefix in parsed.check_prefixes {
        if !into.check_prefixes.contains(&prefix) {
            into.check_prefixes.push(prefix);
        }
    }
    into.verbose |= parsed.verbose;
    if !parsed.checks.is_empty() {
        return Err(usage(format!(
            "{}: `{ARGS_DIRECTIVE}` cannot name check files (--check)",
            file.display()
        )));
    }
    let dir = file.parent().unwrap_or(Path::new(""));
    for input in parsed.inputs {
        into.inputs.push(dir.join(input));
    }
    Ok(())
}

/// The text after `directive` on each line that starts with it, with its line.
fn directives<'t>(text: &'t str, directive: &'t str) -> impl Iterator<Item = (usize, &'t str)> {
    text.lines().enumerate().filter_map(move |(i, line)| {
        line.trim_start()
            .strip_prefix(directive)
            .map(|rest| (i + 1, rest.trim()))
    })
}

/// The checks of `text` written with `prefix`: (first line, expression).
/// A line ending in `\` continues on the next line with the prefix.
fn extract_checks(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let tag = format!("# {prefix}:");
    let mut checks = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let content = line.trim_start().strip_prefix(tag.as_str());
        match (content, pending.take()) {
            (Some(content), pending_expr) => {
                let (start, mut expr) = pending_expr.unwrap_or((i + 1, String::new()));
                let content = content.trim_end();
                match content.strip_suffix('\\') {
                    Some(head) => {
                        expr.push_str(head);
                        pending = Some((start, expr));
                    }
                    None => {
                        expr.push_str(content);
                        checks.push((start, expr.trim().to_string()));
                    }
                }
            }
            // A continued expression ends at the first line without the prefix.
            (None, Some((start, expr))) => checks.push((start, expr.trim().to_string())),
            (None, None) => {}
        }
    }
    if let Some((start, expr)) = pending {
        checks.push((start, expr.trim().to_string()));
    }
    checks
}

/// The triple LLVM uses for objects of this format and instruction set.
fn default_triple(format: Format, arch: Arch) -> &'static str {
    match (format, arch) {
        (Format::Elf, Arch::X86_64) => "x86_64-unknown-linux-gnu",
        (Format::Elf, Arch::Aarch64) => "aarch64-unknown-linux-gnu",
        (Format::MachO, Arch::X86_64) => "x86_64-apple-macosx",
        (Format::MachO, Arch::Aarch64) => "arm64-apple-macosx",
        (Format::Coff, Arch::X86_64) => "x86_64-pc-windows-msvc",
        (Format::Coff, Arch::Aarch64) => "aarch64-pc-windows-msvc",
        (_, Arch::Riscv64) => "riscv64-unknown-linux-gnu",
    }
}

/// Where the linker puts each section of `object` inside its module's
/// segments: (class, offset). This follows `link::layout`'s rule (sections
/// in file order, each aligned, unwind tables followed by a 4-byte
/// terminator); `check` verifies the result against the link map.
fn section_placement(object: &ObjectFile<'_>) -> Vec<Option<(SegmentClass, u64)>> {
    let mut sizes = [0u64; SegmentClass::COUNT];
    object
        .sections
        .iter()
        .map(|section| {
            let class = match section.kind {
                SectionKind::Text => SegmentClass::Text,
                SectionKind::ReadOnly | SectionKind::Unwind => SegmentClass::ReadOnly,
                SectionKind::Data | SectionKind::ZeroFill | SectionKind::TlvDescriptors => {
                    SegmentClass::Data
                }
                _ => return None,
            };
            let size = &mut sizes[class as usize];
            let align = section.align.max(1);
            let offset = size.div_ceil(align) * align;
            let terminator = if section.kind == SectionKind::Unwind {
                4
            } else {
                0
            };
            *size = offset + section.size + terminator;
            Some((class, offset))
        })
        .collect()
}

/// Turns `--map-section` entries into pinned segments.
fn pin_sections(
    inputs: &[Input],
    objects: &[ObjectFile<'_>],
    maps: &[MapSection],
) -> std::result::Result<BTreeMap<(usize, SegmentClass), u64>, String> {
    let mut pinned: BTreeMap<(usize, SegmentClass), (u64, String)> = BTreeMap::new();
    for map in maps {
        let module = find_input(inputs, &map.file)?;
        let object = &objects[module];
        let (class, offset) = match (linker_area(&map.section), map.section.as_str()) {
            (Some(class), _) => (class, 0),
            (None, name) => {
                let name = section_name(name);
                let placement = section_placement(object);
                let found: Vec<usize> = object
                    .sections
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.name == name && s.kind.is_loaded())
                    .map(|(i, _)| i)
                    .collect();
                let index = match found.as_slice() {
                    [one] => *one,
                    [] => {
                        return Err(format!(
                            "--map-section {},{}: `{}` has no loaded section `{name}`",
                            map.file, map.section, object.name
                        ))
                    }
                    _ => {
                        return Err(format!(
                            "--map-section {},{}: `{}` has {} sections named `{name}`",
                            map.file,
                            map.section,
                            object.name,
                            found.len()
                        ))
                    }
                };
                placement[index].ok_or_else(|| {
                    format!(
                        "--map-section {},{}: section `{name}` cannot be mapped (thread-local \
                         sections live in the TLS block)",
                        map.file, map.section
                    )
                })?
            }
        };
        let base = map.addr.checked_sub(offset).ok_or_else(|| {
            format!(
                "--map-section {},{}={:#x}: the section is {offset:#x} bytes into its segment, \
                 which would start below 0",
                map.file, map.section, map.addr
            )
        })?;
        let what = format!("{},{}={:#x}", map.file, map.section, map.addr);
        match pinned.get(&(module, class)) {
            Some((other, by)) if *other != base => {
                return Err(format!(
                    "--map-section {what} and {by} conflict: rivet places the {} sections of \
                     one module together in one segment, so they move together",
                    class.name()
                ))
            }
            _ => {
                pinned.insert((module, class), (base, what));
            }
        }
    }
    Ok(pinned.into_iter().map(|(k, (base, _))| (k, base)).collect())
}

/// Strips a Mach-O `SEGMENT,` prefix from a section name.
fn section_name(name: &str) -> &str {
    name.rsplit_once(',')
        .map_or(name, |(_, section)| section.trim())
}

fn find_input(inputs: &[Input], file: &str) -> std::result::Result<usize, String> {
    inputs.iter().position(|i| i.is_named(file)).ok_or_else(|| {
        let names: Vec<&str> = inputs.iter().map(|i| i.name.as_str()).collect();
        format!(
            "no input named `{file}` (the inputs are {})",
            names.join(", ")
        )
    })
}

/// The model's name of a symbol named `name` in an object of `format`.
fn model_name(format: Format, name: &str) -> &str {
    match format {
        Format::MachO => name.strip_prefix('_').unwrap_or(name),
        _ => name,
    }
}

/// The name the assembly has for a model name of `format`.
fn source_name(format: Format, name: &str) -> String {
    match format {
        Format::MachO => format!("_{name}"),
        _ => name.to_string(),
    }
}

/// Runs `rivet check` with `options`.
///
/// # Errors
///
/// Inputs that cannot be read or assembled, bad options and directives.
/// Link failures and false checks are in the [`Report`].
pub fn run(options: &CheckOptions) -> std::result::Result<Report, CheckError> {
    let mut options = options.clone();
    let check_paths: Vec<PathBuf> = if options.checks.is_empty() {
        options
            .inputs
            .iter()
            .filter(|p| is_assembly(p))
            .cloned()
            .collect()
    } else {
        options.checks.clone()
    };
    let mut check_files = Vec::new();
    for path in check_paths {
        let text = read_text(&path)?;
        for (_, args) in directives(&text, ARGS_DIRECTIVE) {
            merge_file_options(&mut options, &path, args)?;
        }
        check_files.push(CheckFile { path, text });
    }
    if options.inputs.is_empty() {
        return Err(usage("no input files".to_string()));
    }
    if options.check_prefixes.is_empty() {
        options.check_prefixes = DEFAULT_PREFIXES.iter().map(|p| p.to_string()).collect();
    }
    let layout = options
        .layout
        .unwrap_or_else(|| default_layout(&check_files, &options.check_prefixes));
    options.layout = Some(layout);
    // The same file named twice (on the command line and by a directive)
    // is linked once.
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    for path in &options.inputs {
        let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        if !seen.contains(&key) {
            seen.push(key);
            paths.push(path.clone());
        }
    }

    // Objects first: without --triple, the first one's format decides.
    let mut raw: Vec<(PathBuf, Option<Vec<u8>>)> = Vec::new();
    for path in paths {
        if is_assembly(&path) {
            raw.push((path, None));
        } else {
            let bytes = std::fs::read(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            raw.push((path, Some(bytes)));
        }
    }
    let triple = match options.triple.clone() {
        Some(t) => t,
        None => {
            let first = raw
                .iter()
                .find_map(|(path, bytes)| Some((path, bytes.as_ref()?)));
            match first {
                Some((path, bytes)) => {
                    let object = ObjectFile::parse(bytes, &path.display().to_string())?;
                    default_triple(object.format, object.arch).to_string()
                }
                None => {
                    return Err(usage(
                        "--triple is needed to assemble the inputs (or a `# rivet-check-args: \
                         --triple ...` line)"
                            .to_string(),
                    ))
                }
            }
        }
    };
    let cpu = options.cpu.clone().unwrap_or_default();
    let features = options
        .features
        .clone()
        .unwrap_or_else(|| default_features(&triple).to_string());

    let target = TargetOptions {
        triple: Some(triple.clone()),
        cpu: Some(if cpu.is_empty() {
            "generic".into()
        } else {
            cpu.clone()
        }),
        features: Some(features.clone()),
        ..TargetOptions::default()
    };
    let mut machine = None;
    let mut inputs = Vec::new();
    for (path, bytes) in raw {
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| path.display().to_string());
        let (name, bytes) = match bytes {
            Some(bytes) => (file_name, bytes),
            None => {
                let text = read_text(&path)?;
                let assembled = match &options.assembler {
                    Some(rivet) => assemble_in_child(rivet, &target, &text),
                    None => {
                        if machine.is_none() {
                            machine = Some(TargetMachine::new(&target)?);
                        }
                        let Some(tm) = machine.as_ref() else {
                            return Err(usage("no target machine".to_string()));
                        };
                        tm.assemble(&text)
                    }
                };
                let bytes = assembled.map_err(|source| CheckError::Assemble {
                    path: path.clone(),
                    source,
                })?;
                let stem = path
                    .file_stem()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or(file_name);
                (format!("{stem}.o"), bytes)
            }
        };
        if let Some(other) = inputs.iter().find(|i: &&Input| i.name == name) {
            return Err(usage(format!(
                "{} and {} would both be `{name}` in check expressions; rename one",
                other.path.display(),
                path.display()
            )));
        }
        inputs.push(Input { path, name, bytes });
    }

    let disassembler = Disassembler::new(&triple, &cpu, &features)?;
    let mut report = Report {
        verbose: options.verbose,
        layout,
        ..Report::default()
    };
    let outcome = link_inputs(&options, &inputs);
    let mut image = None;
    match outcome {
        Ok(linked) => {
            report.segments = linked
                .memory
                .segments()
                .iter()
                .map(|s| (inputs[s.module].name.clone(), s.class, s.addr, s.size))
                .collect();
            image = Some(linked);
        }
        Err(message) => report.link_error = Some(message),
    }

    for file in &check_files {
        let mut file_report = FileReport {
            path: file.path.clone(),
            expected_error: directives(&file.text, ERROR_DIRECTIVE)
                .next()
                .map(|(line, text)| (line, text.to_string())),
            ..FileReport::default()
        };
        let mut checks: Vec<(usize, String, String)> = Vec::new();
        for prefix in &options.check_prefixes {
            for (line, expr) in extract_checks(&file.text, prefix) {
                checks.push((line, prefix.clone(), expr));
            }
        }
        checks.sort_by_key(|c| c.0);
        file_report.check_count = checks.len();
        if let (Some(image), None) = (&image, &file_report.expected_error) {
            for (line, prefix, expr) in checks {
                let env = ImageEnv {
                    image,
                    inputs: &inputs,
                    disassembler: &disassembler,
                    rtdyld: prefix == "rtdyld-check",
                };
                let outcome = evaluate(&expr, &env);
                file_report.checks.push(CheckResult {
                    line,
                    prefix,
                    expr,
                    outcome,
                });
            }
        }
        report.files.push(file_report);
    }
    Ok(report)
}

/// The layout the check files expect: that of the one LLVM prefix their
/// checks are written with, else rivet's (several prefixes, or others).
fn default_layout(files: &[CheckFile], prefixes: &[String]) -> Layout {
    let used: Vec<&String> = prefixes
        .iter()
        .filter(|prefix| {
            files
                .iter()
                .any(|file| !extract_checks(&file.text, prefix).is_empty())
        })
        .collect();
    match used.as_slice() {
        [only] => Layout::of_prefix(only).unwrap_or(Layout::Rivet),
        _ => Layout::Rivet,
    }
}

/// A linked image: the memory and each module's map.
struct Linked {
    memory: Image,
    modules: Vec<LinkedModuleView>,
    dummy_externs: Vec<(String, u64)>,
}

struct LinkedModuleView {
    format: Format,
    map: LinkMap,
    /// Names the module defines for the others (winners of the link).
    exports: Vec<(String, u64)>,
}

/// Assembles `text` for `target` in a child process: `rivet assemble`
/// reads the text on its standard input and writes the object to its
/// standard output. A child that LLVM kills (`report_fatal_error` aborts,
/// `llvm_unreachable` traps, a crash) is an error naming the signal, with
/// what LLVM printed.
fn assemble_in_child(rivet: &Path, target: &TargetOptions, text: &str) -> rivet::Result<Vec<u8>> {
    use std::io::Write;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, Stdio};

    let io = |source| Error::Io {
        path: rivet.to_owned(),
        source,
    };
    let mut command = Command::new(rivet);
    command.arg("assemble");
    for (flag, value) in [
        ("--triple", &target.triple),
        ("--cpu", &target.cpu),
        ("--features", &target.features),
    ] {
        if let Some(value) = value {
            command.arg(format!("{flag}={value}"));
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io)?;
    // Written from another thread: the child may fill its output pipes
    // before it has read all of its input.
    let mut stdin = child.stdin.take();
    let input = text.as_bytes().to_vec();
    let writer = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            // A child that dies early closes the pipe; its status says why.
            let _ = stdin.write_all(&input);
        }
    });
    let output = child.wait_with_output().map_err(io)?;
    let _ = writer.join();
    if output.status.success() {
        return Ok(output.stdout);
    }
    let said = String::from_utf8_lossy(&output.stderr);
    let said = said
        .trim()
        .trim_start_matches("rivet: ")
        .trim_start_matches("LLVM: ");
    Err(Error::Llvm(match output.status.signal() {
        Some(signal) => format!(
            "crashed while assembling ({}){}{said}",
            signal_name(signal),
            if said.is_empty() { "" } else { ": " }
        ),
        None => said.to_owned(),
    }))
}

/// `SIGTRAP, signal 5` and the like.
fn signal_name(signal: i32) -> String {
    let name = match signal {
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        _ => "signal",
    };
    format!("{name}, signal {signal}")
}

/// The features to assemble and disassemble with when `--features` is not
/// given: RV64GC for RISC-V 64 (as clang and `rivet run` use), else the
/// target's defaults.
fn default_features(triple: &str) -> &'static str {
    match triple_arch(triple) {
        Some(Arch::Riscv64) => "+m,+a,+f,+d,+c",
        _ => "",
    }
}

/// The instruction set a triple names, if rivet links it.
fn triple_arch(triple: &str) -> Option<Arch> {
    let arch = triple.split('-').next().unwrap_or("");
    match arch {
        "x86_64" | "amd64" => Some(Arch::X86_64),
        "aarch64" | "arm64" => Some(Arch::Aarch64),
        "riscv64" => Some(Arch::Riscv64),
        _ => None,
    }
}

/// The triple of the run: the option's, or the first object's.
fn options_triple(options: &CheckOptions, objects: &[ObjectFile<'_>]) -> String {
    match (&options.triple, objects.first()) {
        (Some(triple), _) => triple.clone(),
        (None, Some(o)) => default_triple(o.format, o.arch).to_string(),
        (None, None) => String::new(),
    }
}

/// An address given to names found nowhere, so that the link goes on and
/// reports every missing name at once.
const MISSING_ADDRESS: u64 = 0;

/// Links `inputs` as `options` says; the error is the message to report.
fn link_inputs(options: &CheckOptions, inputs: &[Input]) -> std::result::Result<Linked, String> {
    let mut objects = Vec::with_capacity(inputs.len());
    for input in inputs {
        objects.push(ObjectFile::parse(&input.bytes, &input.name).map_err(|e| e.to_string())?);
    }
    let format = objects.first().map_or(Format::Elf, |o| o.format);
    if let Some(arch) = triple_arch(&options_triple(options, &objects)) {
        if let Some(other) = objects.iter().find(|o| o.arch != arch) {
            return Err(format!(
                "`{}` is {:?} code, but the triple is for {arch:?}",
                other.name, other.arch
            ));
        }
    }
    let pinned = pin_sections(inputs, &objects, &options.map_sections)?;
    let layout = options.layout.unwrap_or(Layout::Rivet);
    let base = options.target_addr_start.unwrap_or(DEFAULT_ADDR_START);
    let separation = options.target_section_sep.unwrap_or(0);
    let image_pinned_at = |pinned: BTreeMap<(usize, SegmentClass), u64>| {
        Image::new(ImageConfig {
            base,
            separation,
            end: u64::MAX,
            pinned,
        })
    };

    let mut externals = Externals::default();
    for (name, addr) in &options.dummy_externs {
        externals
            .user_symbols
            .insert(model_name(format, name).to_string(), *addr);
    }
    // Names referenced only as weak undefined symbols are 0 when found
    // nowhere; any other name found nowhere is an error (not the address of
    // a function of this process, which a phony image has no use for).
    let mut weak_only: BTreeMap<&str, bool> = BTreeMap::new();
    for object in &objects {
        for sym in &object.symbols {
            if sym.definition == Definition::Undefined && !sym.name.is_empty() {
                let weak = sym.binding == Binding::Weak;
                let entry = weak_only.entry(sym.name).or_insert(weak);
                *entry &= weak;
            }
        }
    }
    let weak_names: Vec<String> = weak_only
        .iter()
        .filter(|(_, &weak)| weak)
        .map(|(name, _)| name.to_string())
        .collect();
    let missing = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = Arc::clone(&missing);
    externals.resolver = Some(Box::new(move |name: &str| {
        // `__imp_X` is resolved by the linker through X; `_fltused` only has
        // to exist.
        if name.starts_with("__imp_") || name == "_fltused" {
            return None;
        }
        if weak_names.iter().any(|w| w == name) {
            return Some(0);
        }
        let mut missing = record.lock().unwrap_or_else(|e| e.into_inner());
        if !missing.iter().any(|m| m == name) {
            missing.push(name.to_string());
        }
        Some(MISSING_ADDRESS)
    }));

    let link_into = |memory: &mut dyn MemoryManager| {
        let units: Vec<LinkUnit<'_, '_>> = objects
            .iter()
            .enumerate()
            .map(|(i, object)| LinkUnit {
                module: i as u64 + 1,
                key: link::next_module_key(),
                object,
            })
            .collect();
        link::link(
            &units,
            &SymbolTable::default(),
            &externals,
            memory,
            LinkOptions {
                map: true,
                skip_finalize: false,
                later_definitions_win: false,
                debug_info: false,
            },
        )
    };
    let (result, memory) = if layout == Layout::Rivet {
        let mut memory = image_pinned_at(pinned);
        (link_into(&mut memory), memory)
    } else {
        // Segment sizes do not depend on addresses: a first link learns
        // every module's, the layout places them all (RuntimeDyld puts the
        // code of every module before any data), a second link uses them.
        let mut recorder = RequestRecorder {
            image: image_pinned_at(BTreeMap::new()),
            requests: Vec::new(),
        };
        let first = link_into(&mut recorder);
        if recorder.requests.len() == objects.len() {
            let placed = layout::place(
                layout,
                &recorder.requests,
                &objects,
                &pinned,
                base,
                separation,
                options.page_size.unwrap_or(layout::DEFAULT_PAGE_SIZE),
            )?;
            let mut memory = image_pinned_at(placed.clone());
            let result = link_into(&mut memory);
            if result.is_ok() {
                if let Some(moved) = memory
                    .segments()
                    .into_iter()
                    .find(|s| placed.get(&(s.module, s.class)) != Some(&s.addr))
                {
                    return Err(format!(
                        "the {} segment of `{}` is at {:#x}, not where the {} layout put it                          (internal error of the checker)",
                        moved.class.name(),
                        inputs[moved.module].name,
                        moved.addr,
                        layout::layout_name(layout)
                    ));
                }
            }
            (result, memory)
        } else {
            // The link failed before it allocated: that is the error.
            (first, recorder.image)
        }
    };
    let missing = missing.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if !missing.is_empty() {
        let names: Vec<String> = missing
            .iter()
            .map(|name| {
                let users: Vec<&str> = objects
                    .iter()
                    .filter(|o| {
                        o.symbols.iter().any(|s| {
                            s.name == name.as_str() && s.definition == Definition::Undefined
                        })
                    })
                    .map(|o| o.name.as_str())
                    .collect();
                format!(
                    "`{}` (referenced from `{}`)",
                    source_name(format, name),
                    users.join("`, `")
                )
            })
            .collect();
        return Err(format!(
            "unresolved symbols: {} (give them addresses with --dummy-extern SYM=ADDR)",
            names.join(", ")
        ));
    }
    let linked = result.map_err(|e| e.to_string())?;
    if let Some((a, b)) = memory.overlap() {
        return Err(format!(
            "segments overlap: the {} segment of `{}` at {:#x}..{:#x} and the {} segment of `{}` \
             at {:#x}..{:#x} (choose other --map-section or --target-addr-start addresses)",
            a.class.name(),
            inputs[a.module].name,
            a.addr,
            a.addr + a.size,
            b.class.name(),
            inputs[b.module].name,
            b.addr,
            b.addr + b.size
        ));
    }
    let mut modules = Vec::with_capacity(linked.len());
    for (module, object) in linked.into_iter().zip(&objects) {
        let map = module.map.unwrap_or_default();
        modules.push(LinkedModuleView {
            format: object.format,
            exports: module
                .exports
                .iter()
                .map(|(name, export)| (name.to_string(), export.address))
                .collect(),
            map: *map,
        });
    }
    // Each mapped section must be where it was asked to be.
    for map in &options.map_sections {
        if linker_area(&map.section).is_some() {
            continue;
        }
        let module = find_input(inputs, &map.file)?;
        let name = section_name(&map.section);
        let placed = modules[module]
            .map
            .sections
            .iter()
            .find(|s| s.0 == name)
            .map(|s| s.1);
        if placed.is_some_and(|addr| addr != map.addr) {
            return Err(format!(
                "--map-section {},{}={:#x}: rivet placed the section at {:#x} (internal error of \
                 the checker's layout rule)",
                map.file,
                map.section,
                map.addr,
                placed.unwrap_or(0)
            ));
        }
    }
    Ok(Linked {
        memory,
        modules,
        dummy_externs: options.dummy_externs.clone(),
    })
}

/// A memory manager that notes each module's request on its way to an
/// image: what a layout needs to know before it places anything.
struct RequestRecorder {
    image: Image,
    requests: Vec<ModuleLayout>,
}

impl MemoryManager for RequestRecorder {
    fn allocate(&mut self, layout: &ModuleLayout) -> rivet::Result<Allocation> {
        let allocation = self.image.allocate(layout)?;
        self.requests.push(*layout);
        Ok(allocation)
    }

    fn finalize(&mut self, allocation: &Allocation) -> rivet::Result<()> {
        self.image.finalize(allocation)
    }

    fn release(&mut self, allocation: Allocation) {
        self.image.release(allocation);
    }

    fn stats(&self) -> MemoryStats {
        self.image.stats()
    }

    fn runs_code(&self) -> bool {
        self.image.runs_code()
    }
}

/// The linked image as check expressions see it.
struct ImageEnv<'a> {
    image: &'a Linked,
    inputs: &'a [Input],
    disassembler: &'a Disassembler,
    /// Under the `rtdyld-check` prefix (RuntimeDyld's meaning of `stub_addr`).
    rtdyld: bool,
}

impl ImageEnv<'_> {
    /// The module a container (`FILE` or `FILE/SECTION`) names, checking the section.
    fn container(&self, container: &str) -> std::result::Result<usize, String> {
        if let Ok(module) = find_input(self.inputs, container) {
            return Ok(module);
        }
        let Some((file, section)) = container.rsplit_once('/') else {
            return find_input(self.inputs, container);
        };
        let module = find_input(self.inputs, file.trim())?;
        let section = section_name(section.trim());
        let has = self.image.modules[module]
            .map
            .sections
            .iter()
            .any(|s| s.0 == section);
        if has {
            Ok(module)
        } else {
            Err(format!(
                "`{}` has no loaded section `{section}`",
                self.inputs[module].name
            ))
        }
    }

    fn got_slot(&self, module: usize, symbol: &str) -> Option<u64> {
        let view = &self.image.modules[module];
        let name = model_name(view.format, symbol);
        view.map.got.iter().find(|g| g.0 == name).map(|g| g.1)
    }

    fn listing(names: impl Iterator<Item = String>) -> String {
        let names: Vec<String> = names.collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    }
}

impl Env for ImageEnv<'_> {
    fn symbol(&self, name: &str) -> std::result::Result<u64, String> {
        let modules = &self.image.modules;
        for view in modules {
            let model = model_name(view.format, name);
            if let Some((_, addr)) = view.exports.iter().find(|(n, _)| n == model) {
                return Ok(*addr);
            }
        }
        for view in modules {
            let model = model_name(view.format, name);
            if let Some((_, addr)) = view.map.symbols.iter().find(|(n, _)| n == model) {
                return Ok(*addr);
            }
        }
        if let Some((_, addr)) = self.image.dummy_externs.iter().find(|(n, _)| n == name) {
            return Ok(*addr);
        }
        if name == GOT_SYMBOL {
            // The GOT base, as the GOTPC and GOTOFF fixups count from it:
            // the first module that has a GOT.
            if let Some(segment) = self
                .image
                .memory
                .segments()
                .iter()
                .filter(|s| s.class == SegmentClass::Got)
                .min_by_key(|s| s.module)
            {
                return Ok(segment.addr);
            }
            return Err(format!(
                "no module has a GOT, so `{GOT_SYMBOL}` is not defined"
            ));
        }
        let hint = if name.starts_with('L') || name.starts_with(".L") {
            " (assembler-local labels are not in the symbol table)"
        } else {
            ""
        };
        Err(format!("no symbol `{name}` in the linked image{hint}"))
    }

    fn section_addr(&self, file: &str, section: &str) -> std::result::Result<u64, String> {
        let module = find_input(self.inputs, file)?;
        if let Some(class) = linker_area(section) {
            return self
                .image
                .memory
                .segments()
                .iter()
                .find(|s| s.module == module && s.class == class)
                .map(|s| s.addr)
                .ok_or_else(|| format!("`{file}` has no {} area", class.name()));
        }
        let name = section_name(section);
        let sections = &self.image.modules[module].map.sections;
        let found: Vec<u64> = sections
            .iter()
            .filter(|s| s.0 == name)
            .map(|s| s.1)
            .collect();
        match found.as_slice() {
            [addr] => Ok(*addr),
            [] => Err(format!(
                "`{file}` has no loaded section `{name}` (its sections: {})",
                Self::listing(sections.iter().map(|s| s.0.clone()))
            )),
            _ => Err(format!(
                "`{file}` has {} sections named `{name}`",
                found.len()
            )),
        }
    }

    fn stub_addr(
        &self,
        container: &str,
        symbol: &str,
        kind: Option<&str>,
    ) -> std::result::Result<u64, String> {
        let module = self.container(container)?;
        let view = &self.image.modules[module];
        // Older RuntimeDyld tests write `stub_addr(FILE, SECTION, SYMBOL)`;
        // today's third argument is a stub kind, which rivet (one kind of
        // stub) otherwise ignores.
        let symbol = match kind {
            Some(third)
                if view
                    .map
                    .sections
                    .iter()
                    .any(|s| s.0 == section_name(symbol)) =>
            {
                third
            }
            _ => symbol,
        };
        let name = model_name(view.format, symbol);
        if let Some((_, addr)) = view.map.stubs.iter().find(|(n, _)| n == name) {
            return Ok(*addr);
        }
        if symbol.starts_with("__imp_") || self.rtdyld {
            if let Some(slot) = self.got_slot(module, symbol) {
                return Ok(slot);
            }
        }
        Err(format!(
            "`{}` has no stub for `{symbol}` (its stubs: {})",
            self.inputs[module].name,
            Self::listing(
                view.map
                    .stubs
                    .iter()
                    .map(|(n, _)| source_name(view.format, n))
            )
        ))
    }

    fn got_addr(&self, container: &str, symbol: &str) -> std::result::Result<u64, String> {
        let module = self.container(container)?;
        let view = &self.image.modules[module];
        self.got_slot(module, symbol).ok_or_else(|| {
            format!(
                "`{}` has no GOT slot for `{symbol}` (its slots: {})",
                self.inputs[module].name,
                Self::listing(view.map.got.iter().map(|g| source_name(view.format, &g.0)))
            )
        })
    }

    fn load(&self, addr: u64, size: u32) -> std::result::Result<u64, String> {
        let bytes = self
            .image
            .memory
            .read(addr, u64::from(size))
            .ok_or_else(|| format!("{size} bytes at {addr:#x} are not inside the linked image"))?;
        Ok(bytes
            .iter()
            .rev()
            .fold(0u64, |value, &b| (value << 8) | u64::from(b)))
    }

    fn decode(&self, addr: u64) -> std::result::Result<Decoded, String> {
        let bytes = self
            .image
            .memory
            .read_to_end(addr)
            .ok_or_else(|| format!("{addr:#x} is not inside the linked image"))?;
        self.disassembler
            .decode(bytes, addr)
            .ok_or_else(|| format!("the bytes at {addr:#x} are not a valid instruction"))
    }

    fn register_name(&self, reg: u32) -> String {
        self.disassembler.register_name(reg)
    }
}

#[cfg(test)]
mod tests;
