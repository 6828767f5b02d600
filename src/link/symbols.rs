//! The engine's table of defined symbols, and the places outside the engine
//! that names resolve to.

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

/// The hash the engine's table files a name under (rustc-hash's, as every
/// name map of the link): computed once per exported name, in the link,
/// and carried with it to the table.
#[inline]
pub(crate) fn hash_name(name: &str) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(name)
}

/// The largest number of name bytes one module's names may take in all
/// (offsets into them are 32-bit).
const MAX_NAME_BYTES: usize = u32::MAX as usize;

fn names_too_long(requested: usize) -> Error {
    Error::OutOfMemory {
        requested: requested as u64,
        reason: "a module's symbol names take more than 4 GiB".to_string(),
    }
}

/// An [`Export`] as a name block keeps it: the module is the block's, the
/// rest fits two words (16 bytes rather than 40 a name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredExport {
    address: u64,
    /// The kind (bits 0–7), the strength (bits 8–15) and a common block's
    /// size (bits 16–63).
    packed: u64,
}

/// The largest common block a packed definition holds (2^48 - 1 bytes:
/// no memory holds one larger).
const MAX_COMMON_SIZE: u64 = (1 << 48) - 1;

impl StoredExport {
    fn pack(export: &Export) -> Result<StoredExport> {
        let kind = match export.kind {
            SymbolKind::Function => 0,
            SymbolKind::IndirectFunction => 1,
            SymbolKind::Data => 2,
            SymbolKind::Section => 3,
            SymbolKind::Other => 4,
        };
        let (strength, size) = match export.strength {
            Strength::Strong => (0, 0),
            Strength::Weak => (1, 0),
            Strength::Common { size } if size <= MAX_COMMON_SIZE => (2, size),
            Strength::Common { size } => {
                return Err(Error::OutOfMemory {
                    requested: size,
                    reason: "a common block of more than 2^48 bytes".to_string(),
                })
            }
        };
        Ok(StoredExport {
            address: export.address,
            packed: kind | strength << 8 | size << 16,
        })
    }

    fn unpack(self, module: u64) -> Export {
        let kind = match self.packed & 0xff {
            0 => SymbolKind::Function,
            1 => SymbolKind::IndirectFunction,
            2 => SymbolKind::Data,
            3 => SymbolKind::Section,
            _ => SymbolKind::Other,
        };
        let strength = match (self.packed >> 8) & 0xff {
            0 => Strength::Strong,
            1 => Strength::Weak,
            _ => Strength::Common {
                size: self.packed >> 16,
            },
        };
        Export {
            address: self.address,
            module,
            strength,
            kind,
        }
    }
}

/// The names a linked module defines for the engine, as the link hands
/// them over: the bytes of every name in one string, and one record a
/// name (where it ends, its hash, computed once outside the table's lock,
/// and its definition): two allocations a module, not one a name. The
/// table keeps both as they are, and the module's own name (for messages)
/// after the last name in the same string.
#[derive(Debug, Clone, Default)]
pub struct Exports {
    /// The module every definition belongs to (that of the first pushed).
    module: u64,
    names: String,
    /// One record a name, in the order they were pushed.
    records: Vec<NameRecord>,
}

/// What a name block keeps of one name besides its bytes: where they end,
/// its hash (for growing the table and taking names out without hashing
/// again) and its definition, side by side.
#[derive(Debug, Clone, Copy)]
struct NameRecord {
    hash: u64,
    definition: StoredExport,
    end: u32,
}

impl Exports {
    /// Room for `count` names of `bytes` bytes in all; fails when the
    /// bytes could not be counted in 32 bits.
    pub(crate) fn with_capacity(count: usize, bytes: usize) -> Result<Exports> {
        if bytes > MAX_NAME_BYTES {
            return Err(names_too_long(bytes));
        }
        Ok(Exports {
            module: 0,
            names: String::with_capacity(bytes),
            records: Vec::with_capacity(count),
        })
    }

    /// Where the last name ends: the module's name, if any, follows.
    fn names_end(&self) -> usize {
        self.records.last().map_or(0, |r| r.end as usize)
    }

