//! The engine's table of defined symbols, and the places outside the engine
//! that names resolve to.

use std::sync::Arc;

use super::hash::NameMap;
use std::path::Path;

use crate::arch::Arch;
use crate::load::SymbolKind;
use crate::{Error, Result};

/// How firmly a definition holds its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// A normal global definition: a second one is an error.
    Strong,
    /// A weak definition: yields to a strong one; the first of several wins.
    Weak,
    /// A common block of `size` bytes: storage shared by every object naming it.
    Common {
        /// Bytes of the block.
        size: u64,
    },
}

/// A symbol some module of the engine defines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Export {
    /// Run-time address.
    pub address: u64,
    /// The module that defines it.
    pub module: u64,
    /// How the definition ranks against others.
    pub strength: Strength,
    /// Function or data.
    pub kind: SymbolKind,
}

/// Name → definition, for everything the engine has linked.
#[derive(Debug, Default)]
pub struct SymbolTable {
    symbols: NameMap<Arc<str>, Export>,
    module_names: NameMap<u64, String>,
}

impl SymbolTable {
    /// The definition of `name`, if a linked module has one.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Export> {
        self.symbols.get(name)
    }

    /// Records a definition, replacing any earlier one of the name.
    pub fn insert(&mut self, name: Arc<str>, export: Export) {
        self.symbols.insert(name, export);
    }

    /// Makes room for `additional` more names.
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.symbols.reserve(additional);
    }

    /// Removes `name` if module `module` defines it.
    pub(crate) fn remove_if_from(&mut self, name: &str, module: u64) {
        if self.symbols.get(name).is_some_and(|e| e.module == module) {
            self.symbols.remove(name);
        }
    }

    /// Names module `id` in error messages.
    pub(crate) fn set_module_name(&mut self, id: u64, name: String) {
        self.module_names.insert(id, name);
    }

    /// Forgets module `id`'s name.
    pub(crate) fn forget_module(&mut self, id: u64) {
        self.module_names.remove(&id);
    }

    /// The name of module `id`, for messages.
    pub(crate) fn module_name(&self, id: u64) -> &str {
        self.module_names
            .get(&id)
            .map_or("<unknown module>", String::as_str)
    }

    /// Number of defined names.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    /// Whether no name is defined.
    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Every definition, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Export)> {
        self.symbols.iter().map(|(k, v)| (&**k, v))
    }
}

/// What the process's run time does for linked code: the names JIT code
/// calls it by and the static TLS that thread-locals of the static models
/// live in. The run time (a floor above the linker) implements it and
/// reaches the linker through [`Externals::runtime`].
pub trait RuntimeServices: Send + Sync {
    /// The address of `name` if the run time defines it for JIT code
    /// (`atexit`, `__cxa_atexit`, `__tls_get_addr`).
    fn symbol(&self, name: &str) -> Option<u64>;
    /// The TLS descriptor resolver for modules with static TLS, for code of
    /// `arch` (0: none on this host).
    fn tlsdesc_resolver(&self, arch: Arch) -> u64;
    /// The TLS descriptor resolver for modules without static TLS, for code
    /// of `arch` (0: none on this host).
    fn dynamic_tlsdesc_resolver(&self, arch: Arch) -> u64;
    /// The getter Mach-O thread-local variable descriptors call
    /// (`__tlv_bootstrap`), for code of `arch` (0: none on this host).
    fn tlv_getter(&self, arch: Arch) -> u64 {
        let _ = arch;
        0
    }
    /// Reserves a piece of the process's static TLS for module `key`:
    /// its offset from the thread pointer. `object` names it in errors.
    fn reserve_static_tls(&self, key: u64, size: u64, align: u64, object: &str) -> Result<i64>;
    /// Gives module `key`'s piece back (nothing if it has none).
    fn release_static_tls(&self, key: u64);
    /// Writes `image` (zeros after it) as the initial values of module
    /// `key`'s piece for threads created from now on; nothing if it has no
    /// piece.
    fn write_static_tls_image(&self, key: u64, image: &[u8]) -> Result<()>;
}

