//! The benchmark inputs: IR of N functions shaped like JIT-compiled numeric
//! code, and a model of what they compute.
//!
//! Function `f{i}(d)` reads three globals (`g{i}`, `g{j}` and the external
//! [`EXT_GLOBAL`]) and, when `d > 0`, calls two other generated functions,
//! the external function [`EXT_FN`] and one generated function through a
//! table of function pointers, each with `d - 1`; it writes its result to
//! its own global `w{i}` and returns it. With PIC and the small code model
//! that is ten relocations a function: five GOT loads (`REX_GOTPCRELX`), three
//! calls (`PLT32`), one `.eh_frame` entry (`PC32`) and one table slot
//! (`R_X86_64_64`). Every function has `uwtable`, so `.eh_frame` is present.
//!
//! The globals `w{i}` are only written, never read, so what a function
//! returns depends on its index and `d` only: [`expected`] computes it in
//! Rust, which is how the tests check that every linker linked the code right.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rivet::llvm::{CodeModel, RelocModel, TargetOptions};

/// The external function every generated function calls.
pub const EXT_FN: &str = "rivet_bench_ext_fn";
/// The external global every generated function reads.
pub const EXT_GLOBAL: &str = "rivet_bench_ext_global";

/// The value of [`EXT_GLOBAL`] (the generated code reads [`EXT_GLOBAL_CELL`]).
pub const EXT_GLOBAL_VALUE: i64 = 11;

/// The storage the generated code reads as [`EXT_GLOBAL`]. Never written.
pub static EXT_GLOBAL_CELL: i64 = EXT_GLOBAL_VALUE;

/// The function the generated code calls as [`EXT_FN`].
pub extern "C" fn ext_fn(x: i64) -> i64 {
    x.wrapping_mul(3).wrapping_add(1)
}

/// The external names with their addresses in this process, to give every
/// linker (rivet's `add_symbol`, LLJIT's absolute symbols, MCJIT's global
/// mappings).
pub fn externals() -> [(&'static str, u64); 2] {
    let function: extern "C" fn(i64) -> i64 = ext_fn;
    [
        (EXT_FN, function as usize as u64),
        (EXT_GLOBAL, &EXT_GLOBAL_CELL as *const i64 as u64),
    ]
}

/// How the code is generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeShape {
    /// Position-independent, small code model: what rivet's arena allows.
    SmallPic,
    /// Static, large code model, like numba's objects: only absolute 64-bit
    /// relocations in code and data, `R_X86_64_PC64` in `.eh_frame`.
    LargeStatic,
}

impl CodeShape {
    /// Target options that produce this shape for the host.
    pub fn target_options(self) -> TargetOptions {
        let (reloc, code_model) = match self {
            CodeShape::SmallPic => (RelocModel::Pic, CodeModel::Small),
            CodeShape::LargeStatic => (RelocModel::Static, CodeModel::Large),
        };
        TargetOptions {
            reloc,
            code_model,
            ..TargetOptions::default()
        }
    }
}

/// One benchmark input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spec {
    /// Number of generated functions (at least 1).
    pub functions: usize,
    /// Every function and every global in its own section (what
    /// `-ffunction-sections -fdata-sections` gives): three sections a
    /// function. The C API cannot switch a target machine to function
    /// sections, so the IR names each section explicitly.
    pub sections: bool,
    pub shape: CodeShape,
    /// One module for all functions, or one per function.
    pub split: Split,
}

/// How the functions are spread over modules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Split {
    /// One module (object) holds every function.
    No,
    /// One module per function; each refers to other modules' functions
    /// and globals, so the modules link together.
    Linked,
    /// One module per function; each refers only to its own function and
    /// globals (and the host's), so each links on its own, in any order:
    /// what a JIT that finalizes every module as it comes needs.
    Standalone,
}

impl Spec {
    /// One object of `functions` functions, PIC, small code model.
    pub fn single(functions: usize) -> Spec {
        Spec {
            functions,
            sections: false,
            shape: CodeShape::SmallPic,
            split: Split::No,
        }
    }

    /// The IR of each module, with its name.
    pub fn modules(&self) -> Vec<(String, String)> {
        let n = self.functions.max(1);
        if self.split != Split::No {
            (0..n)
                .map(|i| (format!("bench_f{i}"), self.split_module(i)))
                .collect()
        } else {
            vec![(format!("bench_{n}"), self.whole_module())]
        }
    }

    /// The functions to look up after linking: one per module, so that every
    /// module is linked by each linker (LLJIT links lazily, per object).
    pub fn lookups(&self) -> Vec<String> {
        if self.split != Split::No {
            (0..self.functions.max(1))
                .map(|i| format!("f{i}"))
                .collect()
        } else {
            vec!["f0".to_string()]
        }
    }

