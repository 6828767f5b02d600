//! Profiler output: the perf map (`/tmp/perf-<pid>.map`) and jitdump
//! (`jit-<pid>.dump`, for `perf inject --jit`).
//!
//! **Perf map** (perf's `Documentation/jit-interface.txt`): a text file
//! `/tmp/perf-<pid>.map` with one line `START SIZE name` per function, START
//! and SIZE in hexadecimal without `0x`. `perf report` reads it to name
//! samples in anonymous executable memory. Lines are only ever appended; the
//! file is shared by every engine of the process.
//!
//! **jitdump** (perf's `Documentation/jitdump-specification.txt`): a binary
//! file `jit-<pid>.dump` with a header and one `JIT_CODE_LOAD` record (name,
//! address, size and a copy of the code) per function, ended by
//! `JIT_CODE_CLOSE`. A function of a module with DWARF line information
//! (compiled with `-g`, linked with jitdump on) has a `JIT_CODE_DEBUG_INFO`
//! record just before its `JIT_CODE_LOAD`: one entry (absolute address,
//! line, column as the discriminator, file name) per row of the module's
//! line table ([`LineTable`]) within the function, from which `perf inject
//! --jit` writes a `.debug_line` into the function's ELF file, so that
//! `perf annotate` and `perf report --sort srcline` show source. `perf record` learns of the file because the process
//! maps it executable (rivet maps one page, read + execute, never writable);
//! `perf inject --jit` then turns the records into ELF files next to it.
//! Timestamps are `CLOCK_MONOTONIC`, so record with `perf record -k mono`.
//! By default the file goes into a new directory
//! `$JITDUMPDIR/.debug/jit/rivet-jit-<pid>-<seconds>/` (`$HOME` when
//! `JITDUMPDIR` is unset, the temporary directory when both are). Engines of
//! one process that ask for the same directory share one file; it is closed
//! when the last of them goes.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use super::{process_memory, symfile, LineTable, ModuleImage};
use crate::{Error, Result};

/// Where perf looks for perf maps.
const PERF_MAP_DIR: &str = "/tmp";

const JITDUMP_MAGIC: u32 = 0x4A69_5444;
const JITDUMP_VERSION: u32 = 1;
const JITDUMP_HEADER_SIZE: u32 = 40;
const JIT_CODE_LOAD: u32 = 0;
const JIT_CODE_DEBUG_INFO: u32 = 2;
const JIT_CODE_CLOSE: u32 = 3;
const RECORD_HEADER_SIZE: usize = 16;
const CODE_LOAD_FIXED_SIZE: usize = 40;
/// `code_addr` and `nr_entry` of a `JIT_CODE_DEBUG_INFO` record.
const DEBUG_INFO_FIXED_SIZE: usize = 16;

/// Which profiler outputs to write, and where.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfilerOptions {
    /// Write `/tmp/perf-PID.map` (symbol per function).
    pub perf_map: bool,
    /// Write a jitdump file (code, symbols and line records) for `perf inject --jit`.
    pub jitdump: bool,
    /// Directory of `perf-<pid>.map`. `None`: `/tmp`, the only place perf
    /// looks; set it to write the map elsewhere (tests, collection).
    pub perf_map_dir: Option<PathBuf>,
    /// Directory of `jit-<pid>.dump` (created if missing). `None`: a new
    /// directory under `$JITDUMPDIR/.debug/jit` (see the module docs).
    pub jitdump_dir: Option<PathBuf>,
}

