//! The expression language of LLVM's RuntimeDyldChecker (`llvm-rtdyld
//! -check`, `llvm-jitlink -check`), evaluated against a linked image.
//!
//! ```text
//! check    := expr '=' expr
//! expr     := simple (binop simple)*          -- left to right, no precedence
//! binop    := '+' | '-' | '&' | '|' | '<<' | '>>'
//! simple   := ( '(' expr ')'
//!             | '*{' number '}' expr           -- a load: the address is all of
//!                                             --   the rest of the expression
//!             | identifier | call | number ) slice?
//! slice    := '[' number ':' number ']'        -- bits hi..lo, shifted down
//! call     := 'decode_operand(' symbol ('+' number)? ',' number ')'
//!           | 'next_pc(' symbol ')'
//!           | 'stub_addr(' container ',' symbol (',' kind)? ')'
//!           | 'got_addr(' container ',' symbol ')'
//!           | 'section_addr(' file ',' section ')'
//! number   := '0x' hex | decimal | '0' octal
//! ```
//!
//! Values are 64-bit and wrap. The points where LLVM's evaluator leaves the
//! result undefined are defined here: a shift by 64 or more gives 0, and a
//! slice of 64 bits keeps every bit. A load of address 0 is 0 (LLVM's rule
//! for zero-fill content).

/// What one decoded instruction operand holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// An immediate.
    Imm(i64),
    /// A register, by LLVM's register number for the target.
    Reg(u32),
    /// A floating-point immediate (single precision bits).
    SfpImm(u32),
    /// A floating-point immediate (double precision bits).
    DfpImm(u64),
    /// Something else (an expression or a nested instruction).
    Other,
}

/// One decoded instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// Its length in bytes.
    pub size: u64,
    /// Its operands, numbered as LLVM's `MCInst` numbers them.
    pub operands: Vec<Operand>,
    /// The instruction as LLVM prints it, for messages.
    pub text: String,
}

/// What expressions are evaluated against. Every method returns a message
/// naming what is missing on failure.
pub trait Env {
    /// The linked address of a symbol.
    fn symbol(&self, name: &str) -> Result<u64, String>;
    /// The linked address of section `section` of `file`.
    fn section_addr(&self, file: &str, section: &str) -> Result<u64, String>;
    /// The address of the stub for `symbol` in `container` (`file` or
    /// `file/section`); `kind` is the optional third argument.
    fn stub_addr(&self, container: &str, symbol: &str, kind: Option<&str>) -> Result<u64, String>;
    /// The address of the GOT slot for `symbol` in `container`.
    fn got_addr(&self, container: &str, symbol: &str) -> Result<u64, String>;
    /// `size` (1 to 8) bytes at `addr`, little-endian.
    fn load(&self, addr: u64, size: u32) -> Result<u64, String>;
    /// The instruction at `addr`.
    fn decode(&self, addr: u64) -> Result<Decoded, String>;
    /// A register's name, for messages.
    fn register_name(&self, _reg: u32) -> String {
        String::new()
    }
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Both sides have this value.
    True(u64),
    /// The sides differ.
    False { lhs: u64, rhs: u64 },
    /// The expression could not be evaluated.
    Error(String),
}

/// Evaluates `check` (`lhs = rhs`) against `env`.
pub fn evaluate(check: &str, env: &dyn Env) -> Outcome {
    let check = check.trim();
    let Some(eq) = check.find('=') else {
        return Outcome::Error("expected `lhs = rhs`: there is no `=`".to_string());
    };
    let side = |text: &str| -> Result<u64, String> {
        let mut parser = Parser {
            text,
            pos: 0,
            env,
            depth: 0,
        };
        let value = parser.expression()?;
        parser.skip_space();
        if parser.pos < text.len() {
            return Err(parser.unexpected("end of the expression"));
        }
        Ok(value)
    };
    let lhs = match side(check[..eq].trim()) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(e),
    };
    let rhs = match side(check[eq + 1..].trim()) {
        Ok(v) => v,
        Err(e) => return Outcome::Error(e),
    };
    if lhs == rhs {
        Outcome::True(lhs)
    } else {
        Outcome::False { lhs, rhs }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Add,
    Sub,
    And,
    Or,
    Shl,
    Shr,
}

impl BinOp {
    fn apply(self, a: u64, b: u64) -> u64 {
        match self {
            BinOp::Add => a.wrapping_add(b),
            BinOp::Sub => a.wrapping_sub(b),
            BinOp::And => a & b,
            BinOp::Or => a | b,
            BinOp::Shl => u32::try_from(b)
                .ok()
                .and_then(|b| a.checked_shl(b))
                .unwrap_or(0),
            BinOp::Shr => u32::try_from(b)
                .ok()
                .and_then(|b| a.checked_shr(b))
                .unwrap_or(0),
        }
    }
}

