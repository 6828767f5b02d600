use super::*;
use std::collections::HashMap;

/// A fixed world: a few symbols, memory, one instruction.
struct World {
    symbols: HashMap<&'static str, u64>,
    memory: HashMap<u64, u8>,
}

impl World {
    fn new() -> World {
        let mut memory = HashMap::new();
        for (i, b) in 0x1122_3344_5566_7788u64.to_le_bytes().iter().enumerate() {
            memory.insert(0x2000 + i as u64, *b);
        }
        World {
            symbols: HashMap::from([
                ("foo", 0x1000),
                ("bar", 0x1010),
                ("data", 0x2000),
                ("_mach", 0x3000),
                ("a.b$c:d", 0x4000),
            ]),
            memory,
        }
    }
}

impl Env for World {
    fn symbol(&self, name: &str) -> Result<u64, String> {
        self.symbols
            .get(name)
            .copied()
            .ok_or_else(|| format!("no symbol `{name}`"))
    }
    fn section_addr(&self, file: &str, section: &str) -> Result<u64, String> {
        match (file, section) {
            ("x.o", ".text") => Ok(0x1000),
            ("x.o", "__DATA,__data") => Ok(0x2000),
            _ => Err(format!("no section `{section}` in `{file}`")),
        }
    }
    fn stub_addr(&self, container: &str, symbol: &str, kind: Option<&str>) -> Result<u64, String> {
        match (container, symbol, kind) {
            ("x.o/.text", "ext", None) => Ok(0x5000),
            ("x.o", "ext", None) => Ok(0x5000),
            ("x.o", "ext", Some("plt")) => Ok(0x5010),
            _ => Err(format!("no stub for `{symbol}` in `{container}`")),
        }
    }
    fn got_addr(&self, container: &str, symbol: &str) -> Result<u64, String> {
        match (container, symbol) {
            ("x.o", "ext") => Ok(0x6000),
            _ => Err(format!("no GOT slot for `{symbol}` in `{container}`")),
        }
    }
    fn load(&self, addr: u64, size: u32) -> Result<u64, String> {
        let mut v = 0u64;
        for i in 0..u64::from(size) {
            let b = self
                .memory
                .get(&(addr + i))
                .ok_or_else(|| format!("{:#x} is not mapped", addr + i))?;
            v |= u64::from(*b) << (8 * i);
        }
        Ok(v)
    }
    fn decode(&self, addr: u64) -> Result<Decoded, String> {
        match addr {
            0x1000 => Ok(Decoded {
                size: 5,
                operands: vec![Operand::Imm(-4), Operand::Reg(7)],
                text: "call foo".into(),
            }),
            0x1004 => Ok(Decoded {
                size: 2,
                operands: vec![Operand::Imm(0x44), Operand::Other],
                text: "jmp bar".into(),
            }),
            _ => Err("no instruction".into()),
        }
    }
}

fn eval(text: &str) -> Outcome {
    evaluate(text, &World::new())
}

fn value(text: &str) -> u64 {
    match eval(&format!("{text} = 0")) {
        Outcome::True(v) => v,
        Outcome::False { lhs, .. } => lhs,
        Outcome::Error(e) => panic!("{text}: {e}"),
    }
}

#[test]
fn numbers_in_every_radix() {
    assert_eq!(value("42"), 42);
    assert_eq!(value("0x2A"), 42);
    assert_eq!(value("0x2a"), 42);
    // A leading zero means octal, as LLVM's radix auto-detection reads it.
    assert_eq!(value("052"), 42);
    assert_eq!(value("0"), 0);
    assert_eq!(value("0xffffffffffffffff"), u64::MAX);
    assert!(
        matches!(eval("0x10000000000000000 = 0"), Outcome::Error(e) if e.contains("not a 64-bit number"))
    );
    assert!(matches!(eval("09 = 0"), Outcome::Error(e) if e.contains("radix 8")));
}

#[test]
fn operators_go_left_to_right_without_precedence() {
    // 1 + 2 << 3 is (1 + 2) << 3, not 1 + (2 << 3).
    assert_eq!(value("1 + 2 << 3"), 24);
    assert_eq!(value("10 - 3 - 2"), 5);
    assert_eq!(value("10 - (3 - 2)"), 9);
    assert_eq!(value("0xf0 | 0x0f & 0x3c"), 0x3c);
    assert_eq!(value("0x100 >> 4 + 1"), 0x11);
    // Wrapping arithmetic, and shifts past the width are 0.
    assert_eq!(value("0 - 1"), u64::MAX);
    assert_eq!(value("1 << 64"), 0);
    assert_eq!(value("1 << 63"), 1 << 63);
    assert_eq!(value("foo - bar"), 0x1000u64.wrapping_sub(0x1010));
}

