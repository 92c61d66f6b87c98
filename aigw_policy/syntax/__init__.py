"""Surface forms -> IR. The only package that sees lark trees or YAML nodes."""
