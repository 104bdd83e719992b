//===- Registration.h - one entry point for sp-opt, plugin, embedders -----===//
//
// Everything that makes sp usable in a tool goes through these functions:
// sp-opt, SPPlugin.so and compilers that embed the libraries call the same
// code, so they see the same dialects, interfaces and passes.
//
//===----------------------------------------------------------------------===//

#ifndef SP_REGISTRATION_REGISTRATION_H
#define SP_REGISTRATION_REGISTRATION_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::sp {

/// Adds the sp dialect and the dialects its passes create ops of (func,
/// tensor, arith, pdl, pdl_interp) to `registry`.
void registerSPDialects(DialectRegistry &registry);

/// Registers the sp passes and pass pipelines with the global pass registry
/// (for textual pipelines and command-line tools). Safe to call repeatedly.
void registerSPPasses();

/// Both of the above.
void registerAllSP(DialectRegistry &registry);

} // namespace mlir::sp

#endif // SP_REGISTRATION_REGISTRATION_H