/// An environment switch is on unless unset, empty or `0`.
fn switch_on(value: Option<std::ffi::OsString>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

impl ProfilerOptions {
    /// From the environment: `RIVET_PERF_MAP=1`, `RIVET_JITDUMP=1`. Any value
    /// other than empty or `0` switches an output on. Directories are the
    /// defaults.
    pub fn from_env() -> ProfilerOptions {
        ProfilerOptions {
            perf_map: switch_on(std::env::var_os("RIVET_PERF_MAP")),
            jitdump: switch_on(std::env::var_os("RIVET_JITDUMP")),
            perf_map_dir: None,
            jitdump_dir: None,
        }
    }

    /// Whether any output is on.
    pub fn any(&self) -> bool {
        self.perf_map || self.jitdump
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every holder finishes its writes before anything that can panic.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Nanoseconds of `CLOCK_MONOTONIC`, the clock `perf record -k mono` uses.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC exists on
    // every Linux, and on failure `ts` stays zero, which is still a number.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The ELF machine of the code this process runs, which is the code a
/// profiler samples.
fn host_elf_machine() -> u16 {
    let machine = if cfg!(target_arch = "x86_64") {
        symfile::elf_machine(crate::load::Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        symfile::elf_machine(crate::load::Arch::Aarch64)
    } else {
        object::elf::EM_NONE
    };
    machine.0
}

fn thread_id() -> u32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as u32 }
}

/// Serializes appends to perf maps within the process, so the lines of two
/// modules never interleave.
static PERF_MAP_LOCK: Mutex<()> = Mutex::new(());

/// The perf map of this process.
#[derive(Debug)]
struct PerfMap {
    path: PathBuf,
    file: File,
}

impl PerfMap {
    fn open(dir: &Path) -> Result<PerfMap> {
        let path = dir.join(format!("perf-{}.map", std::process::id()));
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        Ok(PerfMap { path, file })
    }

    fn append(&mut self, image: &ModuleImage<'_>) -> Result<()> {
        let mut text = String::new();
        for sym in image
            .symbols
            .iter()
            .filter(|s| s.is_function && s.size != 0)
        {
            // The name is the rest of the line: keep it on one line.
            let name: String = sym
                .name
                .chars()
                .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
                .collect();
            text.push_str(&format!("{:x} {:x} {}\n", sym.addr, sym.size, name));
        }
        if text.is_empty() {
            return Ok(());
        }
        let _guard = lock(&PERF_MAP_LOCK);
        self.file
            .write_all(text.as_bytes())
            .map_err(io_error(&self.path))
    }
}

/// An open jitdump file and its marker mapping.
#[derive(Debug)]
struct JitDump {
    path: PathBuf,
    file: File,
    /// Address and length of the read + execute mapping of the file that
    /// tells `perf record` about it.
    marker: usize,
    marker_len: usize,
}

/// Identifies each code-load record, process-wide.
static CODE_INDEX: AtomicU64 = AtomicU64::new(0);

/// The jitdump files open in this process, by requested directory.
type DumpRegistry = Vec<(Option<PathBuf>, Weak<Mutex<JitDump>>)>;
static JITDUMPS: Mutex<DumpRegistry> = Mutex::new(Vec::new());

impl JitDump {
    /// The shared dump for `dir`, opening it if no engine has it open.
    fn shared(dir: Option<&Path>) -> Result<Arc<Mutex<JitDump>>> {
        let mut registry = lock(&JITDUMPS);
        registry.retain(|(_, weak)| weak.strong_count() > 0);
        if let Some(open) = registry
            .iter()
            .find(|(key, _)| key.as_deref() == dir)
            .and_then(|(_, weak)| weak.upgrade())
        {
            return Ok(open);
        }
        let dump = Arc::new(Mutex::new(JitDump::create(dir)?));
        registry.push((dir.map(Path::to_path_buf), Arc::downgrade(&dump)));
        Ok(dump)
    }

    fn default_dir() -> PathBuf {
        let root = std::env::var_os("JITDUMPDIR")
            .filter(|v| !v.is_empty())
            .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()))
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        root.join(".debug")
            .join("jit")
            .join(format!("rivet-jit-{}-{seconds}", std::process::id()))
    }

    fn create(dir: Option<&Path>) -> Result<JitDump> {
        let dir = dir.map_or_else(JitDump::default_dir, Path::to_path_buf);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let pid = std::process::id();
        let path = dir.join(format!("jit-{pid}.dump"));
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_error(&path))?;

        let mut header = Vec::with_capacity(JITDUMP_HEADER_SIZE as usize);
        header.extend_from_slice(&JITDUMP_MAGIC.to_ne_bytes());
        header.extend_from_slice(&JITDUMP_VERSION.to_ne_bytes());
        header.extend_from_slice(&JITDUMP_HEADER_SIZE.to_ne_bytes());
        header.extend_from_slice(&u32::from(host_elf_machine()).to_ne_bytes());
        header.extend_from_slice(&0u32.to_ne_bytes()); // pad1
        header.extend_from_slice(&pid.to_ne_bytes());
        header.extend_from_slice(&monotonic_ns().to_ne_bytes());
        header.extend_from_slice(&0u64.to_ne_bytes()); // flags: no arch timestamps
        file.write_all(&header).map_err(io_error(&path))?;

        let marker_len = crate::memory::page_size();
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh private mapping chosen by the kernel (no fixed
        // address), of a file we hold open; it is never dereferenced by Rust,
        // only unmapped in `drop`. Read + execute, not writable: perf only
        // needs to see an executable mapping of the file.
        let marker = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                marker_len,
                libc::PROT_READ | libc::PROT_EXEC,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if marker == libc::MAP_FAILED {
            return Err(Error::Io {
                path,
                source: std::io::Error::last_os_error(),
            });
        }
        Ok(JitDump {
            path,
            file,
            marker: marker as usize,
            marker_len,
        })
    }

    fn record_header(out: &mut Vec<u8>, id: u32, total_size: u32, timestamp: u64) {
        out.extend_from_slice(&id.to_ne_bytes());
        out.extend_from_slice(&total_size.to_ne_bytes());
        out.extend_from_slice(&timestamp.to_ne_bytes());
    }

    fn append(&mut self, image: &ModuleImage<'_>) -> Result<()> {
        let pid = std::process::id();
        let tid = thread_id();
        let mut records = Vec::new();
        // Read once per module; a module without (readable) DWARF lines
        // gets code records only.
        let lines = if image.dwarf.is_empty() {
            None
        } else {
            LineTable::from_dwarf(image.dwarf)
        };
        for sym in image
            .symbols
            .iter()
            .filter(|s| s.is_function && s.size != 0)
        {
            let len = usize::try_from(sym.size).map_err(|_| Error::Memory {
                op: "copy JIT code for jitdump",
                source: std::io::Error::from(std::io::ErrorKind::InvalidInput),
            })?;
            let code = process_memory::read(sym.addr, len)?;
            if let Some(lines) = &lines {
                JitDump::debug_info(&mut records, lines, sym.addr, sym.addr + sym.size);
            }
            let name: Vec<u8> = sym.name.bytes().take_while(|&b| b != 0).collect();
            let total = RECORD_HEADER_SIZE + CODE_LOAD_FIXED_SIZE + name.len() + 1 + code.len();
            let total = u32::try_from(total).map_err(|_| Error::Io {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("function `{}` is too large for a jitdump record", sym.name),
                ),
            })?;
            JitDump::record_header(&mut records, JIT_CODE_LOAD, total, monotonic_ns());
            records.extend_from_slice(&pid.to_ne_bytes());
            records.extend_from_slice(&tid.to_ne_bytes());
            records.extend_from_slice(&sym.addr.to_ne_bytes()); // vma
            records.extend_from_slice(&sym.addr.to_ne_bytes()); // code_addr
            records.extend_from_slice(&sym.size.to_ne_bytes());
            let index = CODE_INDEX.fetch_add(1, Ordering::Relaxed);
            records.extend_from_slice(&index.to_ne_bytes());
            records.extend_from_slice(&name);
            records.push(0);
            records.extend_from_slice(&code);
        }
        self.file.write_all(&records).map_err(io_error(&self.path))
    }
}

