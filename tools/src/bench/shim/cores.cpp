// The cores of LLVM's two JIT linkers, without ORC's session around them,
// for `rivet bench`: RuntimeDyld (`loadObject` + `resolveRelocations` +
// `finalizeMemory`, with a SectionMemoryManager) and JITLink (`jitlink::link`
// per object, with an InProcessMemoryManager). This is what rivet's own
// `add_object_bytes` + `finalize_object` + look-ups is compared with,
// core to core.
//
// A core links a batch of objects that may refer to each other (and to
// cycles among them): JITLink reports every graph's own addresses before it
// asks for its external symbols, so each graph's look-up waits until every
// graph of the batch has been given addresses, as an ORC session does.
//
// Errors are copied into the caller's buffer; nothing here aborts.

#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <dlfcn.h>

#include "llvm/ExecutionEngine/JITLink/JITLink.h"
#include "llvm/ExecutionEngine/JITLink/JITLinkMemoryManager.h"
#include "llvm/ExecutionEngine/JITSymbol.h"
#include "llvm/ExecutionEngine/Orc/SymbolStringPool.h"
#include "llvm/ExecutionEngine/RuntimeDyld.h"
#include "llvm/ExecutionEngine/SectionMemoryManager.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace {

void set_error(char *err, size_t err_len, const std::string &text) {
  if (err == nullptr || err_len == 0)
    return;
  size_t n = text.size() < err_len - 1 ? text.size() : err_len - 1;
  std::memcpy(err, text.data(), n);
  err[n] = 0;
}

std::string message(Error E) { return toString(std::move(E)); }

using Clock = std::chrono::steady_clock;

uint64_t nanos_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() -
                                                              start)
      .count();
}

// Names the benchmark gives addresses to, else the process's own symbols.
struct Externals {
  std::map<std::string, uint64_t> given;

  uint64_t find(const std::string &name) const {
    auto it = given.find(name);
    if (it != given.end())
      return it->second;
    return reinterpret_cast<uint64_t>(dlsym(RTLD_DEFAULT, name.c_str()));
  }
};

// --- RuntimeDyld ----------------------------------------------------------

struct RtdyldResolver : LegacyJITSymbolResolver {
  const Externals &externals;
  explicit RtdyldResolver(const Externals &e) : externals(e) {}
  JITSymbol findSymbol(const std::string &name) override {
    if (uint64_t addr = externals.find(name))
      return JITSymbol(addr, JITSymbolFlags::Exported);
    return nullptr;
  }
  JITSymbol findSymbolInLogicalDylib(const std::string &) override {
    return nullptr;
  }
};

struct RtdyldCore {
  SectionMemoryManager memory;
  RtdyldResolver resolver;
  RuntimeDyld dyld;
  std::vector<std::unique_ptr<object::ObjectFile>> objects;
  explicit RtdyldCore(const Externals &e)
      : resolver(e), dyld(memory, resolver) {}
};

// --- JITLink ---------------------------------------------------------------

struct JitlinkBatch;

// One graph's context: hands its look-up to the batch, records its
// finalized allocation.
struct BatchContext : jitlink::JITLinkContext {
  JitlinkBatch &batch;
  explicit BatchContext(JitlinkBatch &b) : JITLinkContext(nullptr), batch(b) {}
  jitlink::JITLinkMemoryManager &getMemoryManager() override;
  void notifyFailed(Error Err) override;
  void lookup(const LookupMap &Symbols,
              std::unique_ptr<jitlink::JITLinkAsyncLookupContinuation> LC)
      override;
  Error notifyResolved(jitlink::LinkGraph &G) override;
  void notifyFinalized(
      jitlink::JITLinkMemoryManager::FinalizedAlloc Alloc) override;
};

struct JitlinkBatch {
  const Externals &externals;
  std::unique_ptr<jitlink::InProcessMemoryManager> memory;
  std::shared_ptr<orc::SymbolStringPool> strings =
      std::make_shared<orc::SymbolStringPool>();
  // Every name the batch's graphs define, with its address.
  std::map<std::string, uint64_t> defined;
  std::vector<std::pair<BatchContext::LookupMap,
                        std::unique_ptr<jitlink::JITLinkAsyncLookupContinuation>>>
      waiting;
  std::vector<jitlink::JITLinkMemoryManager::FinalizedAlloc> allocations;
  std::string failure;

  explicit JitlinkBatch(const Externals &e) : externals(e) {}

  uint64_t find(const std::string &name) const {
    auto it = defined.find(name);
    if (it != defined.end())
      return it->second;
    return externals.find(name);
  }

  // Answers every waiting look-up from the batch's names and the externals.
  void resolve_waiting() {
    auto pending = std::move(waiting);
    waiting.clear();
    for (auto &[symbols, continuation] : pending) {
      jitlink::AsyncLookupResult result;
      std::string missing;
      for (auto &[name, flags] : symbols) {
        uint64_t addr = find((*name).str());
        if (addr == 0 && flags == jitlink::SymbolLookupFlags::RequiredSymbol) {
          missing += (missing.empty() ? "" : ", ") + (*name).str();
          continue;
        }
        result[name] = orc::ExecutorSymbolDef(orc::ExecutorAddr(addr),
                                              JITSymbolFlags::Exported);
      }
      if (!missing.empty())
        continuation->run(make_error<StringError>(
            "unresolved symbols: " + missing, inconvertibleErrorCode()));
      else
        continuation->run(std::move(result));
    }
  }

  ~JitlinkBatch() {
    if (memory && !allocations.empty())
      consumeError(memory->deallocate(std::move(allocations)));
  }
};

