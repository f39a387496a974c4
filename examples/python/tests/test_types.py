"""The Python surface against the component's own types: every exported
function has a wrapper whose annotations match the WIT, and every WIT type
has a TypedDict/Literal in `ai_gateway.types` with the same fields and
cases. So a WIT change that the package does not follow fails here."""

from __future__ import annotations

import types as pytypes
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
import wasmtime.component as wc

import ai_gateway as ag
from ai_gateway import types as t

INTS = (wc.U8, wc.U16, wc.U32, wc.U64, wc.S8, wc.S16, wc.S32, wc.S64)
#: WIT type name -> name in ai_gateway.types, where the Pascal-case name would clash.
RENAMED = {"gateway-error": "GatewayErrorValue"}
#: Exports the package does not wrap, and why.
NOT_WRAPPED = {
    # A wasi:io pollable is only useful to code that can poll it alongside
    # others; the Python host has no poll loop, so iteration blocks in `next`
    # and `try_next` covers the non-blocking case.
    "[method]event-stream.subscribe",
}


def pascal(name: str) -> str:
    return RENAMED.get(name) or "".join(part.capitalize() for part in name.split("-"))


def _is_typeddict(hint: Any) -> bool:
    return isinstance(hint, type) and issubclass(hint, dict) and hasattr(hint, "__required_keys__")