impl JitDump {
    /// Appends the `JIT_CODE_DEBUG_INFO` record of the function at
    /// `[start, end)` to `records`: nothing when no line covers it.
    fn debug_info(records: &mut Vec<u8>, lines: &LineTable, start: u64, end: u64) {
        let mut entries = Vec::new();
        let mut count = 0u64;
        for row in lines.rows_in(start, end) {
            entries.extend_from_slice(&row.addr.to_ne_bytes());
            let line = i32::try_from(row.line).unwrap_or(i32::MAX);
            entries.extend_from_slice(&line.to_ne_bytes());
            let column = i32::try_from(row.column).unwrap_or(i32::MAX);
            entries.extend_from_slice(&column.to_ne_bytes());
            entries.extend(row.file.bytes().take_while(|&b| b != 0));
            entries.push(0);
            count += 1;
        }
        if count == 0 {
            return;
        }
        let total = RECORD_HEADER_SIZE + DEBUG_INFO_FIXED_SIZE + entries.len();
        let Ok(total) = u32::try_from(total) else {
            // Too many lines for one record: the code record still goes out.
            return;
        };
        JitDump::record_header(records, JIT_CODE_DEBUG_INFO, total, monotonic_ns());
        records.extend_from_slice(&start.to_ne_bytes());
        records.extend_from_slice(&count.to_ne_bytes());
        records.extend_from_slice(&entries);
    }
}

