"""CEL: syntax (this package's parser), and later types, code generation and runtime."""
