//! Compiles the C++ shim that lets `rivet check` decode instructions with
//! LLVM's own disassembler (`src/check/shim/disasm.cpp`). Only the tools
//! crate has it: the library builds without a C++ compiler.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/check/shim/disasm.cpp");
    println!("cargo:rerun-if-env-changed=LLVM_SYS_221_PREFIX");
    let llvm_config = llvm_config();
    let cxxflags = query(&llvm_config, "--cxxflags");
    let libdir = query(&llvm_config, "--libdir");
    let version = query(&llvm_config, "--version");
    let major = version.split('.').next().unwrap_or("").trim().to_string();

    let mut build = cc::Build::new();
    build.cpp(true).file("src/check/shim/disasm.cpp");
    // LLVM's own flags (language standard, defines); its headers are
    // system headers, so that their warnings do not drown the shim's own.
    for flag in cxxflags.split_whitespace() {
        if let Some(dir) = flag.strip_prefix("-I") {
            build.flag("-isystem").flag(dir);
        } else if !flag.starts_with("-W") {
            build.flag(flag);
        }
    }
    // LLVM is built without RTTI; the shim must agree with it.
    build.flag_if_supported("-fno-rtti");
    build.compile("rivet_check_disasm");

    // The shim calls LLVM's C++ API, which lives in the same shared libLLVM
    // that llvm-sys links (`prefer-dynamic`).
    println!("cargo:rustc-link-search=native={}", libdir.trim());
    println!("cargo:rustc-link-lib=dylib=LLVM-{major}");
}

/// The `llvm-config` of the LLVM that llvm-sys uses.
fn llvm_config() -> PathBuf {
    match std::env::var_os("LLVM_SYS_221_PREFIX") {
        Some(prefix) => PathBuf::from(prefix).join("bin").join("llvm-config"),
        None => PathBuf::from("llvm-config"),
    }
}

fn query(llvm_config: &PathBuf, arg: &str) -> String {
    let output = Command::new(llvm_config)
        .arg(arg)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} {arg}: {e}", llvm_config.display()));
    if !output.status.success() {
        panic!(
            "{} {arg} failed: {}",
            llvm_config.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8_lossy(&output.stdout).into_owned()
}
