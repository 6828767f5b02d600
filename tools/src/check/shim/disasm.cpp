// rivet check: decode one instruction with LLVM's own disassembler and hand
// its MCInst operands to Rust.
//
// The LLVM C API (LLVMDisasmInstruction) only gives the instruction's text;
// `decode_operand(label, i)` needs operand i of the MCInst, numbered exactly
// as LLVM numbers it, so this file talks to the MC layer in C++.
//
// Targets, target MCs and disassemblers must be registered before
// rivet_disasm_create is called (rivet's `llvm::initialize` does that).
// Nothing here throws (LLVM is built without exceptions); every failure is a
// return value with a message.

#include "llvm/MC/MCAsmInfo.h"
#include "llvm/MC/MCContext.h"
#include "llvm/MC/MCDisassembler/MCDisassembler.h"
#include "llvm/MC/MCInst.h"
#include "llvm/MC/MCInstPrinter.h"
#include "llvm/MC/MCInstrInfo.h"
#include "llvm/MC/MCRegisterInfo.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/MCTargetOptions.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace {

// Copies `text` into `out` (capacity `len`), always NUL-terminated when len > 0.
void copy_out(const std::string &text, char *out, size_t len) {
  if (out == nullptr || len == 0)
    return;
  size_t n = text.size() < len - 1 ? text.size() : len - 1;
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

} // namespace

// Everything needed to decode and print instructions of one target.
struct rivet_disasm {
  llvm::Triple triple;
  std::unique_ptr<llvm::MCRegisterInfo> mri;
  std::unique_ptr<llvm::MCAsmInfo> mai;
  std::unique_ptr<llvm::MCSubtargetInfo> sti;
  std::unique_ptr<llvm::MCInstrInfo> mii;
  std::unique_ptr<llvm::MCContext> ctx;
  std::unique_ptr<llvm::MCDisassembler> disassembler;
  std::unique_ptr<llvm::MCInstPrinter> printer;
};

// Operand kinds reported to Rust (keep in sync with src/check/disasm.rs).
enum : uint8_t {
  RIVET_OP_INVALID = 0,
  RIVET_OP_IMM = 1,
  RIVET_OP_REG = 2,
  RIVET_OP_SFPIMM = 3,
  RIVET_OP_DFPIMM = 4,
  RIVET_OP_EXPR = 5,
  RIVET_OP_INST = 6,
};

extern "C" {

// A disassembler for `triple` (with `cpu` and `features`, either may be
// empty), or null with a message in `err`.
rivet_disasm *rivet_disasm_create(const char *triple, const char *cpu,
                                  const char *features, char *err,
                                  size_t err_len) {
  auto d = std::make_unique<rivet_disasm>();
  d->triple = llvm::Triple(llvm::Triple::normalize(triple));
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(d->triple, error);
  if (target == nullptr) {
    copy_out("no target for `" + std::string(triple) + "`: " + error, err,
             err_len);
    return nullptr;
  }
  d->mri.reset(target->createMCRegInfo(d->triple));
  if (!d->mri) {
    copy_out("no register info for `" + std::string(triple) + "`", err,
             err_len);
    return nullptr;
  }
  llvm::MCTargetOptions options;
  d->mai.reset(target->createMCAsmInfo(*d->mri, d->triple, options));
  if (!d->mai) {
    copy_out("no assembler info for `" + std::string(triple) + "`", err,
             err_len);
    return nullptr;
  }
  d->sti.reset(target->createMCSubtargetInfo(d->triple, cpu, features));
  if (!d->sti) {
    copy_out("no subtarget info for `" + std::string(triple) + "`", err,
             err_len);
    return nullptr;
  }
  d->mii.reset(target->createMCInstrInfo());
  if (!d->mii) {
    copy_out("no instruction info for `" + std::string(triple) + "`", err,
             err_len);
    return nullptr;
  }
  d->ctx = std::make_unique<llvm::MCContext>(d->triple, d->mai.get(),
                                             d->mri.get(), d->sti.get());
  d->disassembler.reset(target->createMCDisassembler(*d->sti, *d->ctx));
  if (!d->disassembler) {
    copy_out("no disassembler for `" + std::string(triple) + "`", err,
             err_len);
    return nullptr;
  }
  // The printer only serves messages; a target without one still decodes.
  d->printer.reset(target->createMCInstPrinter(
      d->triple, d->mai->getAssemblerDialect(), *d->mai, *d->mii, *d->mri));
  return d.release();
}

void rivet_disasm_dispose(rivet_disasm *d) { delete d; }

// Decodes the instruction at the start of `bytes` (`len` bytes, the
// instruction's address being `address`). Returns 1 when it decodes, else 0.
// On success: `*size_out` is its length; `*n_ops_out` its operand count; the
// first `max_ops` operands' kinds and values are written to `kinds` and
// `values` (an immediate's value, a register's number, a floating-point
// immediate's bits); `text` gets the printed instruction.
int rivet_disasm_decode(rivet_disasm *d, const uint8_t *bytes, size_t len,
                        uint64_t address, uint64_t *size_out, uint8_t *kinds,
                        int64_t *values, size_t max_ops, size_t *n_ops_out,
                        char *text, size_t text_len) {
  llvm::MCInst inst;
  uint64_t size = 0;
  llvm::ArrayRef<uint8_t> data(bytes, len);
  auto status = d->disassembler->getInstruction(inst, size, data, address,
                                                llvm::nulls());
  if (status != llvm::MCDisassembler::Success)
    return 0;
  *size_out = size;
  *n_ops_out = inst.getNumOperands();
  for (size_t i = 0; i < inst.getNumOperands() && i < max_ops; ++i) {
    const llvm::MCOperand &op = inst.getOperand(i);
    if (op.isImm()) {
      kinds[i] = RIVET_OP_IMM;
      values[i] = op.getImm();
    } else if (op.isReg()) {
      kinds[i] = RIVET_OP_REG;
      values[i] = static_cast<int64_t>(op.getReg().id());
    } else if (op.isSFPImm()) {
      kinds[i] = RIVET_OP_SFPIMM;
      values[i] = static_cast<int64_t>(op.getSFPImm());
    } else if (op.isDFPImm()) {
      kinds[i] = RIVET_OP_DFPIMM;
      values[i] = static_cast<int64_t>(op.getDFPImm());
    } else if (op.isExpr()) {
      kinds[i] = RIVET_OP_EXPR;
      values[i] = 0;
    } else if (op.isInst()) {
      kinds[i] = RIVET_OP_INST;
      values[i] = 0;
    } else {
      kinds[i] = RIVET_OP_INVALID;
      values[i] = 0;
    }
  }
  std::string printed;
  if (d->printer) {
    llvm::raw_string_ostream os(printed);
    d->printer->printInst(&inst, address, "", *d->sti, os);
    os.flush();
    // Printers indent with a tab; messages read better without it.
    size_t start = printed.find_first_not_of(" \t");
    printed = start == std::string::npos ? "" : printed.substr(start);
  }
  copy_out(printed, text, text_len);
  return 1;
}

// The name of register `reg` (an operand value of kind RIVET_OP_REG).
void rivet_disasm_register_name(rivet_disasm *d, uint32_t reg, char *out,
                                size_t out_len) {
  if (reg >= d->mri->getNumRegs()) {
    copy_out("", out, out_len);
    return;
  }
  const char *name = d->mri->getName(llvm::MCRegister(reg));
  copy_out(name != nullptr ? name : "", out, out_len);
}

} // extern "C"
