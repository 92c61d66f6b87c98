"""``${secrets.get('vault', 'name')}``: resolved from `serve --secrets FILE` or the environment,
never shown (SPEC §12)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aigw_policy.routing.secrets import SecretError, Secrets, env_name, load_secrets, secret_ref

SECRET = "sk-very-secret-value-123"


@pytest.mark.parametrize(("text", "ref"), [
    ("${secrets.get('openai', 'key-one')}", ("openai", "key-one")),
    ('${ secrets.get( "anthropic" , "k" ) }', ("anthropic", "k")),
    ("  ${secrets.get('v', 'n')}  ", ("v", "n")),
    ("sk-literal", None),
    ("prefix-${secrets.get('v', 'n')}", None),          # not the whole value: a literal key
    ("${secrets.get('v', 'n')}-suffix", None),
    ("${secrets.get('v')}", None),
    ("${env.OPENAI_API_KEY}", None),
    ("${secrets.get('v', \"n')}", None),                 # mismatched quotes
])
def test_only_the_whole_form_is_a_reference(text: str, ref: tuple[str, str] | None) -> None:
    assert secret_ref(text) == ref


@pytest.mark.parametrize(("vault", "name", "var"), [
    ("openai", "key-one", "AIGW_SECRET_OPENAI_KEY_ONE"),
    ("my.vault", "a b/c", "AIGW_SECRET_MY_VAULT_A_B_C"),
    ("Ünï", "x", "AIGW_SECRET__N__X"),
])
def test_env_names(vault: str, name: str, var: str) -> None:
    assert env_name(vault, name) == var


def test_file_wins_over_env_and_literals_pass(tmp_path) -> None:
    f = tmp_path / "secrets.yaml"
    f.write_text(f"openai:\n  key-one: {SECRET}\n")
    s = load_secrets(f, env={"AIGW_SECRET_OPENAI_KEY_ONE": "from-env", "AIGW_SECRET_OPENAI_KEY_TWO": "two"})
    assert s.resolve("${secrets.get('openai', 'key-one')}") == SECRET
    assert s.resolve("${secrets.get('openai', 'key-two')}") == "two"
    assert s.resolve("sk-literal") == "sk-literal"
    assert SECRET not in repr(s) and "from-env" not in repr(s)


def test_empty_and_foreign_variables_are_not_keys() -> None:
    s = Secrets({}, env={"AIGW_SECRET_V_N": "", "OTHER": "x"})
    assert s.get("v", "n") is None and "OTHER" not in repr(s)


def test_missing_names_vault_and_variable_never_values() -> None:
    s = Secrets({"openai": {"other": SECRET}}, env={"AIGW_SECRET_X_Y": SECRET})
    with pytest.raises(SecretError) as caught:
        s.check(["${secrets.get('openai', 'key-one')}", "sk-lit", "${secrets.get('anthropic', 'k')}",
                 "${secrets.get('openai', 'other')}"])
    codes = [d.code for d in caught.value.diagnostics]
    assert codes == ["AIGW607", "AIGW607"]
    text = str(caught.value)
    assert "`key-one` of vault `openai`" in text and "AIGW_SECRET_OPENAI_KEY_ONE" in text
    assert "AIGW_SECRET_ANTHROPIC_K" in text
    assert SECRET not in text
    with pytest.raises(SecretError):
        s.resolve("${secrets.get('openai', 'key-one')}")


@pytest.mark.parametrize("content", ["openai: [sk-1]\n", "- a\n", "openai: {k: 12}\n", "openai: {k: ''}\n",
                                     "openai: {k: [\n"])
def test_bad_files_are_coded_and_never_echo_values(tmp_path, content: str) -> None:
    f = tmp_path / "s.yaml"
    f.write_text(content)
    with pytest.raises(SecretError) as caught:
        load_secrets(f, env={})
    assert {d.code for d in caught.value.diagnostics} == {"AIGW606"}
    assert "sk-1" not in str(caught.value)


def test_unreadable_file(tmp_path) -> None:
    with pytest.raises(SecretError) as caught:
        load_secrets(tmp_path / "nope.yaml", env={})
    assert caught.value.diagnostics[0].code == "AIGW606"


@given(st.text(min_size=1, max_size=30), st.text(max_size=30))
def test_any_value_resolves_to_itself_or_a_secret(vault: str, value: str) -> None:
    s = Secrets({}, env={})
    ref = secret_ref(value)
    if ref is None:
        assert s.resolve(value) == value
    else:
        with pytest.raises(SecretError):
            s.resolve(value)
    assert env_name(vault, "n").startswith("AIGW_SECRET_")
    assert all(c.isascii() and (c.isalnum() or c == "_") for c in env_name(vault, "n"))
