//! One error type for the whole crate.
//!
//! Every variant names the thing that failed (symbol, section, relocation,
//! object) so that a caller can report it without a debugger. Bad input never
//! panics: it ends up here.

use std::path::PathBuf;

/// The result type used throughout rivet.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong between IR and a callable address.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// LLVM reported an error (target lookup, code generation, ...).
    #[error("LLVM: {0}")]
    Llvm(String),

    /// IR text or bitcode could not be parsed. `message` is LLVM's, with the line.
    #[error("cannot parse IR `{module}`: {message}")]
    IrParse {
        /// The module's name.
        module: String,
        /// LLVM's message, with the line and column.
        message: String,
    },

    /// The object's bytes do not form a valid file of its format.
    #[error("malformed object `{object}`: {reason}")]
    MalformedObject {
        /// The object's name.
        object: String,
        /// What is wrong, and where.
        reason: String,
    },

    /// A valid object that rivet does not handle (format, machine, feature).
    #[error("unsupported object `{object}`: {reason}")]
    UnsupportedObject {
        /// The object's name.
        object: String,
        /// What rivet does not handle.
        reason: String,
    },

    /// An indirect function (`STT_GNU_IFUNC`) that cannot be linked here:
    /// its resolver cannot run, or fails.
    #[error("indirect function `{symbol}` in `{object}`: {reason}")]
    IndirectFunction {
        /// The object's name.
        object: String,
        /// The indirect function's name.
        symbol: String,
        /// Why it cannot be linked.
        reason: String,
    },

    /// A relocation type rivet does not implement for this format and machine.
    #[error("unsupported relocation {kind} at {section}+{offset:#x} in `{object}`")]
    UnsupportedRelocation {
        /// The object's name.
        object: String,
        /// The section holding the relocation.
        section: String,
        /// The relocation's offset in that section.
        offset: u64,
        /// The relocation type, by its format's name or number.
        kind: String,
    },

    /// A fixup whose value does not fit the field it patches.
    #[error(
        "relocation {site} is out of range: value {} not in [{}, {}]",
        SignedHex(*.value),
        SignedHex(*.min),
        SignedHex(*.max)
    )]
    RelocationOverflow {
        /// Where the relocation is.
        site: Box<RelocationSite>,
        /// The fixup's value (taken modulo 2^64, read as the field reads it).
        value: i128,
        /// The smallest value the field holds.
        min: i128,
        /// The largest value the field holds.
        max: i128,
    },

    /// A fixup that is malformed in another way (misaligned target, place out of bounds).
    #[error("relocation {site}: {reason}")]
    BadRelocation {
        /// Where the relocation is.
        site: Box<RelocationSite>,
        /// What is wrong with it.
        reason: String,
    },

    /// Symbols referenced but defined nowhere in the resolution order.
    /// Each entry is (symbol, object that references it).
    #[error("unresolved symbols: {}", format_unresolved(.symbols))]
    UnresolvedSymbols {
        /// (symbol, object that references it), for every unresolved reference.
        symbols: Vec<(String, String)>,
    },

    /// A symbol whose value lies past the end of the section that defines
    /// it (or wraps below its start).
    #[error(
        "symbol `{symbol}` in `{object}` lies at offset {offset:#x} of section `{section}`, \
         past its end ({size:#x} bytes)"
    )]
    SymbolOutsideSection {
        /// The object's name.
        object: String,
        /// The symbol's name.
        symbol: String,
        /// The section that defines it.
        section: String,
        /// The symbol's offset in the section.
        offset: u64,
        /// The section's size.
        size: u64,
    },

    /// Two strong definitions of one symbol.
    #[error("duplicate symbol `{name}`: defined in `{first}` and in `{second}`")]
    DuplicateSymbol {
        /// The symbol's name.
        name: String,
        /// The object of the first definition.
        first: String,
        /// The object of the second definition.
        second: String,
    },

    /// Copies of a COMDAT group that its selection says must agree do not.
    #[error("COMDAT `{name}` in `{first}` and `{second}`: {reason}")]
    ComdatMismatch {
        /// The COMDAT group's name.
        name: String,
        /// The object of the first copy.
        first: String,
        /// The object of the second copy.
        second: String,
        /// How the copies differ.
        reason: String,
    },

    /// Two common definitions of one symbol that cannot share storage.
    #[error("common symbol `{name}` of {size} bytes in `{object}` does not fit the {existing} bytes already allocated")]
    CommonSizeMismatch {
        /// The symbol's name.
        name: String,
        /// The object of the later definition.
        object: String,
        /// The size that object asks for.
        size: u64,
        /// The size already allocated.
        existing: u64,
    },

    /// A look-up of a name the engine does not define.
    #[error("symbol `{0}` not found")]
    SymbolNotFound(String),

    /// The module handle does not name a module of this engine.
    #[error("module {0} is not in this engine")]
    ModuleNotFound(u64),

    /// No live JIT library has this name.
    #[error("No such library: {0}")]
    LibraryNotFound(String),

    /// A live JIT library already has this name.
    #[error("a JIT library named `{0}` exists already")]
    LibraryExists(String),

    /// Linking JIT library `library` failed: `source` says why.
    #[error("Failed to materialize symbols: {{ ({library}, {{ {} }}) }}: {source}", .exports.join(", "))]
    LibraryLink {
        /// The library's name.
        library: String,
        /// The names the library was to define.
        exports: Vec<String>,
        /// Why linking failed.
        source: Box<Error>,
    },

    /// `remove_module` refused (under [`crate::UnloadPolicy::Refuse`]):
    /// live modules bind to the module's definitions.
    #[error("module `{module}` cannot be removed: {} bind to it", .dependents.join(", "))]
    ModuleInUse {
        /// The module asked to be removed.
        module: String,
        /// The live modules that bind to it.
        dependents: Vec<String>,
    },

    /// The memory manager cannot satisfy a request (reservation full, cap reached).
    #[error("out of memory: {requested} bytes requested; {reason}")]
    OutOfMemory {
        /// Bytes asked for.
        requested: u64,
        /// Which limit was reached.
        reason: String,
    },

    /// A system call of the memory manager failed.
    #[error("memory: {op} failed: {source}")]
    Memory {
        /// The operation that failed (`mmap`, `mprotect`, ...).
        op: &'static str,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// The system refuses to run code from memory the process maps itself.
    #[error("the system refuses JIT execution: {reason}")]
    JitExecutionRefused {
        /// What the system refused, and how to allow it.
        reason: String,
    },

    /// A module's thread-locals use the static TLS models (local or initial
    /// exec) and do not fit in what is left of the static TLS rivet
    /// reserves (or there is none: see `reason`). The engine stays usable;
    /// removing modules gives their static TLS back.
    #[error(
        "static TLS exhausted: module `{module}` needs {needed} bytes (alignment {align}) \
         of static TLS, {free} of {budget} bytes are free ({reason})"
    )]
    StaticTlsExhausted {
        /// The module's name.
        module: String,
        /// Bytes of static TLS the module needs.
        needed: u64,
        /// Their alignment.
        align: u64,
        /// Bytes of the budget still free.
        free: u64,
        /// The whole budget ([`crate::STATIC_TLS_BUDGET`]).
        budget: u64,
        /// Why it does not fit (or why there is no static TLS).
        reason: String,
    },

    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },

    /// A shared library could not be loaded.
    #[error("cannot load library `{name}`: {reason}")]
    Library {
        /// The library's name or path.
        name: String,
        /// The loader's message.
        reason: String,
    },

    /// The AArch64 emulator (feature `emulator`) failed: a fault in emulated
    /// code, with its PC, or a refusal of the emulator itself.
    #[error("emulator: {0}")]
    Emulator(String),
}

fn format_unresolved(symbols: &[(String, String)]) -> String {
    symbols
        .iter()
        .map(|(sym, obj)| format!("`{sym}` (referenced from `{obj}`)"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Where a relocation is: which object, section, offset, kind and target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelocationSite {
    /// The object's name.
    pub object: String,
    /// The section holding the relocation.
    pub section: String,
    /// The relocation's offset in that section.
    pub offset: u64,
    /// The relocation type's name (`PC32`, `CALL26`, ...).
    pub kind: String,
    /// The symbol (or section) it refers to.
    pub symbol: String,
}

impl std::fmt::Display for RelocationSite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at {}+{:#x} in `{}` against `{}`",
            self.kind, self.section, self.offset, self.object, self.symbol
        )
    }
}

/// Shows a signed value in hex with its sign (`-0x80000000`), not as a
/// two's-complement bit pattern.
struct SignedHex(i128);

impl std::fmt::Display for SignedHex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 < 0 {
            write!(f, "-{:#x}", self.0.unsigned_abs())
        } else {
            write!(f, "{:#x}", self.0)
        }
    }
}

#[cfg(test)]
mod tests;
