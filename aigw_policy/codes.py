"""The registry of diagnostic codes. Codes are stable: never reuse or renumber one.

Ranges: ``AIGW0xx`` reading a document (syntax), ``AIGW1xx`` document structure,
``AIGW2xx`` CEL syntax, ``AIGW3xx`` CEL types and cost, ``AIGW4xx`` policy analysis,
``AIGW5xx`` requests and evaluation, ``AIGW6xx`` gateway configuration (the keys file),
``AIGW7xx`` policy test files, ``AIGW8xx`` usage data (provider usage exports), ``AIGW9xx`` the
command line (its arguments, the files it writes, the services and components it needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Code", "CODES", "Severity", "lookup"]


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Code:
    code: str
    severity: Severity
    title: str


def _codes(*rows: tuple[str, Severity, str]) -> dict[str, Code]:
    return {code: Code(code, severity, title) for code, severity, title in rows}


E, W, I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: dict[str, Code] = _codes(
    # reading a document
    ("AIGW001", E, "syntax error"),
    ("AIGW002", E, "unexpected end of input"),
    ("AIGW003", E, "unterminated string"),
    ("AIGW004", E, "`=` where `==` was meant"),
    ("AIGW006", E, "unknown keyword"),
    ("AIGW007", E, "unreadable input"),
    ("AIGW008", E, "input too large or too deeply nested"),
    ("AIGW009", E, "formatter would change meaning"),
    ("AIGW010", E, "YAML syntax error"),
    ("AIGW011", E, "JSON syntax error"),
    ("AIGW012", E, "document is not a mapping"),
    ("AIGW013", E, "duplicate key"),
    ("AIGW014", E, "unsupported YAML tag"),
    ("AIGW015", E, "`and`, `or`, `not` or `is` where `&&`, `||`, `!` or `==` was meant"),
    # document structure
    ("AIGW100", E, "unknown top-level key"),
    ("AIGW102", W, "unsupported phase"),
    ("AIGW105", W, "policy read from inside a Kubernetes resource, agent configuration or API object"),
    ("AIGW106", W, "ngrok's former name for a phase"),
    ("AIGW107", W, "ngrok action or config key this engine does not run, in the skipped `on_tcp_connect`"),
    ("AIGW103", E, "unknown rule key"),
    ("AIGW104", E, "wrong shape"),
    ("AIGW110", E, "unknown action type"),
    ("AIGW111", E, "unsupported action"),
    ("AIGW112", E, "action without a type"),
    ("AIGW113", E, "unknown action key"),
    ("AIGW120", E, "unknown config key"),
    ("AIGW121", E, "missing required config key"),
    ("AIGW122", E, "wrong type"),
    ("AIGW123", E, "value out of range"),
    ("AIGW124", E, "invalid duration"),
    ("AIGW125", E, "invalid choice"),
    ("AIGW126", E, "invalid value"),
    ("AIGW127", W, "ngrok's former name for a config key"),
    ("AIGW128", W, "ngrok action read and recorded, its effect not applied (compress-response)"),
    ("AIGW130", W, "duplicate rule name"),
    ("AIGW131", E, "duplicate limit name"),
    ("AIGW132", W, "unreachable action after a terminating action"),
    ("AIGW133", E, "rule without actions"),
    ("AIGW134", E, "action not available in this phase"),
    ("AIGW135", W, "shadow rule with nothing that could deny"),
    # the ai-gateway action's config
    ("AIGW140", E, "duplicate provider id or alias"),
    ("AIGW141", E, "duplicate model id or alias in a provider"),
    ("AIGW142", E, "duplicate API key in a provider"),
    ("AIGW143", E, "supported_params without a surface"),
    ("AIGW144", E, "custom provider without a base_url"),
    ("AIGW145", E, "base_url is not an http(s) URL"),
    ("AIGW146", W, "per-request timeout longer than the total timeout"),
    ("AIGW147", W, "API key written in the policy"),
    ("AIGW148", E, "API key value with a template that is not a secret reference"),
    ("AIGW149", W, "credential header in the ai-gateway's headers, never sent"),
    # CEL syntax
    ("AIGW200", E, "CEL syntax error"),
    ("AIGW201", E, "invalid CEL literal"),
    ("AIGW202", E, "reserved word"),
    ("AIGW203", E, "invalid interpolation"),
    ("AIGW204", W, "config value that is CEL written without `${...}`"),
    ("AIGW205", W, "`${...}` in a config value that is not interpolated"),
    # CEL types and cost
    ("AIGW300", E, "undeclared CEL reference"),
    ("AIGW301", E, "undeclared CEL function"),
    ("AIGW302", E, "no matching CEL overload"),
    ("AIGW303", E, "CEL type error"),
    ("AIGW304", E, "CEL expression could not be compiled"),
    ("AIGW305", E, "CEL expression over the compile budget"),
    ("AIGW306", E, "shard_key is not a string expression"),
    ("AIGW307", E, "invalid cel.block, cel.index, cel.iterVar or cel.accuVar"),
    ("AIGW310", E, "CEL expression cost over the configured maximum"),
    # selection strategies of the ai-gateway action (checked against the selection environment)
    ("AIGW320", E, "undeclared reference in a selection strategy"),
    ("AIGW321", E, "undeclared function in a selection strategy"),
    ("AIGW322", E, "no matching overload in a selection strategy"),
    ("AIGW323", E, "type error in a selection strategy"),
    ("AIGW324", E, "selection strategy could not be compiled"),
    # policy analysis
    ("AIGW400", W, "condition is always true or always false"),
    ("AIGW401", W, "rule never runs: an earlier rule always ends the phase"),
    ("AIGW402", W, "limit read before it runs, or no such limit"),
    ("AIGW403", W, "lookup can fail at run time"),
    ("AIGW404", W, "variable read where it may not be set, or never set"),
    ("AIGW405", W, "limit never limits: every request it lets through is answered by the gateway"),
    # routing (the ai-gateway action)
    ("AIGW410", E, "model selection strategy does not return a model or a list of models"),
    ("AIGW411", E, "key selection strategy does not return a key or a list of keys"),
    ("AIGW412", E, "only_allow_configured_models with no model listed"),
    ("AIGW413", W, "selection strategy never runs: an earlier one returns every model or key"),
    ("AIGW414", W, "api_key_selection but no provider has api_keys"),
    ("AIGW420", W, "rule can never fire: the solver proved its conditions never all hold"),
    ("AIGW421", W, "rule is shadowed: the solver proved earlier rules always end the phase first"),
    ("AIGW422", E, "`prove --where` is not a CEL condition over the policy environment"),
    # requests and evaluation (the decision's errors[], store and limits[] entries)
    ("AIGW500", E, "CEL error in a rule's condition"),
    ("AIGW501", E, "condition is not a bool"),
    ("AIGW502", E, "CEL error in an action's expression (bucket_key, cost)"),
    ("AIGW503", E, "CEL error in a template (${...})"),
    ("AIGW504", E, "header value a header cannot carry"),
    ("AIGW505", E, "limit cost is not a non-negative number"),
    ("AIGW506", E, "limit store unavailable"),
    ("AIGW507", E, "price unknown for a limit counted in usd"),
    ("AIGW508", E, "expression too deep to evaluate"),
    ("AIGW509", E, "a rendered value the action cannot use (a forward-internal url that is no internal "
     "endpoint, a rewritten URL too long)"),
    ("AIGW510", E, "request file not of the shape of a REQUEST.json"),
    ("AIGW520", E, "CEL evaluation over its cost budget"),
    # gateway configuration: the keys file of `serve`
    ("AIGW600", E, "keys file unreadable: not UTF-8, not YAML, empty"),
    ("AIGW601", E, "unknown field or provider in the keys file"),
    ("AIGW602", E, "keys file field missing or of the wrong shape"),
    ("AIGW603", E, "keys file value invalid or given twice"),
    ("AIGW604", E, "environment variable not set"),
    ("AIGW605", E, "upstream credential sent to a provider that does not read it"),
    ("AIGW606", E, "secrets file unreadable or of the wrong shape"),
    ("AIGW607", E, "secret referenced by an api key is not set"),
    ("AIGW608", E, "admin_keys entry names no key of the keys file"),
    ("AIGW609", E, "upstream credential no HTTP header can carry"),
    # policy test files (*.test.yaml)
    ("AIGW700", E, "unknown key in a policy test file"),
    ("AIGW701", E, "wrong shape in a policy test file"),
    ("AIGW702", E, "test checks nothing"),
    ("AIGW703", E, "test file's policy cannot be loaded"),
    ("AIGW704", E, "invalid request in a policy test"),
    ("AIGW705", E, "expected rule or limit not in the policy"),
    # usage data read by `reconcile`
    ("AIGW800", E, "provider usage export malformed"),
    # the command line (docs/cli.md)
    ("AIGW900", E, "bad command-line usage: an unknown option or command, a missing or invalid argument"),
    ("AIGW901", E, "output file cannot be written"),
    ("AIGW902", E, "store or ledger cannot be opened or read, or did not answer"),
    ("AIGW903", E, "a component the command needs is not installed"),
    ("AIGW904", E, "price file unreadable or of the wrong shape"),
    ("AIGW905", W, "ledger lines that hold no usage record were left out of the totals"),
)

del E, W, I


def lookup(code: str) -> Code:
    return CODES[code]