    fn whole_module(&self) -> String {
        let n = self.functions.max(1);
        let mut ir = String::with_capacity(n * 1200);
        header(&mut ir);
        for i in 0..n {
            self.globals(&mut ir, i);
        }
        let _ = write!(ir, "@fn_table = global [{n} x ptr] [");
        for i in 0..n {
            let sep = if i + 1 == n { "" } else { ", " };
            let _ = write!(ir, "ptr @f{i}{sep}");
        }
        ir.push(']');
        if self.sections {
            ir.push_str(", section \".data.rel.fn_table\"");
        }
        ir.push_str(", align 8\n\n");
        for i in 0..n {
            self.function(&mut ir, i, n);
        }
        ir
    }

    fn split_module(&self, i: usize) -> String {
        let n = self.functions.max(1);
        let mut ir = String::with_capacity(1600);
        header(&mut ir);
        self.globals(&mut ir, i);
        let _ = writeln!(ir, "@tbl{i} = global ptr @f{i}, align 8");
        let idx = self.indices(i, n);
        let mut data = BTreeSet::new();
        let mut funcs = BTreeSet::new();
        data.insert(format!("@g{} = external global i64", idx.g));
        data.insert(format!("@tbl{} = external global ptr", idx.table));
        funcs.insert(format!("declare i64 @f{}(i64)", idx.call1));
        funcs.insert(format!("declare i64 @f{}(i64)", idx.call2));
        for decl in data {
            if !decl.starts_with(&format!("@g{i} ")) && !decl.starts_with(&format!("@tbl{i} ")) {
                let _ = writeln!(ir, "{decl}");
            }
        }
        for decl in funcs {
            if decl != format!("declare i64 @f{i}(i64)") {
                let _ = writeln!(ir, "{decl}");
            }
        }
        ir.push('\n');
        self.function(&mut ir, i, n);
        ir
    }

    fn indices(&self, i: usize, n: usize) -> Indices {
        match self.split {
            Split::Standalone => Indices::own(i),
            Split::No | Split::Linked => Indices::of(i, n),
        }
    }

    /// What `f{index}(depth)` returns in this spec's modules.
    pub fn expected(&self, index: usize, depth: u32) -> i64 {
        let n = self.functions.max(1);
        model(index % n, depth, &|i| self.indices(i, n))
    }

    fn globals(&self, ir: &mut String, i: usize) {
        let (g_section, w_section) = if self.sections {
            (
                format!(", section \".data.g{i}\""),
                format!(", section \".bss.w{i}\""),
            )
        } else {
            (String::new(), String::new())
        };
        let _ = writeln!(ir, "@g{i} = global i64 {}{g_section}, align 8", initial(i));
        let _ = writeln!(ir, "@w{i} = global i64 0{w_section}, align 8");
    }

    fn function(&self, ir: &mut String, i: usize, n: usize) {
        let idx = self.indices(i, n);
        let section = if self.sections {
            format!(" section \".text.f{i}\"")
        } else {
            String::new()
        };
        let slot = if self.split != Split::No {
            format!("  %fp = load ptr, ptr @tbl{}, align 8\n", idx.table)
        } else {
            format!(
                "  %slot = getelementptr inbounds [{n} x ptr], ptr @fn_table, i64 0, i64 {}\n  \
                 %fp = load ptr, ptr %slot, align 8\n",
                idx.table
            )
        };
        let _ = write!(
            ir,
            "define i64 @f{i}(i64 %d) #0{section} {{\n\
             entry:\n  \
             %a = load i64, ptr @g{i}, align 8\n  \
             %b = load i64, ptr @g{g}, align 8\n  \
             %c = load i64, ptr @{EXT_GLOBAL}, align 8\n  \
             %ab = add i64 %a, %b\n  \
             %s = add i64 %ab, %c\n  \
             %leaf = icmp eq i64 %d, 0\n  \
             br i1 %leaf, label %done, label %deeper\n\
             deeper:\n  \
             %d1 = sub i64 %d, 1\n  \
             %x = call i64 @f{c1}(i64 %d1)\n  \
             %y = call i64 @f{c2}(i64 %d1)\n  \
             %e = call i64 @{EXT_FN}(i64 %s)\n\
             {slot}  \
             %t = call i64 %fp(i64 %d1)\n  \
             %xy = add i64 %x, %y\n  \
             %xye = add i64 %xy, %e\n  \
             %xyet = add i64 %xye, %t\n  \
             %r1 = add i64 %xyet, %s\n  \
             br label %done\n\
             done:\n  \
             %r = phi i64 [ %s, %entry ], [ %r1, %deeper ]\n  \
             store i64 %r, ptr @w{i}, align 8\n  \
             ret i64 %r\n\
             }}\n\n",
            g = idx.g,
            c1 = idx.call1,
            c2 = idx.call2,
        );
    }
}