/// Names defined outside the engine's modules, in the order they are asked:
/// global mappings come before the engine's modules; symbols the user added,
/// loaded libraries and the process come after them.
///
/// `Externals::default()` reaches the process and its run time (the
/// `Default` impl lives with the run time, in `runtime`, which the linker
/// does not depend on); `Externals::without_runtime` the process only.
pub struct Externals {
    /// `add_global_mapping`: consulted before anything else.
    pub global_mappings: NameMap<String, u64>,
    /// `add_symbol`: after the engine's modules; the last write of a name wins.
    pub user_symbols: NameMap<String, u64>,
    /// Consulted right after `user_symbols`: an embedder's own symbol
    /// table (llvmlite's process-wide `add_symbol` table, for instance).
    pub resolver: Option<SymbolResolver>,
    /// The run time's names (after `user_symbols`, before `resolver`) and
    /// static TLS. Without it, those names resolve as any other, and
    /// thread-locals of the static models are placed as in a static
    /// executable (for code that is inspected rather than run).
    pub runtime: Option<&'static dyn RuntimeServices>,
    libraries: Vec<(String, libloading::Library)>,
    process: Option<libloading::os::unix::Library>,
}

/// A callback that maps a name to an address, or `None`.
pub type SymbolResolver = Box<dyn Fn(&str) -> Option<u64> + Send + Sync>;

impl std::fmt::Debug for Externals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Externals")
            .field("global_mappings", &self.global_mappings.len())
            .field("user_symbols", &self.user_symbols.len())
            .field("runtime", &self.runtime.is_some())
            .field(
                "libraries",
                &self.libraries.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Externals {
    /// Externals that reach the process (`dlsym`) but not rivet's run time.
    pub(crate) fn without_runtime() -> Externals {
        Externals {
            global_mappings: NameMap::default(),
            user_symbols: NameMap::default(),
            resolver: None,
            runtime: None,
            libraries: Vec::new(),
            process: Some(libloading::os::unix::Library::this()),
        }
    }

    /// Externals that reach nothing outside (no process look-up), for a
    /// scope of its own such as a JIT library's; `search_process` adds the
    /// process back.
    pub fn isolated() -> Externals {
        Externals {
            process: None,
            ..Externals::default()
        }
    }

    /// Makes names resolve in the process (`dlsym`) after everything else.
    pub(crate) fn search_process(&mut self) {
        if self.process.is_none() {
            self.process = Some(libloading::os::unix::Library::this());
        }
    }

    /// Loads a shared library whose symbols then resolve (after the user's).
    /// The library stays loaded as long as the engine lives.
    pub(crate) fn load_library(&mut self, path: &Path) -> Result<()> {
        // SAFETY: loading a library runs its initializers; that is what the
        // caller asked for (llvmlite's `load_library_permanently`), and rivet
        // makes no assumption about the library beyond looking up addresses.
        let lib = unsafe { libloading::Library::new(path) }.map_err(|e| Error::Library {
            name: path.display().to_string(),
            reason: e.to_string(),
        })?;
        self.libraries.push((path.display().to_string(), lib));
        Ok(())
    }

    /// Looks `name` up in the loaded libraries, then in the process.
    pub(crate) fn lookup_loaded(&self, name: &str) -> Option<u64> {
        if name.is_empty() || name.as_bytes().contains(&0) {
            return None;
        }
        for (_, lib) in &self.libraries {
            // SAFETY: the symbol is only read as an address, never called or
            // dereferenced here; `*const u8` matches any symbol.
            if let Ok(sym) = unsafe { lib.get::<*const u8>(name.as_bytes()) } {
                return Some(*sym as u64);
            }
        }
        let process = self.process.as_ref()?;
        // SAFETY: as above, the address is only read.
        let sym = unsafe { process.get::<*const u8>(name.as_bytes()) }.ok()?;
        Some(*sym as u64)
    }
}
