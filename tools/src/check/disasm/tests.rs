use super::*;

#[test]
fn x86_64_operands_are_numbered_as_llvm_numbers_them() {
    let d = Disassembler::new("x86_64-unknown-linux-gnu", "", "").unwrap();
    // movl 0x12345678(%rip), %eax: dst, base, scale, index, disp, segment.
    let insn = d
        .decode(&[0x8b, 0x05, 0x78, 0x56, 0x34, 0x12, 0xcc], 0x1000)
        .unwrap();
    assert_eq!(insn.size, 6);
    assert_eq!(insn.operands.len(), 6, "{insn:?}");
    assert_eq!(insn.operands[4], Operand::Imm(0x1234_5678));
    assert!(matches!(insn.operands[0], Operand::Reg(r) if d.register_name(r) == "EAX"));
    assert!(matches!(insn.operands[1], Operand::Reg(r) if d.register_name(r) == "RIP"));
    assert!(insn.text.starts_with("movl"), "{}", insn.text);
    // call rel32 with a negative displacement.
    let call = d.decode(&[0xe8, 0xfb, 0xff, 0xff, 0xff], 0).unwrap();
    assert_eq!(call.size, 5);
    assert_eq!(call.operands, vec![Operand::Imm(-5)]);
    // Not an instruction.
    assert!(d.decode(&[0x0f], 0).is_none());
}

#[test]
fn aarch64_operands_are_numbered_as_llvm_numbers_them() {
    let d = Disassembler::new("aarch64-unknown-linux-gnu", "", "").unwrap();
    // adrp x0, #0x3000 (3 pages): operand 1 is the page count.
    let adrp = 0x9000_0000u32 | (3 << 29); // immlo = 3, immhi = 0
    let insn = d.decode(&adrp.to_le_bytes(), 0).unwrap();
    assert_eq!(insn.size, 4);
    assert_eq!(insn.operands[1], Operand::Imm(3));
    // add x0, x0, #0x123: operands dst, src, imm, shift.
    let add = 0x9100_0000u32 | (0x123 << 10);
    let insn = d.decode(&add.to_le_bytes(), 0).unwrap();
    assert_eq!(insn.operands[2], Operand::Imm(0x123));
    assert_eq!(insn.operands[3], Operand::Imm(0));
    // bl with imm26 = -1.
    let bl = 0x97ff_ffffu32;
    let insn = d.decode(&bl.to_le_bytes(), 0).unwrap();
    assert_eq!(insn.operands, vec![Operand::Imm(-1)]);
}

#[test]
fn unknown_targets_are_errors() {
    let err = Disassembler::new("nonsense-unknown-none", "", "").unwrap_err();
    assert!(err.to_string().contains("no disassembler"), "{err}");
}
