"""Python tools for the sp MLIR dialect: model generation, tool drivers,
numerics references and .npy I/O."""

__all__ = ["modelgen", "npy", "tools", "numerics"]
__version__ = "0.1.0"
