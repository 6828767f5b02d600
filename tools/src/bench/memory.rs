//! What a JIT's memory costs when every module is finalized as it comes
//! (`rivet bench`'s memory case): many one-function modules, each added,
//! linked and looked up on its own, then half of them removed and added
//! again. Measured for rivet's arena, rivet's per-section manager, LLVM's
//! `SectionMemoryManager` (LLJIT with RuntimeDyld) and JITLink's in-process
//! memory manager (LLJIT's default layer).
//!
//! Every figure for every manager comes from the same place, the process's
//! own `/proc/self/smaps`, as the change from just before the JIT instance is
//! created: mappings (what `vm.max_map_count` limits), address space of
//! anonymous and memory-file mappings (reserved), the part of it that is
//! accessible (committed), and the resident part (proportional set size, so
//! a page mapped twice by a dual-mapped arena counts once). The linker's
//! own bookkeeping on the malloc heap is shown apart. rivet's rows also
//! print what rivet's memory manager says of itself, which the process
//! figures must bear out.
//!
//! To keep bookkeeping out of the mapping figures, the child that measures
//! makes malloc use the `brk` heap only (one arena, no `mmap` for
//! allocations under 32 MiB).

use std::fmt::Write as _;
use std::time::Instant;

use super::gen::{self, Spec};
use super::measure::{kib, MapLine};
use super::{BenchError, Result};
use crate::orc::{Lljit, ObjectBuffer, OrcLinker, TrackedObject};
use rivet::memory::{ArenaMode, DEFAULT_MODE};
use rivet::{ExecutionEngine, ModuleId};

/// A memory manager under measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Manager {
    /// rivet with its arena (`use_lmm=True`).
    Arena,
    /// rivet with its per-section manager (`use_lmm=False`).
    Sections,
    /// LLJIT with the given object linking layer and that layer's memory
    /// manager: `SectionMemoryManager` for RuntimeDyld, JITLink's
    /// in-process manager for JITLink.
    Orc(OrcLinker),
}

impl Manager {
    /// Every manager, in table order.
    pub const ALL: [Manager; 4] = [
        Manager::Arena,
        Manager::Sections,
        Manager::Orc(OrcLinker::RuntimeDyld),
        Manager::Orc(OrcLinker::JitLink),
    ];

    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Manager::Arena => "rivet-arena",
            Manager::Sections => "rivet-sections",
            Manager::Orc(OrcLinker::RuntimeDyld) => "lljit-rtdyld",
            Manager::Orc(OrcLinker::JitLink) => "lljit-jitlink",
        }
    }

    /// The manager called `name`.
    pub fn from_name(name: &str) -> Option<Manager> {
        Manager::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The process's memory at one moment, as `/proc/self/smaps` shows it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Every mapping of the process.
    pub mappings: i64,
    /// Address space of anonymous and memory-file (memfd) mappings, the
    /// malloc heap, stack and kernel areas excepted; inaccessible
    /// (`---`) reservations included.
    pub reserved: i64,
    /// Memory behind `reserved`: the accessible part of anonymous
    /// mappings, and the resident pages of memory files (which exist only
    /// once written, however many views map them).
    pub committed: i64,
    /// The resident part of `reserved` (Pss: a page mapped twice counts once).
    pub resident: i64,
    /// Bytes malloc has handed out and not had back (glibc's `mallinfo2`):
    /// the linker's bookkeeping, when the figure is a change.
    pub heap: i64,
}

impl Footprint {
    /// This process's footprint now (zeros where `/proc` cannot be read).
    pub fn now() -> Footprint {
        let mut footprint = std::fs::read_to_string("/proc/self/smaps")
            .map(|text| Footprint::from_smaps(&text))
            .unwrap_or_default();
        footprint.heap = malloc_in_use();
        footprint
    }

