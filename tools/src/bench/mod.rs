//! `rivet bench`: rivet against LLVM's JIT linkers on the same objects, in
//! one run, printed as one table.
//!
//! For each case the parent process generates the IR ([`gen`]), compiles it
//! once ([`inputs::compile`], timing code generation apart), and then runs
//! every linker ([`linkers`]) in a fresh child process of its own (the same
//! executable with a hidden `--child` flag), so that peak RSS, committed
//! bytes and mappings belong to that linker alone. A child first links a
//! 50-function input of the same shape, untimed (so that no measured run is
//! a cold start), then links the inputs several times, each time in a new
//! linker instance that is torn down after the run; after every link it
//! checks that the code computes what [`gen::expected`] says, and at the end
//! it prints its figures on one line for the parent. A child stops adding
//! runs after 40 s, and the parent kills a child that has not finished after
//! 180 s (60 s with `--quick`) and reports that linker as slower than that.
//! End-to-end cases run one child per run, the engines taking turns.
//!
//! What the clock covers is described in [`linkers`]; the floor in [`floor`].

pub mod cores;
pub mod floor;
pub mod gen;
pub mod inputs;
pub mod linkers;
pub mod measure;
pub mod memory;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cores::Core;
use gen::{CodeShape, Spec, Split};
use inputs::{Bundle, Objects};
use linkers::{Compiler, Linked, Linker};
use measure::{median, median_i64, minimum, snapshot};
use memory::{Manager, MemoryFigures, MemoryRow};

use crate::orc::OrcLinker;
use rivet::llvm::{Module, TargetMachine};
use rivet::{Error, ExecutionEngine};

/// What can stop `rivet bench`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// rivet, LLVM or the file system failed.
    #[error(transparent)]
    Rivet(#[from] Error),
    /// `--case` named no case.
    #[error("unknown benchmark case `{name}`; known cases: {known}")]
    UnknownCase { name: String, known: String },
    /// The hidden `--child` argument was malformed.
    #[error("bad --child argument `{0}`")]
    BadChildArgument(String),
    /// Linked code computed something other than the model.
    #[error("{linker}: linked code is wrong: {call} returned {got}, the model says {want}")]
    WrongResult {
        linker: String,
        call: String,
        got: i64,
        want: i64,
    },
}

/// The result type of the benchmark driver.
pub type Result<T, E = BenchError> = std::result::Result<T, E>;

/// What `rivet bench` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fewer runs and smaller cases: a minute rather than several.
    pub quick: bool,
    /// Cases to run by name; empty means every case of the chosen set.
    pub cases: Vec<String>,
    /// Measured runs per case and linker (default 9, quick 5).
    pub runs: Option<usize>,
    /// The user's own objects, linked together as one more case
    /// (`objects`) by every linker; alone unless cases are named too.
    pub objects: Vec<PathBuf>,
    /// Internal: run one (case, linker) pair in this process and print its
    /// figures (`kind,linker,runs,bundle-path`).
    pub child: Option<String>,
}

/// The case of the objects `--object` names.
const USER_CASE: &str = "objects";

/// What a case measures.
#[derive(Debug, Clone, Copy)]
pub enum CaseKind {
    /// Linking compiled objects: rivet, both LLJIT layers, the floor.
    Link(Spec),
    /// From parsed IR modules to addresses: rivet against MCJIT.
    EndToEnd(Spec),
    /// The speed of the linked code: small-model PIC against large model.
    CodeSpeed { iterations: u64 },
    /// Memory of standalone one-function modules, each finalized on its
    /// own, for every memory manager ([`memory`]).
    Memory(Spec),
}

/// One benchmark case.
#[derive(Debug, Clone, Copy)]
pub struct Case {
    pub name: &'static str,
    pub kind: CaseKind,
    /// In the default (full) set.
    pub full: bool,
    /// In the `--quick` set.
    pub quick: bool,
}

const fn spec(functions: usize, sections: bool, shape: CodeShape, split: Split) -> Spec {
    Spec {
        functions,
        sections,
        shape,
        split,
    }
}

