//! Turning a [`Spec`] into object bytes once (timing code generation apart
//! from linking), counting what the objects hold, and passing inputs to a
//! child process in a small bundle file.

use std::path::Path;
use std::time::{Duration, Instant};

use super::gen::Spec;
use rivet::llvm::{Module, TargetMachine};
use rivet::load::{Definition, ObjectFile, SymbolKind};
use rivet::{Error, Result};

/// The compiled objects of one spec, with what they hold.
#[derive(Debug, Clone)]
pub struct Objects {
    /// (name, bytes) of each object.
    pub objects: Vec<(String, Vec<u8>)>,
    /// The names every linker looks up.
    pub lookups: Vec<String>,
    /// Number of generated functions.
    pub functions: usize,
    /// Relocations in loaded sections, over all objects.
    pub relocations: usize,
    /// Loaded sections (code, data, zero-fill, unwind), over all objects.
    pub sections: usize,
    /// Time to parse the IR text into modules.
    pub parse_time: Duration,
    /// Time to generate code (module → object bytes).
    pub codegen_time: Duration,
}

impl Objects {
    /// Total bytes of the objects.
    pub fn bytes(&self) -> usize {
        self.objects.iter().map(|(_, b)| b.len()).sum()
    }
}

/// A user's objects (`rivet bench --object FILE...`), read as they are:
/// each named by its file name, looked up by up to three of the functions
/// they export (in name order).
pub fn from_files(paths: &[std::path::PathBuf]) -> Result<Objects> {
    let mut objects = Vec::new();
    let (mut relocations, mut sections) = (0, 0);
    let mut exported = std::collections::BTreeSet::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let object = ObjectFile::parse(&bytes, &name)?;
        for symbol in &object.symbols {
            if symbol.is_external()
                && symbol.kind == SymbolKind::Function
                && matches!(symbol.definition, Definition::Section { .. })
            {
                exported.insert(symbol.name.to_owned());
            }
        }
        let (r, s) = count(&bytes, &name)?;
        relocations += r;
        sections += s;
        objects.push((name, bytes));
    }
    if exported.is_empty() {
        return Err(Error::UnsupportedObject {
            object: objects.first().map(|o| o.0.clone()).unwrap_or_default(),
            reason: "the objects export no function to look up".to_owned(),
        });
    }
    Ok(Objects {
        objects,
        lookups: exported.into_iter().take(3).collect(),
        functions: 0,
        relocations,
        sections,
        parse_time: Duration::ZERO,
        codegen_time: Duration::ZERO,
    })
}

/// Relocations and sections of one object, as rivet's loader sees them.
pub fn count(bytes: &[u8], name: &str) -> Result<(usize, usize)> {
    let object = ObjectFile::parse(bytes, name)?;
    let loaded = object.sections.iter().filter(|s| s.kind.is_loaded());
    let (mut relocations, mut sections) = (0, 0);
    for s in loaded {
        sections += 1;
        relocations += s.relocations.len();
    }
    Ok((relocations, sections))
}

/// Generates, parses and compiles `spec` for the host.
pub fn compile(spec: &Spec) -> Result<Objects> {
    let tm = TargetMachine::new(&spec.shape.target_options())?;
    let modules = spec.modules();
    let mut parse_time = Duration::ZERO;
    let mut codegen_time = Duration::ZERO;
    let mut objects = Vec::with_capacity(modules.len());
    let (mut relocations, mut sections) = (0, 0);
    for (name, ir) in &modules {
        let start = Instant::now();
        let mut module = Module::parse_ir(ir, name)?;
        let parsed = Instant::now();
        let bytes = tm.emit_object(&mut module)?;
        codegen_time += parsed.elapsed();
        parse_time += parsed - start;
        let (r, s) = count(&bytes, name)?;
        relocations += r;
        sections += s;
        objects.push((format!("{name}.o"), bytes));
    }
    Ok(Objects {
        objects,
        lookups: spec.lookups(),
        functions: spec.functions,
        relocations,
        sections,
        parse_time,
        codegen_time,
    })
}

/// Inputs for one child run: entries (name, bytes — objects or IR text),
/// the look-up names and the number of generated functions, and a smaller
/// input of the same shape to warm up on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bundle {
    pub functions: usize,
    pub entries: Vec<(String, Vec<u8>)>,
    pub lookups: Vec<String>,
    pub warmup: Option<Box<Bundle>>,
}

const BUNDLE_MAGIC: &[u8; 8] = b"RVBENCH1";

impl Bundle {
    /// Writes the bundle to `path`.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut out = Vec::with_capacity(64 + self.size_hint());
        out.extend_from_slice(BUNDLE_MAGIC);
        self.encode(&mut out);
        std::fs::write(path, out).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    fn size_hint(&self) -> usize {
        let own: usize = self
            .entries
            .iter()
            .map(|(n, b)| n.len() + b.len() + 16)
            .sum();
        own + self.warmup.as_ref().map_or(0, |w| w.size_hint())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.functions as u64).to_le_bytes());
        out.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (name, bytes) in &self.entries {
            put(out, name.as_bytes());
            put(out, bytes);
        }
        out.extend_from_slice(&(self.lookups.len() as u64).to_le_bytes());
        for name in &self.lookups {
            put(out, name.as_bytes());
        }
        match &self.warmup {
            Some(w) => {
                out.push(1);
                w.encode(out);
            }
            None => out.push(0),
        }
    }

    /// Reads a bundle written by [`Bundle::write`].
    pub fn read(path: &Path) -> Result<Bundle> {
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = || Error::MalformedObject {
            object: path.display().to_string(),
            reason: "not a benchmark bundle".to_string(),
        };
        let mut reader = Reader { data: &data, at: 0 };
        if reader.take(8).ok_or_else(bad)? != BUNDLE_MAGIC {
            return Err(bad());
        }
        let bundle = Bundle::decode(&mut reader, 0).ok_or_else(bad)?;
        if reader.at != data.len() {
            return Err(bad());
        }
        Ok(bundle)
    }

    fn decode(reader: &mut Reader<'_>, depth: usize) -> Option<Bundle> {
        let functions = reader.u64()? as usize;
        let count = reader.u64()?;
        let mut entries = Vec::new();
        for _ in 0..count {
            let name = reader.string()?;
            let bytes = reader.blob()?.to_vec();
            entries.push((name, bytes));
        }
        let count = reader.u64()?;
        let mut lookups = Vec::new();
        for _ in 0..count {
            lookups.push(reader.string()?);
        }
        let warmup = match reader.take(1)? {
            [0] => None,
            // One level of warm-up input; a deeper nesting is not written.
            [1] if depth == 0 => Some(Box::new(Bundle::decode(reader, depth + 1)?)),
            _ => return None,
        };
        Some(Bundle {
            functions,
            entries,
            lookups,
            warmup,
        })
    }
}

fn put(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

struct Reader<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let slice = self.data.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    fn u64(&mut self) -> Option<u64> {
        let bytes: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    fn blob(&mut self) -> Option<&'a [u8]> {
        let n = usize::try_from(self.u64()?).ok()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.blob()?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests;
