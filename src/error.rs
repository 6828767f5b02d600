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
    IrParse { module: String, message: String },

    /// The object's bytes do not form a valid file of its format.
    #[error("malformed object `{object}`: {reason}")]
    MalformedObject { object: String, reason: String },

    /// A valid object that rivet does not handle (format, machine, feature).
    #[error("unsupported object `{object}`: {reason}")]
    UnsupportedObject { object: String, reason: String },

    /// An indirect function (`STT_GNU_IFUNC`) that cannot be linked here:
    /// its resolver cannot run, or fails.
    #[error("indirect function `{symbol}` in `{object}`: {reason}")]
    IndirectFunction {
        object: String,
        symbol: String,
        reason: String,
    },

    /// A relocation type rivet does not implement for this format and machine.
    #[error("unsupported relocation {kind} at {section}+{offset:#x} in `{object}`")]
    UnsupportedRelocation {
        object: String,
        section: String,
        offset: u64,
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
        site: Box<RelocationSite>,
        value: i128,
        min: i128,
        max: i128,
    },

    /// A fixup that is malformed in another way (misaligned target, place out of bounds).
    #[error("relocation {site}: {reason}")]
    BadRelocation {
        site: Box<RelocationSite>,
        reason: String,
    },

    /// Symbols referenced but defined nowhere in the resolution order.
    /// Each entry is (symbol, object that references it).
    #[error("unresolved symbols: {}", format_unresolved(.symbols))]
    UnresolvedSymbols { symbols: Vec<(String, String)> },

    /// A symbol whose value lies past the end of the section that defines
    /// it (or wraps below its start).
    #[error(
        "symbol `{symbol}` in `{object}` lies at offset {offset:#x} of section `{section}`, \
         past its end ({size:#x} bytes)"
    )]
    SymbolOutsideSection {
        object: String,
        symbol: String,
        section: String,
        offset: u64,
        size: u64,
    },

    /// Two strong definitions of one symbol.
    #[error("duplicate symbol `{name}`: defined in `{first}` and in `{second}`")]
    DuplicateSymbol {
        name: String,
        first: String,
        second: String,
    },

    /// Copies of a COMDAT group that its selection says must agree do not.
    #[error("COMDAT `{name}` in `{first}` and `{second}`: {reason}")]
    ComdatMismatch {
        name: String,
        first: String,
        second: String,
        reason: String,
    },

    /// Two common definitions of one symbol that cannot share storage.
    #[error("common symbol `{name}` of {size} bytes in `{object}` does not fit the {existing} bytes already allocated")]
    CommonSizeMismatch {
        name: String,
        object: String,
        size: u64,
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
        library: String,
        exports: Vec<String>,
        source: Box<Error>,
    },

    /// `remove_module` refused (under [`crate::UnloadPolicy::Refuse`]):
    /// live modules bind to the module's definitions.
    #[error("module `{module}` cannot be removed: {} bind to it", .dependents.join(", "))]
    ModuleInUse {
        module: String,
        dependents: Vec<String>,
    },

    /// The memory manager cannot satisfy a request (reservation full, cap reached).
    #[error("out of memory: {requested} bytes requested; {reason}")]
    OutOfMemory { requested: u64, reason: String },

    /// A system call of the memory manager failed.
    #[error("memory: {op} failed: {source}")]
    Memory {
        op: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The system refuses to run code from memory the process maps itself.
    #[error("the system refuses JIT execution: {reason}")]
    JitExecutionRefused { reason: String },

    /// A module's thread-locals use the static TLS models (local or initial
    /// exec) and do not fit in what is left of the static TLS rivet
    /// reserves (or there is none: see `reason`). The engine stays usable;
    /// removing modules gives their static TLS back.
    #[error(
        "static TLS exhausted: module `{module}` needs {needed} bytes (alignment {align}) \
         of static TLS, {free} of {budget} bytes are free ({reason})"
    )]
    StaticTlsExhausted {
        module: String,
        needed: u64,
        align: u64,
        free: u64,
        budget: u64,
        reason: String,
    },

    /// A file could not be read.
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A shared library could not be loaded.
    #[error("cannot load library `{name}`: {reason}")]
    Library { name: String, reason: String },

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
    pub object: String,
    pub section: String,
    pub offset: u64,
    pub kind: String,
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
