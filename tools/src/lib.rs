//! The tools built on the rivet library: the `rivet` command's checker
//! (`rivet check`, LLVM's RuntimeDyldChecker expressions over a link at
//! chosen addresses), its benchmark (`rivet bench`, rivet beside LLVM's
//! linkers on the same objects) and the LLJIT/MCJIT wrappers that
//! benchmark uses. The library itself (`rivet`) has no command-line parser
//! and compiles no C++.

pub mod bench;
pub mod check;
pub mod orc;