    /// Adds `name`, a definition of the module of those already added;
    /// fails past 4 GiB of names.
    pub(crate) fn push(&mut self, name: &str, export: Export) -> Result<()> {
        if self.records.is_empty() {
            self.module = export.module;
        }
        debug_assert_eq!(self.module, export.module, "one module's names");
        let stored = StoredExport::pack(&export)?;
        let names_end = self.names_end();
        let end = names_end + name.len();
        if self.names.len() + name.len() > MAX_NAME_BYTES {
            return Err(names_too_long(self.names.len() + name.len()));
        }
        if self.names.len() == names_end {
            self.names.push_str(name);
        } else {
            // A name added after the table filed the block: the module's
            // name stays last.
            self.names.insert_str(names_end, name);
        }
        self.records.push(NameRecord {
            hash: hash_name(name),
            definition: stored,
            end: end as u32,
        });
        Ok(())
    }

    /// The name of the module that defines these (empty until the table
    /// files them under it).
    fn module_name(&self) -> &str {
        self.names.get(self.names_end()..).unwrap_or_default()
    }

    /// Files the names under module `name` (at most 4 GiB with them,
    /// else the module's name is left out).
    fn set_module_name(&mut self, name: &str) {
        let end = self.names_end();
        if end + name.len() <= MAX_NAME_BYTES {
            self.names.truncate(end);
            // Kept as long as the module: no spare room.
            self.names.reserve_exact(name.len());
            self.names.push_str(name);
        }
    }

    /// Number of names.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each name with its definition, in the object's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Export)> {
        (0..self.records.len()).map(|i| {
            let name = self.name(i).unwrap_or_default();
            (name, self.records[i].definition.unpack(self.module))
        })
    }

    /// Definition `index`.
    fn definition(&self, index: usize) -> Option<Export> {
        Some(self.records.get(index)?.definition.unpack(self.module))
    }

    /// Name `index`.
    #[inline]
    fn name(&self, index: usize) -> Option<&str> {
        let start = match index {
            0 => 0,
            _ => self.records.get(index - 1)?.end as usize,
        };
        self.names.get(start..self.records.get(index)?.end as usize)
    }

    /// The hash of name `index`.
    fn hash(&self, index: usize) -> Option<u64> {
        Some(self.records.get(index)?.hash)
    }

    /// Points every definition of `name` at `address`.
    pub(crate) fn set_address(&mut self, name: &str, address: u64) {
        for i in 0..self.records.len() {
            if self.name(i) == Some(name) {
                let definition = &mut self.records[i].definition;
                definition.address = address;
            }
        }
    }
}

/// Name → definition, for everything the engine has linked.
///
/// Nothing is allocated a name: each module's names and definitions are
/// kept as its link handed them over (its *name block*; a module that
/// also gets names one by one has more blocks), and the hash table holds
/// only (block, index) pairs, eight bytes a name. An entry always refers
/// into a block of the module that defines it, so taking a module's names
/// out ([`SymbolTable::remove_module`]) finds every entry that refers into
/// its blocks before they go.
#[derive(Debug, Default)]
pub struct SymbolTable {
    entries: hashbrown::HashTable<Entry>,
    /// Name blocks by number; a freed number is reused.
    blocks: Vec<NameBlock>,
    free_blocks: Vec<u32>,
    /// Each module's newest block (the others follow from `NameBlock::next`).
    block_of_module: NameMap<u64, u32>,
}

/// Where a name and its definition are: definition `index` of `block`.
#[derive(Debug, Clone, Copy)]
struct Entry {
    block: u32,
    index: u32,
}

/// Names of one module as the link handed them over (or as they were
/// inserted one by one); their hashes serve for growing the table and
/// taking names out without hashing again.
#[derive(Debug, Default)]
struct NameBlock {
    exports: Exports,
    /// The module's previous block, or `NO_BLOCK`.
    next: u32,
}

const NO_BLOCK: u32 = u32::MAX;

/// The name of `entry`, if its block has it.
#[inline]
fn entry_name(blocks: &[NameBlock], entry: Entry) -> Option<&str> {
    let exports = &blocks.get(entry.block as usize)?.exports;
    exports.name(entry.index as usize)
}

/// The hash of `entry`'s name, for growing the table.
fn entry_hash(blocks: &[NameBlock], entry: &Entry) -> u64 {
    blocks
        .get(entry.block as usize)
        .and_then(|b| b.exports.hash(entry.index as usize))
        .unwrap_or_default()
}

impl SymbolTable {
    /// The definition of `name`, if a linked module has one.
    #[inline]
    pub fn get(&self, name: &str) -> Option<Export> {
        let blocks = &self.blocks;
        let entry = self
            .entries
            .find(hash_name(name), |&e| entry_name(blocks, e) == Some(name))?;
        blocks
            .get(entry.block as usize)?
            .exports
            .definition(entry.index as usize)
    }