/// Characters of a symbol name, as RuntimeDyldChecker reads them.
fn is_symbol_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '_' | '.' | '$')
}

/// How deep parentheses and loads may nest: deeper is an error, not a
/// stack overflow.
const MAX_DEPTH: usize = 256;

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    env: &'a dyn Env,
    /// Parentheses and loads open now.
    depth: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_space(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    /// Consumes `token` (after white space) or fails naming what was expected.
    fn expect(&mut self, token: &str) -> Result<(), String> {
        self.skip_space();
        if self.rest().starts_with(token) {
            self.pos += token.len();
            Ok(())
        } else {
            Err(self.unexpected(&format!("`{token}`")))
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        let rest = self.rest().trim_start();
        if rest.is_empty() {
            format!("expected {expected} in `{}`, found the end", self.text)
        } else {
            let token: String = rest.chars().take(12).collect();
            format!("expected {expected} in `{}`, found `{token}`", self.text)
        }
    }

    /// `simple (binop simple)*`, left to right.
    fn expression(&mut self) -> Result<u64, String> {
        let mut value = self.simple()?;
        while let Some(op) = self.binop() {
            let rhs = self.simple()?;
            value = op.apply(value, rhs);
        }
        Ok(value)
    }

    fn binop(&mut self) -> Option<BinOp> {
        self.skip_space();
        let rest = self.rest();
        let (op, len) = if rest.starts_with("<<") {
            (BinOp::Shl, 2)
        } else if rest.starts_with(">>") {
            (BinOp::Shr, 2)
        } else {
            match rest.chars().next()? {
                '+' => (BinOp::Add, 1),
                '-' => (BinOp::Sub, 1),
                '&' => (BinOp::And, 1),
                '|' => (BinOp::Or, 1),
                _ => return None,
            }
        };
        self.pos += len;
        Some(op)
    }

    /// Runs `inner` one nesting level deeper.
    fn nested(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<u64, String>,
    ) -> Result<u64, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "parentheses and loads nest more than {MAX_DEPTH} deep in `{}`",
                self.text
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn simple(&mut self) -> Result<u64, String> {
        self.skip_space();
        let value = match self.peek() {
            None => return Err(self.unexpected("a value")),
            Some('(') => {
                self.pos += 1;
                self.nested(|p| {
                    let value = p.expression()?;
                    p.expect(")")?;
                    Ok(value)
                })?
            }
            Some('*') => {
                self.pos += 1;
                return self.nested(Self::load);
            }
            Some(c) if c.is_ascii_alphabetic() || c == '_' => self.identifier()?,
            Some(c) if c.is_ascii_digit() => self.number()?,
            Some(_) => return Err(self.unexpected("`(`, `*`, a symbol or a number")),
        };
        self.skip_space();
        if self.peek() == Some('[') {
            self.pos += 1;
            return self.slice(value);
        }
        Ok(value)
    }

    /// `*{N}expr`: the address is everything up to the end of the enclosing
    /// expression, as in LLVM (`*{4}x + 4` loads from x + 4).
    fn load(&mut self) -> Result<u64, String> {
        self.expect("{")?;
        self.skip_space();
        let size = self.number()?;
        if !(1..=8).contains(&size) {
            return Err(format!(
                "a load reads 1 to 8 bytes, not {size}, in `{}`",
                self.text
            ));
        }
        self.expect("}")?;
        let addr = self.expression()?;
        if addr == 0 {
            return Ok(0);
        }
        self.env.load(addr, size as u32)
    }

    /// `[hi:lo]`: bits hi down to lo, shifted so that lo is bit 0.
    fn slice(&mut self, value: u64) -> Result<u64, String> {
        self.skip_space();
        let hi = self.number()?;
        self.expect(":")?;
        self.skip_space();
        let lo = self.number()?;
        self.expect("]")?;
        if hi < lo || hi > 63 {
            return Err(format!(
                "bit slice [{hi}:{lo}] is not within [63:0] with high >= low in `{}`",
                self.text
            ));
        }
        let width = hi - lo + 1;
        let mask = if width >= 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        Ok((value >> lo) & mask)
    }

    /// A number: `0x` hex, decimal, or octal after a leading `0` (LLVM reads
    /// numbers with radix auto-detection).
    fn number(&mut self) -> Result<u64, String> {
        let rest = self.rest();
        let (digits, radix, skip) = if let Some(hex) = rest.strip_prefix("0x") {
            let len = hex
                .find(|c: char| !c.is_ascii_hexdigit())
                .unwrap_or(hex.len());
            (&hex[..len], 16, 2)
        } else {
            let len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let digits = &rest[..len];
            if digits.len() > 1 && digits.starts_with('0') {
                (&digits[1..], 8, 1)
            } else {
                (digits, 10, 0)
            }
        };
        if digits.is_empty() && radix != 8 {
            return Err(self.unexpected("a number"));
        }
        let value = if digits.is_empty() {
            0
        } else {
            u64::from_str_radix(digits, radix).map_err(|_| {
                format!(
                    "`{}` is not a 64-bit number (radix {radix}) in `{}`",
                    &rest[..skip + digits.len()],
                    self.text
                )
            })?
        };
        self.pos += skip + digits.len();
        Ok(value)
    }

    fn symbol_name(&mut self) -> &'a str {
        self.skip_space();
        let rest = self.rest();
        let len = rest.find(|c| !is_symbol_char(c)).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    /// Text up to (not including) the next `stop`, trimmed: file and
    /// section names may hold characters symbols may not.
    fn raw_argument(&mut self, stop: char) -> Result<&'a str, String> {
        let rest = self.rest();
        let Some(len) = rest.find(stop) else {
            return Err(self.unexpected(&format!("`{stop}`")));
        };
        self.pos += len;
        Ok(rest[..len].trim())
    }

    fn identifier(&mut self) -> Result<u64, String> {
        let name = self.symbol_name();
        match name {
            "decode_operand" => self.decode_operand(),
            "next_pc" => self.next_pc(),
            "stub_addr" | "got_addr" => self.stub_or_got(name == "stub_addr"),
            "section_addr" => self.section_addr(),
            _ => self.env.symbol(name),
        }
    }

    /// `(label [+ offset], index)`: operand `index` of the instruction.
    fn decode_operand(&mut self) -> Result<u64, String> {
        self.expect("(")?;
        let label = self.symbol_name();
        let base = self.env.symbol(label)?;
        self.skip_space();
        let mut offset = 0;
        if self.peek() == Some('+') {
            self.pos += 1;
            self.skip_space();
            offset = self.number()?;
        }
        self.expect(",")?;
        self.skip_space();
        let index = self.number()?;
        self.expect(")")?;
        let at = base.wrapping_add(offset);
        let where_ = if offset == 0 {
            format!("`{label}`")
        } else {
            format!("`{label}` + {offset:#x}")
        };
        let insn = self
            .env
            .decode(at)
            .map_err(|e| format!("cannot decode the instruction at {where_}: {e}"))?;
        let Some(operand) = usize::try_from(index)
            .ok()
            .and_then(|i| insn.operands.get(i))
        else {
            return Err(format!(
                "operand {index} of the instruction at {where_} does not exist: `{}` has {} operands",
                insn.text,
                insn.operands.len()
            ));
        };
        match *operand {
            Operand::Imm(v) => Ok(v as u64),
            Operand::Reg(r) => Ok(u64::from(r)),
            Operand::SfpImm(bits) => Ok(u64::from(bits)),
            Operand::DfpImm(bits) => Ok(bits),
            Operand::Other => Err(format!(
                "operand {index} of `{}` at {where_} is neither an immediate nor a register",
                insn.text
            )),
        }
    }

    /// `(label)`: the address after the instruction at `label`.
    fn next_pc(&mut self) -> Result<u64, String> {
        self.expect("(")?;
        let label = self.symbol_name();
        let addr = self.env.symbol(label)?;
        self.expect(")")?;
        let insn = self
            .env
            .decode(addr)
            .map_err(|e| format!("cannot decode the instruction at `{label}`: {e}"))?;
        Ok(addr.wrapping_add(insn.size))
    }

    fn stub_or_got(&mut self, stub: bool) -> Result<u64, String> {
        self.expect("(")?;
        let container = self.raw_argument(',')?;
        self.expect(",")?;
        let symbol = self.symbol_name();
        self.skip_space();
        let mut kind = None;
        if self.peek() == Some(',') {
            self.pos += 1;
            kind = Some(self.raw_argument(')')?);
        }
        self.expect(")")?;
        if stub {
            self.env.stub_addr(container, symbol, kind)
        } else if kind.is_some() {
            Err(format!(
                "got_addr takes a container and a symbol, not a third argument, in `{}`",
                self.text
            ))
        } else {
            self.env.got_addr(container, symbol)
        }
    }

    fn section_addr(&mut self) -> Result<u64, String> {
        self.expect("(")?;
        let file = self.raw_argument(',')?;
        self.expect(",")?;
        let section = self.raw_argument(')')?;
        self.expect(")")?;
        self.env.section_addr(file, section)
    }
}

#[cfg(test)]
mod tests;