jitlink::JITLinkMemoryManager &BatchContext::getMemoryManager() {
  return *batch.memory;
}

void BatchContext::notifyFailed(Error Err) {
  if (batch.failure.empty())
    batch.failure = message(std::move(Err));
  else
    consumeError(std::move(Err));
}

void BatchContext::lookup(
    const LookupMap &Symbols,
    std::unique_ptr<jitlink::JITLinkAsyncLookupContinuation> LC) {
  batch.waiting.emplace_back(Symbols, std::move(LC));
}

Error BatchContext::notifyResolved(jitlink::LinkGraph &G) {
  for (auto *Sym : G.defined_symbols())
    if (Sym->hasName() && Sym->getScope() != jitlink::Scope::Local)
      batch.defined[(*Sym->getName()).str()] = Sym->getAddress().getValue();
  return Error::success();
}

void BatchContext::notifyFinalized(
    jitlink::JITLinkMemoryManager::FinalizedAlloc Alloc) {
  batch.allocations.push_back(std::move(Alloc));
}

} // namespace

// --- C interface -------------------------------------------------------------

extern "C" {

struct RivetCore {
  int kind; // 0: RuntimeDyld, 1: JITLink
  Externals externals;
  std::unique_ptr<RtdyldCore> rtdyld;
  std::unique_ptr<JitlinkBatch> jitlink;
};

RivetCore *rivet_core_create(int kind, const char *const *names,
                             const uint64_t *addrs, size_t count, char *err,
                             size_t err_len) {
  auto core = std::make_unique<RivetCore>();
  core->kind = kind;
  for (size_t i = 0; i < count; ++i)
    core->externals.given[names[i]] = addrs[i];
  if (kind == 0) {
    core->rtdyld = std::make_unique<RtdyldCore>(core->externals);
  } else if (kind == 1) {
    core->jitlink = std::make_unique<JitlinkBatch>(core->externals);
    auto memory = jitlink::InProcessMemoryManager::Create();
    if (!memory) {
      set_error(err, err_len, message(memory.takeError()));
      return nullptr;
    }
    core->jitlink->memory = std::move(*memory);
  } else {
    set_error(err, err_len, "unknown core " + std::to_string(kind));
    return nullptr;
  }
  return core.release();
}

void rivet_core_dispose(RivetCore *core) { delete core; }

// Links the objects (bytes stay the caller's and live through the call and
// until dispose) and looks up `lookups`; writes their addresses and the
// nanoseconds from the first object handed over to the last address known.
// 0 on success, else 1 with a message in `err`.
int rivet_core_link(RivetCore *core, const uint8_t *const *objects,
                    const size_t *lengths, const char *const *object_names,
                    size_t count, const char *const *lookups,
                    size_t lookup_count, uint64_t *addresses,
                    uint64_t *nanos, char *err, size_t err_len) {
  auto start = Clock::now();
  if (core->kind == 0) {
    RtdyldCore &c = *core->rtdyld;
    for (size_t i = 0; i < count; ++i) {
      MemoryBufferRef buffer(
          StringRef(reinterpret_cast<const char *>(objects[i]), lengths[i]),
          object_names[i]);
      auto object = object::ObjectFile::createObjectFile(buffer);
      if (!object) {
        set_error(err, err_len, message(object.takeError()));
        return 1;
      }
      auto info = c.dyld.loadObject(**object);
      if (c.dyld.hasError() || !info) {
        set_error(err, err_len, c.dyld.getErrorString().str());
        return 1;
      }
      c.objects.push_back(std::move(*object));
    }
    c.dyld.resolveRelocations();
    if (c.dyld.hasError()) {
      set_error(err, err_len, c.dyld.getErrorString().str());
      return 1;
    }
    std::string failure;
    if (c.memory.finalizeMemory(&failure)) {
      set_error(err, err_len, "finalizeMemory: " + failure);
      return 1;
    }
    for (size_t i = 0; i < lookup_count; ++i) {
      addresses[i] = c.dyld.getSymbol(lookups[i]).getAddress();
      if (addresses[i] == 0) {
        set_error(err, err_len, std::string("no symbol ") + lookups[i]);
        return 1;
      }
    }
  } else {
    JitlinkBatch &b = *core->jitlink;
    for (size_t i = 0; i < count; ++i) {
      MemoryBufferRef buffer(
          StringRef(reinterpret_cast<const char *>(objects[i]), lengths[i]),
          object_names[i]);
      auto graph = jitlink::createLinkGraphFromObject(buffer, b.strings);
      if (!graph) {
        set_error(err, err_len, message(graph.takeError()));
        return 1;
      }
      jitlink::link(std::move(*graph), std::make_unique<BatchContext>(b));
      if (!b.failure.empty()) {
        set_error(err, err_len, b.failure);
        return 1;
      }
    }
    b.resolve_waiting();
    if (!b.failure.empty()) {
      set_error(err, err_len, b.failure);
      return 1;
    }
    if (b.allocations.size() != count) {
      set_error(err, err_len,
                "JITLink finalized " + std::to_string(b.allocations.size()) +
                    " of " + std::to_string(count) + " graphs");
      return 1;
    }
    for (size_t i = 0; i < lookup_count; ++i) {
      addresses[i] = b.find(lookups[i]);
      if (addresses[i] == 0) {
        set_error(err, err_len, std::string("no symbol ") + lookups[i]);
        return 1;
      }
    }
  }
  *nanos = nanos_since(start);
  return 0;
}

} // extern "C"