#[test]
fn slices_take_bits_hi_to_lo() {
    assert_eq!(value("0x12345678[15:8]"), 0x56);
    assert_eq!(value("(foo - bar)[63:60]"), 0xf);
    assert_eq!(value("(0 - 1)[63:0]"), u64::MAX);
    assert_eq!(value("0xabc[0:0]"), 0);
    assert!(matches!(eval("1[3:4] = 0"), Outcome::Error(e) if e.contains("bit slice")));
    assert!(matches!(eval("1[64:0] = 0"), Outcome::Error(_)));
    // A slice applies to the simple expression before it.
    assert_eq!(value("0x1f0 + 0x1f[3:0]"), 0x1ff);
}

#[test]
fn loads_read_little_endian_and_take_the_rest_as_address() {
    assert_eq!(value("*{8}data"), 0x1122_3344_5566_7788);
    assert_eq!(value("*{4}data"), 0x5566_7788);
    assert_eq!(value("*{2}(data + 6)"), 0x1122);
    assert_eq!(value("*{1}data"), 0x88);
    assert_eq!(value("*{3}data"), 0x66_7788);
    // As in LLVM, the address of a load is the whole rest: this reads
    // from data + 4, it does not add 4 to the value loaded.
    assert_eq!(value("*{4}data + 4"), 0x1122_3344);
    assert_eq!(value("(*{4}data) + 4"), 0x5566_778c);
    // Address 0 loads 0 (zero-fill content).
    assert_eq!(value("*{8}0"), 0);
    assert!(matches!(eval("*{9}data = 0"), Outcome::Error(e) if e.contains("1 to 8")));
    assert!(matches!(eval("*{4}(data + 6) = 0"), Outcome::Error(e) if e.contains("not mapped")));
    assert!(matches!(eval("*4 data = 0"), Outcome::Error(e) if e.contains("`{`")));
}

#[test]
fn symbols_and_builtins() {
    assert_eq!(value("foo"), 0x1000);
    assert_eq!(value("_mach"), 0x3000);
    assert_eq!(value("a.b$c:d"), 0x4000);
    assert_eq!(value("section_addr(x.o, .text)"), 0x1000);
    assert_eq!(value("section_addr( x.o , __DATA,__data )"), 0x2000);
    assert_eq!(value("stub_addr(x.o/.text, ext)"), 0x5000);
    assert_eq!(value("stub_addr(x.o, ext)"), 0x5000);
    assert_eq!(value("stub_addr(x.o, ext, plt)"), 0x5010);
    assert_eq!(value("got_addr(x.o, ext)"), 0x6000);
    assert_eq!(value("next_pc(foo)"), 0x1005);
    assert_eq!(value("decode_operand(foo, 0)"), (-4i64) as u64);
    assert_eq!(value("decode_operand(foo, 1)"), 7);
    assert_eq!(value("decode_operand(foo + 4, 0)"), 0x44);
    assert_eq!(value("decode_operand(foo+4,0)[7:4]"), 4);
    assert!(
        matches!(eval("decode_operand(foo, 2) = 0"), Outcome::Error(e) if e.contains("`call foo` has 2 operands"))
    );
    assert!(
        matches!(eval("decode_operand(foo + 4, 1) = 0"), Outcome::Error(e) if e.contains("neither an immediate"))
    );
    assert!(
        matches!(eval("decode_operand(bar, 0) = 0"), Outcome::Error(e) if e.contains("cannot decode"))
    );
    assert!(matches!(eval("nope = 0"), Outcome::Error(e) if e.contains("no symbol `nope`")));
    assert!(matches!(
        eval("got_addr(x.o, ext, plt) = 0"),
        Outcome::Error(_)
    ));
}

#[test]
fn outcomes_carry_both_values() {
    assert_eq!(eval("foo + 0x10 = bar"), Outcome::True(0x1010));
    assert_eq!(
        eval("*{4}data = 0x55667789"),
        Outcome::False {
            lhs: 0x5566_7788,
            rhs: 0x5566_7789
        }
    );
    assert!(matches!(eval("foo"), Outcome::Error(e) if e.contains("no `=`")));
    assert!(
        matches!(eval("foo bar = 1"), Outcome::Error(e) if e.contains("end of the expression"))
    );
    assert!(matches!(eval("(foo = 1"), Outcome::Error(e) if e.contains("`)`")));
    assert!(matches!(eval("= 1"), Outcome::Error(e) if e.contains("a value")));
    assert!(matches!(eval("-1 = 1"), Outcome::Error(_)));
    // Deep nesting is an error, not a stack overflow.
    let deep = format!("{}1{} = 1", "(".repeat(100_000), ")".repeat(100_000));
    assert!(matches!(eval(&deep), Outcome::Error(e) if e.contains("nest more than")));
    let loads = format!("{}0 = 0", "*{8}".repeat(100_000));
    assert!(matches!(eval(&loads), Outcome::Error(e) if e.contains("nest more than")));
    let fine = format!("{}1{} = 1", "(".repeat(200), ")".repeat(200));
    assert_eq!(eval(&fine), Outcome::True(1));
}