impl Drop for JitDump {
    fn drop(&mut self) {
        let mut close = Vec::with_capacity(RECORD_HEADER_SIZE);
        JitDump::record_header(
            &mut close,
            JIT_CODE_CLOSE,
            RECORD_HEADER_SIZE as u32,
            monotonic_ns(),
        );
        // A failure here cannot be reported; perf accepts a dump without
        // the (optional) close record.
        let _ = self.file.write_all(&close);
        // SAFETY: `marker` is the mapping made in `create`, of `marker_len`
        // bytes, unmapped only here; nothing refers to it.
        unsafe { libc::munmap(self.marker as *mut libc::c_void, self.marker_len) };
    }
}

/// The process-wide profiler outputs; records every function rivet places.
#[derive(Debug)]
pub struct Profiler {
    options: ProfilerOptions,
    perf_map: Option<PerfMap>,
    jitdump: Option<(PathBuf, Arc<Mutex<JitDump>>)>,
}

impl Profiler {
    /// Opens (creating or appending) the outputs `options` asks for: the
    /// perf map is appended to; the jitdump file is created, or shared with
    /// the engine of this process that has it open already.
    pub fn open(options: ProfilerOptions) -> Result<Profiler> {
        let perf_map = if options.perf_map {
            let dir = options
                .perf_map_dir
                .clone()
                .unwrap_or_else(|| PathBuf::from(PERF_MAP_DIR));
            Some(PerfMap::open(&dir)?)
        } else {
            None
        };
        let jitdump = if options.jitdump {
            let dump = JitDump::shared(options.jitdump_dir.as_deref())?;
            let path = lock(&dump).path.clone();
            Some((path, dump))
        } else {
            None
        };
        Ok(Profiler {
            options,
            perf_map,
            jitdump,
        })
    }

    /// The options the profiler was opened with.
    pub fn options(&self) -> &ProfilerOptions {
        &self.options
    }

    /// The perf map being written, if any.
    pub fn perf_map_path(&self) -> Option<&Path> {
        self.perf_map.as_ref().map(|m| m.path.as_path())
    }

    /// The jitdump file being written, if any.
    pub fn jitdump_path(&self) -> Option<&Path> {
        self.jitdump.as_ref().map(|(path, _)| path.as_path())
    }

    /// Records the functions of a newly linked module: every function
    /// symbol of nonzero size. Reads the code (for jitdump) from memory, so
    /// the module must be finalized.
    pub fn module_loaded(&mut self, image: &ModuleImage<'_>) -> Result<()> {
        if let Some(map) = &mut self.perf_map {
            map.append(image)?;
        }
        if let Some((_, dump)) = &self.jitdump {
            lock(dump).append(image)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