fn header(ir: &mut String) {
    let _ = writeln!(ir, "@{EXT_GLOBAL} = external global i64");
    let _ = writeln!(ir, "declare i64 @{EXT_FN}(i64)");
    ir.push_str("attributes #0 = { nounwind uwtable }\n\n");
}

/// The initial value of `g{i}`.
fn initial(i: usize) -> i64 {
    (i % 1000) as i64 + 1
}

/// Which globals and functions `f{i}` refers to, for `n` functions.
struct Indices {
    g: usize,
    call1: usize,
    call2: usize,
    table: usize,
}

impl Indices {
    fn of(i: usize, n: usize) -> Indices {
        Indices {
            g: (7 * i + 3) % n,
            call1: (i + 1) % n,
            call2: (13 * i + 5) % n,
            table: (31 * i + 17) % n,
        }
    }

    /// A function that uses only itself and its own globals.
    fn own(i: usize) -> Indices {
        Indices {
            g: i,
            call1: i,
            call2: i,
            table: i,
        }
    }
}

/// What `f{index}(depth)` returns when `functions` functions were generated
/// in one module or in linked modules.
pub fn expected(functions: usize, index: usize, depth: u32) -> i64 {
    let n = functions.max(1);
    model(index % n, depth, &|i| Indices::of(i, n))
}

/// What `f{i}(depth)` returns when `indices` says what each function uses.
fn model(i: usize, depth: u32, indices: &dyn Fn(usize) -> Indices) -> i64 {
    let idx = indices(i);
    let s = initial(i)
        .wrapping_add(initial(idx.g))
        .wrapping_add(EXT_GLOBAL_VALUE);
    if depth == 0 {
        return s;
    }
    let x = model(idx.call1, depth - 1, indices);
    let y = model(idx.call2, depth - 1, indices);
    let e = ext_fn(s);
    let t = model(idx.table, depth - 1, indices);
    x.wrapping_add(y)
        .wrapping_add(e)
        .wrapping_add(t)
        .wrapping_add(s)
}

/// The IR of the code-speed loop: `hot_loop(n)` calls two small functions
/// `n` times and reads three globals, accumulating a result.
pub fn hot_loop_ir() -> String {
    "@hot_a = global i64 3, align 8\n\
     @hot_b = global i64 5, align 8\n\
     @hot_c = global i64 7, align 8\n\
     define i64 @hot_step(i64 %x) #1 {\n  \
     %a = load i64, ptr @hot_a, align 8\n  \
     %b = load i64, ptr @hot_b, align 8\n  \
     %m = mul i64 %x, %a\n  \
     %r = add i64 %m, %b\n  \
     ret i64 %r\n\
     }\n\
     define i64 @hot_mix(i64 %x) #1 {\n  \
     %c = load i64, ptr @hot_c, align 8\n  \
     %r = xor i64 %x, %c\n  \
     ret i64 %r\n\
     }\n\
     define i64 @hot_loop(i64 %n) #0 {\n\
     entry:\n  \
     %none = icmp eq i64 %n, 0\n  \
     br i1 %none, label %exit, label %loop\n\
     loop:\n  \
     %i = phi i64 [ 0, %entry ], [ %i1, %loop ]\n  \
     %acc = phi i64 [ 1, %entry ], [ %acc1, %loop ]\n  \
     %s = call i64 @hot_step(i64 %acc)\n  \
     %m = call i64 @hot_mix(i64 %i)\n  \
     %acc1 = add i64 %s, %m\n  \
     %i1 = add i64 %i, 1\n  \
     %more = icmp ult i64 %i1, %n\n  \
     br i1 %more, label %loop, label %exit\n\
     exit:\n  \
     %r = phi i64 [ 1, %entry ], [ %acc1, %loop ]\n  \
     ret i64 %r\n\
     }\n\
     attributes #0 = { nounwind }\n\
     attributes #1 = { nounwind noinline }\n"
        .to_string()
}

/// What `hot_loop(n)` returns.
pub fn hot_loop_expected(n: u64) -> i64 {
    if n == 0 {
        return 1;
    }
    let mut acc: i64 = 1;
    for i in 0..n {
        let s = acc.wrapping_mul(3).wrapping_add(5);
        let m = (i as i64) ^ 7;
        acc = s.wrapping_add(m);
    }
    acc
}

#[cfg(test)]
mod tests;