    /// The footprint a `/proc/<pid>/smaps` text describes (`heap` left 0:
    /// it comes from the allocator).
    pub fn from_smaps(text: &str) -> Footprint {
        // What the mapping being read counts as, from its header line.
        #[derive(Clone, Copy, PartialEq)]
        enum Kind {
            /// Anonymous memory: committed when accessible.
            Anonymous,
            /// A memory file's view: its pages exist once written, however
            /// many views map them, so it counts as committed by its Pss.
            MemoryFile,
            Other,
        }
        let mut out = Footprint::default();
        let mut current = Kind::Other;
        for line in text.lines() {
            if let Some(m) = MapLine::parse(line) {
                out.mappings += 1;
                let size = i64::try_from(m.size).unwrap_or(i64::MAX);
                current = if m.path == "[heap]" {
                    // Bookkeeping, counted from the allocator instead.
                    Kind::Other
                } else if m.is_anonymous() {
                    Kind::Anonymous
                } else if m.path.starts_with("/memfd:") {
                    Kind::MemoryFile
                } else {
                    Kind::Other
                };
                if matches!(current, Kind::Anonymous | Kind::MemoryFile) {
                    out.reserved += size;
                }
                if current == Kind::Anonymous && !m.inaccessible {
                    out.committed += size;
                }
                continue;
            }
            let Some(pss) = line.strip_prefix("Pss:") else {
                continue;
            };
            let bytes = i64::try_from(kib(pss)).unwrap_or(i64::MAX);
            match current {
                Kind::Anonymous => out.resident += bytes,
                Kind::MemoryFile => {
                    out.resident += bytes;
                    out.committed += bytes;
                }
                Kind::Other => {}
            }
        }
        out
    }

    /// `self - before`, field by field.
    pub fn since(self, before: Footprint) -> Footprint {
        Footprint {
            mappings: self.mappings - before.mappings,
            reserved: self.reserved - before.reserved,
            committed: self.committed - before.committed,
            resident: self.resident - before.resident,
            heap: self.heap - before.heap,
        }
    }

    fn fields(self) -> [i64; 5] {
        [
            self.mappings,
            self.reserved,
            self.committed,
            self.resident,
            self.heap,
        ]
    }

    fn from_fields(f: [i64; 5]) -> Footprint {
        Footprint {
            mappings: f[0],
            reserved: f[1],
            committed: f[2],
            resident: f[3],
            heap: f[4],
        }
    }
}

/// Bytes glibc's malloc has handed out and not had back, from the heap and
/// from its own mappings.
/// 0 where the C library is not glibc.
fn malloc_in_use() -> i64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 only reads the allocator's counters (glibc 2.33+).
        let info = unsafe { libc::mallinfo2() };
        i64::try_from(info.uordblks.saturating_add(info.hblkhd)).unwrap_or(i64::MAX)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}

/// What rivet's memory manager says of itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OwnStats {
    pub reserved: u64,
    pub committed: u64,
    pub mappings: u64,
    /// Bytes of the live segments (what the linker asked for).
    pub live: u64,
}

/// What one manager cost, as a child measured it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemoryFigures {
    /// Modules loaded.
    pub modules: usize,
    /// Seconds to add, finalize and look up every module, one by one.
    pub load_seconds: f64,
    /// Seconds to remove every other module.
    pub remove_seconds: f64,
    /// Seconds to add those again, one by one (each call checked too).
    pub readd_seconds: f64,
    /// With every module loaded.
    pub loaded: Footprint,
    /// After removing every other module.
    pub half_removed: Footprint,
    /// After adding the removed modules again (each finalized on its own).
    pub readded: Footprint,
    /// rivet's own figures with every module loaded (rivet rows only).
    pub own: Option<OwnStats>,
}

/// The tag of the line a child prints its figures on.
const TAG: &str = "RIVET-BENCH-MEMORY";

impl MemoryFigures {
    /// The figures on one line, for the parent.
    pub fn to_line(&self) -> String {
        let join = |f: Footprint| {
            f.fields()
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut line = format!(
            "{TAG} modules={} load_seconds={:.6} remove_seconds={:.6} readd_seconds={:.6} \
             loaded={} half_removed={} readded={}",
            self.modules,
            self.load_seconds,
            self.remove_seconds,
            self.readd_seconds,
            join(self.loaded),
            join(self.half_removed),
            join(self.readded)
        );
        if let Some(own) = self.own {
            let _ = write!(
                line,
                " own={},{},{},{}",
                own.reserved, own.committed, own.mappings, own.live
            );
        }
        line
    }

    /// The figures from a child's output, if it printed them.
    pub fn from_output(output: &str) -> Option<MemoryFigures> {
        let line = output.lines().find(|l| l.starts_with(TAG))?;
        let mut figures = MemoryFigures::default();
        let numbers = |v: &str| {
            v.split(',')
                .map(|n| n.parse::<i64>().ok())
                .collect::<Option<Vec<i64>>>()
        };
        let footprint = |v: &str| -> Option<Footprint> {
            Some(Footprint::from_fields(numbers(v)?.try_into().ok()?))
        };
        for (key, value) in line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
        {
            match key {
                "modules" => figures.modules = value.parse().ok()?,
                "load_seconds" => figures.load_seconds = value.parse().ok()?,
                "remove_seconds" => figures.remove_seconds = value.parse().ok()?,
                "readd_seconds" => figures.readd_seconds = value.parse().ok()?,
                "loaded" => figures.loaded = footprint(value)?,
                "half_removed" => figures.half_removed = footprint(value)?,
                "readded" => figures.readded = footprint(value)?,
                "own" => {
                    let n = numbers(value)?;
                    let [reserved, committed, mappings, live] = n.try_into().ok()?;
                    figures.own = Some(OwnStats {
                        reserved: reserved as u64,
                        committed: committed as u64,
                        mappings: mappings as u64,
                        live: live as u64,
                    });
                }
                _ => {}
            }
        }
        Some(figures)
    }
}

/// A JIT whose modules can be added and removed one at a time.
trait Jit {
    /// What removes one module.
    type Handle<'a>
    where
        Self: 'a;

