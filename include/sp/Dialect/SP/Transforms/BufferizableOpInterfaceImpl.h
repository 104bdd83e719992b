//===- BufferizableOpInterfaceImpl.h - bufferization of sp ops --*- C++ -*-===//

#ifndef SP_DIALECT_SP_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
#define SP_DIALECT_SP_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace mlir::sp {

/// Attaches BufferizableOpInterface models to sp.all_reduce,
/// sp.reduce_scatter and sp.all_gather: one-shot bufferization turns them
/// into calls of the CPU runtime (declared by sp-prepare-cpu-runtime).
void registerBufferizableOpInterfaceExternalModels(DialectRegistry &registry);

} // namespace mlir::sp

#endif // SP_DIALECT_SP_TRANSFORMS_BUFFERIZABLEOPINTERFACEIMPL_H
