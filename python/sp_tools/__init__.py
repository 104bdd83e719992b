"""Python tools for the sp MLIR dialect: model generation and tool drivers."""

__all__ = ["modelgen"]