def _strip_optional(hint: Any) -> Any:
    args = get_args(hint)
    if get_origin(hint) in (Union, pytypes.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else Union[tuple(rest)]
    return hint


def _members(hint: Any) -> list[Any]:
    return list(get_args(hint)) if get_origin(hint) in (Union, pytypes.UnionType) else [hint]


def _variant_cases(hint: Any) -> dict[str, Any]:
    """{tag: (val hint, whether `val` may be left out)} of a variant
    TypedDict or a Union of them."""
    cases: dict[str, Any] = {}
    for member in _members(hint):
        if member is str:
            continue  # the plain-text shortcut of a variant with a string case
        assert _is_typeddict(member), f"{member} is not a TypedDict"
        hints = get_type_hints(member)
        assert set(hints) <= {"tag", "val"}, f"{member.__name__} has keys {sorted(hints)}"
        val_optional = "val" not in member.__required_keys__
        for tag in get_args(hints["tag"]):
            cases[tag] = (hints.get("val"), val_optional)
    return cases


def check(ty: Any, hint: Any, where: str) -> None:
    """Assert that the Python `hint` describes values of WIT type `ty`."""
    if isinstance(ty, wc.OptionType):
        assert type(None) in get_args(hint), f"{where}: an option, so the hint must be Optional, not {hint}"
        return check(ty.payload, _strip_optional(hint), where)
    assert type(None) not in get_args(hint) or isinstance(ty, wc.VariantType), f"{where}: not an option, but hinted {hint}"
    if isinstance(ty, wc.RecordType):
        assert _is_typeddict(hint), f"{where}: a record, hinted {hint}"
        fields = dict(ty.fields)
        hints = get_type_hints(hint)
        assert set(hints) == set(fields), f"{where}: {hint.__name__} has {sorted(hints)}, the WIT {sorted(fields)}"
        if not hint.__total__ or hint.__optional_keys__:
            # Built by callers: exactly the fields without an empty value are Required.
            needed = {n for n, f in fields.items()
                      if not isinstance(f, wc.OptionType) and not (isinstance(f, wc.ListType) and not isinstance(f.element, wc.U8))}
            assert set(hint.__required_keys__) == needed, f"{where}: Required {sorted(hint.__required_keys__)}, should be {sorted(needed)}"
        for name, field_ty in fields.items():
            check(field_ty, hints[name], f"{where}.{name}")
    elif isinstance(ty, wc.VariantType):
        cases = dict(ty._cases())
        hinted = _variant_cases(hint)
        assert set(hinted) == set(cases), f"{where}: cases {sorted(hinted)}, the WIT {sorted(cases)}"
        for tag, payload in cases.items():
            val, val_optional = hinted[tag]
            if payload is None:
                assert val is None or val_optional or type(None) in get_args(val), f"{where}.{tag}: no payload, hinted {val}"
            elif isinstance(payload, wc.VariantType) or len(_members(_strip_optional(val))) == 1:
                check(payload, _strip_optional(val), f"{where}.{tag}")
            # else: one `val` hint covers several cases' payloads (gateway-error)
    elif isinstance(ty, wc.EnumType):
        assert get_origin(hint) is Literal, f"{where}: an enum, hinted {hint}"
        assert set(get_args(hint)) == set(ty.names), f"{where}: {get_args(hint)} vs {ty.names}"
    elif isinstance(ty, wc.ListType):
        if isinstance(ty.element, wc.U8):
            assert hint is bytes, where
        else:
            assert get_origin(hint) is list, f"{where}: a list, hinted {hint}"
            check(ty.element, get_args(hint)[0], f"{where}[]")
    elif isinstance(ty, wc.TupleType):
        assert get_origin(hint) is tuple, f"{where}: a tuple, hinted {hint}"
        for i, (e, h) in enumerate(zip(ty.elements, get_args(hint))):
            check(e, h, f"{where}[{i}]")
    elif isinstance(ty, INTS):
        assert hint is int, f"{where}: an integer, hinted {hint}"
    elif isinstance(ty, (wc.F32, wc.F64)):
        assert hint is float, f"{where}: a float, hinted {hint}"
    elif isinstance(ty, wc.Bool):
        assert hint is bool, f"{where}: a bool, hinted {hint}"
    elif isinstance(ty, wc.String):
        assert hint is str, f"{where}: a string, hinted {hint}"
    elif isinstance(ty, (wc.OwnType, wc.BorrowType)):
        assert isinstance(hint, type) and issubclass(hint, ag._gateway._Resource), f"{where}: a resource, hinted {hint}"
    else:
        raise AssertionError(f"{where}: unexpected WIT type {ty}")


def _interfaces(wasm_path: str) -> dict[str, dict[str, Any]]:
    engine = ag.engine()
    out = {}
    for name, ext in ag.compiled(wasm_path).type.exports(engine).items():
        out[name] = {n: e.ty for n, e in ext.ty.exports(engine).items()}
    return out


@pytest.fixture(scope="module")
def interfaces(wasm: str) -> dict[str, dict[str, Any]]:
    return _interfaces(wasm)


def test_every_wit_type_has_a_matching_python_type(interfaces):
    names = {}
    for iface in (f"workkit:ai-gateway/types@0.3.0", ag.ALLOWLIST):
        for name, ty in interfaces[iface].items():
            if not isinstance(ty, (wc.ResourceType, wc.FuncType)):
                names[name] = ty
    assert len(names) > 40
    for name, ty in names.items():
        hint = getattr(t, pascal(name), None)
        assert hint is not None, f"ai_gateway.types has no {pascal(name)} for WIT {name}"
        check(ty, hint, name)


WRAPPERS = {
    "gateway": ag.Gateway, "event-stream": ag.EventStream, "router": ag.Router,
    "tracker": ag.Tracker, "allowlist": ag.Allowlist,
}


def wrapper(func_name: str) -> Any:
    if func_name.startswith("[method]"):
        resource, method = func_name.removeprefix("[method]").split(".")
        return getattr(WRAPPERS[resource], {"next": "__next__"}.get(method, method.replace("-", "_")), None)
    return getattr(ag.Instance, {"open": "open_gateway"}.get(func_name, func_name.replace("-", "_")), None)


def test_every_exported_function_is_wrapped_with_the_wit_signature(interfaces):
    checked = 0
    for iface in (ag.API, ag.ROUTER, ag.COST_TRACKER, ag.ALLOWLIST):
        for name, fty in interfaces[iface].items():
            if not isinstance(fty, wc.FuncType) or name in NOT_WRAPPED:
                continue
            fn = wrapper(name)
            assert fn is not None, f"no Python wrapper for {iface}#{name}"
            hints = get_type_hints(fn, vars(ag._gateway) | vars(t) | {"t": t})
            ret = hints.pop("return")
            params = [ty for _, ty in fty.params]
            if name.startswith("[method]"):
                params = params[1:]  # self
            assert len(hints) == len(params), f"{name}: {len(hints)} parameters, the WIT {len(params)}"
            for (pname, hint), ty in zip(hints.items(), params):
                check(ty, hint, f"{name}({pname})")
            result = fty.result
            if isinstance(result, wc.ResultType):
                result = result.ok
            if name == "[method]event-stream.next":  # option<stream-event>: None ends the iteration
                result = result.payload
            if result is None:
                assert ret is type(None), f"{name} returns nothing, hinted {ret}"
            else:
                check(result, ret, f"{name} ->")
            checked += 1
    assert checked >= 20


def test_allowlist_component_exports_only_the_allowlist(allowlist_wasm):
    assert list(_interfaces(allowlist_wasm)) == [ag.ALLOWLIST]


@pytest.mark.parametrize("bad, message", [
    ({"providers": [], "bogus": 1}, "unknown field(s) ['bogus']"),
    ({"providers": [{"name": "x"}]}, "missing required field 'kind'"),
    ({"providers": [{"name": "x", "kind": "openia"}]}, "'openia' is not one of"),
    ({"providers": [], "timeout-ms": "5"}, "expected an integer"),
    ({"providers": [], "router": {"routes": {"pattern": "*"}}}, "expected a list"),
])
def test_bad_values_are_value_errors_naming_the_field(open_gateway, bad, message):
    with pytest.raises(ValueError) as e:
        open_gateway(**bad)
    assert message in str(e.value)
    assert "open[0]" in str(e.value)


def test_unknown_variant_case_is_a_value_error(open_gateway):
    gw = open_gateway()
    with pytest.raises(ValueError, match="'maybe' is not one of"):
        gw.run("gpt-4o", ag.prompt("x"), {"tool-choice": {"tag": "maybe"}})
    # still usable
    assert gw.providers() == ["openai"]
