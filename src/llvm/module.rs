//! An LLVM module that owns its context.

use crate::Result;

/// An LLVM IR module. Owns its own LLVM context; dropping it disposes both.
/// `Send` (it may move between threads), not `Sync`.
pub struct Module {}

impl Module {
    /// Parses IR text. `name` names the module in errors. Errors carry LLVM's
    /// message, which includes the line and column.
    pub fn parse_ir(text: &str, name: &str) -> Result<Module> {
        let _ = (text, name);
        todo!()
    }

    /// Parses bitcode.
    pub fn parse_bitcode(bytes: &[u8], name: &str) -> Result<Module> {
        let _ = (bytes, name);
        todo!()
    }

    /// Parses bitcode or IR text, whichever `bytes` hold.
    pub fn parse(bytes: &[u8], name: &str) -> Result<Module> {
        let _ = (bytes, name);
        todo!()
    }

    /// A module with no code.
    pub fn empty(name: &str) -> Module {
        let _ = name;
        todo!()
    }

    /// The module's identifier.
    pub fn name(&self) -> String {
        todo!()
    }

    /// The module's target triple ("" when unset).
    pub fn triple(&self) -> String {
        todo!()
    }

    /// The module's data-layout string ("" when unset).
    pub fn data_layout(&self) -> String {
        todo!()
    }

    /// The module printed as IR text.
    pub fn to_ir_string(&self) -> String {
        todo!()
    }

    /// The module as bitcode.
    pub fn to_bitcode(&self) -> Vec<u8> {
        todo!()
    }
}
