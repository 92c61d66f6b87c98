"""CEL AST -> Python source, one function per expression.

Two bodies are generated for every expression:

* the *fast* body uses plain Python (``and``/``or``, ``m[k]``, ``a == b``) wherever the
  checker proved that Python's result is exactly CEL's, and lets any exception escape;
* the *exact* body follows the letter of the spec (errors are values, ``&&``/``||`` absorb
  errors commutatively) through the helpers in :mod:`.runtime.helpers`.

The entry function runs the fast body and, only if it raised, the exact body. CEL is free of
side effects, so re-evaluation is safe, and errors (rare in the request path) pay the cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .builtin_names import CONSTANTS, TYPE_NAMES, lookup
from .fastops import fast_binary, fast_dyn, no_str_index
from .iteration import elements_unread
from .macro_args import MACROS, macro_arg_error
from .names import candidates, function_names, message_name, qualified_name, resolve
from .runtime import stdlib
from .runtime.host import inline_class
from .runtime.checks import TYPES
from .runtime.values import INT64_MAX, INT64_MIN, CelError, TypeValue, UInt
from .types import Type

__all__ = ["ACCUMULATOR", "Generated", "generate", "CompileError", "MACROS"]


class CompileError(Exception):
    """An expression that cannot be compiled (``span`` says where)."""

    def __init__(self, message: str, span=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(message)
        self.message = message
        self.span = span


ACCUMULATOR = "__result__"
"""The accumulator of the comprehension a macro expands to (cel-go, cel-cpp): no iteration
variable may take its name."""



@dataclass
class Generated:
    """Python source for one expression, its constants and a line -> span map."""

    name: str
    source: str
    constants: dict[str, object] = field(default_factory=dict)
    functions: dict[str, object] = field(default_factory=dict)
    recipes: dict[str, tuple | None] = field(default_factory=dict)
    """How to rebuild each constant without pickle (for the persistent cache); None: cannot."""
    function_keys: dict[str, str] = field(default_factory=dict)
    """Generated helper name -> function key (``.size``, ``getReqHeader``)."""
    line_spans: dict[int, tuple[int, int]] = field(default_factory=dict)
    """Generated source line (1-based) -> (start, end) offsets of the CEL it computes."""


class Info:
    """What the checker learned (types, references); empty means: everything is dyn."""

    def __init__(self, types: dict[int, Type] | None = None) -> None:
        self.types = types or {}

    def type(self, node: ast.Expr) -> Type | None:
        return self.types.get(id(node))


class _Gen:
    def __init__(
        self,
        variables: set[str],
        container: str,
        info: Info,
        functions: dict[str, object],
        lenient: bool,
        nested: bool = False,
        act_functions: frozenset[str] = frozenset(),
        budget: int | None = None,
        host_types: dict[str, str] | None = None,
    ) -> None:
        self.budget = budget
        self.host_types = host_types or {}
        self.budgeted = False  # some comprehension charges the budget
        self.absorbs = False  # the fast body calls a helper that absorbs errors (all/exists)
        self.nested = nested
        self.act_functions = act_functions
        self.variables = variables
        self.container = container
        self.info = info
        self.functions = functions
        self.lenient = lenient
        self.constants: dict[str, object] = {}
        self.recipes: dict[str, tuple | None] = {}
        self.fn_names: dict[str, str] = {}
        self.fn_values: dict[str, object] = {}
        self.scopes: list[dict[str, str]] = []
        self.fast = True
        self._n = 0
        self.in_iterable = 0  # generating a comprehension's range: no `:=` there (SyntaxError)

    # -- names ---------------------------------------------------------------------------
    def const(self, value: object, recipe: tuple | None = None) -> str:
        self._n += 1
        name = f"_k{self._n}"
        self.constants[name] = value
        self.recipes[name] = recipe if recipe is not None else _recipe(value)
        return name

    def function(self, key: str) -> str:
        name = self.fn_names.get(key)
        if name is None:
            impl = self.functions.get(key)
            if impl is None:
                impl = stdlib.FUNCTIONS.get(key)
            if impl is None:
                from .runtime.helpers import unbound

                impl = unbound(key.lstrip("."))
            name = f"_f{len(self.fn_names)}"
            self.fn_names[key] = name
            self.fn_values[name] = impl
        return name

    def guardable(self) -> bool:
        """Whether fast code may bind a temporary (``:=``) to check a dyn value inline."""
        return self.fast and self.in_iterable == 0

    def temp(self) -> str:
        self._n += 1
        return f"_w{self._n}"

    def local(self, name: str) -> str | None:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        return None

    def candidates(self, name: str) -> list[str]:
        return candidates(self.container, name)

    def var_ref(self, name: str) -> str:
        if self.fast:
            code = f"act[{name!r}]"
        elif self.nested and "." in name:
            code = f"_varp(act, {name!r})"  # the flat key, else nested mappings
        else:
            code = f"_var(act, {name!r})"
        declared = self.host_types.get(name)
        if declared is None:
            return code
        return self.host_code(code, declared, name)

    def dyn(self, node: ast.Expr) -> bool:
        t = self.info.type(node)  # a dyn (or unchecked): maybe a host value
        return t is None or t.kind == "dyn"

    def host_code(self, code: str, declared: str, name: str = "") -> str:
        """A host value as CEL reads it (:mod:`.runtime.host`): the variable ``name`` of a
        declared type, or (``dyn``) what is taken out of a host list or map; the common cases
        inline (a value of the declared type as it is)."""
        slow = "_dv({})" if declared == "dyn" and not name else f"_host({{}}, {declared!r}, {name!r})"
        cls = "" if declared in ("int", "dyn") else inline_class(declared)
        if cls and self.fast and not self.guardable():  # no `:=` in a comprehension's range
            return f"_hostc({code}, {cls}, {declared!r}, {name!r})"
        if not self.guardable() or cls is None:
            return slow.format(code)
        w = self.temp()
        ok = (f"({w} := {code}).__class__ in _plain" if declared == "dyn" and name else
              f"({w} := {code}).__class__ in _plain or {w}.__class__ is int and {INT64_MIN} <= {w} <= {INT64_MAX}"
              if declared == "dyn" else
              f"({w} := {code}).__class__ is int and {INT64_MIN} <= {w} <= {INT64_MAX}" if declared == "int" else
              f"({w} := {code}).__class__ is {cls}")
        return f"({w} if {ok} else {slow.format(w)})"

    # -- expressions ---------------------------------------------------------------------
    def expr(self, node: ast.Expr) -> str:
        method = getattr(self, "e_" + type(node).__name__)
        code = method(node)
        if isinstance(node, _TAKEN) and not node.optional and self.dyn(node):
            code = self.host_code(code, "dyn")
        if not self.fast and type(node) in _MARKED:
            span = getattr(node, "span", None)
            if span is not None:
                # the exact body puts each call on its own line, after a marker comment:
                # a traceback's line number then names the CEL span (see generate)
                return f"\n#@{span.start}:{span.end}\n{code}"
        return code

    def e_Literal(self, node: ast.Literal) -> str:
        k = node.kind
        if k == "uint":
            return self.const(UInt(node.value))  # type: ignore[arg-type]
        if k == "double":
            v = node.value
            if v != v or v in (float("inf"), float("-inf")):
                return self.const(v)
            return repr(float(v))  # type: ignore[arg-type]
        return repr(node.value)

    def resolve(self, dotted: str) -> tuple[str, int] | None:
        """Find the longest declared variable that prefixes ``dotted``: (name, parts used)."""
        return resolve(self.container, dotted, self.variables)

    def e_Ident(self, node: ast.Ident) -> str:
        name = node.name
        loc = None if name.startswith(".") else self.local(name)
        if loc is not None:
            return loc
        found = self.resolve(name)
        builtin = lookup(self.container, name, found)
        if builtin is not None:
            return self.builtin(builtin)
        if found is not None:
            return self.var_ref(found[0])
        bare = name.lstrip(".")
        if self.lenient:  # an undeclared variable is a dyn variable
            return self.host_code(f"_var(act, {bare!r})", "dyn", bare)
        raise CompileError(f"undeclared reference to `{bare}`", node.span)

    def builtin(self, name: str) -> str:
        """A type name's type value or an enum constant (``builtin_names``)."""
        n = TYPE_NAMES[name][0] if name not in CONSTANTS else ""
        return self.const(TYPES.get(n) or TypeValue(n)) if n else repr(CONSTANTS[name])

    def e_Select(self, node: ast.Select) -> str:
        if not node.optional:
            dotted = qualified_name(node)
            if dotted is not None:
                root = dotted.split(".")[0]
                if not root or self.local(root) is None:
                    found = self.resolve(dotted)
                    builtin = lookup(self.container, dotted, found)
                    if builtin is not None:
                        return self.builtin(builtin)
                    if found is not None:
                        name, used = found
                        code = self.var_ref(name)
                        chain = []  # the selections after the variable, outermost first
                        n: ast.Expr = node
                        for _ in dotted.lstrip(".").split(".")[used:]:
                            chain.append(n)
                            n = n.operand  # type: ignore[union-attr]
                        for sel in reversed(chain):
                            code = self.select_code(code, sel.field, self.info.type(sel.operand))  # type: ignore[union-attr]
                        return code
        operand = self.expr(node.operand)
        if node.optional:
            return f"_optsel({operand}, {node.field!r})"
        return self.select_code(operand, node.field, self.info.type(node.operand))

    def select_code(self, operand: str, name: str, t: Type | None) -> str:
        # dyn, string-keyed maps, object types: a dict answers as CEL does, anything else leaves the fast body
        if self.fast and t is not None and (t.kind in ("dyn", "opaque") and t.name != "optional_type" or t.kind == "map" and t.params[0].kind == "string") and not no_str_index(operand):  # noqa: E501
            return f"{operand}[{name!r}]"
        return f"_sel({operand}, {name!r})"

    def e_Index(self, node: ast.Index) -> str:
        o = self.expr(node.operand)
        k = self.expr(node.index)
        if node.optional:
            return f"_optidx({o}, {k})"
        t = self.info.type(node.operand)
        kt = self.info.type(node.index)
        if (
            self.fast
            and t is not None
            and t.kind == "list"
            and isinstance(node.index, ast.Literal)
            and node.index.kind == "int"
            and node.index.value >= 0  # type: ignore[operator]
        ):
            return f"{o}[{k}]"
        if (
            self.fast
            and t is not None
            and (t.kind == "dyn" or (t.kind == "map" and t.params[0].kind == "string"))
            and kt is not None
            and kt.kind == "string"
            and not no_str_index(o)
        ):
            return f"{o}[{k}]"  # a str indexes only a dict (a list or str raises TypeError)
        if (
            self.guardable()
            and t is not None
            and t.kind == "dyn"
            and isinstance(node.index, ast.Literal)
            and node.index.kind == "int"
            and node.index.value >= 0  # type: ignore[operator]
        ):
            w = self.temp()  # a list only: `'abc'[0]` is Python, not CEL
            return f"({w}[{k}] if ({w} := {o}).__class__ is list else _leave())"
        return f"_idx({o}, {k})"

    def e_CreateList(self, node: ast.CreateList) -> str:
        items = []
        for i, e in enumerate(node.elements):
            code = self.expr(e)
            items.append(f"*_oe({code})" if i in node.optional_indices else code)
        return "[" + ", ".join(items) + "]"

    def e_CreateMap(self, node: ast.CreateMap) -> str:
        if any(e.optional for e in node.entries):
            parts = [
                f"({self.expr(e.key)}, {self.expr(e.value)}, {e.optional})" for e in node.entries
            ]
            return "_mkmap_opt((" + "".join(p + ", " for p in parts) + "))"
        keys = [e.key for e in node.entries]
        if all(isinstance(k, ast.Literal) and k.kind == "string" for k in keys) and len(
            {k.value for k in keys}  # type: ignore[union-attr]
        ) == len(keys):
            return "{" + ", ".join(f"{self.expr(e.key)}: {self.expr(e.value)}" for e in node.entries) + "}"
        parts = [f"({self.expr(e.key)}, {self.expr(e.value)})" for e in node.entries]
        return "_mkmap((" + "".join(p + ", " for p in parts) + "))"

    def e_CreateStruct(self, node: ast.CreateStruct) -> str:
        name = message_name(self.container, node.type_name)  # a well-known type, else unsupported
        if name is None:
            raise CompileError(f"message construction `{node.type_name}{{...}}` is not supported", node.span)
        inits = "".join(f"({f.name!r}, {self.expr(f.value)}, {f.optional}), " for f in node.fields)
        return f"_wkt({name!r}, ({inits}))"

    # -- calls ---------------------------------------------------------------------------
    def is_bool(self, node: ast.Expr) -> bool:
        t = self.info.type(node)
        return t is not None and t.kind == "bool"

    def boolean(self, node: ast.Expr) -> str:
        code = self.expr(node)
        return code if self.is_bool(node) else f"_B({code})"

    def e_Call(self, node: ast.Call) -> str:
        f = node.function
        args = node.args
        if node.target is None:
            if f == "_&&_":
                if self.fast:
                    return f"({self.boolean(args[0])} and {self.boolean(args[1])})"
                return f"_land(lambda: {self.expr(args[0])}, lambda: {self.expr(args[1])})"
            if f == "_||_":
                if self.fast:
                    return f"({self.boolean(args[0])} or {self.boolean(args[1])})"
                return f"_lor(lambda: {self.expr(args[0])}, lambda: {self.expr(args[1])})"
            if f == "_?_:_":
                c = self.expr(args[0])
                if not self.is_bool(args[0]):
                    c = f"_cond({c})"
                return f"({self.expr(args[1])} if {c} else {self.expr(args[2])})"
            if f == "!_":
                if self.fast and self.is_bool(args[0]):
                    return f"(not {self.expr(args[0])})"
                return f"_not({self.expr(args[0])})"
            op = _BINARY.get(f)
            if op is not None:
                return self.binary(node, f, op)
            if f == "-_":
                return f"_neg({self.expr(args[0])})"
            if f == "has" and len(args) == 1:
                a = args[0]
                if not isinstance(a, ast.Select) or a.optional:
                    raise CompileError("invalid argument to has() macro", node.span)
                dotted = qualified_name(a)
                if dotted is not None and self.local(dotted.lstrip(".").split(".")[0]) is None:
                    found = self.resolve(dotted)
                    if found is not None and found[1] == len(dotted.lstrip(".").split(".")):
                        # has(req.url.port): is the declared variable present?
                        return f"_present(act, {found[0]!r})"
                return f"_has({self.expr(a.operand)}, {a.field!r})"
            if f == "dyn" and len(args) == 1:
                return self.expr(args[0])
            if f == "type" and len(args) == 1:
                return f"_type({self.expr(args[0])})"
            key = f.lstrip(".")
            resolved = self.global_function(f)
            if resolved is None and self.lenient:
                resolved = key
            if resolved is None:
                raise CompileError(f"undeclared reference to function `{key}`", node.span)
            if resolved == "size" and len(args) == 1 and self.fast and "size" not in self.functions:
                return self.size_code(args[0])
            fname = self.function(resolved)
            if resolved in self.act_functions:
                return f"{fname}({', '.join(['act'] + [self.expr(a) for a in args])})"
            return f"{fname}({', '.join(self.expr(a) for a in args)})"
        # receiver-style
        target = node.target
        if f == "bind" and len(args) == 3 and qualified_name(target) == "cel":  # a macro: no name hides it
            return self.bind(node)
        refused = macro_arg_error(node)
        if refused is not None:
            raise CompileError(*refused)
        macro = self.macro(node)
        if macro is not None:
            return macro
        dotted = qualified_name(target)
        if dotted is not None:  # `math.abs(x)`: a namespaced function before any variable named `math` (cel-go)
            g = self.global_function(dotted + "." + f)
            if g is not None:
                fname = self.function(g)
                lead = ["act"] if g in self.act_functions else []
                return f"{fname}({', '.join(lead + [self.expr(a) for a in args])})"
        matcher = None
        if (
            f == "matches"
            and self.fast
            and len(args) == 1
            and isinstance(args[0], ast.Literal)
            and args[0].kind == "string"
        ):
            try:
                matcher = stdlib.regex_matcher(args[0].value)  # type: ignore[arg-type]
            except CelError:
                pass  # an error when evaluated, which `||` may absorb (cel-go's default, cel-cpp)
        if matcher is not None:
            tt = self.info.type(target)
            code = self.expr(target)
            m = self.const(matcher, ("re", args[0].value))  # type: ignore[union-attr]
            if tt is not None and tt.kind == "string":
                return f"{m}({code})"
            if self.guardable():
                w = self.temp()
                return f"({m}({w}) if ({w} := {code}).__class__ is str else _leave())"
            return f"{m}(_S({code}))"
        if f == "size" and not args and self.fast and ".size" not in self.functions:
            return self.size_code(target)
        if f in _LAZY and len(args) == 1 and "." + f not in self.functions:
            # the argument is evaluated only if the optional is empty
            return f"{_LAZY[f]}({self.expr(target)}, lambda: {self.expr(args[0])})"
        fname = self.function("." + f)
        parts = [self.expr(target)] + [self.expr(a) for a in args]
        return f"{fname}({', '.join(parts)})"

    def size_code(self, node: ast.Expr) -> str | None:
        """``size(x)`` in the fast body: ``len`` (a code point count for a str, as CEL's)."""
        code = self.expr(node)
        t = self.info.type(node)
        if t is not None and t.kind in ("string", "bytes", "list", "map"):
            return f"len({code})"
        if self.guardable():
            w = self.temp()
            return f"(len({w}) if ({w} := {code}).__class__ in _SIZED else _leave())"
        return f"{self.function('size')}({code})"

    def global_function(self, name: str) -> str | None:
        for cand in function_names(self.container, name):
            if cand in self.functions or cand in stdlib.FUNCTIONS:
                return cand
        return None

    def binary(self, node: ast.Call, f: str, helper: str) -> str:
        a, b = node.args
        if (
            f == "@in"
            and self.fast
            and isinstance(b, ast.CreateList)
            and not b.optional_indices
            and b.elements
            and all(isinstance(e, ast.Literal) and e.kind == "string" for e in b.elements)
        ):
            # strings equal only strings: set membership is exact (unhashable -> exact path)
            values = frozenset(e.value for e in b.elements)  # type: ignore[union-attr]
            return f"({self.expr(a)} in {self.const(values)})"
        ca, cb = self.expr(a), self.expr(b)
        ta, tb = self.info.type(a), self.info.type(b)
        if self.fast and ta is not None and tb is not None:
            fast = fast_binary(f, ta, tb, ca, cb, self)
            if fast is None and "dyn" in (ta.kind, tb.kind):
                fast = fast_dyn(f, ta.kind, tb.kind, ca, cb, self)
            if fast is not None:
                return fast
        return f"{helper}({ca}, {cb})"

    # -- macros --------------------------------------------------------------------------
    def lambda_(self, names: list[str], body: ast.Expr) -> str:
        scope = {}
        pnames = []
        for n in names:
            self._n += 1
            p = f"v{self._n}_" + "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in n)
            scope[n] = p
            pnames.append(p)
        self.scopes.append(scope)
        try:
            code = self.expr(body)
        finally:
            self.scopes.pop()
        return f"(lambda {', '.join(pnames)}: {code})"

    def var_names(self, nodes: tuple[ast.Expr, ...], call: ast.Call) -> list[str]:
        out = []
        for n in nodes:
            if not isinstance(n, ast.Ident) or n.name.startswith("."):
                raise CompileError(f"argument to `{call.function}` must be a simple name", n.span)
            out.append(n.name)
        return out

    def bind(self, node: ast.Call) -> str:
        """``cel.bind(x, init, e)``: ``init`` runs when ``e`` first reads ``x`` (an error in a
        binding never read is no error, as in cel-go and cel-cpp): ``x`` is a call of a
        memoizing thunk (:class:`.runtime.helpers.Lazy`). The fast body binds the value
        first, unless ``init`` iterates (charging the budget): if ``init`` fails, the exact
        body decides."""
        (name,) = self.var_names(node.args[:1], node)
        init = self.expr(node.args[1])
        if self.fast and not _iterates(node.args[1]):
            return f"{self.lambda_([name], node.args[2])}({init})"
        self._n += 1
        thunk = f"v{self._n}_bind"
        self.scopes.append({name: f"{thunk}()"})
        try:
            body = self.expr(node.args[2])
        finally:
            self.scopes.pop()
        return f"(lambda {thunk}: {body})(_lazy(lambda: {init}))"

    def macro(self, node: ast.Call) -> str | None:
        f = node.function
        args = node.args
        n = len(args)
        if (f, True, n) not in MACROS:
            return None
        # a macro needs simple names for its variables
        nvars = {2: 1, 3: 2, 4: 2}[n] if f not in ("map", "optMap", "optFlatMap", "sortBy") else 1
        if f == "map" and n == 3:
            nvars = 1
        if f in ("transformList", "transformMap", "transformMapEntry"):
            nvars = 2
        if not all(isinstance(a, ast.Ident) and not a.name.startswith(".") for a in args[:nvars]):
            return None
        names = self.var_names(args[:nvars], node)
        if len(set(names)) != len(names):
            raise CompileError(f"duplicate variable name `{names[0]}` in `{f}`", node.span)
        if ACCUMULATOR in names and f not in ("optMap", "optFlatMap", "sortBy"):
            # cel-go and cel-cpp expand these macros to a fold whose accumulator has that name
            at = args[names.index(ACCUMULATOR)].span
            raise CompileError(f"iteration variable `{ACCUMULATOR}` overwrites the accumulator variable of `{f}`", at)
        self.in_iterable += 1
        try:
            t = self.expr(node.target)  # type: ignore[arg-type]
        finally:
            self.in_iterable -= 1
        rt = self.info.type(node.target)  # type: ignore[arg-type]
        if ((rt is None or rt.kind == "dyn" or (rt.kind == "list" and rt.params[0].kind == "dyn"))
                and not elements_unread(f, names[-1], args[nvars:])):
            t = f"_dvs({t})"  # a host list's elements, as dyn values (unless only selected from)
        charged = self.budget is not None and f not in ("optMap", "optFlatMap")
        if charged:
            self.budgeted = True
        # the range, charged to this evaluation's budget
        it = f"_rngit(_b, {t})" if charged else f"_it({t})"
        t = f"_rng(_b, {t})" if charged else t
        rest = args[nvars:]
        if f in ("all", "exists", "exists_one", "existsOne") and nvars == 1:
            helper = {"all": "_all", "exists": "_exists"}.get(f, "_exists_one")
            if self.fast and f in ("all", "exists") and self.is_bool(rest[0]):
                body = self.lambda_(names, rest[0])
                pyf = "all" if f == "all" else "any"
                inner = body[len("(lambda ") : -1]
                var, _, expr = inner.partition(": ")
                return f"{pyf}({expr} for {var} in {it})"
            self.absorbs = True
            return f"{helper}({t}, {self.lambda_(names, rest[0])})"
        if f in ("all", "exists", "exists_one", "existsOne"):
            helper = {"all": "_all2", "exists": "_exists2"}.get(f, "_exists_one2")
            self.absorbs = True
            return f"{helper}({t}, {self.lambda_(names, rest[0])})"
        if f == "map":
            if len(rest) == 1:
                return f"_map({t}, {self.lambda_(names, rest[0])})"
            return f"_map_filter({t}, {self.lambda_(names, rest[0])}, {self.lambda_(names, rest[1])})"
        if f == "filter":
            return f"_filter({t}, {self.lambda_(names, rest[0])})"
        if f in ("transformList", "transformMap", "transformMapEntry"):
            h = {"transformList": "_tlist", "transformMap": "_tmap", "transformMapEntry": "_tentry"}[f]
            if len(rest) == 1:
                return f"{h}({t}, {self.lambda_(names, rest[0])})"
            return f"{h}_f({t}, {self.lambda_(names, rest[0])}, {self.lambda_(names, rest[1])})"
        if f == "optMap":
            return f"_optmap({t}, {self.lambda_(names, rest[0])})"
        if f == "optFlatMap":
            return f"_optflatmap({t}, {self.lambda_(names, rest[0])})"
        if f == "sortBy":
            return f"_sortby({t}, {self.lambda_(names, rest[0])})"
        return None