/// Every case, in table order.
pub const CASES: &[Case] = &[
    Case {
        name: "5k",
        kind: CaseKind::Link(spec(5_000, false, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: true,
    },
    Case {
        name: "20k",
        kind: CaseKind::Link(spec(20_000, false, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: false,
    },
    Case {
        name: "1k-sections",
        kind: CaseKind::Link(spec(1_000, true, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: true,
    },
    Case {
        name: "5k-sections",
        kind: CaseKind::Link(spec(5_000, true, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: false,
    },
    Case {
        name: "20k-sections",
        kind: CaseKind::Link(spec(20_000, true, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: false,
    },
    Case {
        name: "5k-large-static",
        kind: CaseKind::Link(spec(5_000, false, CodeShape::LargeStatic, Split::No)),
        full: true,
        quick: true,
    },
    Case {
        name: "10k-modules",
        kind: CaseKind::Link(spec(10_000, false, CodeShape::SmallPic, Split::Linked)),
        full: true,
        quick: false,
    },
    Case {
        name: "1k-modules",
        kind: CaseKind::Link(spec(1_000, false, CodeShape::SmallPic, Split::Linked)),
        full: false,
        quick: true,
    },
    Case {
        name: "e2e-5k",
        kind: CaseKind::EndToEnd(spec(5_000, false, CodeShape::SmallPic, Split::No)),
        full: true,
        quick: false,
    },
    Case {
        name: "e2e-1k",
        kind: CaseKind::EndToEnd(spec(1_000, false, CodeShape::SmallPic, Split::No)),
        full: false,
        quick: true,
    },
    Case {
        name: "e2e-1k-modules",
        kind: CaseKind::EndToEnd(spec(1_000, false, CodeShape::SmallPic, Split::Linked)),
        full: true,
        quick: false,
    },
    Case {
        name: "memory-10k-modules",
        kind: CaseKind::Memory(spec(10_000, false, CodeShape::SmallPic, Split::Standalone)),
        full: true,
        quick: false,
    },
    Case {
        name: "memory-1k-modules",
        kind: CaseKind::Memory(spec(1_000, false, CodeShape::SmallPic, Split::Standalone)),
        full: false,
        quick: true,
    },
    Case {
        name: "code-speed",
        kind: CaseKind::CodeSpeed {
            iterations: 50_000_000,
        },
        full: true,
        quick: true,
    },
];

/// The line a child prints its figures on.
const CHILD_TAG: &str = "RIVET-BENCH-CHILD";
/// A child stops adding runs once it has spent this long (after at least one).
const CHILD_BUDGET: Duration = Duration::from_secs(40);
/// A child still running after this long is killed and its linker reported
/// as slower than that (the full set; `--quick` gives less).
const CHILD_TIMEOUT: Duration = Duration::from_secs(180);
const QUICK_CHILD_TIMEOUT: Duration = Duration::from_secs(60);
/// Functions in the warm-up input each child links before measuring.
const WARMUP_FUNCTIONS: usize = 50;

/// Runs `rivet bench` as `options` say: the whole table, or one child.
pub fn command(options: &Options) -> Result<()> {
    if let Some(child_spec) = &options.child {
        return child(child_spec);
    }
    let report = run(options)?;
    print!("{report}");
    Ok(())
}

fn selected(options: &Options) -> Result<Vec<Case>> {
    if options.cases.is_empty() {
        return Ok(CASES
            .iter()
            .filter(|c| if options.quick { c.quick } else { c.full })
            .copied()
            .collect());
    }
    options
        .cases
        .iter()
        .map(|name| {
            CASES
                .iter()
                .find(|c| c.name == name)
                .copied()
                .ok_or_else(|| BenchError::UnknownCase {
                    name: name.clone(),
                    known: CASES.iter().map(|c| c.name).collect::<Vec<_>>().join(", "),
                })
        })
        .collect()
}

/// Figures of one (case, linker) pair, as a child reports them.
#[derive(Debug, Clone, Default)]
pub struct ChildFigures {
    /// Seconds of each measured run.
    pub times: Vec<f64>,
    /// Median change of VmRSS over a run, with the linker's result alive (bytes).
    pub rss_delta: i64,
    /// Median change of committed anonymous bytes, likewise.
    pub committed_delta: i64,
    /// Median change of the number of mappings, likewise.
    pub maps_delta: i64,
    /// The child's peak RSS (VmHWM) at the end (bytes): process-wide,
    /// including the inputs and libLLVM's own pages.
    pub peak_rss: u64,
    /// The child's RSS before the first run (bytes).
    pub base_rss: u64,
    /// rivet's own committed bytes and mappings (rivet rows only).
    pub rivet_committed: Option<u64>,
    pub rivet_mappings: Option<u64>,
}

impl ChildFigures {
    fn to_line(&self) -> String {
        let times: Vec<String> = self.times.iter().map(|t| format!("{t:.9}")).collect();
        let mut line = format!(
            "{CHILD_TAG} times={} rss_delta={} committed_delta={} maps_delta={} peak_rss={} base_rss={}",
            times.join(","),
            self.rss_delta,
            self.committed_delta,
            self.maps_delta,
            self.peak_rss,
            self.base_rss
        );
        if let (Some(c), Some(m)) = (self.rivet_committed, self.rivet_mappings) {
            let _ = write!(line, " rivet_committed={c} rivet_mappings={m}");
        }
        line
    }

    /// One set of figures from several children: every run's time, the
    /// median of their deltas, the highest peak.
    fn merge(parts: &[ChildFigures]) -> ChildFigures {
        let field =
            |f: fn(&ChildFigures) -> i64| median_i64(&parts.iter().map(f).collect::<Vec<i64>>());
        ChildFigures {
            times: parts.iter().flat_map(|p| p.times.iter().copied()).collect(),
            rss_delta: field(|p| p.rss_delta),
            committed_delta: field(|p| p.committed_delta),
            maps_delta: field(|p| p.maps_delta),
            peak_rss: parts.iter().map(|p| p.peak_rss).max().unwrap_or(0),
            base_rss: parts.iter().map(|p| p.base_rss).min().unwrap_or(0),
            rivet_committed: parts.iter().rev().find_map(|p| p.rivet_committed),
            rivet_mappings: parts.iter().rev().find_map(|p| p.rivet_mappings),
        }
    }

    fn from_output(output: &str) -> Option<ChildFigures> {
        let line = output.lines().find(|l| l.starts_with(CHILD_TAG))?;
        let fields: HashMap<&str, &str> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .collect();
        let times = fields
            .get("times")?
            .split(',')
            .map(|t| t.parse::<f64>().ok())
            .collect::<Option<Vec<f64>>>()?;
        Some(ChildFigures {
            times,
            rss_delta: fields.get("rss_delta")?.parse().ok()?,
            committed_delta: fields.get("committed_delta")?.parse().ok()?,
            maps_delta: fields.get("maps_delta")?.parse().ok()?,
            peak_rss: fields.get("peak_rss")?.parse().ok()?,
            base_rss: fields.get("base_rss")?.parse().ok()?,
            rivet_committed: fields.get("rivet_committed").and_then(|v| v.parse().ok()),
            rivet_mappings: fields.get("rivet_mappings").and_then(|v| v.parse().ok()),
        })
    }
}

/// One (kind, linker) to run in a child process.
enum Job {
    Link(Linker),
    EndToEnd(Compiler),
    Memory(Manager),
}

impl Job {
    fn kind(&self) -> &'static str {
        match self {
            Job::Link(_) => "link",
            Job::EndToEnd(_) => "e2e",
            Job::Memory(_) => "memory",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Job::Link(l) => l.name(),
            Job::EndToEnd(c) => c.name(),
            Job::Memory(m) => m.name(),
        }
    }
}

/// Checks the linked code: `f0(2)` must return what the model says.
/// Returns (got, want) when it does not.
fn check_linked(linked: &Linked<'_>, functions: usize, lookups: &[String]) -> Option<(i64, i64)> {
    // A user's objects (no generated functions) have no model to check.
    if functions == 0 {
        return None;
    }
    let &address = linked.addresses.first()?;
    if lookups.first().map(String::as_str) != Some("f0") {
        return None;
    }
    // SAFETY: `address` is the finalized address the linker returned for
    // `f0`, which the generator defines as `i64 f0(i64)` (the bundle is
    // written by this program's parent from the generator). Every linker
    // under test has made it executable before returning it.
    let got = unsafe {
        let f: extern "C" fn(i64) -> i64 = std::mem::transmute(address as usize);
        f(2)
    };
    let want = gen::expected(functions, 0, 2);
    (got != want).then_some((got, want))
}

/// Links (or compiles and links) `bundle` once with the job's linker,
/// checks the result against the model, and calls `observe` while the
/// result is alive. Returns the time the linker took.
fn run_once(
    job: &Job,
    name: &str,
    bundle: &Bundle,
    observe: &mut dyn FnMut(&Linked<'_>),
) -> Result<Duration> {
    let mut wrong = None;
    let mut on_linked = |linked: &Linked<'_>| -> rivet::Result<()> {
        wrong = check_linked(linked, bundle.functions, &bundle.lookups);
        observe(linked);
        Ok(())
    };
    let elapsed = match job {
        Job::Link(linker) => {
            linkers::link(*linker, &bundle.entries, &bundle.lookups, &mut on_linked)?
        }
        Job::EndToEnd(compiler) => {
            let ir: Vec<(String, String)> = bundle
                .entries
                .iter()
                .map(|(n, b)| (n.clone(), String::from_utf8_lossy(b).into_owned()))
                .collect();
            linkers::compile_and_link(*compiler, &ir, &bundle.lookups, &mut on_linked)?
        }
        // Measured by memory::measure, never run through here.
        Job::Memory(m) => return Err(BenchError::BadChildArgument(m.name().to_string())),
    };
    if let Some((got, want)) = wrong {
        return Err(BenchError::WrongResult {
            linker: name.to_string(),
            call: "f0(2)".to_string(),
            got,
            want,
        });
    }
    Ok(elapsed)
}

/// Stack of the thread a child measures on. LLJIT links objects that
/// depend on each other recursively (each link looks up the next object's
/// symbols, which links it, in place), about a stack frame chain per object
/// in a chain; 10,000 such objects overflow the default 8 MiB main stack.
/// The memory is reserved, and only what is used is committed.
const CHILD_STACK: usize = 1 << 30;

fn child(spec: &str) -> Result<()> {
    if spec.starts_with("memory,") {
        // Before any other thread allocates: the figures count mappings.
        memory::heap_only_malloc();
    }
    let spec = spec.to_string();
    let thread = std::thread::Builder::new()
        .name("bench-child".to_string())
        .stack_size(CHILD_STACK)
        .spawn(move || child_on_this_thread(&spec))
        .map_err(|source| Error::Io {
            path: PathBuf::from("benchmark thread"),
            source,
        })?;
    match thread.join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn child_on_this_thread(spec: &str) -> Result<()> {
    let bad = || BenchError::BadChildArgument(spec.to_string());
    let mut parts = spec.splitn(4, ',');
    let (Some(kind), Some(name), Some(runs), Some(path)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let job = match kind {
        "link" => Job::Link(Linker::from_name(name).ok_or_else(bad)?),
        "e2e" => Job::EndToEnd(Compiler::from_name(name).ok_or_else(bad)?),
        "memory" => Job::Memory(Manager::from_name(name).ok_or_else(bad)?),
        _ => return Err(bad()),
    };
    let runs: usize = runs.parse().map_err(|_| bad())?;
    let bundle = Bundle::read(Path::new(path))?;
    if let Job::Memory(manager) = job {
        let spec = Spec {
            split: Split::Standalone,
            ..Spec::single(bundle.functions)
        };
        let warmup = bundle.warmup.as_ref().map_or(&[][..], |w| &w.entries[..]);
        let figures = memory::measure(manager, &spec, &bundle.entries, warmup)?;
        println!("{}", figures.to_line());
        return Ok(());
    }
    // A small input of the same shape first, untimed: it pages in the
    // linker's code and warms the allocator, so that the first measured run
    // is not a cold start.
    if let Some(warmup) = &bundle.warmup {
        run_once(&job, name, warmup, &mut |_| {})?;
    }
    let base = snapshot();
    let started = Instant::now();
    let mut figures = ChildFigures {
        base_rss: base.rss,
        ..ChildFigures::default()
    };
    let (mut rss, mut committed, mut maps) = (Vec::new(), Vec::new(), Vec::new());
    while figures.times.len() < runs.max(1) {
        let before = snapshot();
        let mut during = None;
        let mut rivet = None;
        let elapsed = run_once(&job, name, &bundle, &mut |linked| {
            during = Some(snapshot());
            rivet = linked.rivet_stats;
        })?;
        figures.times.push(elapsed.as_secs_f64());
        if let Some(during) = during {
            rss.push(during.rss as i64 - before.rss as i64);
            committed.push(during.committed as i64 - before.committed as i64);
            maps.push(during.mappings as i64 - before.mappings as i64);
        }
        if let Some(stats) = rivet {
            figures.rivet_committed = Some(stats.committed_bytes);
            figures.rivet_mappings = Some(stats.mappings);
        }
        if started.elapsed() + elapsed > CHILD_BUDGET {
            break;
        }
    }
    figures.rss_delta = median_i64(&rss);
    figures.committed_delta = median_i64(&committed);
    figures.maps_delta = median_i64(&maps);
    figures.peak_rss = snapshot().peak_rss;
    println!("{}", figures.to_line());
    Ok(())
}

/// How a child ended.
enum Outcome {
    Done(ChildFigures),
    /// Killed after running this long without finishing its first run.
    TimedOut(Duration),
    /// Exited with an error or a signal; the reason, from its stderr.
    Failed(String),
}

/// How a child process ended, before its output is read as figures.
enum ChildExit {
    /// It exited: whether it succeeded, its stdout, and a failure's reason
    /// (its status and the last lines of its stderr).
    Exited {
        success: bool,
        stdout: String,
        why: String,
    },
    /// Killed after running this long.
    TimedOut(Duration),
}

/// Runs one child; kills it (it is this process's own child) once it has
/// run for `timeout`.
fn run_child_process(
    exe: &Path,
    job: &Job,
    runs: usize,
    bundle: &Path,
    timeout: Duration,
) -> Result<ChildExit> {
    use std::io::Read as _;
    use std::process::{Command, Stdio};

    let arg = format!("{},{},{runs},{}", job.kind(), job.name(), bundle.display());
    let io_error = |source| Error::Io {
        path: exe.to_path_buf(),
        source,
    };
    let mut child = Command::new(exe)
        .args(["bench", "--child", &arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io_error)?;
    // Drain both pipes on threads so that a chatty child cannot block.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io_error)? {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        return Ok(ChildExit::TimedOut(timeout));
    };
    let last: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let tail = last[last.len().saturating_sub(2)..].join(" / ");
    Ok(ChildExit::Exited {
        success: status.success(),
        stdout,
        why: format!("{status}: {tail}"),
    })
}

/// Runs one timing child and reads its figures.
fn run_child(
    exe: &Path,
    job: &Job,
    runs: usize,
    bundle: &Path,
    timeout: Duration,
) -> Result<Outcome> {
    Ok(match run_child_process(exe, job, runs, bundle, timeout)? {
        ChildExit::TimedOut(t) => Outcome::TimedOut(t),
        ChildExit::Exited {
            success,
            stdout,
            why,
        } => match ChildFigures::from_output(&stdout) {
            Some(f) if success => Outcome::Done(f),
            _ => Outcome::Failed(why),
        },
    })
}

/// Runs one memory child and reads its figures, or why there are none.
fn run_memory_child(
    exe: &Path,
    manager: Manager,
    bundle: &Path,
    timeout: Duration,
) -> Result<std::result::Result<MemoryFigures, String>> {
    Ok(
        match run_child_process(exe, &Job::Memory(manager), 1, bundle, timeout)? {
            ChildExit::TimedOut(t) => Err(format!("did not finish in {} s", t.as_secs())),
            ChildExit::Exited {
                success,
                stdout,
                why,
            } => match MemoryFigures::from_output(&stdout) {
                Some(f) if success => Ok(f),
                _ => Err(why),
            },
        },
    )
}

/// One row of the table.
#[derive(Debug, Clone)]
struct Row {
    case: &'static str,
    linker: &'static str,
    figures: ChildFigures,
    relocations: Option<usize>,
    /// The child was killed after this long, before its first run ended.
    timed_out: Option<Duration>,
    /// The child failed; why.
    failed: Option<String>,
}

/// A median, or for a linker that timed out the time it was given (a lower bound).
#[derive(Debug, Clone, Copy)]
struct Median {
    seconds: f64,
    at_least: bool,
}

impl Row {
    fn from_outcome(
        case: &'static str,
        linker: &'static str,
        outcome: Outcome,
        relocations: Option<usize>,
    ) -> Row {
        let (figures, timed_out, failed) = match outcome {
            Outcome::Done(f) => (f, None, None),
            Outcome::TimedOut(t) => (ChildFigures::default(), Some(t), None),
            Outcome::Failed(why) => (ChildFigures::default(), None, Some(why)),
        };
        Row {
            case,
            linker,
            figures,
            relocations,
            timed_out,
            failed,
        }
    }

    fn median(&self) -> Median {
        match self.timed_out {
            Some(t) => Median {
                seconds: t.as_secs_f64(),
                at_least: true,
            },
            None => Median {
                seconds: median(&self.figures.times),
                at_least: false,
            },
        }
    }
}

/// `numerator / denominator` as a ratio, marked `>` or `<` when either is a lower bound.
fn bounded_ratio(numerator: Median, denominator: Median) -> String {
    let x = numerator.seconds / denominator.seconds;
    match (numerator.at_least, denominator.at_least) {
        (false, false) => ratio(x),
        (true, false) => format!("> {}", ratio(x)),
        (false, true) => format!("< {}", ratio(x)),
        (true, true) => String::new(),
    }
}

/// Codegen and content figures of one compiled case.
struct InputNote {
    case: &'static str,
    objects: usize,
    functions: usize,
    sections: usize,
    relocations: usize,
    bytes: usize,
    parse: Duration,
    codegen: Duration,
}

/// Runs the selected cases and returns the report (Markdown).
pub fn run(options: &Options) -> Result<String> {
    let user = if options.objects.is_empty() {
        None
    } else {
        Some(inputs::from_files(&options.objects)?)
    };
    let cases = if user.is_some() && options.cases.is_empty() {
        Vec::new()
    } else {
        selected(options)?
    };
    let runs = options.runs.unwrap_or(if options.quick { 5 } else { 9 });
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        path: PathBuf::from("current executable"),
        source,
    })?;
    let dir = std::env::temp_dir().join(format!("rivet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io {
        path: dir.clone(),
        source,
    })?;
    let result = run_cases(&cases, user.as_ref(), runs, options.quick, &exe, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_cases(
    cases: &[Case],
    user: Option<&Objects>,
    runs: usize,
    quick: bool,
    exe: &Path,
    dir: &Path,
) -> Result<String> {
    let timeout = if quick {
        QUICK_CHILD_TIMEOUT
    } else {
        CHILD_TIMEOUT
    };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut speed = Vec::new();
    let mut memory_tables = String::new();
    if let Some(objects) = user {
        notes.push(note(USER_CASE, objects));
        // The warm-up links the same objects once, untimed.
        let path = dir.join(format!("{USER_CASE}.bundle"));
        let bundle = |warmup| Bundle {
            functions: objects.functions,
            entries: objects.objects.clone(),
            lookups: objects.lookups.clone(),
            warmup,
        };
        bundle(Some(Box::new(bundle(None)))).write(&path)?;
        for linker in Linker::ALL {
            eprintln!("bench: {USER_CASE}: {}", linker.name());
            let outcome = run_child(exe, &Job::Link(linker), runs, &path, timeout)?;
            rows.push(Row::from_outcome(
                USER_CASE,
                linker.name(),
                outcome,
                Some(objects.relocations),
            ));
        }
        let _ = std::fs::remove_file(&path);
    }
    for case in cases {
        match case.kind {
            CaseKind::Link(spec) => {
                eprintln!("bench: {}: generating and compiling", case.name);
                let objects = inputs::compile(&spec)?;
                notes.push(note(case.name, &objects));
                let path = write_object_bundle(dir, case.name, &spec, &objects)?;
                for linker in Linker::ALL {
                    eprintln!("bench: {}: {}", case.name, linker.name());
                    let outcome = run_child(exe, &Job::Link(linker), runs, &path, timeout)?;
                    rows.push(Row::from_outcome(
                        case.name,
                        linker.name(),
                        outcome,
                        Some(objects.relocations),
                    ));
                }
                let _ = std::fs::remove_file(&path);
            }
            CaseKind::EndToEnd(spec) => {
                let path = dir.join(format!("{}.bundle", case.name));
                let ir_bundle = |spec: &Spec, warmup: Option<Box<Bundle>>| Bundle {
                    functions: spec.functions,
                    entries: spec
                        .modules()
                        .into_iter()
                        .map(|(n, ir)| (n, ir.into_bytes()))
                        .collect(),
                    lookups: spec.lookups(),
                    warmup,
                };
                let warmup = ir_bundle(
                    &Spec {
                        functions: WARMUP_FUNCTIONS,
                        ..spec
                    },
                    None,
                );
                ir_bundle(&spec, Some(Box::new(warmup))).write(&path)?;
                // Compiling dominates: a few runs are enough. The engines
                // take turns, one child per run, so that a change in the
                // machine's load during the case hits both alike.
                let e2e_runs = runs.clamp(1, 3);
                let mut merged: Vec<Vec<ChildFigures>> = vec![Vec::new(); Compiler::ALL.len()];
                let mut ended: Vec<Option<Outcome>> = Compiler::ALL.iter().map(|_| None).collect();
                for round in 0..e2e_runs {
                    for (k, compiler) in Compiler::ALL.into_iter().enumerate() {
                        if ended[k].is_some() {
                            continue;
                        }
                        eprintln!(
                            "bench: {}: {} (run {} of {e2e_runs})",
                            case.name,
                            compiler.name(),
                            round + 1
                        );
                        match run_child(exe, &Job::EndToEnd(compiler), 1, &path, timeout)? {
                            Outcome::Done(f) => merged[k].push(f),
                            other => ended[k] = Some(other),
                        }
                    }
                }
                for ((compiler, figures), ended) in Compiler::ALL.into_iter().zip(merged).zip(ended)
                {
                    let outcome = match ended {
                        Some(other) => other,
                        None => Outcome::Done(ChildFigures::merge(&figures)),
                    };
                    rows.push(Row::from_outcome(case.name, compiler.name(), outcome, None));
                }
                let _ = std::fs::remove_file(&path);
            }
            CaseKind::Memory(spec) => {
                eprintln!("bench: {}: generating and compiling", case.name);
                let objects = inputs::compile(&spec)?;
                let section_bytes = memory::section_bytes(&objects.objects)?;
                let path = write_object_bundle(dir, case.name, &spec, &objects)?;
                let mut memory_rows = Vec::new();
                for manager in Manager::ALL {
                    eprintln!("bench: {}: {}", case.name, manager.name());
                    memory_rows.push(MemoryRow {
                        manager,
                        figures: run_memory_child(exe, manager, &path, timeout)?,
                    });
                }
                memory_tables.push_str(&memory::render(case.name, section_bytes, &memory_rows));
                let _ = std::fs::remove_file(&path);
            }
            CaseKind::CodeSpeed { iterations } => {
                eprintln!("bench: {}", case.name);
                let iterations = if quick { iterations / 5 } else { iterations };
                speed = code_speed(iterations, 5)?;
            }
        }
    }
    let mut report = if rows.is_empty() && notes.is_empty() && speed.is_empty() {
        String::new()
    } else {
        render(&rows, &notes, &speed)
    };
    report.push_str(&memory_tables);
    Ok(report)
}

/// Writes `objects` (compiled from `spec`) to a bundle file in `dir` for the
/// children of `case`, with a small input of the same shape to warm up on.
fn write_object_bundle(dir: &Path, case: &str, spec: &Spec, objects: &Objects) -> Result<PathBuf> {
    let warmup = inputs::compile(&Spec {
        functions: WARMUP_FUNCTIONS,
        ..*spec
    })?;
    let path = dir.join(format!("{case}.bundle"));
    Bundle {
        functions: objects.functions,
        entries: objects.objects.clone(),
        lookups: objects.lookups.clone(),
        warmup: Some(Box::new(Bundle {
            functions: warmup.functions,
            entries: warmup.objects,
            lookups: warmup.lookups,
            warmup: None,
        })),
    }
    .write(&path)?;
    Ok(path)
}

fn note(case: &'static str, objects: &Objects) -> InputNote {
    InputNote {
        case,
        objects: objects.objects.len(),
        functions: objects.functions,
        sections: objects.sections,
        relocations: objects.relocations,
        bytes: objects.bytes(),
        parse: objects.parse_time,
        codegen: objects.codegen_time,
    }
}

/// One code-speed measurement.
#[derive(Debug, Clone)]
pub struct Speed {
    pub label: &'static str,
    /// Best nanoseconds per loop iteration over the repeats.
    pub ns_per_iteration: f64,
    pub result: i64,
}

/// Times `hot_loop(iterations)` linked by rivet from small-model PIC and from
/// large-model static code; `repeats` calls each, the best kept.
pub fn code_speed(iterations: u64, repeats: usize) -> Result<Vec<Speed>> {
    let mut out = Vec::new();
    for (label, shape) in [
        ("small-model PIC", CodeShape::SmallPic),
        ("large-model static", CodeShape::LargeStatic),
    ] {
        let tm = TargetMachine::new(&shape.target_options())?;
        let mut module = Module::parse_ir(&gen::hot_loop_ir(), "hot_loop")?;
        let bytes = tm.emit_object(&mut module)?;
        let engine = ExecutionEngine::with_lmm(Some(true))?;
        engine.add_object_bytes(bytes, "hot_loop.o")?;
        let address = engine.get_function_address("hot_loop")?;
        // SAFETY: `hot_loop` is defined by `gen::hot_loop_ir` as
        // `i64 hot_loop(i64)`, and the engine finalized it before returning
        // its address; the engine outlives every call below.
        let f: extern "C" fn(u64) -> i64 = unsafe { std::mem::transmute(address as usize) };
        let want = gen::hot_loop_expected(iterations);
        let _ = f(1000);
        let mut best = f64::INFINITY;
        for _ in 0..repeats.max(1) {
            let start = Instant::now();
            let got = f(std::hint::black_box(iterations));
            let elapsed = start.elapsed().as_secs_f64();
            if got != want {
                return Err(BenchError::WrongResult {
                    linker: format!("rivet ({label})"),
                    call: format!("hot_loop({iterations})"),
                    got,
                    want,
                });
            }
            best = best.min(elapsed);
        }
        out.push(Speed {
            label,
            ns_per_iteration: best * 1e9 / iterations.max(1) as f64,
            result: want,
        });
    }
    Ok(out)
}

fn ms(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{:.0}", seconds * 1e3)
    } else if seconds >= 0.01 {
        format!("{:.1}", seconds * 1e3)
    } else {
        format!("{:.3}", seconds * 1e3)
    }
}

fn mib(bytes: i64) -> String {
    format!("{:.1}", bytes as f64 / (1 << 20) as f64)
}

fn ratio(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}×")
    } else if x >= 10.0 {
        format!("{x:.1}×")
    } else {
        format!("{x:.2}×")
    }
}

fn render(rows: &[Row], notes: &[InputNote], speed: &[Speed]) -> String {
    let find = |case: &str, linker: &str| {
        rows.iter()
            .find(|r| r.case == case && r.linker == linker && r.failed.is_none())
            .map(Row::median)
            .filter(|m| m.seconds > 0.0)
    };
    let mut table: Vec<Vec<String>> = vec![[
        "case",
        "linker",
        "runs",
        "median ms",
        "min ms",
        "M reloc/s",
        "vs RTDyld core",
        "vs JITLink core",
        "vs LLJIT RTDyld",
        "vs LLJIT JITLink",
        "vs MCJIT",
        "÷ floor",
        "peak RSS MiB",
        "ΔRSS MiB",
        "Δcommitted MiB",
        "Δmaps",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()];
    for row in rows {
        if row.failed.is_some() {
            let mut cells = vec![
                row.case.to_string(),
                row.linker.to_string(),
                "0".to_string(),
            ];
            cells.push("failed".to_string());
            table.push(cells);
            continue;
        }
        let m = row.median();
        if m.seconds <= 0.0 {
            continue;
        }
        let vs = |linker: &str| {
            find(row.case, linker)
                .map(|other| bounded_ratio(other, m))
                .unwrap_or_default()
        };
        let is_link = row.relocations.is_some();
        let link_only = |text: String| if is_link { text } else { String::new() };
        let figures = &row.figures;
        let measured = |text: String| if m.at_least { String::new() } else { text };
        table.push(vec![
            row.case.to_string(),
            row.linker.to_string(),
            figures.times.len().to_string(),
            if m.at_least {
                format!("> {}", ms(m.seconds))
            } else {
                ms(m.seconds)
            },
            measured(ms(minimum(&figures.times))),
            row.relocations
                .map(|r| {
                    let rate = format!("{:.1}", r as f64 / m.seconds / 1e6);
                    if m.at_least {
                        format!("< {rate}")
                    } else {
                        rate
                    }
                })
                .unwrap_or_default(),
            link_only(vs(Core::RuntimeDyld.name())),
            link_only(vs(Core::JitLink.name())),
            link_only(vs(OrcLinker::RuntimeDyld.name())),
            link_only(vs(OrcLinker::JitLink.name())),
            if is_link {
                String::new()
            } else {
                vs(Compiler::Mcjit.name())
            },
            link_only(
                find(row.case, Linker::Floor.name())
                    .map(|f| bounded_ratio(m, f))
                    .unwrap_or_default(),
            ),
            measured(mib(figures.peak_rss as i64)),
            measured(mib(figures.rss_delta)),
            measured(mib(figures.committed_delta)),
            measured(figures.maps_delta.to_string()),
        ]);
    }
    let mut out = String::new();
    push_table(&mut out, &table);

    out.push_str(
        "\n\"vs X\" is X's median over this row's (above 1× this row is faster); \
         \"÷ floor\" is this row's median over the floor's. Δ columns are medians over \
         the runs of the change while the linked result is alive; peak RSS is the \
         child process's VmHWM (inputs and libLLVM included). A linker still \
         running when its time ran out is shown as \"> limit\", with no run measured.\n",
    );
    for row in rows {
        if let Some(why) = &row.failed {
            let _ = writeln!(out, "- {} {}: failed: {why}", row.case, row.linker);
        }
        if let (Some(c), Some(m)) = (row.figures.rivet_committed, row.figures.rivet_mappings) {
            let _ = writeln!(
                out,
                "- {} {}: rivet's memory manager reports {:.1} MiB committed in {} mapping(s).",
                row.case,
                row.linker,
                c as f64 / (1 << 20) as f64,
                m
            );
        }
    }

    if !notes.is_empty() {
        out.push_str(
            "\nInputs (compiled once per case; code generation is not in the link times):\n\n",
        );
        let mut t: Vec<Vec<String>> = vec![[
            "case",
            "objects",
            "functions",
            "loaded sections",
            "relocations",
            "object MiB",
            "IR parse s",
            "codegen s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()];
        for n in notes {
            t.push(vec![
                n.case.to_string(),
                n.objects.to_string(),
                n.functions.to_string(),
                n.sections.to_string(),
                n.relocations.to_string(),
                mib(n.bytes as i64),
                format!("{:.2}", n.parse.as_secs_f64()),
                format!("{:.2}", n.codegen.as_secs_f64()),
            ]);
        }
        push_table(&mut out, &t);
    }

    if !speed.is_empty() {
        out.push_str("\nSpeed of the linked code (hot_loop, linked by rivet, best of 5):\n\n");
        let base = speed[0].ns_per_iteration;
        let mut t: Vec<Vec<String>> = vec![vec![
            "code".to_string(),
            "ns / iteration".to_string(),
            "vs small-model PIC".to_string(),
        ]];
        for s in speed {
            t.push(vec![
                s.label.to_string(),
                format!("{:.3}", s.ns_per_iteration),
                ratio(s.ns_per_iteration / base),
            ]);
        }
        push_table(&mut out, &t);
    }

    let targets = targets(rows, notes);
    if !targets.is_empty() {
        out.push_str("\nTargets (issues 6 and 16):\n\n");
        for t in targets {
            let _ = writeln!(out, "- {t}");
        }
    }
    out
}

/// The targets, each with the figure measured and whether it is met.
fn targets(rows: &[Row], notes: &[InputNote]) -> Vec<String> {
    let med = |case: &str, linker: &str| {
        rows.iter()
            .find(|r| r.case == case && r.linker == linker)
            .filter(|r| r.timed_out.is_none() && r.failed.is_none())
            .map(|r| r.median().seconds)
            .filter(|m| *m > 0.0)
    };
    let verdict = |met: bool| if met { "met" } else { "MISSED" };
    let mut out = Vec::new();
    if let Some(r) = med("5k", "rivet") {
        out.push(format!(
            "5k object linked in ≤ 1.5 ms: {} ms, {}",
            ms(r),
            verdict(r <= 1.5e-3)
        ));
        if let Some(x) = med("5k", OrcLinker::RuntimeDyld.name()) {
            out.push(format!(
                "≥ 12× faster than RuntimeDyld: {}, {}",
                ratio(x / r),
                verdict(x / r >= 12.0)
            ));
        }
        if let Some(x) = med("5k", OrcLinker::JitLink.name()) {
            out.push(format!(
                "≥ 10× faster than JITLink: {}, {}",
                ratio(x / r),
                verdict(x / r >= 10.0)
            ));
        }
        for (case, goal) in [("5k", 8.0), ("20k", 6.0)] {
            if let (Some(r), Some(x)) = (med(case, "rivet"), med(case, Core::JitLink.name())) {
                out.push(format!(
                    "{case}: ≥ {goal}× faster than JITLink's core (issue 16): {}, {}",
                    ratio(x / r),
                    verdict(x / r >= goal)
                ));
            }
        }
        if let Some(f) = med("5k", Linker::Floor.name()) {
            out.push(format!(
                "within 2× of the floor (issues 6 and 16): {}, {}",
                ratio(r / f),
                verdict(r / f <= 2.0)
            ));
        }
        let per_reloc = |case: &str| {
            let relocs = notes.iter().find(|n| n.case == case)?.relocations as f64;
            Some(med(case, "rivet")? / relocs)
        };
        if let Some(base) = per_reloc("5k") {
            for case in ["20k", "20k-sections", "5k-sections"] {
                if let Some(c) = per_reloc(case) {
                    out.push(format!(
                        "cost per relocation, {case} over 5k ≤ 1.3×: {}, {}",
                        ratio(c / base),
                        verdict(c / base <= 1.3)
                    ));
                }
            }
        }
    }
    for row in rows.iter().filter(|r| {
        r.linker == Compiler::Rivet.name() && r.failed.is_none() && r.timed_out.is_none()
    }) {
        if let Some(m) = med(row.case, Compiler::Mcjit.name()) {
            let r = row.median().seconds;
            let generic = med(row.case, Compiler::RivetGenericCpu.name())
                .map(|g| {
                    format!(
                        " (rivet compiling for the generic CPU, as MCJIT does: {} ms, {:+.1}%)",
                        ms(g),
                        (g / m - 1.0) * 100.0
                    )
                })
                .unwrap_or_default();
            out.push(format!(
                "{}: add_module → address never slower than MCJIT: rivet {} ms, MCJIT {} ms, \
                 {:+.1}%, {}{generic}",
                row.case,
                ms(r),
                ms(m),
                (r / m - 1.0) * 100.0,
                verdict(r <= m)
            ));
        }
    }
    out
}

/// Appends `rows` (the first is the header) as an aligned Markdown table.
fn push_table(out: &mut String, rows: &[Vec<String>]) {
    push_table_with(out, rows, 2);
}

/// Appends `rows` as an aligned Markdown table whose first `text_columns`
/// columns are left-aligned text and the rest right-aligned figures.
fn push_table_with(out: &mut String, rows: &[Vec<String>], text_columns: usize) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for (i, row) in rows.iter().enumerate() {
        out.push('|');
        for (c, width) in widths.iter().enumerate() {
            let cell = row.get(c).map(String::as_str).unwrap_or("");
            let pad = width - cell.chars().count();
            if c < text_columns {
                let _ = write!(out, " {cell}{} |", " ".repeat(pad));
            } else {
                let _ = write!(out, " {}{cell} |", " ".repeat(pad));
            }
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for (c, width) in widths.iter().enumerate() {
                let dashes = "-".repeat(*width);
                if c < text_columns {
                    let _ = write!(out, " {dashes} |");
                } else {
                    let _ = write!(out, " {}: |", &dashes[..dashes.len().saturating_sub(1)]);
                }
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests;