    /// Records a definition, replacing any earlier one of the name. Fails
    /// only for a name of more than 4 GiB.
    pub fn insert(&mut self, name: &str, export: Export) -> Result<()> {
        if name.len() > MAX_NAME_BYTES {
            return Err(names_too_long(name.len()));
        }
        let newest = self.block_of_module.get(&export.module).copied();
        let block = match newest {
            Some(block)
                if self.blocks[block as usize].exports.names.len() + name.len()
                    <= MAX_NAME_BYTES =>
            {
                block
            }
            _ => self.new_block(export.module, Exports::default()),
        };
        let exports = &mut self.blocks[block as usize].exports;
        exports.push(name, export)?;
        let index = exports.len() - 1;
        let hash = exports.records[index].hash;
        let index = index as u32;
        self.put(Entry { block, index }, hash);
        Ok(())
    }

    /// Records the definitions of module `module`, called `name` (the link
    /// made them with `module` as their module), replacing earlier ones of
    /// their names. They become a block of the module as they are: no copy,
    /// no hashing; the module's name joins their string.
    pub fn insert_module(&mut self, module: u64, name: &str, mut exports: Exports) {
        exports.module = module;
        exports.set_module_name(name);
        let count = exports.len();
        let block = self.new_block(module, exports);
        let blocks = &self.blocks;
        self.entries.reserve(count, |e| entry_hash(blocks, e));
        for index in 0..count {
            let hash = self.blocks[block as usize].exports.records[index].hash;
            self.put(
                Entry {
                    block,
                    index: index as u32,
                },
                hash,
            );
        }
    }

    /// Makes `exports` the newest block of `module`.
    fn new_block(&mut self, module: u64, exports: Exports) -> u32 {
        let next = self
            .block_of_module
            .get(&module)
            .copied()
            .unwrap_or(NO_BLOCK);
        let names = NameBlock { exports, next };
        let block = match self.free_blocks.pop() {
            Some(block) => {
                self.blocks[block as usize] = names;
                block
            }
            None => {
                self.blocks.push(names);
                (self.blocks.len() - 1) as u32
            }
        };
        self.block_of_module.insert(module, block);
        block
    }

    /// Puts `entry` (whose name hashes to `hash`) in place of the entry of
    /// the same name, or adds it.
    fn put(&mut self, entry: Entry, hash: u64) {
        let SymbolTable {
            entries, blocks, ..
        } = self;
        let Some(name) = entry_name(blocks, entry) else {
            return;
        };
        match entries.find_mut(hash, |&e| entry_name(blocks, e) == Some(name)) {
            Some(existing) => *existing = entry,
            None => {
                entries.insert_unique(hash, entry, |e| entry_hash(blocks, e));
            }
        }
    }

    /// Takes out every name module `module` defines (those another module
    /// has since redefined stay, as that module's), and its name blocks.
    pub(crate) fn remove_module(&mut self, module: u64) {
        let mut next = self.block_of_module.remove(&module).unwrap_or(NO_BLOCK);
        while let Some(slot) = self.blocks.get_mut(next as usize) {
            let block = next;
            let names = std::mem::take(slot);
            for (index, &NameRecord { hash, .. }) in names.exports.records.iter().enumerate() {
                let index = index as u32;
                let ours = |e: &Entry| e.block == block && e.index == index;
                if let Ok(entry) = self.entries.find_entry(hash, ours) {
                    entry.remove();
                }
            }
            self.free_blocks.push(block);
            next = names.next;
        }
    }

    /// The name of module `id`, for messages: what it was filed under by
    /// [`insert_module`](Self::insert_module).
    pub(crate) fn module_name(&self, id: u64) -> &str {
        let mut next = self.block_of_module.get(&id).copied().unwrap_or(NO_BLOCK);
        while let Some(block) = self.blocks.get(next as usize) {
            let name = block.exports.module_name();
            if !name.is_empty() {
                return name;
            }
            next = block.next;
        }
        "<unknown module>"
    }

    /// Number of defined names.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no name is defined.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every definition, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Export)> {
        let blocks = &self.blocks;
        self.entries.iter().filter_map(move |&e| {
            let definition = blocks
                .get(e.block as usize)?
                .exports
                .definition(e.index as usize)?;
            Some((entry_name(blocks, e)?, definition))
        })
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

#[cfg(test)]
mod tests;