_MARKED = (ast.Call, ast.Index, ast.Select)
_TAKEN = (ast.Index, ast.Select)  # what takes a value out of a list or map


def _iterates(node: ast.Expr) -> bool:
    """Whether ``node`` holds a macro call (a comprehension, which charges the budget)."""
    if isinstance(node, ast.Call) and node.target is not None and (node.function, True, len(node.args)) in MACROS:
        return True
    return any(_iterates(c) for c in ast.children(node))

_LAZY = {"or": "_optor", "orValue": "_optorvalue"}
"""Receiver-style optional functions whose argument is evaluated only when needed."""

_BINARY = {
    "_==_": "_eq", "_!=_": "_ne", "_<_": "_lt", "_<=_": "_le", "_>_": "_gt", "_>=_": "_ge",
    "_+_": "_add", "_-_": "_sub", "_*_": "_mul", "_/_": "_div", "_%_": "_mod", "@in": "_in",
}  # fmt: skip

def generate(
    node: ast.Expr,
    *,
    name: str = "cel_expr",
    variables: set[str] | frozenset[str] = frozenset(),
    container: str = "",
    info: Info | None = None,
    functions: dict[str, object] | None = None,
    lenient: bool = True,
    nested: bool = False,
    act_functions: frozenset[str] = frozenset(),
    budget: int | None = None,
    host_types: dict[str, str] | None = None,
) -> Generated:
    """Python source for ``node``. With ``budget``, every comprehension charges its range
    size to a counter local to the evaluation (see :mod:`.budget`). ``host_types``: the
    variables read through ``_host`` (:mod:`.runtime.host`), with their declared types."""
    info = info or Info()
    gen = _Gen(set(variables), container, info, functions or {}, lenient, nested, act_functions, budget,
               host_types)
    gen.fast = True
    fast = gen.expr(node)
    fast_absorbs = gen.absorbs
    gen.fast = False
    exact = gen.expr(node)
    # ASCII only: Python NFKC-normalizes identifiers (`ﬁ` defines `fi`)
    pyname = "".join(c if c.isascii() and c.isalnum() else "_" for c in name) or "cel_expr"
    if pyname[0].isdigit():
        pyname = "_" + pyname
    span = getattr(node, "span", None)
    whole = (span.start, span.end) if span is not None else (0, 0)
    if gen.budgeted:
        # a counter local to each evaluation, [iterations left, budget]; an error raised
        # after the budget ran out (an absorbed budget error) is the budget error
        head, exact = f"    _b = [{budget}, {budget}]\n", f"_spent(_b, ({exact}\n        ))"
        if fast_absorbs:  # else an over-budget error in the fast body always propagates
            fast = f"_spent(_b, {fast})"
        guard = "        _spent(_b, None)\n"
    else:
        head, exact, guard = "", f"({exact}\n        )", ""
    source = (
        f"def {pyname}(act):\n"
        f"{head}"
        f"    try:\n"
        f"        return {fast}\n"
        f"    except Exception:\n"
        f"{guard}"
        f"        return _exact(act)\n"
        f"\n"
        f"def _exact(act):\n"
        f"{head}"
        f"    try:\n"
        f"        return {exact}\n"
        f"    except _CelError:\n"
        f"{guard}"
        f"        raise\n"
        f"    except RecursionError:\n"
        f"{guard}"
        f"        raise _CelError('expression too deep to evaluate') from None\n"
        f"    except Exception as e:\n"
        f"{guard}"
        f"        raise _as_cel_error(e) from None\n"
    )
    # the fast body is the first `return`; in the exact body a marker line `#@start:end`
    # precedes the first line of each call, index or selection
    lines = source.split("\n")
    returns = [i for i, line in enumerate(lines, 1) if line.startswith("        return ")]
    line_spans = {returns[0]: whole, returns[2]: whole}
    for i, line in enumerate(lines, 1):
        if line.startswith("#@"):
            a, _, b = line[2:].partition(":")
            line_spans[i + 1] = (int(a), int(b))
    keys = {v: k for k, v in gen.fn_names.items()}
    return Generated(pyname, source, gen.constants, gen.fn_values, gen.recipes, keys, line_spans)


def _recipe(value: object) -> tuple | None:
    """A marshal-able description of a constant, or None."""
    from .runtime.values import TypeValue

    if type(value) is UInt:
        return ("uint", int(value))
    if type(value) is float:
        return ("float", value)
    if type(value) is TypeValue:
        return ("type", value.name)
    if type(value) is frozenset and all(type(v) is str for v in value):
        return ("frozenset", value)
    return None