    /// Adds one object, links it on its own and returns its handle and the
    /// address of `lookup`.
    fn load<'a>(
        &'a self,
        name: &str,
        bytes: &[u8],
        lookup: &str,
    ) -> Result<(Self::Handle<'a>, u64)>;

    /// Removes one module and frees its memory.
    fn unload(&self, handle: Self::Handle<'_>) -> Result<()>;

    /// The memory manager's own figures, when it gives them.
    fn own_stats(&self) -> Option<OwnStats>;
}

impl Jit for ExecutionEngine {
    type Handle<'a> = ModuleId;

    fn load(&self, name: &str, bytes: &[u8], lookup: &str) -> Result<(ModuleId, u64)> {
        let id = self.add_object_bytes(bytes.to_vec(), name)?;
        self.finalize_object()?;
        Ok((id, self.get_function_address(lookup)?))
    }

    fn unload(&self, handle: ModuleId) -> Result<()> {
        self.remove_module(handle)?;
        Ok(())
    }

    fn own_stats(&self) -> Option<OwnStats> {
        let s = self.memory_stats();
        Some(OwnStats {
            reserved: s.reserved_bytes,
            committed: s.committed_bytes,
            mappings: s.mappings,
            live: s.live_bytes,
        })
    }
}

impl Jit for Lljit {
    type Handle<'a> = TrackedObject<'a>;

    fn load<'a>(
        &'a self,
        name: &str,
        bytes: &[u8],
        lookup: &str,
    ) -> Result<(TrackedObject<'a>, u64)> {
        let tracked = self.add_object_tracked(ObjectBuffer::copy_of(bytes, name)?)?;
        // The look-up links the object (LLJIT links lazily).
        let address = self.lookup(lookup)?;
        Ok((tracked, address))
    }

    fn unload(&self, handle: TrackedObject<'_>) -> Result<()> {
        Ok(handle.remove()?)
    }

    fn own_stats(&self) -> Option<OwnStats> {
        None
    }
}

/// Calls `f{index}(2)` at `address` and checks it against the model.
fn check_call(manager: Manager, spec: &Spec, index: usize, address: u64) -> Result<()> {
    // SAFETY: `address` is what the JIT under test returned for `f{index}`,
    // which the generator defines as `i64 f(i64)`; the JIT finalized it
    // before returning it and is alive (the caller holds it).
    let got = unsafe {
        let f: extern "C" fn(i64) -> i64 = std::mem::transmute(address as usize);
        f(2)
    };
    let want = spec.expected(index, 2);
    if got != want {
        return Err(BenchError::WrongResult {
            linker: manager.name().to_string(),
            call: format!("f{index}(2)"),
            got,
            want,
        });
    }
    Ok(())
}

/// Loads every object of `objects` (object `i` defines `f{i}`) into `jit`,
/// each finalized on its own, then removes every other one and loads
/// those again, measuring the footprint after each phase against `before`.
fn phases<J: Jit>(
    jit: &J,
    manager: Manager,
    spec: &Spec,
    objects: &[(String, Vec<u8>)],
    before: Footprint,
) -> Result<MemoryFigures> {
    let mut handles = Vec::with_capacity(objects.len());
    let started = Instant::now();
    let mut addresses = Vec::with_capacity(objects.len());
    for (i, (name, bytes)) in objects.iter().enumerate() {
        let (handle, address) = jit.load(name, bytes, &format!("f{i}"))?;
        handles.push(Some(handle));
        addresses.push(address);
    }
    let load_seconds = started.elapsed().as_secs_f64();
    for (i, &address) in addresses.iter().enumerate() {
        check_call(manager, spec, i, address)?;
    }
    let loaded = Footprint::now().since(before);
    let own = jit.own_stats();
    let started = Instant::now();
    for handle in handles.iter_mut().step_by(2) {
        if let Some(h) = handle.take() {
            jit.unload(h)?;
        }
    }
    let remove_seconds = started.elapsed().as_secs_f64();
    let half_removed = Footprint::now().since(before);
    let started = Instant::now();
    for (i, (name, bytes)) in objects.iter().enumerate().step_by(2) {
        let (handle, address) = jit.load(name, bytes, &format!("f{i}"))?;
        handles[i] = Some(handle);
        check_call(manager, spec, i, address)?;
    }
    let readd_seconds = started.elapsed().as_secs_f64();
    let readded = Footprint::now().since(before);
    Ok(MemoryFigures {
        modules: objects.len(),
        load_seconds,
        remove_seconds,
        readd_seconds,
        loaded,
        half_removed,
        readded,
        own,
    })
}

/// Bytes of the loaded sections of `objects` (code, data, zero-fill,
/// unwind tables), as rivet's loader sees them: the yardstick for what a
/// memory manager commits.
pub fn section_bytes(objects: &[(String, Vec<u8>)]) -> rivet::Result<u64> {
    let mut total = 0u64;
    for (name, bytes) in objects {
        let object = rivet::load::ObjectFile::parse(bytes, name)?;
        total += object
            .sections
            .iter()
            .filter(|s| s.kind.is_loaded())
            .map(|s| s.size)
            .sum::<u64>();
    }
    Ok(total)
}

/// Makes malloc keep to the `brk` heap, so that the linker's bookkeeping
/// shows as heap and not as new anonymous mappings. Call it before the
/// process has a second thread.
/// Does nothing where the C library is not glibc.
pub fn heap_only_malloc() {
    // SAFETY: mallopt only changes glibc's allocator parameters; called
    // before the measured work, with values glibc accepts (one arena;
    // 32 MiB is the largest mmap threshold glibc allows on 64-bit).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// Measures `manager` on `objects` (one-function standalone modules from
/// `spec`), after warming up on `warmup` in an instance of its own. Every
/// module's function is called and checked against the model, after it is
/// first loaded and after it is loaded again. The process figures are only
/// meaningful in a process that does nothing else meanwhile, after
/// [`heap_only_malloc`] (`rivet bench` runs this in a child of its own).
pub fn measure(
    manager: Manager,
    spec: &Spec,
    objects: &[(String, Vec<u8>)],
    warmup: &[(String, Vec<u8>)],
) -> Result<MemoryFigures> {
    let externals = gen::externals();
    let rivet = |use_lmm: bool| -> Result<ExecutionEngine> {
        let engine = ExecutionEngine::with_lmm(Some(use_lmm))?;
        for (name, address) in externals {
            engine.add_symbol(name, address);
        }
        Ok(engine)
    };
    let orc = |linker: OrcLinker| -> Result<Lljit> {
        let jit = Lljit::new(linker)?;
        jit.define_absolute(&externals)?;
        Ok(jit)
    };
    // A warm-up run pages the linker's code in and grows the heap once, so
    // that neither shows in the figures.
    let warm_spec = Spec {
        functions: warmup.len(),
        ..*spec
    };
    match manager {
        Manager::Arena | Manager::Sections => {
            let use_lmm = manager == Manager::Arena;
            phases(
                &rivet(use_lmm)?,
                manager,
                &warm_spec,
                warmup,
                Footprint::default(),
            )?;
            let before = Footprint::now();
            let engine = rivet(use_lmm)?;
            phases(&engine, manager, spec, objects, before)
        }
        Manager::Orc(linker) => {
            let jit = orc(linker)?;
            phases(&jit, manager, &warm_spec, warmup, Footprint::default())?;
            jit.dispose()?;
            let before = Footprint::now();
            let jit = orc(linker)?;
            let figures = phases(&jit, manager, spec, objects, before);
            jit.dispose()?;
            figures
        }
    }
}

/// One manager's row: its figures, or why it has none.
pub struct MemoryRow {
    pub manager: Manager,
    pub figures: std::result::Result<MemoryFigures, String>,
}

/// The mode the children's arenas use (they inherit this environment).
pub fn arena_mode() -> ArenaMode {
    ArenaMode::from_env().ok().flatten().unwrap_or(DEFAULT_MODE)
}

fn mib(bytes: i64) -> String {
    format!("{:.2}", bytes as f64 / (1 << 20) as f64)
}

/// The memory table, with `section_bytes` (the modules' loaded sections)
/// as the yardstick for committed memory.
pub fn render(case: &str, section_bytes: u64, rows: &[MemoryRow]) -> String {
    let mut out = String::new();
    let modules = rows
        .iter()
        .find_map(|r| r.figures.as_ref().ok().map(|f| f.modules))
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "\nMemory ({case}): {modules} one-function modules, each added, finalized and \
         looked up on its own; then every other module removed, then those added again. \
         The modules' sections hold {} bytes ({:.0} a module).\n",
        section_bytes,
        section_bytes as f64 / modules.max(1) as f64
    );
    let mut table: Vec<Vec<String>> = vec![[
        "manager",
        "load s",
        "maps",
        "reserved MiB",
        "committed MiB",
        "resident MiB",
        "committed ÷ sections",
        "heap MiB",
        "remove half s",
        "maps, half removed",
        "committed MiB, half removed",
        "re-add s",
        "maps, re-added",
        "committed MiB, re-added",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()];
    for row in rows {
        let name = row.manager.name().to_string();
        match &row.figures {
            Err(_) => table.push(vec![name, "failed".to_string()]),
            Ok(f) => {
                table.push(vec![
                    name,
                    format!("{:.3}", f.load_seconds),
                    f.loaded.mappings.to_string(),
                    mib(f.loaded.reserved),
                    mib(f.loaded.committed),
                    mib(f.loaded.resident),
                    format!(
                        "{:.2}",
                        f.loaded.committed as f64 / section_bytes.max(1) as f64
                    ),
                    mib(f.loaded.heap),
                    format!("{:.3}", f.remove_seconds),
                    f.half_removed.mappings.to_string(),
                    mib(f.half_removed.committed),
                    format!("{:.3}", f.readd_seconds),
                    f.readded.mappings.to_string(),
                    mib(f.readded.committed),
                ]);
            }
        }
    }
    super::push_table_with(&mut out, &table, 1);
    out.push_str(
        "\nEvery figure is the change in the child process's /proc/self/smaps from just \
         before the JIT was created: maps = mappings; reserved = address space of \
         anonymous and memory-file mappings; \
         committed = accessible anonymous bytes plus the memory files' pages; resident = \
         proportional set size of both (a dual-mapped page counts once); heap = bytes \
         malloc handed out and did not get back (the linker's bookkeeping: symbol \
         tables, module records, object copies it keeps).\n",
    );
    if let Some(f) = rows
        .iter()
        .find(|r| r.manager == Manager::Arena)
        .and_then(|r| r.figures.as_ref().ok())
    {
        // Issue 3's target: committed ≤ 1.25 × section bytes + a fixed
        // overhead (at most one pool chunk per class), no mapping per module.
        let overhead = f.loaded.committed - (section_bytes as f64 * 1.25) as i64;
        let chunk_per_class = (rivet::memory::SegmentClass::COUNT as i64) << 18;
        let _ = writeln!(
            out,
            "- target, arena: committed = 1.25 × section bytes {} {} KiB (fixed overhead \
             allowed: one 256 KiB pool chunk per class, {} KiB): {}; {} mapping(s) for {} \
             modules: {}.",
            if overhead < 0 { "−" } else { "+" },
            overhead.abs() >> 10,
            chunk_per_class >> 10,
            if overhead <= chunk_per_class {
                "met"
            } else {
                "MISSED"
            },
            f.loaded.mappings,
            f.modules,
            if (f.loaded.mappings as usize) * 100 < f.modules.max(100) {
                "met"
            } else {
                "MISSED"
            }
        );
    }
    for row in rows {
        match &row.figures {
            Err(why) => {
                let _ = writeln!(out, "- {}: failed: {why}", row.manager.name());
            }
            Ok(f) => {
                if let Some(own) = f.own {
                    let mode = match (row.manager, arena_mode()) {
                        (Manager::Arena, ArenaMode::DualMapped) => " (dual-mapped mode)",
                        (Manager::Arena, ArenaMode::Pages) => " (page mode: a page per module)",
                        _ => "",
                    };
                    let _ = writeln!(
                        out,
                        "- {}{mode}: rivet's manager reports {} mapping(s), {} MiB reserved, {} \
                         MiB committed, {} MiB of live segments ({:.2}× the section bytes).",
                        row.manager.name(),
                        own.mappings,
                        mib(own.reserved as i64),
                        mib(own.committed as i64),
                        mib(own.live as i64),
                        own.live as f64 / section_bytes.max(1) as f64
                    );
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
